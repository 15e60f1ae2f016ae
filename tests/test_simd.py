"""The SIMD layer (csrc/core/simd/) on every CPU path this machine can run, through the test-only
entry ``_C._simd_eval(name, path, a, b=None, c=None, arg=0)``, which applies one operation to
whole 1-D arrays (tails through the masked loads and stores, and fails if a store went past the
end of the result).

The math functions are compared with numpy: float32 results against numpy's float64 result,
float64 results against numpy's long double (x87, 64-bit mantissa) result, the error measured in
ulp of the correctly rounded value. ``ULP_BOUND`` is the bound simd_math.h documents.

The last test reads the machine code of the built module: the portable instantiations must hold
no AVX instruction and the avx2 ones no AVX-512 one, so that a narrower CPU never meets them.
"""
import os
import re
import shutil
import subprocess
import zlib

import numpy as np
import pytest

from fastnn import _C

ULP_BOUND = 2.0
LANES = {"avx512": 16, "avx2": 8, "portable": 4}  # float lanes; double and int64: half


def ev(name, path, a, b=None, c=None, arg=0):
    return np.asarray(_C._simd_eval(name, path, a, b, c, arg))


def lengths(path, dtype):
    """Lengths around the lane count: empty, partial vectors, one full vector plus tails."""
    w = LANES[path] // (2 if np.dtype(dtype).itemsize == 8 else 1)
    return sorted({0, 1, w - 1, w, w + 1, 2 * w + 3, 5 * w - 1})


def ulp_error(y, ref, dtype):
    """|y - ref| in ulp of ref rounded to dtype; matching infinities and NaNs count as exact."""
    wide = ref.dtype
    with np.errstate(over="ignore", invalid="ignore"):
        r = ref.astype(dtype)
        unit = np.spacing(np.abs(r)).astype(wide)
        unit = np.maximum(unit, np.asarray(np.finfo(dtype).smallest_subnormal, wide))
        err = np.abs(y.astype(wide) - ref) / unit
    exact = (np.isnan(y) & np.isnan(r)) | (np.isinf(y) & (y == r))
    err[exact] = 0
    err[np.isnan(err)] = np.inf
    return err


def reference(fn, x):
    """numpy's value in a wider type: float64 for float32, long double for float64."""
    wide = np.float64 if x.dtype == np.float32 else np.longdouble
    if x.dtype == np.float64 and np.finfo(np.longdouble).nmant < 63:
        pytest.skip("long double is not wider than double here: no reference for float64")
    with np.errstate(all="ignore"):
        return getattr(np, fn)(x.astype(wide))


def random_bits(rng, dtype, n, positive=False):
    """Values whose bit patterns are uniform over the finite numbers of dtype: every binade,
    subnormals included, equally likely."""
    if dtype == np.float32:
        bits = rng.integers(0, 0x7F800000, n, dtype=np.uint32).view(np.float32)
    else:
        bits = rng.integers(0, 0x7FF0000000000000, n, dtype=np.uint64).view(np.float64)
    if not positive:
        bits = bits * rng.choice(np.array([-1, 1], dtype), n)
    return bits


SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0]


