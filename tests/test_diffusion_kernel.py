"""The diffusion kernel family (csrc/ops/diffusion/, fastnn.kernels.diffusion): the fused forward process
(``diffuse``) and the fused reverse step (``sampling_step``) against the plain reference (bit for bit) and the
unfused float32/float64 numpy formula (bit for bit: the kernels round each product and sum on their own), on
every CPU path and thread count; the statistics of the in-kernel noise; bad input."""
import numpy as np
import pytest

import fastnn
from fastnn import _C
from fastnn.kernels import diffusion as K

DTYPES = [np.float16, np.float32, np.float64]
IDS = ["f16", "f32", "f64"]
UINT = {np.float16: np.uint16, np.float32: np.uint32, np.float64: np.uint64}
T = 1000
SHAPES = [(1, 1), (1, 5), (3, 7, 5), (2, 0, 3), (0, 4), (5, 3, 4, 4), (4, 1, 9, 9), (7, 65), (2, 3, 17, 13)]


def tables():
    betas = np.linspace(1e-4, 0.02, T)
    ac = np.cumprod(1.0 - betas)
    return np.sqrt(ac), np.sqrt(1.0 - ac)


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    u = UINT[a.dtype.type]
    np.testing.assert_array_equal(a.view(u), b.view(u))


def acc(dtype):
    return np.float64 if dtype == np.float64 else np.float32


def numpy_diffuse(x0, t, sa, sb, eps):
    """The unfused formula in the arithmetic type, rounded to the storage type at the end."""
    A = acc(x0.dtype.type)
    shape = (-1,) + (1,) * (x0.ndim - 1)
    a = sa[t].astype(A).reshape(shape)
    b = sb[t].astype(A).reshape(shape)
    x, e = x0.astype(A), eps.astype(A)
    return (a * x + b * e).astype(x0.dtype), (a * e - b * x).astype(x0.dtype)


def numpy_step(mo, sample, coef, clip, z):
    A = acc(sample.dtype.type)
    a, b, c, d, h, e, f, g, s = (A(k) for k in coef)
    smp, m = sample.astype(A), mo.astype(A)
    x0 = a * smp + b * m
    if clip is not None:
        x0 = np.clip(x0, -A(clip), A(clip))
    prev = e * x0 + f * smp
    if g != 0:
        prev = prev + g * ((c * smp + d * m) + h * x0)
    if s != 0:
        prev = prev + s * z.astype(A)
    return prev.astype(sample.dtype), x0.astype(sample.dtype)


