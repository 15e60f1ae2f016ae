"""DDPM training, sampling and evaluation (fastnn.train.diffusion): the variational bound's pieces against
scipy's closed forms, the bound of a perfect-noise oracle (its L_T + decoder floor), the training step's
targets, logs and classifier-free-guidance label dropout, exact resume, sampling through the pipelines,
and bad input."""
import math

import numpy as np
import pytest

import fastnn
from fastnn.train.diffusion import discretized_gaussian_log_likelihood, normal_kl


@pytest.fixture(scope="module")
def scipy_stats():
    return pytest.importorskip("scipy.stats")


def test_erfc_keeps_its_digits_in_the_tail(scipy_stats):
    special = pytest.importorskip("scipy.special")
    x = np.concatenate([np.linspace(-8, 26, 20001), [0.0, 1.0, -1.0, 6.5, 40.0, np.inf, -np.inf]])
    got = fastnn.erfc(fastnn.tensor(x)).numpy()
    ref = special.erfc(x)
    assert np.all(np.abs(got - ref) <= 1e-11 * np.maximum(ref, 1e-300) + 1e-300)
    assert fastnn.erfc(fastnn.tensor(3.0)).item() == pytest.approx(special.erfc(3.0), rel=1e-12)


def test_normal_kl_is_the_integral_of_p_log_p_over_q(scipy_stats, rng):
    integrate = pytest.importorskip("scipy.integrate")
    norm = scipy_stats.norm
    for _ in range(5):
        m1, m2 = rng.normal(size=2)
        lv1, lv2 = rng.normal(size=2)
        s1, s2 = math.exp(lv1 / 2), math.exp(lv2 / 2)
        ref, _ = integrate.quad(lambda x: norm.pdf(x, m1, s1) * (norm.logpdf(x, m1, s1) - norm.logpdf(x, m2, s2)),
                                m1 - 12 * s1, m1 + 12 * s1)
        assert normal_kl(m1, lv1, m2, lv2) == pytest.approx(ref, rel=1e-7, abs=1e-10)
    # element-wise with broadcasting; zero between equal Gaussians
    a = rng.normal(size=(3, 4))
    assert normal_kl(a, 0.5, a, 0.5).shape == (3, 4) and np.allclose(normal_kl(a, 0.5, a, 0.5), 0)


@pytest.mark.parametrize("mu, scale", [(0.3, 0.05), (0.97, 0.002), (-2.0, 0.3), (0.0, 1e-4), (0.5, 3.0)])
def test_discretised_gaussian_is_the_mass_of_each_bin(scipy_stats, mu, scale):
    norm = scipy_stats.norm
    x = np.linspace(-1, 1, 256)
    got = discretized_gaussian_log_likelihood(x, means=mu, log_scales=math.log(scale))
    edges = np.concatenate([[-np.inf], (x[:-1] + 1 / 255 - mu) / scale, [np.inf]])
    lo, hi = edges[:-1], edges[1:]
    # the upper tail through the survival function, where 1 - cdf would cancel
    mass = np.where(lo > 0, norm.sf(lo) - norm.sf(hi), norm.cdf(hi) - norm.cdf(lo))
    ref = np.log(np.maximum(mass, 1e-12))
    assert np.allclose(got, ref, rtol=1e-9, atol=1e-9)
    # the bins cover the line: their masses sum to 1 (up to the 1e-12 floor of empty bins)
    assert abs(np.exp(got).sum() - 1) < 256e-12


# ------------------------------------------------------------------------------------------------------------------
# the bound, the training step and sampling on the real schedulers and UNet

from fastnn import nn, optim  # noqa: E402
from fastnn.train.diffusion import (ddpm_train_step, sample_images, train_ddpm,  # noqa: E402
                                    variational_bound_bpd)

TINY = dict(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 16), layers_per_block=1,
            down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
            norm_num_groups=4, attention_head_dim=4)


def _scheduler(**kw):
    from fastnn.diffusion import DDPMScheduler
    return DDPMScheduler(**kw)