def domain(fn, dtype, rng):
    f32 = dtype == np.float32
    tiny = np.finfo(dtype).smallest_subnormal
    parts = [random_bits(rng, dtype, 20000, positive=fn == "log"), np.array(SPECIAL + [tiny, -tiny], dtype)]
    if fn == "exp":
        lo, hi = (-104.0, 89.0) if f32 else (-746.0, 710.0)
        parts += [rng.uniform(lo, hi, 40000), rng.uniform(-1, 1, 10000),
                  # around overflow, the start of the subnormal results and the last one
                  np.linspace(88.5, 88.9, 2001) if f32 else np.linspace(709.5, 709.9, 2001),
                  np.linspace(-87.5, -87.2, 2001) if f32 else np.linspace(-708.5, -708.3, 2001),
                  np.linspace(-104.5, -103.0, 2001) if f32 else np.linspace(-745.5, -744.0, 2001)]
    elif fn == "log":
        parts += [rng.uniform(0.5, 2.0, 40000), np.exp(rng.uniform(-700 if not f32 else -87, 88, 20000)),
                  rng.uniform(0, 1, 10000) * tiny * 2**20]
    elif fn == "tanh":
        parts += [rng.standard_normal(40000) * rng.choice([1e-3, 0.1, 0.6, 2.0, 10.0], 40000),
                  np.linspace(0.6, 0.65, 2001), -np.linspace(0.6, 0.65, 2001), [20.0, -20.0, 1e30, -1e30]]
    else:  # sin, cos
        k = np.arange(-200000, 200000, 7, dtype=np.float64)
        parts += [rng.uniform(-4, 4, 40000), rng.uniform(-1e4, 1e4, 20000), rng.uniform(-1.5e6, 1.5e6, 20000),
                  # multiples of pi/2 as dtype rounds them: the results closest to 0 (or 1)
                  (k * (np.pi / 2)).astype(dtype),
                  # beyond the vector reduction: the C library's lanes
                  rng.uniform(-1e9, 1e9, 2000), [1e22, -1e22, 3.0e38, 1.5e6, 1.6e6]]
    return np.concatenate([np.asarray(p, dtype).ravel() for p in parts])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("fn", ["exp", "log", "tanh", "sin", "cos"])
def test_math_ulp(cpu_path, fn, dtype):
    rng = np.random.default_rng(zlib.crc32(f"{fn} {np.dtype(dtype).name}".encode()))
    x = domain(fn, dtype, rng)
    y = ev(fn, cpu_path, x)
    assert y.dtype == dtype and y.shape == x.shape
    err = ulp_error(y, reference(fn, x), dtype)
    worst = int(np.argmax(err))
    assert err[worst] <= ULP_BOUND, (
        f"{fn} {np.dtype(dtype).name} on {cpu_path}: {err[worst]:.2f} ulp at x={x[worst]!r}: "
        f"got {y[worst]!r}, expected {reference(fn, x[worst:worst + 1])[0]!r}")
    # Every lane of every tail length gives the same value as in a full vector.
    for n in lengths(cpu_path, dtype):
        np.testing.assert_array_equal(ev(fn, cpu_path, x[:n]), y[:n])