def data(shape, dtype, rng, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_diffuse_equals_reference_and_numpy_formula(cpu_path, dtype, shape, rng):
    sa, sb = tables()
    x0 = data(shape, dtype, rng)
    t = rng.integers(0, T, shape[0])
    for velocity in (False, True):
        xt, eps, v, used = K.diffuse(x0, t, sa, sb, 123, 45, velocity=velocity)
        rx, re, rv, rused = _C.diffuse_reference(x0, t, sa, sb, 123, 45, velocity=velocity)
        same_bits(xt, rx)
        same_bits(eps, re)
        assert used == rused == _C.diffuse_reference(x0, t, sa, sb, 0, 0)[3]
        nx, nv = numpy_diffuse(x0, t, sa, sb, eps)
        same_bits(xt, nx)
        if velocity:
            same_bits(v, rv)
            same_bits(v, nv)
        else:
            assert v is None
        # the given-noise path (add_noise) reproduces x_t from the returned noise, reads it only, draws nothing
        keep = eps.copy()
        gx, gn, gv, gused = K.diffuse(x0, t, sa, sb, 0, 0, noise=eps, velocity=velocity)
        same_bits(gx, xt)
        assert gused == 0 and gn is eps
        same_bits(eps, keep)
        if velocity:
            same_bits(gv, v)


def test_noise_layout_and_counters():
    """float64 noise is philox_normal's bit for bit; float32 noise is the same words through a float32
    Box-Muller (a few ulps away); float16 is the float32 noise rounded; the counters are the random family's."""
    sa, sb = tables()
    for shape in [(1, 1), (3, 5, 7), (2, 3, 64, 64)]:
        n = int(np.prod(shape))
        x0 = np.zeros(shape, np.float64)
        t = np.zeros(shape[0], np.int64)
        _, e64, _, used64 = K.diffuse(x0, t, sa, sb, 99, 7)
        ref = np.empty(shape, np.float64)
        assert _C.philox_normal(ref, 99, 7) == used64
        same_bits(e64, ref)
        _, e32, _, used32 = K.diffuse(x0.astype(np.float32), t, sa, sb, 99, 7)
        ref32 = np.empty(shape, np.float32)
        assert _C.philox_normal(ref32, 99, 7) == used32
        assert np.all(np.abs(e32 - ref32) <= 2e-6 * (1 + np.abs(ref32))), np.abs(e32 - ref32).max()
        _, e16, _, used16 = K.diffuse(x0.astype(np.float16), t, sa, sb, 99, 7)
        assert used16 == used32
        same_bits(e16, e32.astype(np.float16))
        assert used32 == 16 * (n // 64) + min(n % 64, 16) and used64 == 16 * (n // 32) + min(n % 32, 16)


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
def test_thread_counts_give_identical_bits(dtype, rng):
    sa, sb = tables()
    x0 = data((6, 3, 37, 41), dtype, rng)
    t = rng.integers(0, T, 6)
    mo, sample = data(x0.shape, dtype, rng), data(x0.shape, dtype, rng)
    coef = (1.1, -0.3, 0.2, 0.7, -0.4, 0.9, 0.05, 0.3, 0.12)
    old = fastnn.get_num_threads()
    got = []
    try:
        for threads in (1, 2):
            fastnn.set_num_threads(threads)
            got.append(K.diffuse(x0, t, sa, sb, 5, 1 << 40, velocity=True)[:3] +
                       K.sampling_step(mo, sample, coef, 5, 3, clip_range=1.0)[:2])
    finally:
        fastnn.set_num_threads(old)
    for a, b in zip(*got):
        same_bits(a, b)


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
@pytest.mark.parametrize("shape", [(1, 1), (3, 7, 5), (0, 3), (2, 3, 17, 13), (64, 65)])
def test_sampling_step_equals_reference_and_numpy_formula(cpu_path, dtype, shape, rng):
    mo, sample = data(shape, dtype, rng, 2.0), data(shape, dtype, rng, 2.0)
    z = data(shape, dtype, rng)
    cases = [
        ((0.9, -0.4, 0.0, 0.0, 0.0, 0.6, 0.35, 0.0, 0.08), None),    # DDPM: g = 0
        ((1.2, -0.6, 1.4, 0.0, -1.3, 0.7, 0.0, 0.5, 0.2), 1.0),     # DDIM with clipping, eps from the clipped x0
        ((0.0, 1.0, 0.0, 1.0, 0.0, 0.8, 0.1, 0.3, 0.0), 0.5),       # no noise term: nothing drawn
    ]
    for coef, clip in cases:
        for given in (False, True):
            noise = z if given else None
            prev, x0, used = K.sampling_step(mo, sample, coef, 77, 3, noise=noise, clip_range=clip)
            rp, rx, rused = _C.sampling_step_reference(mo, sample, coef, 77, 3, noise=noise, clip_range=clip)
            same_bits(prev, rp)
            same_bits(x0, rx)
            assert used == rused
            if coef[8] == 0 or given:
                assert used == 0
            else:
                assert used == _C.diffuse(sample, np.zeros(shape[0], np.int64), *tables(), 0, 0)[3]
            # a drawn z is the noise diffuse draws for the same (key, offset)
            zz = z if given else _C.diffuse(sample, np.zeros(shape[0], np.int64), *tables(), 77, 3)[1]
            npv, npx = numpy_step(mo, sample, coef, clip, zz)
            same_bits(prev, npv)
            same_bits(x0, npx)
            if clip is not None:
                assert np.all(np.abs(x0.astype(np.float64)) <= clip)


def test_clipping_keeps_nan_and_handles_infinite_values():
    sample = np.array([[np.nan, np.inf, -np.inf, 0.5]], np.float32)
    mo = np.zeros_like(sample)
    prev, x0, _ = K.sampling_step(mo, sample, (1, 0, 0, 0, 0, 1, 0, 0, 0), 0, 0, clip_range=1.0)
    assert np.isnan(x0[0, 0]) and x0[0, 1] == 1 and x0[0, 2] == -1 and x0[0, 3] == 0.5
    # a zero coefficient leaves its term out: an eps that overflows to infinity, times g = 0, adds nothing
    sample = np.full((1, 4), 10, np.float32)
    prev, _, _ = K.sampling_step(np.zeros_like(sample), sample, (1, 0, 1e38, 0, 0, 1, 0, 0, 0), 0, 0)
    np.testing.assert_array_equal(prev, sample)


def test_noncontiguous_inputs_and_int32_timesteps(rng):
    sa, sb = tables()
    big = data((4, 6, 10), np.float32, rng)
    x0 = big[:, ::2, 1:8]
    t = rng.integers(0, T, 4)
    a = K.diffuse(x0, t.astype(np.int32), sa, sb, 1, 2, velocity=True)
    b = K.diffuse(np.ascontiguousarray(x0), t, sa, sb, 1, 2, velocity=True)
    for p, q in zip(a[:3], b[:3]):
        same_bits(p, q)
    noise = big[:, 1::2, :7]
    same_bits(K.diffuse(x0, t, sa, sb, 0, 0, noise=noise)[0], K.diffuse(b[0] * 0 + x0, t, sa, sb, 0, 0,
                                                                        noise=np.ascontiguousarray(noise))[0])
    mo = big[:, :, ::2]
    smp = big[:, :, 1::2]
    c = (0.9, -0.4, 0, 0, 0, 0.6, 0.35, 0, 0.08)
    for p, q in zip(K.sampling_step(mo, smp, c, 4, 4), K.sampling_step(mo.copy(), smp.copy(), c, 4, 4)):
        if isinstance(p, np.ndarray):
            same_bits(p, q)


def test_philox_draw_moves_the_generator_past_the_counters():
    sa, sb = tables()
    g = fastnn.Generator().manual_seed(3)
    x0 = np.zeros((2, 3, 10, 10), np.float32)
    t = np.array([5, 500])
    out = []

    def run(key, offset):
        out.append(K.diffuse(x0, t, sa, sb, key, offset))
        return out[-1][3]

    start = g._philox.offset
    fastnn.random.philox_draw(run, g)
    fastnn.random.philox_draw(run, g)
    assert g._philox.offset == start + 2 * out[0][3]
    assert not np.array_equal(out[0][1], out[1][1])  # successive draws: new noise
    g2 = fastnn.Generator().manual_seed(3)
    fastnn.random.philox_draw(run, g2)
    same_bits(out[2][1], out[0][1])  # the same seed: the same noise


# ---------------------------------------------------------------- the in-kernel noise

def noise(n_samples, per_sample, dtype=np.float32, key=2024, offset=0):
    sa, sb = tables()
    x0 = np.zeros((n_samples, per_sample), dtype)
    return K.diffuse(x0, np.zeros(n_samples, np.int64), sa, sb, key, offset)[1]


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
def test_noise_statistics(dtype):
    stats = pytest.importorskip("scipy.stats")
    e = noise(64, 8192, dtype).astype(np.float64)
    z = e.ravel()
    n = z.size
    # 6 standard errors: a fixed draw, so the test is deterministic; a broken transform misses by far more
    assert abs(z.mean()) < 6 / np.sqrt(n)
    assert abs(z.var() - 1) < 6 * np.sqrt(2 / n)
    assert abs(stats.skew(z)) < 6 * np.sqrt(6 / n)
    assert abs(stats.kurtosis(z)) < 6 * np.sqrt(24 / n) + (0.01 if dtype == np.float16 else 0)
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 6 / np.sqrt(n)  # lag 1
    for lag in (16, 32, 64):  # the layout's strides
        assert abs(np.corrcoef(z[:-lag], z[lag:])[0, 1]) < 6 / np.sqrt(n)
    # across samples: the correlation matrix of the 64 rows is the identity within sampling error
    c = np.corrcoef(e)
    off = c[~np.eye(len(c), dtype=bool)]
    assert np.abs(off).max() < 6 / np.sqrt(e.shape[1])
    if dtype != np.float16:  # float16's rounding makes ties that KS sees at this n
        assert stats.kstest(z[:200_000], "norm").pvalue > 1e-4
    assert np.abs(z).max() < 6.7
    # the pairs of one block (radius word, angle word) are independent too
    assert abs(np.corrcoef(z[:n // 2] ** 2, z[n // 2:] ** 2)[0, 1]) < 6 / np.sqrt(n / 2)


def test_noise_reproducible_and_independent_across_offsets_and_keys():
    a = noise(4, 5000)
    same_bits(a, noise(4, 5000))
    used = _C.diffuse(np.zeros((4, 5000), np.float32), np.zeros(4, np.int64), *tables(), 0, 0)[3]
    for other in (noise(4, 5000, offset=used), noise(4, 5000, key=2025), noise(4, 5000, offset=1)):
        assert not np.any(a == other) or np.mean(a == other) < 1e-3
        assert abs(np.corrcoef(a.ravel(), other.ravel())[0, 1]) < 6 / np.sqrt(a.size)
    # an offset near 2^64 carries into the counter's third word (128-bit counters), as the random family does
    _C.diffuse_reference(np.zeros((1, 300), np.float32), np.zeros(1, np.int64), *tables(), 1, 2**64 - 5)
    same_bits(K.diffuse(np.zeros((1, 300), np.float32), np.zeros(1, np.int64), *tables(), 1, 2**64 - 5)[1],
              _C.diffuse_reference(np.zeros((1, 300), np.float32), np.zeros(1, np.int64), *tables(), 1, 2**64 - 5)[1])


# ---------------------------------------------------------------- bad input

def test_errors_name_the_argument():
    sa, sb = tables()
    x0 = np.zeros((3, 4), np.float32)
    t = np.array([0, 1, 2])
    with pytest.raises(ValueError, match=r"'timesteps' holds 1000 at position 1, outside \[0, 1000\)"):
        K.diffuse(x0, np.array([0, 1000, 2]), sa, sb, 0, 0)
    with pytest.raises(ValueError, match=r"'timesteps' holds -1"):
        K.diffuse(x0, np.array([0, 1, -1]), sa, sb, 0, 0)
    with pytest.raises(ValueError, match=r"'timesteps' must hold one timestep per sample of 'x0' \(3, 4\) \(3\)"):
        K.diffuse(x0, np.array([0, 1]), sa, sb, 0, 0)
    with pytest.raises(TypeError, match="'timesteps' must be int64 or int32, got float64"):
        K.diffuse(x0, t.astype(np.float64), sa, sb, 0, 0)
    with pytest.raises(TypeError, match="'x0' must be float16, float32 or float64, got int64"):
        K.diffuse(x0.astype(np.int64), t, sa, sb, 0, 0)
    with pytest.raises(ValueError, match=r"'noise' must have the shape of 'x0' \(3, 4\), got \(3, 5\)"):
        K.diffuse(x0, t, sa, sb, 0, 0, noise=np.zeros((3, 5), np.float32))
    with pytest.raises(TypeError, match="'x0' \\(float32\\) and 'noise' \\(float64\\)"):
        K.diffuse(x0, t, sa, sb, 0, 0, noise=np.zeros((3, 4)))
    with pytest.raises(ValueError, match="must have the same length"):
        K.diffuse(x0, t, sa, sb[:10], 0, 0)
    with pytest.raises(TypeError, match="'sqrt_alpha_prod' must have dtype float64, got float32"):
        K.diffuse(x0, t, sa.astype(np.float32), sb, 0, 0)
    with pytest.raises(ValueError, match="'x0' must have a batch dimension"):
        K.diffuse(np.float32(1.0).reshape(()), np.zeros(0, np.int64), sa, sb, 0, 0)
    with pytest.raises(ValueError, match="'offset' must be in"):
        K.diffuse(x0, t, sa, sb, 0, -1)
    mo = np.zeros((3, 4), np.float32)
    coef = (1, 0, 0, 0, 0, 1, 0, 0, 1)
    with pytest.raises(ValueError, match=r"'model_output' \(3, 4\) and 'sample' \(3, 5\) must have the same shape"):
        K.sampling_step(mo, np.zeros((3, 5), np.float32), coef, 0, 0)
    with pytest.raises(TypeError, match="'sample' .*'model_output'|'model_output' .*'sample'"):
        K.sampling_step(mo, np.zeros((3, 4)), coef, 0, 0)
    with pytest.raises(ValueError, match="'coef' must hold 9 numbers"):
        K.sampling_step(mo, mo, coef[:8], 0, 0)
    with pytest.raises(TypeError, match="'coef' must be a sequence"):
        K.sampling_step(mo, mo, 3.0, 0, 0)
    with pytest.raises(ValueError, match="'coef' must hold finite numbers"):
        K.sampling_step(mo, mo, coef[:8] + (np.nan,), 0, 0)
    with pytest.raises(ValueError, match="'clip_range' must be >= 0"):
        K.sampling_step(mo, mo, coef, 0, 0, clip_range=-1.0)
    with pytest.raises(TypeError, match="'clip_range' must be a number or None"):
        K.sampling_step(mo, mo, coef, 0, 0, clip_range="1")
    with pytest.raises(ValueError, match=r"'noise' must have the shape of 'sample'"):
        K.sampling_step(mo, mo, coef, 0, 0, noise=np.zeros((4, 3), np.float32))