def _unet(**kw):
    from fastnn.models import UNet2DModel
    return UNet2DModel(**{**TINY, **kw})


def _digits(n=None, quantised=True):
    x, y = fastnn.datasets.digits_images()
    x = x[:n] if n else x
    if quantised:  # k / 255 levels, as the bound's discretised decoder expects
        x = np.round(x * 255) / 255
    return (x * 2 - 1).astype(np.float32), y[:n] if n else y


class _Out:
    def __init__(self, sample):
        self.sample = sample


class _Oracle(nn.Module):
    """A 'UNet' that knows the clean images: it returns the exact noise of x_t (the perfect eps-prediction)."""

    def __init__(self, scheduler, x0):
        super().__init__()
        self.w = nn.Linear(1, 1)
        self.abar = scheduler.alphas_cumprod.numpy().astype(np.float64)
        self.x0 = x0.astype(np.float64)
        self.offset = 0

    def forward(self, sample, timestep, class_labels=None, return_dict=True):
        xt = sample.numpy().astype(np.float64)
        ab = self.abar[timestep.numpy()].reshape(-1, 1, 1, 1)
        x0 = self.x0[self.offset:self.offset + len(xt)]
        self.offset = (self.offset + len(xt)) % len(self.x0)
        return _Out(fastnn.tensor(((xt - np.sqrt(ab) * x0) / np.sqrt(1 - ab)).astype(np.float32)))


def test_a_perfect_noise_oracle_reaches_the_prior_plus_decoder_floor(scipy_stats):
    sched = _scheduler(num_train_timesteps=250, beta_end=0.05)
    x, _ = _digits(16)
    b = variational_bound_bpd(_Oracle(sched, x), sched, x, batch_size=16, timesteps=None)
    assert b.timesteps.tolist() == list(range(250)) and np.all(b.weights == 1)
    assert b.diffusion < 1e-6  # every KL term vanishes: the model's mean is the posterior's
    assert b.bpd == pytest.approx(b.prior + b.decoder, abs=1e-6)
    # the floor in closed form: the decoder N(x0, posterior variance of step 1) on x0's bin, and the prior's KL
    abar = sched.alphas_cumprod.numpy().astype(np.float64)
    betas = 1 - abar / np.append(1, abar[:-1])
    sigma = math.sqrt(betas[1] * (1 - abar[0]) / (1 - abar[1]))
    norm = scipy_stats.norm
    lo = np.where(x <= -1 + 1e-6, -np.inf, -1 / 255 / sigma)
    hi = np.where(x >= 1 - 1e-6, np.inf, 1 / 255 / sigma)
    decoder = -np.log(norm.cdf(hi) - norm.cdf(lo)).sum((1, 2, 3)) / (64 * math.log(2))
    assert b.decoder == pytest.approx(decoder.mean(), rel=1e-6)
    xt_var = 1 - abar[-1]
    prior = 0.5 * (-np.log(xt_var) + xt_var + abar[-1] * x.astype(np.float64) ** 2 - 1).sum((1, 2, 3))
    assert b.prior == pytest.approx(prior.mean() / (64 * math.log(2)), rel=1e-9)
    assert np.allclose(b.per_image, (prior / (64 * math.log(2)) + decoder), atol=1e-5)


def test_stratified_timesteps_weigh_each_draw_by_its_stratum():
    sched = _scheduler(num_train_timesteps=100)
    x, _ = _digits(8)
    fastnn.manual_seed(3)
    unet = _unet()
    b = variational_bound_bpd(unet, sched, x, timesteps=9, generator=fastnn.Generator().manual_seed(1))
    assert b.timesteps[0] == 0 and len(b.timesteps) == 10 and b.weights.sum() == 100
    edges = np.round(np.linspace(1, 100, 10)).astype(int)
    assert np.all((b.timesteps[1:] >= edges[:-1]) & (b.timesteps[1:] < edges[1:]))
    assert b.diffusion == pytest.approx((b.weights[1:] * b.terms[1:]).sum(), rel=1e-9)
    from fastnn.train.diffusion import _bound_steps
    steps, weights = _bound_steps(100, 99, np.random.default_rng(0), "test")
    assert np.array_equal(steps, np.arange(100)) and np.all(weights == 1)  # k >= T - 1: every step
    # the same generator gives the same draws and the same bound
    again = variational_bound_bpd(unet, sched, x, timesteps=9, generator=fastnn.Generator().manual_seed(1))
    assert again.bpd == b.bpd and np.array_equal(again.timesteps, b.timesteps)


