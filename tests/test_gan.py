"""GAN models (fastnn.models.gan) and adversarial training (fastnn.train.gan): shapes and initialisation
of the DCGAN tutorial's models, the WGAN-GP penalty against PyTorch (value and the critic's parameter
gradients, through Conv2d / LeakyReLU / Linear and the normalisations), the three training steps, and
bad input."""
import numpy as np
import pytest

import fastnn
from fastnn import nn, optim
from fastnn.models import DCGANDiscriminator, DCGANGenerator, WGANCritic, dcgan_weights_init
from fastnn.train.gan import gan_train_step, gradient_penalty, sample_latent, wgan_gp_train_step, wgan_train_step

from torch_compare import fastnn_state, rel_err


@pytest.mark.parametrize("image_size, first", [(8, 4), (28, 7), (32, 4), (64, 4), (10, 5)])
def test_models_map_latents_to_images_and_images_to_scores(image_size, first):
    nz, nc = 7, 3
    G = DCGANGenerator(nz=nz, ngf=4, nc=nc, image_size=image_size)
    D = DCGANDiscriminator(nc=nc, ndf=4, image_size=image_size)
    C = WGANCritic(nc=nc, ndf=4, image_size=image_size)
    assert G.main[0].kernel_size == (first, first) and D.main[-1].kernel_size == (first, first)
    for n in (1, 5):
        x = G(fastnn.randn(n, nz, 1, 1))
        assert x.shape == (n, nc, image_size, image_size)
        assert float(x.abs().max()) <= 1.0  # Tanh
        assert G(fastnn.randn(n, nz)).shape == x.shape  # (N, nz) is accepted too
        assert D(x).shape == (n, 1, 1, 1)
        assert C(x).shape == (n, 1)
    p = DCGANDiscriminator(nc=nc, ndf=4, image_size=image_size, sigmoid=True)(x)
    assert float(p.min()) >= 0 and float(p.max()) <= 1


def test_dcgan_at_64_is_the_pytorch_tutorial(torch):
    """The 64x64 models have the tutorial's layers and state-dict names: its weights load and give its outputs."""
    tnn = torch.nn
    nz, ngf, ndf, nc = 100, 8, 8, 3
    tg = tnn.Sequential(
        tnn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), tnn.BatchNorm2d(ngf * 8), tnn.ReLU(True),
        tnn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), tnn.BatchNorm2d(ngf * 4), tnn.ReLU(True),
        tnn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), tnn.BatchNorm2d(ngf * 2), tnn.ReLU(True),
        tnn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), tnn.BatchNorm2d(ngf), tnn.ReLU(True),
        tnn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), tnn.Tanh())
    td = tnn.Sequential(
        tnn.Conv2d(nc, ndf, 4, 2, 1, bias=False), tnn.LeakyReLU(0.2, inplace=True),
        tnn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), tnn.BatchNorm2d(ndf * 2), tnn.LeakyReLU(0.2, inplace=True),
        tnn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), tnn.BatchNorm2d(ndf * 4), tnn.LeakyReLU(0.2, inplace=True),
        tnn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), tnn.BatchNorm2d(ndf * 8), tnn.LeakyReLU(0.2, inplace=True),
        tnn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), tnn.Sigmoid())
    G = DCGANGenerator(nz=nz, ngf=ngf, nc=nc, image_size=64)
    D = DCGANDiscriminator(nc=nc, ndf=ndf, image_size=64, sigmoid=True)
    for fm, tm in ((G, tg), (D, td)):
        keys = ["main." + k for k in tm.state_dict()]
        assert list(fm.state_dict()) == keys
        missing, unexpected = fm.load_state_dict({"main." + k: v for k, v in fastnn_state(tm.state_dict()).items()})
        assert not missing and not unexpected
        assert [type(m).__name__ for m in fm.main] == [type(m).__name__ for m in tm]
    z = np.random.default_rng(0).standard_normal((4, nz, 1, 1)).astype(np.float32)
    tx = tg(torch.tensor(z))
    fx = G(fastnn.tensor(z))
    assert rel_err(fx.detach().numpy(), tx.detach().numpy()) < 1e-4
    assert rel_err(D(fx).detach().numpy(), td(tx).detach().numpy()) < 1e-4


