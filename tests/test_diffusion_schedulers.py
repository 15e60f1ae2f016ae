"""fastnn.diffusion's schedulers against diffusers 0.42.1 (schedules, add_noise, get_velocity, the
deterministic part of step, full DDIM loops), the fused noising, autograd, config files and bad input."""
import json
import math

import numpy as np
import pytest

import fastnn
from fastnn.diffusion import DDIMScheduler, DDPMScheduler, betas_for_alpha_bar, rescale_zero_terminal_snr

TOL = dict(rtol=1e-5, atol=1e-5)


def _t(a):
    return fastnn.tensor(np.asarray(a))


def _pair(diffusers, cls, **kw):
    return getattr(fastnn.diffusion, cls)(**kw), getattr(diffusers, cls)(**kw)


# ---- schedules
@pytest.mark.parametrize("cls", ["DDPMScheduler", "DDIMScheduler"])
@pytest.mark.parametrize("kw", [dict(), dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012),
                                dict(beta_schedule="squaredcos_cap_v2"), dict(num_train_timesteps=37),
                                dict(rescale_betas_zero_snr=True), dict(num_train_timesteps=1),
                                dict(trained_betas=[0.01, 0.02, 0.05, 0.3])])
def test_schedule_tables_equal_diffusers(diffusers, cls, kw):
    ours, ref = _pair(diffusers, cls, **kw)
    for name in ("betas", "alphas", "alphas_cumprod"):
        a, b = getattr(ours, name), getattr(ref, name)
        assert a.dtype == fastnn.float32 and a.shape == tuple(b.shape)
        # atol: diffusers' float32 zero-SNR rescaling carries 5e-7 of rounding noise (ours is computed in float64)
        zsnr = "rescale_betas_zero_snr" in kw
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5 if zsnr else 1e-6, atol=1e-6 if zsnr else 1e-7)
    np.testing.assert_array_equal(ours.timesteps.numpy(), ref.timesteps.numpy())
    assert ours.init_noise_sigma == ref.init_noise_sigma and ours.order == ref.order == 1
    assert len(ours) == len(ref)
    assert {k: v for k, v in ours.config.items() if not k.startswith("_")} == \
        {k: v for k, v in ref.config.items() if not k.startswith("_")}
    assert set(k for k in ref.config if not k.startswith("_")) == set(k for k in ours.config if not k.startswith("_"))


@pytest.mark.parametrize("sched", ["sigmoid", "laplace"])
def test_ddpm_only_schedules(diffusers, sched):
    ours, ref = _pair(diffusers, "DDPMScheduler", beta_schedule=sched)
    np.testing.assert_allclose(ours.alphas_cumprod.numpy(), ref.alphas_cumprod.numpy(), rtol=1e-6, atol=1e-7)
    with pytest.raises(NotImplementedError, match="beta_schedule"):
        DDIMScheduler(beta_schedule=sched)


