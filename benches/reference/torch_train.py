"""The training loop of vaerun's VAEs (src/models/train.rs), written in
PyTorch, for the side-by-side training benchmarks (benches/vae.rs and
benches/conv_vae.rs). Imported by torch_vae.py and torch_conv_vae.py.

One fit is what vaerun's `fit` does: build the model from a seed, AdamW
(lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0 -- vaerun's
defaults; PyTorch's default AdamW implementation for CPU tensors), E
epochs of shuffled mini-batches with loss = sum-over-features squared
error + KL, both batch means, reading the loss terms each step (vaerun
does too), then the latent means of every row in chunks of 1024 and the
reconstruction error of every row decoded from its mean (vaerun's fit
computes both). Each repeat is timed from model construction to the last latent, in wall-clock
and in process CPU time.
"""
import argparse
import json
import os
import time

import numpy as np
import torch


def args_with(add):
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True, help=".npy matrix of rows (float32)")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--latent", type=int, default=16)
    p.add_argument("--reps", type=int, default=1)
    add(p)
    a = p.parse_args()
    # Intra-op threads as asked; OMP/MKL variables are set by the caller too.
    torch.set_num_threads(a.threads)
    return a


def kl_per_row(mu, logvar):
    return 0.5 * (logvar.exp() + mu.pow(2) - logvar - 1.0).sum(1)


def fit(make_model, x, a, seed):
    torch.manual_seed(seed)
    model = make_model()
    opt = torch.optim.AdamW(
        model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0
    )
    n = x.shape[0]
    history = []
    for _ in range(a.epochs):
        perm = torch.randperm(n)
        total = 0.0
        for b in range(0, n, a.batch):
            idx = perm[b : b + a.batch]
            xb = x[idx]
            mu, logvar = model.encode(xb)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            out = model.decode(z)
            rec = (out - xb).pow(2).sum(1).mean()
            kl = kl_per_row(mu, logvar).mean()
            loss = rec + kl
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            rec.item(), kl.item()
        history.append(total / n)
    with torch.no_grad():
        latent = torch.cat([model.encode(x[i : i + 1024])[0] for i in range(0, n, 1024)])
        # The reconstruction error vaerun reports (src/models/recon.rs):
        # every row decoded from its mean, 256 rows at a time.
        sq = 0.0
        for i in range(0, n, 256):
            xb = x[i : i + 256]
            sq += (model.decode(model.encode(xb)[0]) - xb).pow(2).sum().item()
    return history, latent, sq / x.numel()


def run(make_model, a, **extra):
    x = torch.from_numpy(np.load(a.data).astype(np.float32, copy=False))
    seconds, cpu_seconds, history = [], [], None
    for r in range(a.reps):
        t0, c0 = time.perf_counter(), time.process_time()
        history, latent, _ = fit(make_model, x, a, r)
        seconds.append(time.perf_counter() - t0)
        cpu_seconds.append(time.process_time() - c0)
        assert latent.shape == (x.shape[0], a.latent)
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "first_loss": history[0],
                "final_loss": history[-1],
                **extra,
            }
        )
    )