def test_weights_init_statistics():
    """Convolution weights N(0, 0.02), batch-norm weights N(1, 0.02) and biases 0, as the tutorial's weights_init."""
    G = DCGANGenerator(nz=100, ngf=64, image_size=64)
    D = DCGANDiscriminator(ndf=64, image_size=64)
    convs = [m for model in (G, D) for m in model.modules() if "Conv" in type(m).__name__]
    bns = [m for model in (G, D) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    w = np.concatenate([m.weight.detach().numpy().ravel() for m in convs])
    assert abs(w.mean()) < 1e-3 and w.std() == pytest.approx(0.02, rel=0.02)
    g = np.concatenate([m.weight.detach().numpy().ravel() for m in bns])
    assert g.mean() == pytest.approx(1.0, abs=5e-3) and g.std() == pytest.approx(0.02, rel=0.1)
    assert all(not m.bias.detach().numpy().any() for m in bns)
    # usable with apply on any model, and on the raw weight of a spectrally normalised layer
    conv = nn.utils.parametrizations.spectral_norm(nn.Conv2d(16, 64, 3))
    lin = nn.Linear(500, 3)
    before = lin.weight.detach().numpy().copy()
    nn.Sequential(conv, lin).apply(dcgan_weights_init)
    assert conv.parametrizations.weight.original.detach().numpy().std() == pytest.approx(0.02, rel=0.05)
    np.testing.assert_array_equal(lin.weight.detach().numpy(), before)


def test_critic_normalizations():
    C = WGANCritic(ndf=4, image_size=28, normalization="layer")
    assert [type(m).__name__ for m in C.main] == ["Conv2d", "LeakyReLU", "Conv2d", "GroupNorm", "LeakyReLU",
                                                  "Flatten", "Linear"]
    assert C.main[3].num_groups == 1
    assert isinstance(WGANCritic(ndf=4, image_size=28, normalization="instance").main[3], nn.InstanceNorm2d)
    assert isinstance(WGANCritic(ndf=4, image_size=28, normalization="batch").main[3], nn.BatchNorm2d)
    S = WGANCritic(ndf=4, image_size=28, normalization="spectral")
    assert sum(nn.utils.parametrize.is_parametrized(m, "weight") for m in S.modules()) == 3
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) for m in WGANCritic(ndf=4, image_size=28).modules())


