"""fastnn.diffusion's pipelines (DDPMPipeline, DDIMPipeline: diffusers' call, classifier-free guidance,
intermediates) and interpolation helpers (slerp, interpolate_noise, interpolate_images)."""
import math
from types import SimpleNamespace

import numpy as np
import pytest

import fastnn
from fastnn.diffusion import (DDIMPipeline, DDIMScheduler, DDPMPipeline, DDPMScheduler, ImagePipelineOutput,
                              interpolate_images, interpolate_noise, slerp)
from fastnn.diffusion.pipelines import guided_model_output


class ToyUNet:
    """A fixed smooth 'noise predictor' with a UNet's call signature and config."""

    def __init__(self, channels=1, size=6, num_class_embeds=None):
        self.config = SimpleNamespace(sample_size=size, in_channels=channels, num_class_embeds=num_class_embeds)
        self.calls = []

    def __call__(self, x, t, class_labels=None):
        self.calls.append((tuple(x.shape), int(t), None if class_labels is None else class_labels.numpy().copy()))
        out = fastnn.tanh(0.7 * x + 0.001 * float(t)) * 0.9
        if class_labels is not None:
            out = out + 0.01 * class_labels.float().reshape(-1, 1, 1, 1)
        return SimpleNamespace(sample=out)


def test_ddim_pipeline_equals_a_diffusers_loop(diffusers, torch, rng):
    unet = ToyUNet(channels=3, size=5)
    x_T = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    pipe = DDIMPipeline(unet, DDPMScheduler(beta_schedule="squaredcos_cap_v2"))
    assert isinstance(pipe.scheduler, DDIMScheduler)
    out = pipe(num_inference_steps=12, output_type="np", latents=fastnn.tensor(x_T))
    assert isinstance(out, ImagePipelineOutput) and out.images.shape == (2, 5, 5, 3)
    ref = diffusers.DDIMScheduler.from_config(diffusers.DDPMScheduler(beta_schedule="squaredcos_cap_v2").config)
    ref.set_timesteps(12)
    x = torch.tensor(x_T)
    for t in ref.timesteps:
        x = ref.step(torch.tanh(0.7 * x + 0.001 * float(t)) * 0.9, t, x).prev_sample
    expect = (x / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(out.images, expect, rtol=1e-5, atol=1e-5)
    pt = pipe(num_inference_steps=12, output_type="pt", latents=fastnn.tensor(x_T)).images
    assert isinstance(pt, fastnn.Tensor) and pt.shape == (2, 3, 5, 5)
    np.testing.assert_allclose(pt.numpy().transpose(0, 2, 3, 1), expect, rtol=1e-5, atol=1e-5)


def test_ddpm_pipeline_output_types_and_seeds():
    unet = ToyUNet()
    pipe = DDPMPipeline(unet, DDPMScheduler(num_train_timesteps=50))
    a = pipe(batch_size=3, generator=fastnn.Generator().manual_seed(0), num_inference_steps=10, output_type="np")
    b = pipe(batch_size=3, generator=fastnn.Generator().manual_seed(0), num_inference_steps=10, output_type="np")
    np.testing.assert_array_equal(a.images, b.images)
    assert a.images.shape == (3, 6, 6, 1) and a.images.min() >= 0 and a.images.max() <= 1
    ref = DDPMScheduler(num_train_timesteps=50)
    ref.set_timesteps(10)
    assert [c[1] for c in unet.calls[:10]] == ref.timesteps.numpy().tolist() == list(range(45, -1, -5))
    (imgs,) = pipe(batch_size=2, num_inference_steps=3, output_type="tensor", return_dict=False)
    assert imgs.shape == (2, 1, 6, 6)
    lat = pipe(batch_size=2, num_inference_steps=3, output_type="latent").images
    assert lat.shape == (2, 1, 6, 6) and float(lat.abs().max()) <= 1.0 + 1e-6  # x̂_0 is clipped to [-1, 1]
    pil = pytest.importorskip("PIL")
    ims = pipe(batch_size=2, num_inference_steps=2).images
    assert len(ims) == 2 and ims[0].size == (6, 6) and ims[0].mode == "L"
    assert pil is not None


def test_pipeline_intermediates():
    pipe = DDIMPipeline(ToyUNet(), DDIMScheduler(num_train_timesteps=100))
    out = pipe(batch_size=2, num_inference_steps=10, output_type="pt", return_intermediates=4)
    assert len(out.intermediates) == 4 and out.intermediate_timesteps == [90, 60, 30, 0]
    np.testing.assert_array_equal(out.intermediates[-1].numpy(), out.images.numpy())
    out = pipe(batch_size=1, num_inference_steps=10, output_type="np", return_intermediates=[50, 20])
    assert out.intermediate_timesteps == [50, 20] and out.intermediates[0].shape == (1, 6, 6, 1)
    images, inter = pipe(num_inference_steps=5, output_type="np", return_intermediates=True, return_dict=False)
    assert len(inter) == 5
    with pytest.raises(ValueError, match="return_intermediates"):
        pipe(num_inference_steps=10, return_intermediates=[55])


def test_classifier_free_guidance():
    unet = ToyUNet(num_class_embeds=11)
    x = fastnn.zeros(2, 1, 6, 6)
    labels = fastnn.tensor([3, 7])
    cond = guided_model_output(unet, x, 5, labels)
    np.testing.assert_allclose(cond.numpy()[:, 0, 0, 0], np.tanh(0.005) * 0.9 + 0.01 * np.array([3, 7]), rtol=1e-6)
    g = guided_model_output(unet, x, 5, labels, guidance_scale=3.0)
    # ε_∅ + w (ε_c − ε_∅) with ∅ = num_class_embeds − 1 = 10, evaluated in one batch of 2N
    base = np.tanh(0.005) * 0.9
    expect = base + 0.1 + 3.0 * (0.01 * np.array([3, 7]) - 0.1)
    np.testing.assert_allclose(g.numpy()[:, 0, 0, 0], expect, rtol=1e-5)
    assert unet.calls[-1][0] == (4, 1, 6, 6) and unet.calls[-1][2].tolist() == [3, 7, 10, 10]
    g0 = guided_model_output(unet, x, 5, labels, guidance_scale=3.0, null_class=0)
    np.testing.assert_allclose(g0.numpy()[:, 0, 0, 0], base + 3.0 * 0.01 * np.array([3, 7]), rtol=1e-5)
    pipe = DDPMPipeline(unet, DDPMScheduler(num_train_timesteps=20))
    out = pipe(batch_size=2, num_inference_steps=4, output_type="np", class_labels=4, guidance_scale=2.0)
    assert out.images.shape == (2, 6, 6, 1) and unet.calls[-1][2].tolist() == [4, 4, 10, 10]
    with pytest.raises(ValueError, match="class_labels"):
        pipe(batch_size=2, num_inference_steps=2, guidance_scale=2.0)
    with pytest.raises(ValueError, match="null_class"):
        guided_model_output(ToyUNet(), x, 5, labels, guidance_scale=2.0)


def test_pipeline_with_unet2dmodel():
    from fastnn.models import UNet2DModel
    unet = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(16, 32), layers_per_block=1,
                       down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D"), norm_num_groups=8, num_class_embeds=11)
    pipe = DDIMPipeline(unet, DDPMScheduler(num_train_timesteps=100))
    out = pipe(batch_size=2, generator=fastnn.Generator().manual_seed(1), num_inference_steps=3, output_type="np",
               class_labels=[1, 2], guidance_scale=2.0)
    assert out.images.shape == (2, 8, 8, 1) and np.isfinite(out.images).all()


def test_pipeline_bad_input():
    pipe = DDPMPipeline(ToyUNet(), DDPMScheduler(num_train_timesteps=20))
    with pytest.raises(ValueError, match="output_type"):
        pipe(num_inference_steps=2, output_type="jpeg")
    with pytest.raises(TypeError, match="generator"):
        pipe(num_inference_steps=2, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="num_inference_steps"):
        pipe(num_inference_steps=21)
    with pytest.raises(ValueError, match="batch_size"):
        pipe(batch_size=0)
    with pytest.raises(ValueError, match="class_labels"):
        pipe(batch_size=3, num_inference_steps=2, class_labels=[1, 2])
    with pytest.raises(TypeError, match="scheduler"):
        DDPMPipeline(ToyUNet(), object())


# ---- interpolation
def test_slerp(rng):
    x = fastnn.tensor(rng.standard_normal((3, 4, 4)))
    y = fastnn.tensor(rng.standard_normal((3, 4, 4)))
    np.testing.assert_allclose(slerp(x, y, 0.0).numpy(), x.numpy(), atol=1e-12)
    np.testing.assert_allclose(slerp(x, y, 1.0).numpy(), y.numpy(), atol=1e-12)
    # on unit vectors slerp stays on the sphere and moves at constant angular speed
    u = x / fastnn.norm(x)
    v = y / fastnn.norm(y)
    theta = math.acos(float((u * v).sum()))
    mids = slerp(u, v, [0.25, 0.5, 0.75])
    assert mids.shape == (3, 3, 4, 4)
    for lam, m in zip([0.25, 0.5, 0.75], mids):
        assert abs(float(fastnn.norm(m)) - 1) < 1e-12
        assert abs(math.acos(float((m * u).sum())) - lam * theta) < 1e-9
    np.testing.assert_allclose(slerp(x, 2 * x, 0.5).numpy(), 1.5 * x.numpy())   # parallel: linear
    xr = fastnn.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    yr = fastnn.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    assert fastnn.autograd.gradcheck(lambda a, b: slerp(a, b, 0.3), (xr, yr))
    with pytest.raises(ValueError, match="same shape"):
        slerp(x, y[:2], 0.5)


def test_interpolate_noise(rng):
    a = fastnn.tensor(rng.standard_normal((1, 1, 8, 8)).astype(np.float32))
    b = fastnn.tensor(rng.standard_normal((1, 8, 8)).astype(np.float32))
    z = interpolate_noise(a, b, 5)
    assert z.shape == (5, 1, 8, 8)
    np.testing.assert_allclose(z[0].numpy(), a[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(z[-1].numpy(), b.numpy(), atol=1e-6)
    lin = interpolate_noise(a, b, [0.5], method="linear")
    np.testing.assert_allclose(lin[0].numpy(), (a[0].numpy() + b.numpy()) / 2, atol=1e-6)
    # the spherical midpoint keeps a Gaussian sample's norm; the linear one is shorter
    assert float(fastnn.norm(z[2])) > float(fastnn.norm(lin[0])) * 1.2
    with pytest.raises(ValueError, match="method"):
        interpolate_noise(a, b, 3, method="cubic")
    with pytest.raises(ValueError, match="noise_a"):
        interpolate_noise(fastnn.zeros(2, 1, 8, 8), b)


def test_interpolate_images():
    unet = ToyUNet(size=6)
    sched = DDIMScheduler(num_train_timesteps=100)
    a = fastnn.full((1, 6, 6), -0.5)
    b = fastnn.full((1, 1, 6, 6), 0.5)
    eps = fastnn.randn(1, 6, 6)
    out = interpolate_images(a, b, 45, unet, sched, 3, noise=eps, num_inference_steps=10)
    assert out.images.shape == (3, 1, 6, 6) and out.timestep == 40 and out.lambdas == [0.0, 0.5, 1.0]
    xt = sched.add_noise(fastnn.stack([a, b[0]]), fastnn.stack([eps, eps]), 40)
    np.testing.assert_allclose(out.noisy_images[1].numpy(), ((xt[0] + xt[1]) / 2).numpy(), atol=1e-6)
    assert [c[1] for c in unet.calls] == [40, 30, 20, 10, 0]
    again = interpolate_images(a, b, 45, unet, sched, 3, noise=eps, num_inference_steps=10)
    np.testing.assert_array_equal(again.images.numpy(), out.images.numpy())     # DDIM eta=0: deterministic
    # with a DDPM scheduler the reverse process visits every t' <= t_level
    unet.calls.clear()
    out = interpolate_images(a, b, 7, unet, DDPMScheduler(num_train_timesteps=100), [0.2, 0.8],
                             generator=fastnn.Generator().manual_seed(0))
    assert [c[1] for c in unet.calls] == list(range(7, -1, -1)) and out.images.shape == (2, 1, 6, 6)
    with pytest.raises(ValueError, match="t_level"):
        interpolate_images(a, b, 100, unet, sched)
    with pytest.raises(ValueError, match="x0a"):
        interpolate_images(fastnn.zeros(6, 6), b, 10, unet, sched)


def test_pipeline_save_and_load(tmp_path):
    from fastnn.models import UNet2DModel
    unet = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(16, 32), layers_per_block=1,
                       down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D"), norm_num_groups=8)
    pipe = DDPMPipeline(unet, DDPMScheduler(num_train_timesteps=30, beta_schedule="squaredcos_cap_v2"))
    pipe.set_progress_bar_config(disable=True)
    pipe.save_pretrained(tmp_path / "pipe")
    import json
    index = json.loads((tmp_path / "pipe" / "model_index.json").read_text())
    assert index["unet"] == ["diffusers", "UNet2DModel"] and index["scheduler"] == ["diffusers", "DDPMScheduler"]
    back = DDPMPipeline.from_pretrained(tmp_path / "pipe")
    assert back.scheduler.config.beta_schedule == "squaredcos_cap_v2"
    a = pipe(batch_size=2, generator=fastnn.Generator().manual_seed(4), num_inference_steps=3, output_type="np")
    b = back(batch_size=2, generator=fastnn.Generator().manual_seed(4), num_inference_steps=3, output_type="np")
    np.testing.assert_allclose(a.images, b.images, rtol=1e-6, atol=1e-6)
    ddim = DDIMPipeline.from_pretrained(tmp_path / "pipe")
    assert isinstance(ddim.scheduler, DDIMScheduler) and len(ddim.scheduler) == 30
    with pytest.raises(OSError, match="model_index.json"):
        DDPMPipeline.from_pretrained(tmp_path)