def test_schedule_helpers(diffusers):
    from diffusers.schedulers.scheduling_ddpm import betas_for_alpha_bar as ref_bab, rescale_zero_terminal_snr as ref_rz
    for kind in ("cosine", "exp", "laplace"):
        np.testing.assert_allclose(betas_for_alpha_bar(50, alpha_transform_type=kind).numpy(),
                                   ref_bab(50, alpha_transform_type=kind).numpy(), rtol=1e-6)
    b = DDPMScheduler().betas
    np.testing.assert_allclose(rescale_zero_terminal_snr(b).numpy(), ref_rz(diffusers.DDPMScheduler().betas).numpy(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("spacing", ["leading", "trailing", "linspace"])
@pytest.mark.parametrize("n,offset", [(1, 0), (10, 1), (50, 0), (333, 0), (1000, 0)])
def test_set_timesteps_equal_diffusers(diffusers, spacing, n, offset):
    for cls in ("DDPMScheduler", "DDIMScheduler"):
        ours, ref = _pair(diffusers, cls, timestep_spacing=spacing, steps_offset=offset)
        ours.set_timesteps(n)
        ref.set_timesteps(n)
        assert ours.timesteps.dtype == fastnn.int64
        np.testing.assert_array_equal(ours.timesteps.numpy(), ref.timesteps.numpy())
        assert ours.num_inference_steps == n


def test_ddpm_custom_timesteps_and_previous_timestep(diffusers):
    ours, ref = _pair(diffusers, "DDPMScheduler")
    assert ours.previous_timestep(10) == ref.previous_timestep(10) == 9
    ours.set_timesteps(timesteps=[900, 500, 20, 0])
    ref.set_timesteps(timesteps=[900, 500, 20, 0])
    assert ours.custom_timesteps and ref.custom_timesteps
    for t in (900, 500, 20, 0):
        assert int(ours.previous_timestep(t)) == int(ref.previous_timestep(t))
    with pytest.raises(ValueError, match="descending"):
        ours.set_timesteps(timesteps=[5, 10])
    with pytest.raises(ValueError):
        ours.set_timesteps(num_inference_steps=3, timesteps=[5, 1])
    with pytest.raises(ValueError, match="num_inference_steps"):
        ours.set_timesteps(1001)


# ---- forward process
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (5, 3, 7, 7), (3, 2, 4), (8,)])
def test_add_noise_and_velocity_equal_diffusers(diffusers, rng, dtype, shape):
    import torch
    ours, ref = _pair(diffusers, "DDPMScheduler", beta_schedule="squaredcos_cap_v2")
    x = rng.standard_normal(shape).astype(dtype)
    e = rng.standard_normal(shape).astype(dtype)
    t = rng.integers(0, 1000, size=shape[0])
    expect = ref.add_noise(torch.tensor(x), torch.tensor(e), torch.tensor(t)).numpy()
    got = ours.add_noise(_t(x), _t(e), _t(t))
    assert got.dtype == fastnn.tensor(x).dtype
    np.testing.assert_allclose(got.numpy(), expect, **TOL)
    np.testing.assert_allclose(ours.add_noise(_t(x), _t(e), t).numpy(), expect, **TOL)   # numpy timesteps
    expect_v = ref.get_velocity(torch.tensor(x), torch.tensor(e), torch.tensor(t)).numpy()
    np.testing.assert_allclose(ours.get_velocity(_t(x), _t(e), _t(t)).numpy(), expect_v, **TOL)


def test_add_noise_scalar_timestep_and_noncontiguous(diffusers, rng):
    import torch
    ours, ref = _pair(diffusers, "DDIMScheduler")
    x = rng.standard_normal((4, 6, 5)).astype(np.float32)
    e = rng.standard_normal((4, 5, 6)).astype(np.float32)
    xt, et = _t(x).transpose(1, 2), _t(e)            # non-contiguous sample
    expect = ref.add_noise(torch.tensor(x).transpose(1, 2), torch.tensor(e), torch.tensor([321])).numpy()
    np.testing.assert_allclose(ours.add_noise(xt, et, 321).numpy(), expect, **TOL)
    np.testing.assert_allclose(ours.add_noise(xt, et, _t(321)).numpy(), expect, **TOL)
    np.testing.assert_allclose(ours.add_noise(xt, et, _t([321])).numpy(), expect, **TOL)


def test_diffuse_matches_add_noise_and_velocity(rng):
    s = DDPMScheduler()
    x = _t(rng.standard_normal((6, 2, 5, 5)).astype(np.float32))
    t = _t(rng.integers(0, 1000, size=6))
    g = fastnn.Generator().manual_seed(3)
    xt, eps = s.diffuse(x, t, generator=g)
    np.testing.assert_allclose(xt.numpy(), s.add_noise(x, eps, t).numpy(), rtol=1e-6, atol=1e-6)
    g2 = fastnn.Generator().manual_seed(3)
    xt2, eps2, v = s.diffuse(x, t, generator=g2, return_velocity=True)
    np.testing.assert_array_equal(eps.numpy(), eps2.numpy())       # same stream state, same noise
    np.testing.assert_allclose(v.numpy(), s.get_velocity(x, eps, t).numpy(), rtol=1e-6, atol=1e-6)
    _, eps3 = s.diffuse(x, t, generator=g)                          # the stream moved on
    assert not np.allclose(eps3.numpy(), eps.numpy())
    big = s.diffuse(fastnn.zeros(64, 1, 28, 28), 999)[1].numpy()
    assert abs(big.mean()) < 0.02 and abs(big.std() - 1) < 0.02