def _same(y, expected):
    y, expected = np.asarray(y), np.asarray(expected, y.dtype)
    assert np.array_equal(y, expected, equal_nan=True), (y, expected)
    assert np.array_equal(np.signbit(y), np.signbit(expected)) or np.isnan(expected).any(), (y, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_math_special_values(cpu_path, dtype):
    inf, nan = np.inf, np.nan
    big = 1e4 if dtype == np.float64 else 1e3
    sub = np.finfo(dtype).smallest_subnormal
    cases = {
        "exp": ([-inf, inf, nan, 0.0, -0.0, big, -big], [0.0, inf, nan, 1.0, 1.0, inf, 0.0]),
        "log": ([0.0, -0.0, -1.0, -inf, inf, nan, 1.0, -sub], [-inf, -inf, nan, nan, inf, nan, 0.0, nan]),
        "tanh": ([inf, -inf, 20.0, -20.0, 1e30, 0.0, -0.0, nan, sub, -sub], [1, -1, 1, -1, 1, 0.0, -0.0, nan, sub, -sub]),
        "sin": ([inf, -inf, nan, 0.0, -0.0, sub, -sub], [nan, nan, nan, 0.0, -0.0, sub, -sub]),
        "cos": ([inf, -inf, nan, 0.0, -0.0, sub], [nan, nan, nan, 1.0, 1.0, 1.0]),
    }
    for fn, (x, expected) in cases.items():
        _same(ev(fn, cpu_path, np.array(x, dtype)), expected)
    # log of a subnormal: exact powers of two land exactly on k log 2.
    k = np.arange(-149 if dtype == np.float32 else -1074, -120 if dtype == np.float32 else -1020)
    x = np.ldexp(np.ones(len(k), dtype), k)
    err = ulp_error(ev("log", cpu_path, x), reference("log", x), dtype)
    assert err.max() <= ULP_BOUND


# ---------------------------------------------------------------- float and double basics


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_float_arithmetic(cpu_path, dtype, rng):
    for n in lengths(cpu_path, dtype):
        a = rng.standard_normal(n).astype(dtype)
        b = rng.standard_normal(n).astype(dtype)
        c = rng.standard_normal(n).astype(dtype)
        if n > 2:
            a[1], b[2] = np.nan, np.nan
        with np.errstate(invalid="ignore"):
            _same(ev("add", cpu_path, a, b), a + b)
            _same(ev("sub", cpu_path, a, b), a - b)
            _same(ev("mul", cpu_path, a, b), a * b)
            _same(ev("div", cpu_path, a, b), a / b)
            _same(ev("sqrt", cpu_path, np.abs(a)), np.sqrt(np.abs(a)))
            _same(ev("abs", cpu_path, a), np.abs(a))
            _same(ev("neg", cpu_path, a), -a)
            # x86 rule: a NaN in either operand gives the second operand.
            _same(ev("max", cpu_path, a, b), np.where(a > b, a, b))
            _same(ev("min", cpu_path, a, b), np.where(a < b, a, b))
            for name, cmp in [("lt", np.less), ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal),
                              ("eq", np.equal), ("ne", np.not_equal)]:
                bb = np.where(rng.random(n) < 0.3, a, b).astype(dtype)  # some equal lanes
                _same(ev("where_" + name, cpu_path, a, bb), np.where(cmp(a, bb), a, bb))
            _same(ev("where_unord", cpu_path, a, b), np.where(np.isnan(a) | np.isnan(b), a, b))
        # fma: fused on avx2/avx512, the product rounded first on portable; operands of one
        # sign (no cancellation) keep both within 1 ulp of the exact value.
        pa, pb, pc = np.abs(a), np.abs(b), np.abs(c)
        y = ev("fma", cpu_path, pa, pb, pc)
        exact = pa.astype(np.longdouble) * pb + pc
        assert np.all(ulp_error(y, exact, dtype)[~np.isnan(exact)] <= 1.0)
        if cpu_path == "portable":
            _same(y, pa * pb + pc)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_round_and_widths(cpu_path, dtype, rng):
    x = np.concatenate([rng.uniform(-10, 10, 500), np.arange(-5.5, 6, 0.5), [-0.3, -0.0, 0.0, 0.49999997, 2.5,
                        -2.5, 2.0**52 + 1, -(2.0**23) - 1, 1e30, np.inf, -np.inf, np.nan]]).astype(dtype)
    _same(ev("round", cpu_path, x), np.rint(x))
    w = LANES[cpu_path] // (2 if dtype == np.float64 else 1)
    assert _C._simd_lanes(cpu_path, np.dtype(dtype).itemsize) == w
    a = rng.standard_normal(8 * w + 3).astype(dtype)
    a[5] = np.nan
    full = a[: len(a) // w * w].reshape(-1, w)
    np.testing.assert_allclose(ev("reduce_add", cpu_path, a), full.sum(1), rtol=1e-5 if dtype == np.float32 else 1e-12)
    b = a.copy()
    b[5] = 0.0
    fullb = b[: len(b) // w * w].reshape(-1, w)
    _same(ev("reduce_max", cpu_path, b), fullb.max(1))
    _same(ev("reduce_min", cpu_path, b), fullb.min(1))
    thr = np.zeros_like(a)
    thr[w:2 * w] = 10.0  # the second vector: every lane below
    _same(ev("any_lt", cpu_path, a, thr), (full < thr[: len(full) * w].reshape(-1, w)).any(1))
    _same(ev("all_lt", cpu_path, a, thr), (full < thr[: len(full) * w].reshape(-1, w)).all(1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_transpose(cpu_path, dtype, rng):
    w = _C._simd_lanes(cpu_path, np.dtype(dtype).itemsize)
    a = rng.standard_normal((3, w, w)).astype(dtype)
    _same(ev("transpose", cpu_path, a.ravel()).reshape(3, w, w), a.transpose(0, 2, 1))


def test_conversions(cpu_path, rng):
    for n in lengths(cpu_path, np.float32):
        f = (rng.standard_normal(n) * 1e4).astype(np.float32)
        f[: min(n, 4)] = [0.5, 1.5, -2.5, -0.7][: min(n, 4)]
        d = rng.standard_normal(n) * 1e30
        i = rng.integers(-2**31, 2**31, n, dtype=np.int64).astype(np.int32)
        _same(ev("widen", cpu_path, f), f.astype(np.float64))
        _same(ev("narrow", cpu_path, d), d.astype(np.float32))
        _same(ev("to_float", cpu_path, i), i.astype(np.float32))
        assert np.array_equal(ev("round_to_int", cpu_path, f), np.rint(f).astype(np.int32))
        assert np.array_equal(ev("trunc_to_int", cpu_path, f), np.trunc(f).astype(np.int32))
        assert np.array_equal(ev("as_bits", cpu_path, f), f.view(np.int32))
        assert np.array_equal(ev("as_bits", cpu_path, d), d.view(np.int64))
        assert np.array_equal(ev("from_bits", cpu_path, i).view(np.int32), i)
        i64 = rng.integers(-2**63, 2**63 - 1, n, dtype=np.int64)
        assert np.array_equal(ev("from_bits", cpu_path, i64).view(np.int64), i64)


# ---------------------------------------------------------------- integer lanes


@pytest.mark.parametrize("itype", [np.int32, np.int64], ids=["i32", "i64"])
def test_integer_lanes(cpu_path, itype, rng):
    info = np.iinfo(itype)
    bits = 8 * np.dtype(itype).itemsize
    for n in lengths(cpu_path, itype):
        a = rng.integers(info.min, info.max, n, dtype=itype, endpoint=True)
        b = rng.integers(info.min, info.max, n, dtype=itype, endpoint=True)
        b[: n // 3] = a[: n // 3]
        if n:
            a[0], b[-1] = info.min, info.max
        with np.errstate(over="ignore"):
            assert np.array_equal(ev("add", cpu_path, a, b), a + b)
            assert np.array_equal(ev("sub", cpu_path, a, b), a - b)
        assert np.array_equal(ev("and", cpu_path, a, b), a & b)
        assert np.array_equal(ev("or", cpu_path, a, b), a | b)
        assert np.array_equal(ev("xor", cpu_path, a, b), a ^ b)
        assert np.array_equal(ev("andnot", cpu_path, a, b), ~a & b)
        assert np.array_equal(ev("cmp_eq", cpu_path, a, b), -(a == b).astype(itype))
        assert np.array_equal(ev("cmp_gt", cpu_path, a, b), -(a > b).astype(itype))
        assert np.array_equal(ev("cmp_lt", cpu_path, a, b), -(a < b).astype(itype))
        assert np.array_equal(ev("select_gt", cpu_path, a, b), np.where(a > b, a, b))
        unsigned = a.view(np.uint32 if itype == np.int32 else np.uint64)
        for s in sorted({0, 1, 7, bits // 2, bits - 1}):
            assert np.array_equal(ev("shl", cpu_path, a, arg=s), (unsigned << unsigned.dtype.type(s)).view(itype))
            assert np.array_equal(ev("shr", cpu_path, a, arg=s), (unsigned >> unsigned.dtype.type(s)).view(itype))
            assert np.array_equal(ev("sar", cpu_path, a, arg=s), a >> itype(s))
        if itype == np.int32:
            with np.errstate(over="ignore"):
                assert np.array_equal(ev("mullo", cpu_path, a, b), a * b)
            ua, ub = a.view(np.uint32).astype(np.uint64), b.view(np.uint32).astype(np.uint64)
            assert np.array_equal(ev("mulhi", cpu_path, a, b).view(np.uint32), ((ua * ub) >> np.uint64(32)).astype(np.uint32))
            assert np.array_equal(ev("min", cpu_path, a, b), np.minimum(a, b))
            assert np.array_equal(ev("max", cpu_path, a, b), np.maximum(a, b))
    w = LANES[cpu_path] // (2 if itype == np.int64 else 1)
    a = np.arange(3 * w, dtype=itype)
    b = np.full(3 * w, w, itype)
    b[2 * w:] = 0
    assert list(ev("any_lt", cpu_path, a, b)) == [1, 0, 0]
    assert list(ev("all_lt", cpu_path, a, b)) == [1, 0, 0]


def test_integer_ops_only_where_defined(cpu_path):
    with pytest.raises(ValueError, match="'mulhi' is not defined for int64"):
        ev("mulhi", cpu_path, np.zeros(3, np.int64), np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="unknown operation"):
        ev("nope", cpu_path, np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="'a' must be float32, float64, int32 or int64"):
        ev("exp", cpu_path, np.zeros(3, np.int8))


# ---------------------------------------------------------------- gathers


@pytest.mark.parametrize("dtype,itype,form", [
    (np.float32, np.int32, "gather"), (np.float32, np.int32, "gather_vec"), (np.float64, np.int32, "gather"),
    (np.float64, np.int64, "gather"), (np.float64, np.int64, "gather_vec"),
])
def test_gather(cpu_path, rng, dtype, itype, form):
    table = rng.standard_normal(100003).astype(dtype)
    for n in lengths(cpu_path, dtype) + [1000]:
        idx = rng.integers(0, len(table), n).astype(itype)
        if n > 3:
            idx[:3] = [0, len(table) - 1, 0]
        _same(ev(form, cpu_path, table, idx), table[idx])
    with pytest.raises(ValueError, match="out of range"):
        ev(form, cpu_path, table, np.array([len(table)], itype))


def test_gather_vec_needs_matching_lanes(cpu_path):
    with pytest.raises(ValueError, match="not defined for float64 with int32 indices"):
        ev("gather_vec", cpu_path, np.zeros(4), np.zeros(4, np.int32))


# ---------------------------------------------------------------- instructions per path


def _functions(so):
    """{demangled function name: [instruction lines]} of the module's code."""
    out = subprocess.run(["objdump", "-d", "-C", "--no-show-raw-insn", so], capture_output=True, text=True,
                         check=True).stdout
    funcs, name = {}, None
    head = re.compile(r"^[0-9a-f]+ <(.*)>:$")
    for line in out.splitlines():
        m = head.match(line)
        if m:
            name = m.group(1)
            funcs[name] = []
        elif name is not None and line.startswith(" ") and "\t" in line:
            funcs[name].append(line.split("\t", 1)[1])
    return funcs


def test_paths_hold_only_their_instructions():
    if shutil.which("objdump") is None:
        pytest.skip("objdump (binutils) is not installed")
    so = _C.__file__
    funcs = _functions(so)
    if not any("fastnn::" in name for name in funcs):
        pytest.skip(f"{os.path.basename(so)} was stripped of its symbol table: its functions cannot be told apart")
    wide_avx512 = re.compile(r"%zmm|%k[0-7]\b|%[xy]mm(1[6-9]|2[0-9]|3[01])\b")
    found = {"isa_portable": 0, "isa_avx2": 0, "isa_avx512": 0}
    bad = []
    for name, insns in funcs.items():
        if "isa_portable::" in name:
            found["isa_portable"] += 1
            # Any VEX/EVEX-encoded instruction (their mnemonics start with v) needs AVX.
            bad += [(name, i) for i in insns if re.match(r"v\w", i.split()[0]) or "%ymm" in i or "%zmm" in i]
        elif "isa_avx2::" in name:
            found["isa_avx2"] += 1
            bad += [(name, i) for i in insns if wide_avx512.search(i)]
        elif "isa_avx512::" in name:
            found["isa_avx512"] += 1
        else:
            bad += [(name, i) for i in insns if "%zmm" in i]
    built = set(_C.cpu_paths())
    for ns, count in found.items():
        if ns.split("_", 1)[1] in built:
            assert count > 0, f"no function of {ns} found in {os.path.basename(so)}"
    assert not bad, "instructions beyond their path:\n" + "\n".join(f"{n}: {i}" for n, i in bad[:20])