def test_bad_arguments_and_shapes():
    with pytest.raises(ValueError, match="image_size must be an even number >= 8"):
        DCGANGenerator(image_size=27)
    with pytest.raises(ValueError, match="image_size"):
        WGANCritic(image_size=6)
    with pytest.raises(ValueError, match="nz must be a positive integer"):
        DCGANGenerator(nz=0)
    with pytest.raises(ValueError, match="ndf"):
        DCGANDiscriminator(ndf=-1)
    with pytest.raises(ValueError, match="normalization must be one of"):
        WGANCritic(normalization="group")
    G = DCGANGenerator(nz=8, ngf=4, image_size=8)
    with pytest.raises(ValueError, match=r"DCGANGenerator: input must have shape \(N, 8, 1, 1\).*\(2, 9, 1, 1\)"):
        G(fastnn.randn(2, 9, 1, 1))
    with pytest.raises(ValueError, match=r"WGANCritic: input must have shape \(N, 1, 8, 8\).*\(2, 1, 28, 28\)"):
        WGANCritic(ndf=4, image_size=8)(fastnn.randn(2, 1, 28, 28))
    with pytest.raises(ValueError, match=r"DCGANDiscriminator: input must have shape \(N, 3, 8, 8\)"):
        DCGANDiscriminator(nc=3, ndf=4, image_size=8)(fastnn.randn(2, 1, 8, 8))
    critic = WGANCritic(ndf=4, image_size=8)
    with pytest.raises(ValueError, match="real and fake must have the same shape"):
        gradient_penalty(critic, fastnn.randn(2, 1, 8, 8), fastnn.randn(3, 1, 8, 8))
    with pytest.raises(ValueError, match="lambda_gp must be a finite number >= 0"):
        gradient_penalty(critic, fastnn.randn(2, 1, 8, 8), fastnn.randn(2, 1, 8, 8), lambda_gp=-1)
    with pytest.raises(ValueError, match="alpha of shape"):
        gradient_penalty(critic, fastnn.randn(2, 1, 8, 8), fastnn.randn(2, 1, 8, 8), alpha=fastnn.rand(3))
    for factory in (wgan_train_step, wgan_gp_train_step):
        with pytest.raises(ValueError, match="n_critic must be an integer >= 1, got 0"):
            factory(8, n_critic=0)
        with pytest.raises(ValueError, match="nz must be a positive integer"):
            factory(0)
    with pytest.raises(ValueError, match="clip_value must be a finite number > 0"):
        wgan_train_step(8, clip_value=0)
    with pytest.raises(ValueError, match="lambda_gp must be a finite number >= 0"):
        wgan_gp_train_step(8, lambda_gp=float("nan"))
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\)"):
        gan_train_step(8, label_smoothing=1.0)
    step = gan_train_step(8)
    D = DCGANDiscriminator(ndf=4, image_size=8)
    opts = {"generator": optim.Adam(G.parameters()), "discriminator": optim.Adam(D.parameters())}
    with pytest.raises(KeyError,
                       match=r"models needs one of the keys \['discriminator', 'critic'\], got \['generator'\]"):
        step(fastnn.randn(4, 1, 8, 8), {"generator": G}, opts)
    with pytest.raises(KeyError, match="optimizers needs the key 'discriminator'"):
        step(fastnn.randn(4, 1, 8, 8), {"generator": G, "discriminator": D}, {"generator": opts["generator"]})
    with pytest.raises(ValueError, match="non-empty batch"):
        step(fastnn.randn(0, 1, 8, 8), {"generator": G, "discriminator": D}, opts)


def _torch_critic(torch, fastnn_critic):
    """PyTorch's copy of a plain (no normalisation) WGANCritic, same weights."""
    tnn = torch.nn
    layers = []
    for m in fastnn_critic.main:
        if isinstance(m, nn.Conv2d):
            layers.append(tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding))
        elif isinstance(m, nn.LeakyReLU):
            layers.append(tnn.LeakyReLU(m.negative_slope))
        elif isinstance(m, nn.Flatten):
            layers.append(tnn.Flatten())
        elif isinstance(m, nn.Linear):
            layers.append(tnn.Linear(m.in_features, m.out_features))
        elif isinstance(m, nn.GroupNorm):
            layers.append(tnn.GroupNorm(m.num_groups, m.num_channels))
        elif isinstance(m, nn.InstanceNorm2d):
            layers.append(tnn.InstanceNorm2d(m.num_features, affine=True))
        else:
            raise AssertionError(type(m))
    tm = tnn.Sequential(*layers).double()
    state = {k[len("main."):]: torch.tensor(v.detach().numpy()) for k, v in fastnn_critic.state_dict().items()}
    tm.load_state_dict(state)
    return tm


def _torch_penalty(torch, critic, real, fake, alpha, lambda_gp):
    """The WGAN-GP penalty as PyTorch implementations write it."""
    x_hat = (alpha.view(-1, *[1] * (real.dim() - 1)) * real + (1 - alpha.view(-1, *[1] * (real.dim() - 1))) * fake)
    x_hat.requires_grad_(True)
    out = critic(x_hat)
    grad, = torch.autograd.grad(out, x_hat, grad_outputs=torch.ones_like(out), create_graph=True, retain_graph=True)
    return ((grad.reshape(grad.size(0), -1).norm(2, dim=1) - 1) ** 2).mean() * lambda_gp


