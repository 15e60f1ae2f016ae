"""The diffusion family's CUDA kernels (fastnn._C_cuda.diffuse / sampling_step) against the CPU module on the same
inputs: the same bits (noise included) for float16, float32 and float64, drawn or given noise, packed and
unaligned arrays, and the errors of a bad timestep. Marked ``gpu``: skipped without a GPU and cupy
(tests/cuda_emu/run_gpu_tests_emulated.sh runs them on the CPU with the kernels emulated)."""
import numpy as np
import pytest

from fastnn import _C
from fastnn.kernels import diffusion as KD

from gpu_family import K, cp, dev, host, pytestmark  # noqa: F401

DTYPES = [np.float16, np.float32, np.float64]
IDS = ["f16", "f32", "f64"]
UINT = {np.float16: np.uint16, np.float32: np.uint32, np.float64: np.uint64}
T = 1000


def tables():
    ac = np.cumprod(1.0 - np.linspace(1e-4, 0.02, T))
    return np.sqrt(ac), np.sqrt(1.0 - ac)


def same_bits(got, want):
    got, want = host(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got.view(UINT[want.dtype.type]), want.view(UINT[want.dtype.type]))


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
@pytest.mark.parametrize("shape", [(1, 1), (3, 7, 5), (0, 4), (2, 0), (4, 3, 9, 9), (2, 3, 16, 16), (5, 129)])
def test_diffuse_same_bits_as_cpu(dtype, shape):
    rng = np.random.default_rng(5)
    sa, sb = tables()
    x0 = rng.standard_normal(shape).astype(dtype)
    t = rng.integers(0, T, shape[0])
    for t_dtype in (np.int64, np.int32):
        for velocity in (False, True):
            want = _C.diffuse(x0, t.astype(t_dtype), sa, sb, 11, 2 ** 33 + 5, velocity=velocity)
            got = K.diffuse(dev(x0), dev(t.astype(t_dtype)), dev(sa), dev(sb), 11, 2 ** 33 + 5, velocity=velocity)
            assert got[3] == want[3]
            for g, w in zip(got[:3], want[:3]):
                assert (g is None) == (w is None)
                if w is not None:
                    same_bits(g, w)
            # the noise given: the packed path, and the element path on an array off its 16-byte alignment
            noise = want[1]
            got = K.diffuse(dev(x0), dev(t), dev(sa), dev(sb), 0, 0, noise=dev(noise), velocity=velocity)
            same_bits(got[0], want[0])
            assert got[3] == 0
            if x0.size > 1:
                buf = cp.asarray(np.concatenate([noise.ravel(), noise.ravel()[:1]]))
                shifted = buf[1:]
                ref = _C.diffuse(x0, t, sa, sb, 0, 0, noise=host(shifted).reshape(shape))
                same_bits(K.diffuse(dev(x0), dev(t), dev(sa), dev(sb), 0, 0, noise=shifted.reshape(shape))[0], ref[0])


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
@pytest.mark.parametrize("shape", [(1, 1), (3, 7, 5), (0, 3), (2, 3, 16, 16), (5, 129)])
def test_sampling_step_same_bits_as_cpu(dtype, shape):
    rng = np.random.default_rng(6)
    mo = (rng.standard_normal(shape) * 2).astype(dtype)
    sample = (rng.standard_normal(shape) * 2).astype(dtype)
    z = rng.standard_normal(shape).astype(dtype)
    for coef, clip in [((0.9, -0.4, 0, 0, 0, 0.6, 0.35, 0, 0.08), None),
                       ((1.2, -0.6, 1.4, 0, -1.3, 0.7, 0, 0.5, 0.2), 1.0),
                       ((0, 1, 0, 1, 0, 0.8, 0.1, 0.3, 0), 0.5)]:
        for noise in (None, z):
            want = _C.sampling_step(mo, sample, coef, 31, 4, noise=noise, clip_range=clip)
            got = K.sampling_step(dev(mo), dev(sample), coef, 31, 4, noise=dev(noise), clip_range=clip)
            assert got[2] == want[2]
            same_bits(got[0], want[0])
            same_bits(got[1], want[1])


def test_wrapper_dispatches_to_the_device_and_errors():
    sa, sb = tables()
    x0 = np.ones((3, 4), np.float32)
    got = KD.diffuse(dev(x0), dev(np.array([1, 2, 3])), dev(sa), dev(sb), 1, 2)
    same_bits(got[0], _C.diffuse(x0, np.array([1, 2, 3]), sa, sb, 1, 2)[0])
    for bad, value in (([0, 1000, 2], 1000), ([0, 1, -3], -3)):
        for t_dtype in (np.int64, np.int32):
            with pytest.raises(ValueError, match=rf"'timesteps' holds {value} at position \d, outside \[0, 1000\)"):
                K.diffuse(dev(x0), dev(np.array(bad, t_dtype)), dev(sa), dev(sb), 0, 0)
    with pytest.raises(TypeError, match="host memory"):
        K.diffuse(x0, dev(np.array([1, 2, 3])), dev(sa), dev(sb), 0, 0)
    with pytest.raises(ValueError, match="must have the same shape"):
        K.sampling_step(dev(x0), dev(np.ones((3, 5), np.float32)), (0,) * 9, 0, 0)
