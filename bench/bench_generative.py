"""Generative models' training steps, fastnn vs PyTorch side by side (the same code in both libraries, the same
weights, inputs and thread count, timed alternately):

- "DCGAN step": the PyTorch DCGAN tutorial's generator and discriminator adapted to 28x28 images (nz=100,
  ngf=ndf=64; ConvTranspose2d/BatchNorm2d/ReLU(True) up to Tanh, Conv2d/BatchNorm2d/LeakyReLU(0.2, inplace=True)
  down to one logit),
  batch 64: the discriminator's step on a real and a fake batch with BCEWithLogitsLoss, then the generator's step;
  Adam(2e-4, betas=(0.5, 0.999)) for both.
- "WGAN-GP critic step": the critic of WGAN-GP (the discriminator without BatchNorm, a Linear head) on a real
  and a generated batch with the gradient penalty of Gulrajani et al. (the gradient of the critic at random
  interpolates, taken with create_graph=True, so the backward runs through a double backward of each layer).
- "VAE step": a convolutional VAE on 28x28 (two stride-2 convolutions, mu / log-variance heads of a 16-d latent,
  reparameterisation, a Linear + two ConvTranspose2d decoder), Bernoulli reconstruction loss (BCE with logits,
  summed) plus the KL term, Adam(1e-3).

    python bench/bench_generative.py [--threads 2] [--quick]
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

BATCH = 64
NZ = 100
LATENT = 16


def dcgan(nn, nz=NZ, ngf=64, ndf=64):
    """(generator, discriminator) of the DCGAN tutorial adapted to 1x28x28 images."""
    G = nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 2, 7, 1, 0, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False), nn.Tanh())
    D = nn.Sequential(
        nn.Conv2d(1, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, 1, 7, 1, 0, bias=False), nn.Flatten())
    return G, D


def critic(nn, ndf=64):
    """The WGAN-GP critic: the discriminator without BatchNorm (the penalty is per sample), a Linear head."""
    return nn.Sequential(
        nn.Conv2d(1, ndf, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(ndf * 2 * 7 * 7, 1))


class _VAEParts:
    """The VAE's layers for library ``nn``: encoder, the two heads, decoder."""

    def __init__(self, nn, latent=LATENT):
        self.encoder = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
                                     nn.Flatten())
        self.mu = nn.Linear(64 * 7 * 7, latent)
        self.logvar = nn.Linear(64 * 7 * 7, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, 64 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
                                     nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
                                     nn.ConvTranspose2d(32, 1, 4, 2, 1))
        self.all = nn.ModuleList([self.encoder, self.mu, self.logvar, self.decoder])


def _copy(torch, src, dst):
    harness.copy_weights(torch, src, dst)


def _dcgan_step(lib, G, D, real, z):
    nn = lib.nn
    og = lib.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    od = lib.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = lib.tensor(real)
    z = lib.tensor(z)
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = lib.ones(BATCH, 1), lib.zeros(BATCH, 1)

    def step():
        fake = G(z)
        od.zero_grad()
        loss_d = bce(D(real), ones) + bce(D(fake.detach()), zeros)
        loss_d.backward()
        od.step()
        og.zero_grad()
        loss_g = bce(D(fake), ones)
        loss_g.backward()
        og.step()
        return loss_d, loss_g
    return step


def _wgan_gp_step(lib, G, C, real, z, eps, lambda_gp=10.0):
    oc = lib.optim.Adam(C.parameters(), lr=1e-4, betas=(0.0, 0.9))
    real = lib.tensor(real)
    z = lib.tensor(z)
    eps = lib.tensor(eps)

    def step():
        with lib.no_grad():
            fake = G(z)
        oc.zero_grad()
        xh = (eps * real + (1 - eps) * fake).requires_grad_(True)
        grad, = lib.autograd.grad(C(xh).sum(), xh, create_graph=True)
        penalty = ((grad.reshape(BATCH, -1).norm(2, dim=1) - 1) ** 2).mean()
        loss = C(fake).mean() - C(real).mean() + lambda_gp * penalty
        loss.backward()
        oc.step()
        return loss,
    return step


def _vae_step(lib, parts, x, noise):
    F = lib.nn.functional
    opt = lib.optim.Adam(parts.all.parameters(), lr=1e-3)
    x = lib.tensor(x)
    noise = lib.tensor(noise)

    def step():
        opt.zero_grad()
        h = parts.encoder(x)
        mu, logvar = parts.mu(h), parts.logvar(h)
        z = mu + noise * (0.5 * logvar).exp()
        logits = parts.decoder(z)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum()
        loss = (rec + kl) / BATCH
        loss.backward()
        opt.step()
        return loss,
    return step


def _inputs(rng):
    real = (rng.random((BATCH, 1, 28, 28)) * 2 - 1).astype(np.float32)
    z = rng.standard_normal((BATCH, NZ, 1, 1)).astype(np.float32)
    eps = rng.random((BATCH, 1, 1, 1)).astype(np.float32)
    x01 = rng.random((BATCH, 1, 28, 28)).astype(np.float32)
    noise = rng.standard_normal((BATCH, LATENT)).astype(np.float32)
    return real, z, eps, x01, noise


def steps(lib, torch_src=None):
    """{row name: step callable returning its losses} for ``lib``; with ``torch_src`` (the fastnn models, for
    lib = torch) the weights are copied from them. Returns (steps, models)."""
    nn = lib.nn
    if lib.__name__ == "fastnn":
        lib.manual_seed(0)
    real, z, eps, x01, noise = _inputs(np.random.default_rng(0))
    G, D = dcgan(nn)
    C = critic(nn)
    vae = _VAEParts(nn)
    if torch_src is not None:
        for src, dst in zip(torch_src, (G, D, C, vae.all)):
            _copy(lib, src, dst)
    fns = {"DCGAN step (G + D, BCE with logits, Adam)": _dcgan_step(lib, G, D, real, z),
           "WGAN-GP critic step (with gradient penalty)": _wgan_gp_step(lib, G, C, real, z, eps),
           "VAE step (conv, reparameterisation, BCE + KL, Adam)": _vae_step(lib, vae, x01, noise)}
    return fns, (G, D, C, vae.all)


def run(device="cpu", quick=False):
    import fastnn
    if device != "cpu":
        return []
    torch = harness.reference_torch(device)
    repeats, min_time, rounds = (3, 0.2, 1) if quick else (7, 1.0, 3)
    fast, models = steps(fastnn)
    ref = steps(torch, models)[0] if torch is not None else {}
    rows = []
    for name, fn in fast.items():
        t_fast, t_ref = harness.interleaved(fn, ref.get(name), repeats, min_time, rounds)
        rows.append(harness.row(name, f"1x28x28 batch {BATCH} f32", t_fast,
                                "PyTorch" if t_ref is not None else None, t_ref))
    return rows


if __name__ == "__main__":
    harness.standalone(run)