def _assert_same_grad(fp, tp, name):
    """The same gradient, or none in both (the last layer's bias does not reach the input gradient). A bias
    before a piecewise-linear activation gets exact zeros in both libraries: the activation's backward keeps
    the input in the graph with a zero derivative."""
    if tp.grad is None:
        assert fp.grad is None, name
    else:
        assert fp.grad is not None, name
        assert rel_err(fp.grad.numpy(), tp.grad.numpy()) < 1e-9, name


@pytest.mark.parametrize("normalization, image_size, n", [(None, 28, 5), (None, 8, 1), ("layer", 16, 4),
                                                          ("instance", 8, 3)])
def test_gradient_penalty_equals_pytorch(torch, normalization, image_size, n):
    """The goal check: value and every critic parameter's gradient after penalty.backward(), float64."""
    rng = np.random.default_rng(image_size + n)
    critic = WGANCritic(nc=2, ndf=3, image_size=image_size, normalization=normalization).double()
    for p in critic.parameters():  # weights large enough that the gradient norms are far from 0 and 1
        p.data = fastnn.tensor(rng.standard_normal(p.shape) * 0.3)
    tcritic = _torch_critic(torch, critic)
    real = rng.uniform(-1, 1, (n, 2, image_size, image_size))
    fake = rng.uniform(-1, 1, (n, 2, image_size, image_size))
    alpha = rng.uniform(0, 1, n)
    gp = gradient_penalty(critic, fastnn.tensor(real), fastnn.tensor(fake), lambda_gp=10.0, alpha=fastnn.tensor(alpha))
    tgp = _torch_penalty(torch, tcritic, torch.tensor(real), torch.tensor(fake), torch.tensor(alpha), 10.0)
    assert gp.ndim == 0
    assert float(gp) == pytest.approx(tgp.item(), rel=1e-9)
    gp.backward()
    tgp.backward()
    for (name, tp), (fname, fp) in zip(tcritic.named_parameters(), critic.named_parameters()):
        assert fname == "main." + name
        _assert_same_grad(fp, tp, name)


def test_gradient_penalty_through_spectral_norm_equals_pytorch(torch):
    """The penalty's parameter gradients reach the raw weights of spectrally normalised layers as in PyTorch."""
    rng = np.random.default_rng(5)
    critic = WGANCritic(nc=1, ndf=3, image_size=8, normalization="spectral").double().eval()
    tnn, sn = torch.nn, torch.nn.utils.parametrizations.spectral_norm
    tcritic = tnn.Sequential(sn(tnn.Conv2d(1, 3, 4, 2, 1)), tnn.LeakyReLU(0.2), tnn.Flatten(),
                             sn(tnn.Linear(3 * 16, 1))).double().eval()
    tcritic.load_state_dict({k[len("main."):]: torch.tensor(v.detach().numpy())
                             for k, v in critic.state_dict().items()})
    real, fake, alpha = rng.uniform(-1, 1, (4, 1, 8, 8)), rng.uniform(-1, 1, (4, 1, 8, 8)), rng.uniform(0, 1, 4)
    gp = gradient_penalty(critic, fastnn.tensor(real), fastnn.tensor(fake), alpha=fastnn.tensor(alpha))
    tgp = _torch_penalty(torch, tcritic, torch.tensor(real), torch.tensor(fake), torch.tensor(alpha), 10.0)
    assert float(gp) == pytest.approx(tgp.item(), rel=1e-9)
    gp.backward()
    tgp.backward()
    for (name, tp), (_, fp) in zip(tcritic.named_parameters(), critic.named_parameters()):
        _assert_same_grad(fp, tp, name)


