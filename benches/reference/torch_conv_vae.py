"""PyTorch side of benches/conv_vae.rs: the ConvVAE of src/models/conv_vae.rs.
Each encoder stage is a stride-2 convolution with "same" padding (k // 2)
and ReLU; a Gaussian head on the flattened map; the decoder is a linear
layer + ReLU back to the last map and stride-2 transposed convolutions
(padding k // 2, output_padding chosen so each stage restores the length
its encoder stage saw), ReLU between them, none after the last. 1-D: the
feature rows are channels; 2-D: one input channel. Trained by
torch_train.fit; prints one JSON line.

    python torch_conv_vae.py --data X.npy --threads 2 --epochs 2 --conv 2d --rows 64 --frames 256
"""
import torch
from torch import nn

import torch_train


def halve(n):
    return (n + 1) // 2


class ConvVae(nn.Module):
    def __init__(self, conv, rows, frames, channels, k, latent):
        super().__init__()
        two = conv == "2d"
        Conv = nn.Conv2d if two else nn.Conv1d
        ConvT = nn.ConvTranspose2d if two else nn.ConvTranspose1d
        self.image = (1, rows, frames) if two else (rows, frames)
        c = self.image[0]
        sizes = []
        size = self.image[1:]
        enc = []
        for out in channels:
            enc += [Conv(c, out, k, stride=2, padding=k // 2), nn.ReLU()]
            sizes.append(size)
            size = tuple(halve(s) for s in size)
            c = out
        self.enc = nn.Sequential(*enc)
        self.last = (c,) + size
        flat = c
        for s in size:
            flat *= s
        self.mu = nn.Linear(flat, latent)
        self.logvar = nn.Linear(flat, latent)
        self.expand = nn.Linear(latent, flat)
        outs = channels[::-1][1:] + [self.image[0]]
        dec = []
        for i, out in enumerate(outs):
            target = sizes[len(sizes) - 1 - i]
            # (s_in - 1) * 2 - 2 * (k // 2) + k + output_padding = target
            op = tuple(t - ((halve(t) - 1) * 2 - 2 * (k // 2) + k) for t in target)
            dec.append(ConvT(c, out, k, stride=2, padding=k // 2, output_padding=op))
            if i + 1 < len(outs):
                dec.append(nn.ReLU())
            c = out
        self.dec = nn.Sequential(*dec)

    def encode(self, x):
        h = self.enc(x.reshape((x.shape[0],) + self.image)).flatten(1)
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        h = torch.relu(self.expand(z)).reshape((z.shape[0],) + self.last)
        return self.dec(h).flatten(1)


def main():
    def add(p):
        p.add_argument("--conv", choices=["1d", "2d"], required=True)
        p.add_argument("--rows", type=int, required=True)
        p.add_argument("--frames", type=int, required=True)
        p.add_argument("--channels", default="32,64")
        p.add_argument("--kernel", type=int, default=5)

    a = torch_train.args_with(add)
    ch = [int(v) for v in a.channels.split(",")]
    torch_train.run(
        lambda: ConvVae(a.conv, a.rows, a.frames, ch, a.kernel, a.latent), a, conv=a.conv
    )


if __name__ == "__main__":
    main()