class _Recorder:
    """Wraps a scheduler's diffuse to keep what the training step drew."""

    def __init__(self, sched):
        self.sched, self.calls = sched, []
        inner = sched.diffuse

        def diffuse(x0, timesteps, generator=None, return_velocity=False):
            out = inner(x0, timesteps, generator=generator, return_velocity=return_velocity)
            self.calls.append((x0.numpy().copy(), timesteps.numpy().copy(), [o.numpy().copy() for o in out]))
            return out
        sched.diffuse = diffuse


class _Echo(nn.Module):
    """A model whose output is a fixed function of its input, recording its inputs."""

    def __init__(self, num_class_embeds=None):
        super().__init__()
        self.config = {"num_class_embeds": num_class_embeds}
        self.scale = nn.Parameter(fastnn.tensor(0.5))
        self.inputs = []

    def forward(self, sample, timestep, class_labels=None, return_dict=True):
        self.inputs.append((sample.numpy().copy(), timestep.numpy().copy(),
                            None if class_labels is None else class_labels.numpy().copy()))
        return _Out(sample * self.scale)


@pytest.mark.parametrize("prediction_type", ["epsilon", "sample", "v_prediction"])
def test_train_step_regresses_the_target_of_the_prediction_type(prediction_type):
    sched = _scheduler(prediction_type=prediction_type)
    rec = _Recorder(sched)
    x, _ = _digits(16)
    m = _Echo()
    opt = optim.SGD(m.parameters(), lr=0.0)
    logs = ddpm_train_step(sched)(fastnn.tensor(x), {"unet": m}, {"unet": opt})
    assert set(logs) == {"loss"}
    x0, t, out = rec.calls[-1]
    assert np.array_equal(x0, x) and t.shape == (16,) and t.min() >= 0 and t.max() < 1000
    xt, noise = out[0], out[1]
    assert np.array_equal(m.inputs[-1][0], xt) and np.array_equal(m.inputs[-1][1], t)
    abar = sched.alphas_cumprod.numpy().astype(np.float64)[t].reshape(-1, 1, 1, 1)
    target = {"epsilon": noise, "sample": x,
              "v_prediction": np.sqrt(abar) * noise - np.sqrt(1 - abar) * x}[prediction_type]
    assert logs["loss"] == pytest.approx(float(np.mean((0.5 * xt - target) ** 2)), rel=1e-5)
    # the targets of another prediction type given explicitly win over the scheduler's
    other = "sample" if prediction_type != "sample" else "epsilon"
    logs = ddpm_train_step(sched, prediction_type=other)(fastnn.tensor(x), {"unet": m}, {"unet": opt})
    _, _, out = rec.calls[-1]
    target = x if other == "sample" else out[1]
    assert logs["loss"] == pytest.approx(float(np.mean((0.5 * out[0] - target) ** 2)), rel=1e-5)


def test_label_dropout_replaces_labels_by_the_null_class():
    sched = _scheduler()
    x, y = _digits(400)
    m = _Echo(num_class_embeds=11)
    opt = optim.SGD(m.parameters(), lr=0.0)
    batch = (fastnn.tensor(x), fastnn.tensor(y.astype(np.int64)))
    ddpm_train_step(sched, p_uncond=0.25)(batch, {"unet": m}, {"unet": opt})
    seen = m.inputs[-1][2]
    dropped = seen == 10  # the null class: num_class_embeds - 1
    assert 0.18 < dropped.mean() < 0.32
    assert np.array_equal(seen[~dropped], y[~dropped])
    ddpm_train_step(sched, p_uncond=0.5, null_class=12)(batch, {"unet": m}, {"unet": opt})
    assert set(np.unique(m.inputs[-1][2])) <= set(range(10)) | {12} and (m.inputs[-1][2] == 12).mean() > 0.4
    ddpm_train_step(sched)(batch, {"unet": m}, {"unet": opt})
    assert np.array_equal(m.inputs[-1][2], y)  # no dropout by default
    unconditional = _Echo()
    ddpm_train_step(sched)(batch, {"unet": unconditional}, {"unet": opt})
    assert unconditional.inputs[-1][2] is None  # labels in the batch, unconditional model: not passed