def test_gradient_penalty_draws_alpha_per_sample_and_detaches_inputs():
    critic = WGANCritic(ndf=4, image_size=8).double()
    real = fastnn.randn(6, 1, 8, 8, dtype=fastnn.float64)
    fake = fastnn.randn(6, 1, 8, 8, dtype=fastnn.float64, requires_grad=True)
    g1 = gradient_penalty(critic, real, fake, generator=fastnn.Generator().manual_seed(3))
    g2 = gradient_penalty(critic, real, fake, generator=fastnn.Generator().manual_seed(3))
    assert float(g1) == float(g2)  # the generator fixes the interpolation
    alpha = fastnn.Generator().manual_seed(3)
    alpha = fastnn.rand(6, 1, 1, 1, generator=alpha, dtype=fastnn.float64)
    assert float(gradient_penalty(critic, real, fake, alpha=alpha)) == float(g1)
    g1.backward()
    assert fake.grad is None  # only the critic is regularised
    # lambda_gp scales; the real endpoint (alpha = 1) gives the penalty at the real images
    g0 = gradient_penalty(critic, real, fake, lambda_gp=0.0)
    assert float(g0) == 0.0
    at_real = gradient_penalty(critic, real, fake, lambda_gp=1.0, alpha=1.0)
    x = real.detach().requires_grad_(True)
    grad, = fastnn.autograd.grad(critic(x).sum(), x)
    expected = ((grad.reshape(6, -1).norm(2, dim=1) - 1) ** 2).mean()
    assert float(at_real) == pytest.approx(float(expected), rel=1e-12)


def test_gradient_penalty_gradcheck():
    """Gradients of the penalty with respect to the critic's weights, against finite differences."""
    critic = WGANCritic(ndf=2, image_size=8).double()
    real = fastnn.randn(3, 1, 8, 8, dtype=fastnn.float64)
    fake = fastnn.randn(3, 1, 8, 8, dtype=fastnn.float64)
    alpha = fastnn.rand(3, dtype=fastnn.float64)
    conv = critic.main[0]
    w = (conv.weight.detach() * 20).requires_grad_(True)  # gradient norms of order 1: the penalty is curved
    del conv.weight  # a plain attribute from now on, so gradcheck's perturbed weights go through the critic

    def f(w):
        conv.weight = w
        return gradient_penalty(critic, real, fake, alpha=alpha)

    assert fastnn.autograd.gradcheck(f, (w,), eps=1e-6, atol=1e-6)


def _digits_batch(n=32, size=8):
    x = np.random.default_rng(0).uniform(-1, 1, (n, 1, size, size)).astype(np.float32)
    return fastnn.tensor(x)


def _models(critic_name, critic):
    G = DCGANGenerator(nz=8, ngf=8, image_size=8)
    return {"generator": G, critic_name: critic}


def test_gan_step_updates_both_models_and_logs():
    models = _models("discriminator", DCGANDiscriminator(ndf=8, image_size=8))
    opts = {k: optim.Adam(m.parameters(), 2e-4, betas=(0.5, 0.999)) for k, m in models.items()}
    before = {k: [p.detach().numpy().copy() for p in m.parameters()] for k, m in models.items()}
    step = gan_train_step(8, label_smoothing=0.1)
    logs = step((_digits_batch(), fastnn.zeros(32)), models, opts)
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(isinstance(v, float) and np.isfinite(v) for v in logs.values())
    assert 0 < logs["d_real"] < 1 and 0 < logs["d_fake"] < 1
    for k, m in models.items():
        assert all(not np.array_equal(b, p.detach().numpy()) for b, p in zip(before[k], m.parameters())), k
        assert all(p.requires_grad for p in m.parameters())  # the discriminator is unfrozen after G's step


def test_gan_step_losses_match_a_hand_written_step():
    """The logged losses are the tutorial's: BCE of D(x) against the (smoothed) real label and of D(G(z)) against 0."""
    import fastnn.nn.functional as F
    models = _models("discriminator", DCGANDiscriminator(ndf=8, image_size=8))
    opts = {k: optim.SGD(m.parameters(), lr=0.0) for k, m in models.items()}
    real = _digits_batch()
    fastnn.manual_seed(11)
    logs = gan_train_step(8, label_smoothing=0.2)(real, models, opts)
    fastnn.manual_seed(11)
    fake = models["generator"](sample_latent(32, 8))
    d_real, d_fake = models["discriminator"](real).reshape(-1), models["discriminator"](fake).reshape(-1)
    d_loss = F.binary_cross_entropy_with_logits(d_real, fastnn.full((32,), 0.8)) + \
        F.binary_cross_entropy_with_logits(d_fake, fastnn.zeros(32))
    g_loss = F.binary_cross_entropy_with_logits(d_fake, fastnn.ones(32))
    # lr 0: the models do not move, BatchNorm's batch statistics are the same in both passes
    assert logs["d_loss"] == pytest.approx(float(d_loss), rel=1e-5)
    assert logs["g_loss"] == pytest.approx(float(g_loss), rel=1e-5)


