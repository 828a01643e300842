"""PyTorch side of benches/vae.rs: the dense VAE of src/models/vae.rs
(input -> hidden ReLU layers -> mu, logvar heads; z -> mirrored hidden
layers -> linear output), trained by torch_train.fit. Prints one JSON line.

    python torch_vae.py --data X.npy --threads 1 --epochs 50 --hidden 512,256
"""
import torch
from torch import nn

import torch_train


def mlp(widths):
    layers = []
    for a, b in zip(widths, widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)


class Vae(nn.Module):
    def __init__(self, d, hidden, latent):
        super().__init__()
        self.enc = mlp([d] + hidden)
        self.mu = nn.Linear(hidden[-1], latent)
        self.logvar = nn.Linear(hidden[-1], latent)
        self.dec = mlp([latent] + hidden[::-1])
        self.out = nn.Linear(hidden[0], d)

    def encode(self, x):
        h = self.enc(x)
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        return self.out(self.dec(z))


def main():
    a = torch_train.args_with(lambda p: p.add_argument("--hidden", default="512,256"))
    hidden = [int(v) for v in a.hidden.split(",")]
    d = int(__import__("numpy").load(a.data, mmap_mode="r").shape[1])
    torch_train.run(lambda: Vae(d, hidden, a.latent), a, hidden=hidden)


if __name__ == "__main__":
    main()