def test_training_step_errors_name_the_argument():
    sched = _scheduler()
    x, y = _digits(4)
    m = _Echo(num_class_embeds=11)
    opt = optim.SGD(m.parameters(), lr=0.0)
    with pytest.raises(ValueError, match="p_uncond"):
        ddpm_train_step(sched, p_uncond=1.0)
    with pytest.raises(ValueError, match="'loss'"):
        ddpm_train_step(sched, loss="kl")
    with pytest.raises(ValueError, match="prediction_type"):
        ddpm_train_step(sched, prediction_type="noise")
    with pytest.raises(TypeError, match="scheduler"):
        ddpm_train_step(object())
    with pytest.raises(ValueError, match="class-conditional .* no labels"):
        ddpm_train_step(sched)(fastnn.tensor(x), {"unet": m}, {"unet": opt})
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        ddpm_train_step(sched)((fastnn.tensor(x), fastnn.tensor(y[:3])), {"unet": m}, {"unet": opt})
    with pytest.raises(ValueError, match="p_uncond=0.5 .* class-conditional"):
        ddpm_train_step(sched, p_uncond=0.5)(fastnn.tensor(x), {"unet": _Echo()}, {"unet": opt})
    with pytest.raises(KeyError, match="'unet'"):
        ddpm_train_step(sched)(fastnn.tensor(x), {"model": m}, {"model": opt})
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        ddpm_train_step(sched)(fastnn.tensor(x[:, 0]), {"unet": m}, {"unet": opt})
    with pytest.raises(ValueError, match=r"scaled to \[-1, 1\]"):
        train_ddpm(_unet(), (x + 1) * 2, epochs=1, batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        train_ddpm(_unet(), x, epochs=1, batch_size=5)
    with pytest.raises(ValueError, match="'timesteps'"):
        variational_bound_bpd(_unet(), sched, x, timesteps=0)
    with pytest.raises(ValueError, match="class_labels"):
        variational_bound_bpd(_unet(num_class_embeds=11), sched, x)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A tiny UNet trained 3 epochs on 256 digits, uninterrupted and as 2 epochs + a resumed third."""
    from fastnn.train import ModelCheckpoint
    x, _ = _digits(256)
    sched = _scheduler(num_train_timesteps=100)
    path = str(tmp_path_factory.mktemp("ddpm") / "ckpt.fnn")

    def run(epochs, callbacks=(), resume_from=None):
        fastnn.manual_seed(0)
        unet = _unet()
        return train_ddpm(unet, x, epochs=epochs, batch_size=32, lr=3e-3, ema_decay=0.9, scheduler=sched,
                          callbacks=callbacks, resume_from=resume_from)

    full = run(3)
    run(2, [ModelCheckpoint(path, monitor="loss", save_best_only=False)])
    resumed = run(3, resume_from=path)
    return x, sched, full, resumed


def test_resumed_training_equals_the_uninterrupted_run_bit_for_bit(trained_run):
    _, _, full, resumed = trained_run
    assert full.history.history["loss"] == resumed.history.history["loss"]
    for a, b in ((full.unet, resumed.unet), (full.ema_unet, resumed.ema_unet)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        for k in sa:
            assert np.array_equal(sa[k].numpy(), sb[k].numpy()), k
    history, ema_unet = full  # unpacks as (history, ema_unet)
    assert history is full.history and ema_unet is full.ema_unet and ema_unet is not full.unet
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_the_trained_model_bounds_the_likelihood_better_than_the_untrained_one(trained_run):
    x, sched, full, _ = trained_run
    held = x[:32]
    g = fastnn.Generator
    trained = variational_bound_bpd(full.ema_unet, sched, held, timesteps=20, generator=g().manual_seed(0))
    untrained = variational_bound_bpd(full.untrained, sched, held, timesteps=20, generator=g().manual_seed(0))
    assert trained.prior == untrained.prior  # L_T does not depend on the model
    # 24 steps of training already lower the bound by about half a bit per dimension (6.78 against 7.27)
    assert trained.bpd < untrained.bpd - 0.25, (trained.bpd, untrained.bpd)
    assert trained.diffusion < untrained.diffusion
    assert trained.per_image.shape == (32,) and np.all(np.isfinite(trained.per_image))


def test_sample_images_runs_the_pipelines(trained_run):
    from fastnn.diffusion import DDIMScheduler
    _, sched, full, _ = trained_run
    unet = full.ema_unet
    unet.train()
    a = sample_images(unet, sched, 3, generator=fastnn.Generator().manual_seed(5), num_inference_steps=10)
    assert a.shape == (3, 1, 8, 8) and float(a.min()) >= -1 and float(a.max()) <= 1
    assert unet.training  # restored after sampling in eval mode
    b = sample_images(unet, sched, 3, generator=fastnn.Generator().manual_seed(5), num_inference_steps=10)
    assert np.array_equal(a.numpy(), b.numpy())
    ddim = DDIMScheduler.from_config(sched.config)
    c, inter = sample_images(unet, ddim, 2, generator=fastnn.Generator().manual_seed(5), num_inference_steps=5,
                             return_intermediates=True)
    assert c.shape == (2, 1, 8, 8) and len(inter) == 5
    assert [t for t, _ in inter] == [80, 60, 40, 20, 0]  # 100 steps, 5 "leading" ones
    assert np.array_equal(inter[-1][1].numpy(), c.numpy())  # the last step's output is the sample
    # the same x_T through DDIM twice (eta 0): the same images
    d = sample_images(unet, ddim, 2, generator=fastnn.Generator().manual_seed(5), num_inference_steps=5)
    assert np.array_equal(c.numpy(), d.numpy())
    with pytest.raises(ValueError, match="'n'"):
        sample_images(unet, sched, 0)


def test_classifier_free_guidance_trains_and_samples_a_conditional_unet():
    x, y = _digits(64)
    sched = _scheduler(num_train_timesteps=50)
    fastnn.manual_seed(0)
    unet = _unet(num_class_embeds=11)
    r = train_ddpm(unet, x, y, epochs=1, batch_size=32, scheduler=sched, p_uncond=0.2)
    assert np.isfinite(r.history.history["loss"][0])
    labels = fastnn.tensor(np.arange(4, dtype=np.int64))
    for w in (0.0, 1.0, 3.0):
        s = sample_images(r.ema_unet, sched, 4, class_labels=labels, guidance_scale=w,
                          generator=fastnn.Generator().manual_seed(0), num_inference_steps=5)
        assert s.shape == (4, 1, 8, 8) and np.all(np.isfinite(s.numpy()))


def test_a_step_generator_is_a_stream_of_its_own_and_validation_logs_val_loss():
    sched = _scheduler(num_train_timesteps=50)
    x, _ = _digits(32)
    m = _Echo()
    opt = optim.SGD(m.parameters(), lr=0.0)
    before = fastnn.random.get_rng_state()
    a, b = (ddpm_train_step(sched, generator=fastnn.Generator().manual_seed(7))(fastnn.tensor(x), {"unet": m},
                                                                                 {"unet": opt}) for _ in range(2))
    assert a == b and fastnn.random.get_rng_state() == before  # the global streams are not touched
    fastnn.manual_seed(0)
    r = train_ddpm(_unet(), x, epochs=2, batch_size=16, scheduler=sched, val_images=x[:8])
    assert set(r.history.history) >= {"loss", "val_loss"} and len(r.history.history["val_loss"]) == 2
    assert r.ema_unet is r.unet  # no ema_decay: the trained weights themselves