@pytest.mark.parametrize("n_critic", [1, 3])
def test_wgan_steps_alternate_and_clip(n_critic):
    critic = WGANCritic(ndf=8, image_size=8)
    models = _models("critic", critic)
    opts = {k: optim.RMSprop(m.parameters(), 5e-3) for k, m in models.items()}
    step = wgan_train_step(8, n_critic=n_critic, clip_value=0.01)
    g_changes = []
    for i in range(2 * n_critic):
        g_before = [p.detach().numpy().copy() for p in models["generator"].parameters()]
        logs = step(_digits_batch(), models, opts)
        assert set(logs) == {"d_loss", "g_loss", "wasserstein"}
        assert logs["d_loss"] == pytest.approx(-logs["wasserstein"], abs=1e-6)
        g_changes.append(any(not np.array_equal(b, p.detach().numpy())
                             for b, p in zip(g_before, models["generator"].parameters())))
        assert max(float(p.abs().max()) for p in critic.parameters()) <= 0.01 + 1e-7
    assert g_changes == [(i + 1) % n_critic == 0 for i in range(2 * n_critic)]


def test_wgan_step_follows_the_loops_global_step():
    """With the loop's state, the generator steps follow state.global_step (so a resumed run alternates as the
    uninterrupted one), not the number of calls of this step function."""
    class State:
        global_step = 4

    models = _models("critic", WGANCritic(ndf=8, image_size=8))
    opts = {k: optim.Adam(m.parameters(), 1e-3) for k, m in models.items()}
    step = wgan_gp_train_step(8, n_critic=5)
    before = [p.detach().numpy().copy() for p in models["generator"].parameters()]
    logs = step(_digits_batch(), models, opts, State())  # the 5th step: a generator step
    assert set(logs) == {"d_loss", "g_loss", "wasserstein", "gp"}
    assert logs["d_loss"] == pytest.approx(logs["gp"] - logs["wasserstein"], rel=1e-5)
    assert any(not np.array_equal(b, p.detach().numpy()) for b, p in zip(before, models["generator"].parameters()))


def test_wgan_gp_trains_without_divergence_on_digits():
    """A hundred WGAN-GP steps on the digits: finite losses, a positive Wasserstein estimate (the critic
    separates real from generated), a penalty that falls well below its start, and generated images whose
    contrast moves towards the data's (the untrained generator draws a near-constant grey)."""
    x = fastnn.datasets.digits_images()[0] * 2 - 1
    G = DCGANGenerator(nz=16, ngf=8, image_size=8)
    C = WGANCritic(ndf=8, image_size=8)
    models = {"generator": G, "critic": C}
    opts = {k: optim.Adam(m.parameters(), 2e-3, betas=(0.0, 0.9)) for k, m in models.items()}
    step = wgan_gp_train_step(16, n_critic=2)
    rng = np.random.default_rng(0)
    with fastnn.no_grad():
        fake0 = G(sample_latent(256, 16)).numpy()
    logs = [step(fastnn.tensor(x[rng.choice(len(x), 32, replace=False)]), models, opts) for _ in range(100)]
    assert all(np.isfinite(list(log.values())).all() for log in logs)
    assert np.mean([log["wasserstein"] for log in logs[-20:]]) > 0
    assert np.mean([log["gp"] for log in logs[-20:]]) < 0.5 * logs[0]["gp"]
    with fastnn.no_grad():
        fake = G(sample_latent(256, 16)).numpy()
    assert abs(fake.std() - x.std()) < 0.6 * abs(fake0.std() - x.std())  # seen: 0.07 -> 0.44, real 0.75


