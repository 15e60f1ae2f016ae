"""fastnn.diffusion's schedulers and pipelines on the GPU against the CPU: the same generator state gives
the same noise (Philox) on both, the tables and timesteps follow the samples' device. Marked ``gpu``:
skipped without a GPU and cupy (tests/cuda_emu/run_gpu_tests_emulated.sh runs them on the CPU with the
kernels emulated)."""
from types import SimpleNamespace

import numpy as np
import pytest

import fastnn
from fastnn.diffusion import DDIMPipeline, DDIMScheduler, DDPMScheduler

from gpu_family import pytestmark, rel_err  # noqa: F401


def _pair(a):
    t = fastnn.tensor(a)
    return t, t.cuda()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_process_on_gpu_equals_cpu(dtype):
    rng = np.random.default_rng(0)
    s = DDPMScheduler(beta_schedule="squaredcos_cap_v2")
    x, xg = _pair(rng.standard_normal((5, 3, 6, 6)).astype(dtype))
    e, eg = _pair(rng.standard_normal((5, 3, 6, 6)).astype(dtype))
    t, tg = _pair(rng.integers(0, 1000, 5))
    got = s.add_noise(xg, eg, tg)
    assert got.device.type == "cuda"
    assert rel_err(got.cpu().numpy(), s.add_noise(x, e, t).numpy()) < 1e-6
    assert rel_err(s.get_velocity(xg, eg, t).cpu().numpy(), s.get_velocity(x, e, t).numpy()) < 1e-6
    xt, eps, v = s.diffuse(x, t, generator=fastnn.Generator().manual_seed(5), return_velocity=True)
    xtg, epsg, vg = s.diffuse(xg, tg, generator=fastnn.Generator().manual_seed(5), return_velocity=True)
    np.testing.assert_array_equal(epsg.cpu().numpy(), eps.numpy())         # the same Philox numbers
    assert rel_err(xtg.cpu().numpy(), xt.numpy()) < 1e-6 and rel_err(vg.cpu().numpy(), v.numpy()) < 1e-6


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_step_on_gpu_equals_cpu(eta):
    rng = np.random.default_rng(1)
    s = DDIMScheduler()
    s.set_timesteps(10)
    x, xg = _pair(rng.standard_normal((2, 3, 5, 5)).astype(np.float32))
    m, mg = _pair(rng.standard_normal((2, 3, 5, 5)).astype(np.float32))
    a = s.step(m, 501, x, eta=eta, generator=fastnn.Generator().manual_seed(2))
    b = s.step(mg, 501, xg, eta=eta, generator=fastnn.Generator().manual_seed(2))
    assert b.prev_sample.device.type == "cuda"
    assert rel_err(b.prev_sample.cpu().numpy(), a.prev_sample.numpy()) < 1e-6
    assert rel_err(b.pred_original_sample.cpu().numpy(), a.pred_original_sample.numpy()) < 1e-6
    d = DDPMScheduler(thresholding=True)
    a = d.step(m, 300, x, generator=fastnn.Generator().manual_seed(3)).prev_sample
    b = d.step(mg, 300, xg, generator=fastnn.Generator().manual_seed(3)).prev_sample
    assert rel_err(b.cpu().numpy(), a.numpy()) < 1e-6


def test_pipeline_on_gpu():
    class Toy:
        config = SimpleNamespace(sample_size=4, in_channels=1)
        device = fastnn.device("cuda")

        def __call__(self, x, t):
            return SimpleNamespace(sample=fastnn.tanh(0.5 * x))

    x_T = fastnn.randn(2, 1, 4, 4)
    pipe = DDIMPipeline(Toy(), DDPMScheduler(num_train_timesteps=100))
    gpu = pipe(num_inference_steps=5, output_type="np", latents=x_T.cuda()).images
    Toy.device = fastnn.device("cpu")
    cpu = pipe(num_inference_steps=5, output_type="np", latents=x_T).images
    assert rel_err(gpu, cpu) < 1e-6
