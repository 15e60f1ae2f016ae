"""fastnn.models' autoencoders: ConvAutoencoder, ConvVAE (+ vae_loss, elbo) and DenoisingClassifier —
shapes over random geometries, the same outputs as PyTorch layers on the same weights, vae_loss equal to
PyTorch's formula with its gradients, the KL term against fastnn.distributions, generators, elbo and bad
arguments (the trainings are in test_autoencoder_training.py)."""

import numpy as np
import pytest

import fastnn
from fastnn import autograd, nn
from fastnn.distributions import Normal, kl_divergence
from fastnn.models import ConvAutoencoder, ConvVAE, DenoisingClassifier, ELBOResult, elbo, vae_loss

from torch_compare import rel_err


def _torch_mirror(torch, seq):
    """The PyTorch Sequential with the same layers (and so the same state_dict keys) as fastnn's ``seq``,
    carrying fastnn's weights."""
    layers = []
    for m in seq:
        kind = type(m).__name__
        if kind in ("Conv2d", "ConvTranspose2d"):
            layers.append(getattr(torch.nn, kind)(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding))
        elif kind == "Linear":
            layers.append(torch.nn.Linear(m.in_features, m.out_features))
        elif kind == "Unflatten":
            layers.append(torch.nn.Unflatten(m.dim, m.unflattened_size))
        elif kind == "Dropout":
            layers.append(torch.nn.Dropout(m.p))
        else:
            layers.append(getattr(torch.nn, kind)())
    tseq = torch.nn.Sequential(*layers)
    tseq.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in seq.state_dict().items()})
    return tseq


def _tensor(torch, t):
    return torch.tensor(t.detach().numpy())


@pytest.mark.parametrize("seed", range(4))
def test_shapes_over_random_geometries(seed):
    rng = np.random.default_rng(seed)
    stages = int(rng.integers(1, 4))
    channels = tuple(int(c) for c in rng.integers(1, 9, size=stages))
    size = 2 ** stages * int(rng.integers(1, 4))
    c_in, latent, n = int(rng.integers(1, 4)), int(rng.integers(1, 6)), int(rng.integers(1, 5))
    x = fastnn.rand(n, c_in, size, size)
    ae = ConvAutoencoder(c_in, size, latent, channels)
    assert tuple(ae.encode(x).shape) == (n, latent)
    y = ae(x)
    assert tuple(y.shape) == (n, c_in, size, size)
    assert 0 <= float(y.min().item()) and float(y.max().item()) <= 1
    vae = ConvVAE(c_in, size, latent, channels, hidden_dim=7)
    recon, mu, logvar = vae(x)
    assert tuple(recon.shape) == tuple(x.shape) and tuple(mu.shape) == tuple(logvar.shape) == (n, latent)
    assert tuple(vae.sample(3).shape) == (3, c_in, size, size)
    two = DenoisingClassifier(c_in, size, num_classes=3, latent_dim=latent, channels=channels)
    out = two(x)
    assert list(out) == ["label", "image"] == list(two.output_names)
    assert tuple(out["label"].shape) == (n, 3) and tuple(out["image"].shape) == tuple(x.shape)


def test_mnist_and_digits_geometries_and_parameter_names():
    vae = ConvVAE(image_size=28, latent_dim=2)
    assert [k for k in vae.state_dict()] == [
        "encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias", "encoder.5.weight",
        "encoder.5.bias", "fc_mu.weight", "fc_mu.bias", "fc_logvar.weight", "fc_logvar.bias", "decoder.0.weight",
        "decoder.0.bias", "decoder.3.weight", "decoder.3.bias", "decoder.5.weight", "decoder.5.bias"]
    assert tuple(vae.encoder[5].weight.shape) == (256, 64 * 7 * 7)
    ae = ConvAutoencoder(image_size=8, latent_dim=10)
    assert tuple(ae.encoder[-1].weight.shape) == (10, 64 * 2 * 2)
    assert isinstance(ae.decoder[-1], nn.Sigmoid)


