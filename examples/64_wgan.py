"""Sequence 13: Wasserstein GANs, with weight clipping (WGAN) and with a gradient penalty (WGAN-GP).

Both train a critic C (no Sigmoid: a score) to maximise E[C(x)] - E[C(G(z))], the critic's estimate of
the Wasserstein distance, which needs C to be 1-Lipschitz; the generator minimises -E[C(G(z))], one step
every n_critic critic steps.
- WGAN (Arjovsky et al.): the critic's weights are clipped to [-0.01, 0.01] after each step; RMSprop
  lr 5e-5, n_critic 5, a critic with batch normalisation as in the paper.
- WGAN-GP (Gulrajani et al.): instead, the penalty 10 * E[(||grad C(x_hat)||_2 - 1)^2] at random
  interpolates x_hat of real and generated images, a gradient of a gradient through the convolutions
  (`fastnn.train.gan.gradient_penalty`, `fastnn.autograd.grad(create_graph=True)`); a critic without
  batch normalisation; Adam lr 5e-4, betas (0.5, 0.9), n_critic 2 (faster than the paper's 1e-4,
  (0, 0.9), 5 on 2 CPU cores).
The generator is the DCGAN one of examples/63. Training runs in fastnn's fit loop with the custom steps
`wgan_train_step` / `wgan_gp_train_step`.

Scores (a classifier trained here on the real images): confidence, inception-style score, Frechet
distance, beside the untrained generator's. Saved: sample grids every few epochs, the final samples, the
loss curves (critic loss, generator loss, Wasserstein estimate, penalty).
Quick run: ``python examples/64_wgan.py --epochs 1 --subset 512``.
"""
import _gan_common

if __name__ == "__main__":
    _gan_common.run(__doc__, "64", ["wgan", "wgan-gp"], epochs=20)