def test_add_noise_is_differentiable(rng):
    s = DDPMScheduler()
    x = fastnn.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    e = fastnn.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    t = _t([5, 500, 999])
    assert fastnn.autograd.gradcheck(lambda a, b: s.add_noise(a, b, t), (x, e))
    assert fastnn.autograd.gradcheck(lambda a, b: s.get_velocity(a, b, t), (x, e))
    y = s.add_noise(x, e, t)
    with fastnn.no_grad():
        np.testing.assert_allclose(y.detach().numpy(), s.add_noise(x.detach(), e.detach(), t).numpy(), rtol=1e-12)


# ---- the reverse step
def _ref_step_with_noise(ref, torch, mo, t, x, z, **kw):
    """diffusers' step with its noise replaced by z (diffusers draws with torch: patch randn_tensor)."""
    import diffusers.schedulers.scheduling_ddpm as m1
    import diffusers.schedulers.scheduling_ddim as m2
    saved = m1.randn_tensor, m2.randn_tensor
    m1.randn_tensor = m2.randn_tensor = lambda shape, **_: torch.tensor(z)
    try:
        return ref.step(torch.tensor(mo), t, torch.tensor(x), **kw)
    finally:
        m1.randn_tensor, m2.randn_tensor = saved


DDPM_CONFIGS = [dict(), dict(prediction_type="v_prediction"), dict(prediction_type="sample", clip_sample=False),
                dict(variance_type="fixed_large"), dict(variance_type="fixed_small_log", clip_sample_range=2.0),
                dict(thresholding=True, sample_max_value=1.5),
                dict(beta_schedule="squaredcos_cap_v2", clip_sample=False),
                dict(timestep_spacing="trailing")]