def test_same_outputs_and_gradients_as_pytorch_layers(torch):
    x = np.random.default_rng(0).random((5, 2, 16, 16)).astype(np.float32)
    ae = ConvAutoencoder(2, 16, 6, (4, 8, 5))
    tenc, tdec = _torch_mirror(torch, ae.encoder), _torch_mirror(torch, ae.decoder)
    tx = torch.tensor(x, requires_grad=True)
    fx = fastnn.tensor(x, requires_grad=True)
    ty, fy = tdec(tenc(tx)), ae(fx)
    assert rel_err(fy.detach().numpy(), ty.detach().numpy()) < 1e-5
    ty.pow(2).sum().backward()
    fy.pow(2).sum().backward()
    assert rel_err(fx.grad.numpy(), tx.grad.numpy()) < 1e-4
    assert rel_err(ae.encoder[0].weight.grad.numpy(), tenc[0].weight.grad.numpy()) < 1e-4

    vae = ConvVAE(2, 16, 3, (4, 8), hidden_dim=12)
    mu, logvar = vae.encode(fastnn.tensor(x))
    th = _torch_mirror(torch, vae.encoder)(torch.tensor(x))
    tmu = th @ _tensor(torch, vae.fc_mu.weight).T + _tensor(torch, vae.fc_mu.bias)
    tlv = th @ _tensor(torch, vae.fc_logvar.weight).T + _tensor(torch, vae.fc_logvar.bias)
    assert rel_err(mu.detach().numpy(), tmu.detach().numpy()) < 1e-5
    assert rel_err(logvar.detach().numpy(), tlv.detach().numpy()) < 1e-5
    assert rel_err(vae.decode(mu).detach().numpy(), _torch_mirror(torch, vae.decoder)(tmu).detach().numpy()) < 1e-5

    two = DenoisingClassifier(2, 16, 4, 9, (4, 8)).eval()
    h = _torch_mirror(torch, two.encoder).eval()(torch.tensor(x))
    out = two(fastnn.tensor(x))
    head = _torch_mirror(torch, two.classifier).eval()
    assert rel_err(out["label"].detach().numpy(), head(h).detach().numpy()) < 1e-5
    assert rel_err(out["image"].detach().numpy(), _torch_mirror(torch, two.decoder)(h).detach().numpy()) < 1e-5


def _loss_inputs(rng, n=6, shape=(1, 5, 5), latent=4, dtype=np.float64):
    recon = 1 / (1 + np.exp(-rng.standard_normal((n, *shape))))
    x = rng.random((n, *shape))
    mu = rng.standard_normal((n, latent))
    logvar = rng.standard_normal((n, latent))
    return [a.astype(dtype) for a in (recon, x, mu, logvar)]


@pytest.mark.parametrize("reconstruction", ["bce", "mse"])
@pytest.mark.parametrize("beta", [1.0, 0.25, 4.0])
def test_vae_loss_equals_pytorch_formula(torch, reconstruction, beta):
    rng = np.random.default_rng(int(beta * 4) + len(reconstruction))
    arrays = _loss_inputs(rng, dtype=np.float32)
    t = [torch.tensor(a, requires_grad=True) for a in arrays]
    f = [fastnn.tensor(a, requires_grad=True) for a in arrays]
    tr, tx, tmu, tlv = t
    n = tx.shape[0]
    if reconstruction == "bce":
        rec = torch.nn.functional.binary_cross_entropy(tr, tx, reduction="sum")
    else:
        rec = torch.nn.functional.mse_loss(tr, tx, reduction="sum")
    kld = -0.5 * torch.sum(1 + tlv - tmu.pow(2) - tlv.exp())
    ref = (rec + beta * kld) / n
    got = vae_loss(*f, beta=beta, reconstruction=reconstruction)
    assert got.shape == ()
    assert abs(got.item() - ref.item()) <= 1e-5 * abs(ref.item())
    ref.backward()
    got.backward()
    for name, fa, ta in zip(("recon", "x", "mu", "logvar"), f, t):
        assert rel_err(fa.grad.numpy(), ta.grad.numpy()) < 1e-5, name
    per_image = vae_loss(*f, beta=beta, reconstruction=reconstruction, reduction="none")
    assert tuple(per_image.shape) == (n,)
    assert vae_loss(*f, beta=beta, reconstruction=reconstruction, reduction="sum").item() == \
        pytest.approx(per_image.sum().item(), rel=1e-6)