def test_sample_latent_shapes():
    assert sample_latent(3, 5).shape == (3, 5, 1, 1)
    assert sample_latent(3, (5,)).shape == (3, 5)
    like = fastnn.zeros(1, dtype=fastnn.float64)
    assert sample_latent(2, 4, like=like).dtype == fastnn.float64


def _tiny_digits(n=96):
    x = fastnn.datasets.digits_images()[0][:n] * 2 - 1
    return x


@pytest.mark.parametrize("variant", ["dcgan", "wgan", "wgan-gp"])
def test_train_gan_runs_each_recipe_through_fit(variant, tmp_path):
    from fastnn.train.gan import VARIANTS, SampleGrid, train_gan
    grid = SampleGrid(None, str(tmp_path / "grid_{epoch:02d}.png"), 8, n=16, nrow=4)
    r = train_gan(_tiny_digits(), variant, epochs=2, nz=8, ngf=4, ndf=4, batch_size=32, n_critic=2, callbacks=[grid],
                  ema_decay=0.9 if variant == "wgan-gp" else None)
    keys = {"dcgan": {"d_loss", "g_loss", "d_real", "d_fake"}, "wgan": {"d_loss", "g_loss", "wasserstein"},
            "wgan-gp": {"d_loss", "g_loss", "wasserstein", "gp"}}[variant]
    assert keys <= set(r.history.history) and all(len(r.history.history[k]) == 2 for k in keys)
    assert [p.rsplit("/", 1)[-1] for p in grid.paths] == ["grid_01.png", "grid_02.png"]
    assert all((tmp_path / f"grid_0{e}.png").stat().st_size > 100 for e in (1, 2))
    s = r.sample(5)
    assert s.shape == (5, 1, 8, 8) and s.dtype == np.float32 and np.abs(s).max() <= 1
    np.testing.assert_array_equal(r.sample(5, seed=3), r.sample(5, seed=3))
    assert not np.array_equal(r.sample(5, untrained=True), s)
    if variant == "wgan":
        assert max(float(p.abs().max()) for p in r.critic.parameters()) <= 0.01 + 1e-7
    if variant == "wgan-gp":
        assert r.generator is not r.raw_generator  # the EMA copy
    else:
        assert r.generator is r.raw_generator
    assert VARIANTS[variant]["lr"] > 0


def test_train_gan_resumes_exactly(tmp_path):
    """A WGAN-GP run interrupted after epoch 1 and resumed from its checkpoint ends with the uninterrupted run's
    weights: models, optimisers, EMA, random state and the critic/generator alternation (global_step)."""
    from fastnn.train import ModelCheckpoint
    from fastnn.train.gan import train_gan
    kw = dict(epochs=2, nz=8, ngf=4, ndf=4, batch_size=32, n_critic=3, ema_decay=0.9)
    x = _tiny_digits()
    ck = ModelCheckpoint(str(tmp_path / "ck_{epoch}.fnn"), save_best_only=False)
    full = train_gan(x, "wgan-gp", callbacks=[ck], **kw)
    resumed = train_gan(x, "wgan-gp", resume_from=str(tmp_path / "ck_1.fnn"), **kw)
    for a, b in ((full.raw_generator, resumed.raw_generator), (full.critic, resumed.critic),
                 (full.generator, resumed.generator)):
        for (name, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items()):
            np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=name)


def test_train_gan_bad_input():
    from fastnn.train.gan import SampleGrid, train_gan
    x = _tiny_digits()
    with pytest.raises(ValueError, match="variant must be one of"):
        train_gan(x, "gan")
    with pytest.raises(ValueError, match=r"scaled to \[-1, 1\]"):
        train_gan((x + 1) * 100, "dcgan")
    with pytest.raises(ValueError, match=r"shape \(N, C, S, S\) with N >= batch_size"):
        train_gan(x[:10], "dcgan", batch_size=32)
    with pytest.raises(ValueError, match="give nz"):
        SampleGrid(None, "x.png")