@pytest.mark.parametrize("kw", DDPM_CONFIGS)
@pytest.mark.parametrize("steps", [None, 17])
def test_ddpm_step_equals_diffusers(diffusers, torch, rng, kw, steps):
    ours, ref = _pair(diffusers, "DDPMScheduler", **kw)
    if steps:
        ours.set_timesteps(steps)
        ref.set_timesteps(steps)
    ts = ref.timesteps.numpy()
    for t in (int(ts[0]), int(ts[len(ts) // 2]), int(ts[-1])):
        x = (rng.standard_normal((3, 2, 5, 5)) * 1.5).astype(np.float32)
        mo = rng.standard_normal((3, 2, 5, 5)).astype(np.float32)
        z = rng.standard_normal((3, 2, 5, 5)).astype(np.float32)
        expect = _ref_step_with_noise(ref, torch, mo, t, x, z)
        got = ours.step(_t(mo), t, _t(x), variance_noise=_t(z))
        np.testing.assert_allclose(got.pred_original_sample.numpy(), expect.pred_original_sample.numpy(),
                                   rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(got.prev_sample.numpy(), expect.prev_sample.numpy(), rtol=1e-5, atol=1e-5)
        prev, x0 = ours.step(_t(mo), _t(t), _t(x), variance_noise=_t(z), return_dict=False)
        np.testing.assert_array_equal(prev.numpy(), got.prev_sample.numpy())
        assert got[0] is got.prev_sample and got["pred_original_sample"] is got.pred_original_sample


def test_ddpm_step_learned_range(diffusers, torch, rng):
    ours, ref = _pair(diffusers, "DDPMScheduler", variance_type="learned_range")
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    mo = rng.uniform(-1, 1, (2, 6, 4, 4)).astype(np.float32)
    z = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    expect = _ref_step_with_noise(ref, torch, mo, 400, x, z)
    got = ours.step(_t(mo), 400, _t(x), variance_noise=_t(z))
    np.testing.assert_allclose(got.prev_sample.numpy(), expect.prev_sample.numpy(), **TOL)


def test_ddpm_step_draws_from_generator():
    s = DDPMScheduler()
    x, mo = fastnn.zeros(4, 3, 8, 8), fastnn.zeros(4, 3, 8, 8)
    a = s.step(mo, 500, x, generator=fastnn.Generator().manual_seed(1)).prev_sample
    b = s.step(mo, 500, x, generator=fastnn.Generator().manual_seed(1)).prev_sample
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    std = math.sqrt(s._get_variance(500).item())
    assert abs(a.numpy().std() / std - 1) < 0.1
    np.testing.assert_array_equal(s.step(mo, 0, x).prev_sample.numpy(), 0)   # no noise at t = 0


DDIM_CONFIGS = [dict(), dict(prediction_type="v_prediction", set_alpha_to_one=False),
                dict(prediction_type="sample"), dict(clip_sample=False, timestep_spacing="trailing"),
                dict(thresholding=True), dict(beta_schedule="scaled_linear", steps_offset=1)]


@pytest.mark.parametrize("kw", DDIM_CONFIGS)
@pytest.mark.parametrize("eta,clipped", [(0.0, False), (0.5, False), (1.0, True)])
def test_ddim_step_equals_diffusers(diffusers, torch, rng, kw, eta, clipped):
    ours, ref = _pair(diffusers, "DDIMScheduler", **kw)
    ours.set_timesteps(20)
    ref.set_timesteps(20)
    for t in ref.timesteps.numpy()[[0, 9, -1]]:
        x = (rng.standard_normal((2, 3, 4, 4)) * 1.5).astype(np.float32)
        mo = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
        z = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
        expect = ref.step(torch.tensor(mo), int(t), torch.tensor(x), eta=eta, use_clipped_model_output=clipped,
                          variance_noise=torch.tensor(z))
        got = ours.step(_t(mo), int(t), _t(x), eta=eta, use_clipped_model_output=clipped, variance_noise=_t(z))
        np.testing.assert_allclose(got.pred_original_sample.numpy(), expect.pred_original_sample.numpy(),
                                   rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(got.prev_sample.numpy(), expect.prev_sample.numpy(), rtol=1e-5, atol=1e-5)


def _toy_model(x, t):
    """A fixed smooth 'noise predictor' both libraries evaluate identically."""
    return np.tanh(0.7 * x + 0.001 * t) * 0.9


@pytest.mark.parametrize("kw", [dict(), dict(prediction_type="v_prediction", timestep_spacing="trailing"),
                                dict(clip_sample=False, beta_schedule="squaredcos_cap_v2")])
def test_full_ddim_loop_equals_diffusers(diffusers, torch, rng, kw):
    ours, ref = _pair(diffusers, "DDIMScheduler", **kw)
    ours.set_timesteps(25)
    ref.set_timesteps(25)
    x0 = rng.standard_normal((2, 1, 8, 8)).astype(np.float32)
    a, b = _t(x0), torch.tensor(x0)
    for t_ours, t_ref in zip(ours.timesteps, ref.timesteps):
        a = ours.step(_t(_toy_model(a.numpy(), int(t_ours)).astype(np.float32)), t_ours, a).prev_sample
        b = ref.step(torch.tensor(_toy_model(b.numpy(), int(t_ref)).astype(np.float32)), t_ref, b).prev_sample
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)


def test_step_float64_and_noncontiguous(diffusers, torch, rng):
    ours, ref = _pair(diffusers, "DDIMScheduler", clip_sample=False)
    ours.set_timesteps(10)
    ref.set_timesteps(10)
    x = rng.standard_normal((3, 4, 5))
    mo = rng.standard_normal((3, 5, 4))
    got = ours.step(_t(mo).transpose(1, 2), 501, _t(x))
    expect = ref.step(torch.tensor(mo).transpose(1, 2), 501, torch.tensor(x))
    assert got.prev_sample.dtype == fastnn.float64
    np.testing.assert_allclose(got.prev_sample.numpy(), expect.prev_sample.numpy(), rtol=1e-5, atol=1e-6)


def test_step_is_differentiable(rng):
    s = DDIMScheduler(clip_sample=False)
    s.set_timesteps(10)
    x = fastnn.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    m = fastnn.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    z = fastnn.tensor(rng.standard_normal((2, 3)))
    assert fastnn.autograd.gradcheck(lambda a, b: s.step(b, 701, a, eta=0.5, variance_noise=z).prev_sample, (x, m))
    assert fastnn.autograd.gradgradcheck(lambda a, b: s.step(b, 701, a).prev_sample ** 2, (x, m))
    d = DDPMScheduler(clip_sample=False)
    assert fastnn.autograd.gradcheck(lambda a, b: d.step(b, 300, a, variance_noise=z).prev_sample, (x, m))
    with fastnn.no_grad():   # the fused path gives the same numbers
        fused = d.step(m, 300, x, variance_noise=z).prev_sample.numpy()
    np.testing.assert_allclose(d.step(m, 300, x, variance_noise=z).prev_sample.detach().numpy(), fused, rtol=1e-12)


# ---- config files
def test_save_and_load_config(tmp_path, diffusers):
    s = DDPMScheduler(num_train_timesteps=200, beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction")
    s.save_pretrained(tmp_path / "sched")
    cfg = json.loads((tmp_path / "sched" / "scheduler_config.json").read_text())
    assert cfg["_class_name"] == "DDPMScheduler" and cfg["num_train_timesteps"] == 200 and "_diffusers_version" in cfg
    back = DDPMScheduler.from_pretrained(tmp_path / "sched")
    assert back.config.prediction_type == "v_prediction" and back.config["num_train_timesteps"] == 200
    np.testing.assert_array_equal(back.alphas_cumprod.numpy(), s.alphas_cumprod.numpy())
    # diffusers reads our file, we read diffusers'
    ref = diffusers.DDPMScheduler.from_pretrained(tmp_path / "sched")
    assert ref.config.beta_schedule == "squaredcos_cap_v2" and ref.config.num_train_timesteps == 200
    diffusers.DDIMScheduler(num_train_timesteps=300, clip_sample=False).save_pretrained(tmp_path / "pipe" / "scheduler")
    d = DDIMScheduler.from_pretrained(tmp_path / "pipe", subfolder="scheduler")
    assert d.config.num_train_timesteps == 300 and d.config.clip_sample is False
    # a DDPM config loads as DDIM (variance_type dropped quietly) and keeps what was set
    ddim = DDIMScheduler.from_config(s.config)
    assert ddim.config.num_train_timesteps == 200 and "variance_type" not in ddim.config
    assert ddim.config.prediction_type == "v_prediction"
    over = DDPMScheduler.from_config(s.config, num_train_timesteps=50)
    assert len(over) == 50 and over.betas.shape == (50,)
    with pytest.raises(Exception):
        s.config["num_train_timesteps"] = 3
    with pytest.raises(Exception):
        s.config.beta_schedule = "linear"
    with pytest.raises(OSError, match="scheduler_config.json"):
        DDPMScheduler.from_pretrained(tmp_path)


# ---- bad input
def test_bad_input_errors():
    s = DDPMScheduler()
    x, e = fastnn.zeros(4, 3, 2, 2), fastnn.zeros(4, 3, 2, 2)
    with pytest.raises(ValueError, match=r"timesteps.*\[0, 1000\).*1000"):
        s.add_noise(x, e, _t([0, 1, 2, 1000]))
    with pytest.raises(ValueError, match=r"timesteps.*-1"):
        s.diffuse(x, _t([0, -1, 2, 3]))
    with pytest.raises(ValueError, match=r"timesteps.*\(3,\).*4"):
        s.add_noise(x, e, _t([0, 1, 2]))
    with pytest.raises(TypeError, match="timesteps"):
        s.add_noise(x, e, _t([0.5, 1, 2, 3]))
    with pytest.raises(ValueError, match="noise"):
        s.add_noise(x, fastnn.zeros(4, 3, 2), 3)
    with pytest.raises(ValueError, match=r"model_output.*\(4, 3, 2, 2\).*\(4, 1, 2, 2\)"):
        s.step(fastnn.zeros(4, 1, 2, 2), 10, x)
    with pytest.raises(ValueError, match="timestep"):
        s.step(x, 1000, x)
    with pytest.raises(TypeError, match="generator"):
        s.diffuse(x, 3, generator=np.random.default_rng(0))
    with pytest.raises(NotImplementedError, match="beta_schedule"):
        DDPMScheduler(beta_schedule="cubic")
    with pytest.raises(ValueError, match="beta_schedule"):
        DDIMScheduler(beta_schedule="cubic")
    with pytest.raises(ValueError, match="prediction_type"):
        DDPMScheduler(prediction_type="noise")
    with pytest.raises(ValueError, match="timestep_spacing"):
        DDIMScheduler(timestep_spacing="uniform")
    with pytest.raises(ValueError, match="variance_type"):
        DDPMScheduler(variance_type="big")
    d = DDIMScheduler()
    with pytest.raises(ValueError, match="set_timesteps"):
        d.step(x, 10, x)
    with pytest.raises(ValueError, match="num_inference_steps"):
        d.set_timesteps(1001)
    d.set_timesteps(10)
    with pytest.raises(ValueError, match="generator"):
        d.step(x, 901, x, eta=1.0, generator=fastnn.Generator(), variance_noise=e)


def test_get_variance_equals_diffusers(diffusers, torch):
    for vt in ("fixed_small", "fixed_small_log", "fixed_large"):
        ours, ref = _pair(diffusers, "DDPMScheduler", variance_type=vt, num_train_timesteps=100)
        for t in (1, 50, 99):
            np.testing.assert_allclose(ours._get_variance(t).item(), ref._get_variance(t).item(), rtol=1e-5)
    ours, ref = _pair(diffusers, "DDIMScheduler")
    np.testing.assert_allclose(ours._get_variance(500, 480).item(), ref._get_variance(500, 480).item(), rtol=1e-5)


def test_float16_storage(rng):
    s = DDIMScheduler(clip_sample=False)
    s.set_timesteps(10)
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float16)
    e = rng.standard_normal((2, 3, 4, 4)).astype(np.float16)
    got = s.add_noise(_t(x), _t(e), _t([3, 900]))
    assert got.dtype == fastnn.float16
    expect = s.add_noise(_t(x.astype(np.float32)), _t(e.astype(np.float32)), _t([3, 900])).numpy()
    np.testing.assert_allclose(got.numpy().astype(np.float32), expect, rtol=2e-3, atol=2e-3)
    out = s.step(_t(e), 801, _t(x))
    assert out.prev_sample.dtype == fastnn.float16
    ref = s.step(_t(e.astype(np.float32)), 801, _t(x.astype(np.float32))).prev_sample.numpy()
    np.testing.assert_allclose(out.prev_sample.numpy().astype(np.float32), ref, rtol=2e-3, atol=2e-3)
    xt, eps = s.diffuse(_t(x), 5)
    assert xt.dtype == eps.dtype == fastnn.float16


def test_from_config_details():
    s = DDPMScheduler(num_train_timesteps=10, variance_type="fixed_large")
    d, unused = DDIMScheduler.from_config(dict(s.config, foo=1), return_unused_kwargs=True)
    # as diffusers: keys DDIM does not take stay readable in its config and are returned as unused
    assert unused == {"foo": 1, "variance_type": "fixed_large"} and d.config.variance_type == "fixed_large"
    # arguments left at DDPM's defaults take DDIM's defaults; the ones set are kept
    assert d.config.num_train_timesteps == 10 and d.config.set_alpha_to_one is True
    assert DDIMScheduler in s.compatibles
    again = DDPMScheduler.from_config(s.config)
    assert again.config.variance_type == "fixed_large" and again.variance_type == "fixed_large"
    assert "DDPMScheduler" in repr(s) and '"num_train_timesteps": 10' in repr(s)


def test_tensor_op_path_adds_the_fused_noise(rng):
    """With autograd recording, step runs with Tensor ops; its noise is the fused kernel's for the same
    generator state, so both paths give the same sample."""
    s = DDPMScheduler(clip_sample=False)
    x = fastnn.tensor(rng.standard_normal((2, 3, 4)).astype(np.float32), requires_grad=True)
    m = fastnn.tensor(rng.standard_normal((2, 3, 4)).astype(np.float32), requires_grad=True)
    a = s.step(m, 600, x, generator=fastnn.Generator().manual_seed(9)).prev_sample
    assert a.requires_grad
    with fastnn.no_grad():
        b = s.step(m, 600, x, generator=fastnn.Generator().manual_seed(9)).prev_sample
    np.testing.assert_allclose(a.detach().numpy(), b.numpy(), rtol=1e-6, atol=1e-6)
    # thresholding (Tensor ops) with sample_max_value = 1 is clipping to [-1, 1] (fused)
    g = fastnn.Generator
    thr = DDPMScheduler(thresholding=True).step(m.detach(), 600, x.detach(), generator=g().manual_seed(9))
    clip = DDPMScheduler(clip_sample=True).step(m.detach(), 600, x.detach(), generator=g().manual_seed(9))
    np.testing.assert_allclose(thr.prev_sample.numpy(), clip.prev_sample.numpy(), rtol=1e-6, atol=1e-6)


def test_diffuse_backpropagates_into_x0(rng):
    s = DDPMScheduler()
    x = fastnn.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    t = _t([1, 400, 998])
    xt, eps, v = s.diffuse(x, t, generator=fastnn.Generator().manual_seed(0), return_velocity=True)
    assert xt.requires_grad and v.requires_grad and not eps.requires_grad
    (xt.sum() + v.sum()).backward()
    ab = s.alphas_cumprod.numpy().astype(np.float64)[[1, 400, 998]]
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to((np.sqrt(ab) - np.sqrt(1 - ab))[:, None, None],
                                                               (3, 2, 4)), rtol=1e-6)
    with fastnn.no_grad():
        xt2, eps2 = s.diffuse(x, t, generator=fastnn.Generator().manual_seed(0))
    np.testing.assert_array_equal(eps2.numpy(), eps.numpy())
    np.testing.assert_allclose(xt2.numpy(), xt.detach().numpy(), rtol=1e-12)


def test_configs_from_diffusers_objects_and_trained_betas(diffusers, tmp_path):
    ref = diffusers.DDIMScheduler(beta_schedule="scaled_linear", clip_sample=False, steps_offset=1)
    ours = DDIMScheduler.from_config(ref.config)
    assert ours.config.beta_schedule == "scaled_linear" and ours.config.steps_offset == 1
    np.testing.assert_array_equal(ours.alphas_cumprod.numpy(), ref.alphas_cumprod.numpy())
    s = DDPMScheduler(num_train_timesteps=4, trained_betas=np.array([0.1, 0.2, 0.3, 0.4]))
    s.save_pretrained(tmp_path)
    back = DDPMScheduler.from_pretrained(tmp_path)
    np.testing.assert_array_equal(back.betas.numpy(), np.float32([0.1, 0.2, 0.3, 0.4]))
    assert diffusers.DDPMScheduler.from_pretrained(tmp_path).betas.numpy().tolist() == back.betas.numpy().tolist()


def test_zero_terminal_snr_last_step():
    s = DDIMScheduler(rescale_betas_zero_snr=True, timestep_spacing="trailing", clip_sample=True)
    s.set_timesteps(5)
    x = fastnn.full((1, 2), 0.5)
    with pytest.raises(ValueError, match="v_prediction"):
        s.step(fastnn.full((1, 2), 0.25), int(s.timesteps[0]), x)
    v = DDIMScheduler(rescale_betas_zero_snr=True, timestep_spacing="trailing", prediction_type="v_prediction")
    v.set_timesteps(5)
    assert np.isfinite(v.step(x, 999, x).prev_sample.numpy()).all()


def test_learned_variance_needs_the_variance_channels():
    s = DDPMScheduler(variance_type="learned")
    x = fastnn.zeros(2, 3, 4, 4)
    with pytest.raises(ValueError, match="twice the sample's channels"):
        s.step(fastnn.zeros(2, 3, 4, 4), 10, x)
    out = s.step(fastnn.full((2, 6, 4, 4), 0.01), 10, x, variance_noise=fastnn.ones(2, 3, 4, 4))
    # learned: the second half of the output is the variance σ², so σ z = 0.1 here
    base = s.step(fastnn.full((2, 6, 4, 4), 0.01), 10, x, variance_noise=fastnn.zeros(2, 3, 4, 4)).prev_sample
    np.testing.assert_allclose((out.prev_sample - base).numpy(), 0.1, rtol=1e-5)