def test_kl_term_is_the_distributions_kl_and_gradcheck():
    recon, x, mu, logvar = (fastnn.tensor(a, requires_grad=True) for a in _loss_inputs(np.random.default_rng(1)))
    zero = vae_loss(x.detach(), x.detach(), mu, logvar, reconstruction="mse", reduction="none")  # KL alone
    q = Normal(mu, (0.5 * logvar).exp())
    p = Normal(fastnn.zeros_like(mu), fastnn.ones_like(mu))
    assert np.allclose(zero.detach().numpy(), kl_divergence(q, p).sum(-1).detach().numpy(), rtol=1e-12)
    for rec in ("bce", "mse"):
        assert autograd.gradcheck(lambda r, m, v: vae_loss(r, x.detach(), m, v, beta=0.7, reconstruction=rec),
                                  (recon, mu, logvar))


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="image_size.*divisible by 2\\*\\*len\\(channels\\) = 4"):
        ConvVAE(image_size=10)
    with pytest.raises(ValueError, match="'latent_dim'"):
        ConvAutoencoder(latent_dim=0)
    with pytest.raises(ValueError, match="'channels'"):
        ConvAutoencoder(channels=())
    with pytest.raises(ValueError, match="'in_channels'"):
        DenoisingClassifier(in_channels=1.5)
    vae = ConvVAE(image_size=8, latent_dim=3)
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 1, 8, 8\), got \(2, 1, 28, 28\)"):
        vae(fastnn.rand(2, 1, 28, 28))
    with pytest.raises(ValueError, match=r"latent codes of shape \(N, 3\), got \(2, 4\)"):
        vae.decode(fastnn.rand(2, 4))
    with pytest.raises(ValueError, match="'n'"):
        vae.sample(0)
    recon, x, mu, logvar = (fastnn.tensor(a) for a in _loss_inputs(np.random.default_rng(2)))
    with pytest.raises(ValueError, match="'recon' and 'x' must have the same shape"):
        vae_loss(recon[:3], x, mu, logvar)
    with pytest.raises(ValueError, match="'mu' and 'logvar'"):
        vae_loss(recon, x, mu, logvar[:, :2])
    with pytest.raises(ValueError, match="'mu' and 'logvar'"):
        vae_loss(recon, x, mu[:2], logvar[:2])
    with pytest.raises(ValueError, match="'beta'"):
        vae_loss(recon, x, mu, logvar, beta=-1.0)
    with pytest.raises(ValueError, match="'beta'"):
        vae_loss(recon, x, mu, logvar, beta=float("nan"))
    with pytest.raises(ValueError, match="'reconstruction'.*'bce' or 'mse'"):
        vae_loss(recon, x, mu, logvar, reconstruction="l1")
    with pytest.raises(ValueError, match="'reduction'"):
        vae_loss(recon, x, mu, logvar, reduction="max")
    with pytest.raises(TypeError, match="'x' must be a fastnn Tensor"):
        vae_loss(recon, x.numpy(), mu, logvar)
    with pytest.raises(RuntimeError, match="between 0 and 1"):  # "bce" needs intensities, not logits
        vae_loss(recon * 3 - 1, x, mu, logvar)
    with pytest.raises(ValueError, match="'batch_size'"):
        elbo(vae, np.zeros((2, 1, 8, 8), np.float32), batch_size=0)


def test_reparameterisation_generator_and_gradients():
    vae = ConvVAE(image_size=8, latent_dim=3, channels=(4, 4), hidden_dim=8)
    x = fastnn.rand(4, 1, 8, 8)
    g1, g2 = fastnn.Generator().manual_seed(5), fastnn.Generator().manual_seed(5)
    assert np.array_equal(vae.sample(3, generator=g1).numpy(), vae.sample(3, generator=g2).numpy())
    assert not vae.sample(2).requires_grad
    mu, logvar = vae.encode(x)
    z1 = vae.reparameterize(mu, logvar, fastnn.Generator().manual_seed(1))
    z2 = vae.reparameterize(mu, logvar, fastnn.Generator().manual_seed(1))
    assert np.array_equal(z1.detach().numpy(), z2.detach().numpy())
    eps = (z1 - mu) / (0.5 * logvar).exp()
    ref = fastnn.randn(4, 3, generator=fastnn.Generator().manual_seed(1))
    assert np.allclose(eps.detach().numpy(), ref.numpy(), atol=1e-5)
    recon, mu, logvar = vae(x)
    vae_loss(recon, x, mu, logvar).backward()
    for name, p in vae.named_parameters():  # the sampled code carries the gradient back to both heads
        assert p.grad is not None and float(np.abs(p.grad.numpy()).sum()) > 0, name


def test_elbo_is_minus_the_loss_and_restores_the_mode():
    vae = ConvVAE(image_size=8, latent_dim=3, channels=(4, 4), hidden_dim=8).train()
    x = np.random.default_rng(0).random((10, 1, 8, 8)).astype(np.float32)
    r = elbo(vae, x, batch_size=3, generator=fastnn.Generator().manual_seed(2))
    assert isinstance(r, ELBOResult) and vae.training
    assert r.elbo == pytest.approx(-(r.reconstruction + r.kl))
    vae.eval()
    with fastnn.no_grad():
        recon, mu, logvar = vae(fastnn.tensor(x), generator=fastnn.Generator().manual_seed(2))
        ref = vae_loss(recon, fastnn.tensor(x), mu, logvar).item()
    assert r.elbo == pytest.approx(-ref, rel=1e-5)
    assert r.kl > 0 and r.reconstruction > 0
    assert elbo(vae, fastnn.tensor(x)).kl == pytest.approx(r.kl, rel=1e-5)  # KL needs no sample
