"""The fused optimiser step on the CPU (csrc/ops/optim/cpu_simd.cpp, the CUDA kernels' twin): bitwise equal to
the array operations it replaces on every CPU path and at any thread count, close to PyTorch's Adam/AdamW/SGD
over many steps, its binding's checks, and which parameters take it."""
import numpy as np
import pytest

import fastnn
from fastnn import _C, kernels, optim
from fastnn.optim import optimizer as optimizer_module

# edge sizes around the vector widths (4 ... 16 lanes) and the 4096-element chunks, a 0-d parameter, and one
# large enough to be shared between threads
SHAPES = [(), (1,), (3,), (7,), (8,), (15,), (16,), (17,), (33,), (4095,), (4097,), (3, 5, 7), (90, 130)]

CONFIGS = [
    ("Adam", dict(lr=1e-3)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.02, betas=(0.3, 0.9), maximize=True)),
    ("Adam", dict(lr=0.05, betas=(0.5, 0.99), eps=1e-6, weight_decay=0.01, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=1e-3)),
    ("AdamW", dict(lr=0.05, weight_decay=0.5, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=0.01, betas=(0.0, 0.5), weight_decay=0.0)),
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.3, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=1.0, weight_decay=0.2)),
    ("SGD", dict(lr=0.3, weight_decay=0.1, maximize=True)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in cfg.items())}" for name, cfg in CONFIGS]


def _grads(rng, dtype, steps, shapes=SHAPES):
    out = []
    for _ in range(steps):
        step = []
        for s in shapes:
            g = rng.standard_normal(s).astype(dtype)
            if g.size > 4:  # signed zeros and a huge value: the sign of a zero survives negation
                g.flat[0], g.flat[1], g.flat[2] = 0.0, -0.0, 1e30 if dtype == np.float64 else 1e18
            step.append(g)
        out.append(step)
    return out


def _run(name, cfg, dtype, fused, init, grads, monkeypatch):
    """Parameters and optimiser state after the steps, with the fused kernel on or off; the number of kernel calls."""
    monkeypatch.setattr(optimizer_module, "_FUSED", fused)
    kernel = "sgd_step" if name == "SGD" else "adam_step"
    real = getattr(kernels, kernel)
    calls = []
    monkeypatch.setattr(kernels, kernel, lambda *a: calls.append(1) or real(*a))
    params = [fastnn.tensor(a.copy(), requires_grad=True) for a in init]
    opt = getattr(optim, name)(params, **cfg)
    for step in grads:
        for p, g in zip(params, step):
            p.grad = fastnn.tensor(g)
        opt.step()
    arrays = [p.detach().numpy().copy() for p in params]
    arrays += [v.numpy().copy() for p in params for k, v in sorted(opt.state[p].items()) if k != "step"]
    return arrays, len(calls)


def _bits(a):
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,cfg", CONFIGS, ids=IDS)
def test_fused_step_equals_the_array_operations_bitwise(cpu_path, name, cfg, dtype, monkeypatch):
    rng = np.random.default_rng(len(IDS) + len(cfg))
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = _grads(rng, dtype, 5)
    fused, calls = _run(name, cfg, dtype, True, init, grads, monkeypatch)
    arrays, no_calls = _run(name, cfg, dtype, False, init, grads, monkeypatch)
    assert calls == 5 * len(SHAPES) and no_calls == 0
    assert len(fused) == len(arrays) > len(SHAPES) or name == "SGD"
    for k, (a, b) in enumerate(zip(fused, arrays)):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(_bits(a), _bits(b), err_msg=f"array {k}")


def test_fused_step_does_not_depend_on_the_thread_count(monkeypatch):
    rng = np.random.default_rng(3)
    shapes = [(300, 301), (5,)]
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = _grads(rng, np.float32, 3, shapes)
    old = fastnn.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            fastnn.set_num_threads(threads)
            results.append(_run("Adam", dict(lr=0.01, amsgrad=True), np.float32, True, init, grads, monkeypatch)[0])
    finally:
        fastnn.set_num_threads(old)
    for res in results[1:]:
        for a, b in zip(results[0], res):
            np.testing.assert_array_equal(_bits(a), _bits(b))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_and_inf_propagate_like_the_array_operations(cpu_path, monkeypatch):
    init = [np.linspace(-1, 1, 37)]
    g = np.linspace(-2, 2, 37)
    g[3], g[9], g[20] = np.nan, np.inf, -np.inf
    grads = [[g], [np.where(np.isnan(g), 0.5, g)], [-g]]
    for name, cfg in [("Adam", dict(lr=0.1, amsgrad=True)), ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True))]:
        fused, _ = _run(name, cfg, np.float64, True, init, grads, monkeypatch)
        arrays, _ = _run(name, cfg, np.float64, False, init, grads, monkeypatch)
        for a, b in zip(fused, arrays):
            np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,cfg", CONFIGS, ids=IDS)
def test_fused_step_follows_pytorch_over_many_steps(cpu_path, torch, name, cfg, dtype):
    rng = np.random.default_rng(11)
    shapes = [(), (5,), (17,), (4, 9), (4101,)]
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    pf = [fastnn.tensor(a.copy(), requires_grad=True) for a in init]
    pt = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    of, ot = getattr(optim, name)(pf, **cfg), getattr(torch.optim, name)(pt, **cfg)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-5)
    for step in range(25):
        for a, b in zip(pf, pt):
            g = rng.standard_normal(a.shape).astype(dtype)
            a.grad, b.grad = fastnn.tensor(g), torch.tensor(g)
        of.step()
        ot.step()
        for a, b in zip(pf, pt):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **tol, err_msg=f"step {step}")
    for a, b in zip(pf, pt):
        for k, v in of.state[a].items():
            if k != "step":
                np.testing.assert_allclose(v.numpy(), ot.state[b][k].numpy(), **tol, err_msg=k)


def test_parameters_the_kernel_does_not_take_run_as_array_operations(monkeypatch, torch):
    calls = []
    real = kernels.adam_step
    monkeypatch.setattr(kernels, "adam_step", lambda *a: calls.append(a[0].dtype) or real(*a))
    half = fastnn.tensor(np.linspace(-1, 1, 10).astype(np.float16), requires_grad=True)
    base = np.arange(24.0).reshape(4, 6)
    ref = torch.tensor(base.T.copy(), requires_grad=True)
    strided = fastnn.tensor(base, requires_grad=True)
    strided._data = base.T  # a non-contiguous parameter array
    plain = fastnn.tensor(np.ones(3), requires_grad=True)
    opt = optim.Adam([half, strided, plain], lr=0.1)
    half.grad = fastnn.tensor(np.full(10, 0.5, np.float16))
    strided.grad = fastnn.tensor(np.ones((6, 4)))
    plain.grad = fastnn.tensor(np.ones(3))
    opt.step()
    assert calls == [np.dtype(np.float64)]
    ref_opt = torch.optim.Adam([ref], lr=0.1)
    ref.grad = torch.ones(6, 4, dtype=torch.float64)
    ref_opt.step()
    np.testing.assert_allclose(strided.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    assert half.dtype == fastnn.float16 and np.allclose(half.detach().numpy(), np.linspace(-1, 1, 10) - 0.1, atol=2e-3)


def test_loaded_state_is_contiguous_and_keeps_the_fused_path():
    p = fastnn.tensor(np.ones((4, 6), np.float32), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = fastnn.tensor(np.ones((4, 6), np.float32))
    opt.step()
    sd = opt.state_dict()
    sd["state"][0]["exp_avg"] = fastnn.tensor(np.asfortranarray(sd["state"][0]["exp_avg"].numpy().astype(np.float64)))
    opt.load_state_dict(sd)
    assert opt.state[p]["exp_avg"]._data.flags.c_contiguous and opt.state[p]["exp_avg"].dtype == fastnn.float32
    opt.step()


ADAM = dict(l2=0.0, decay=1.0, w=0.1, one_minus_w=0.9, beta2=0.999, one_minus_beta2=0.001, bias_correction2_sqrt=0.03,
            eps=1e-8, step_size=0.01, lerp_low=True, maximize=False, amsgrad=False)
SGD = dict(l2=0.0, momentum=0.9, one_minus_dampening=1.0, lr=0.1, dampened=False, nesterov=False, maximize=False,
           first=True)


def test_binding_errors_name_the_argument():
    z = lambda n=6, dt=np.float32: np.zeros(n, dt)  # noqa: E731
    p = z()
    with pytest.raises(ValueError, match=r"'exp_avg' has shape \(5,\) but 'param' has \(6,\)"):
        _C.adam_step(p, z(), z(5), z(), None, ADAM)
    with pytest.raises(TypeError, match="'param' \\(float32\\) and 'grad' \\(float64\\) must have the same dtype"):
        _C.adam_step(p, z(6, np.float64), z(), z(), None, ADAM)
    with pytest.raises(TypeError, match="'param' must be float32 or float64"):
        _C.adam_step(z(6, np.int64), z(6, np.int64), z(6, np.int64), z(6, np.int64), None, ADAM)
    with pytest.raises(ValueError, match="'grad' \\(6,\\) must be contiguous"):
        _C.adam_step(p, z(12)[::2], z(), z(), None, ADAM)
    with pytest.raises(ValueError, match="max_exp_avg_sq"):
        _C.adam_step(p, z(), z(), z(), None, dict(ADAM, amsgrad=True))
    with pytest.raises(ValueError, match="overlaps"):
        _C.adam_step(p, z(), p, z(), None, ADAM)
    with pytest.raises(ValueError, match="overlaps"):
        _C.adam_step(p, p, z(), z(), None, ADAM)
    with pytest.raises(ValueError, match="'scalars' has no 'eps'"):
        _C.adam_step(p, z(), z(), z(), None, {k: v for k, v in ADAM.items() if k != "eps"})
    with pytest.raises(TypeError, match="'exp_avg_sq' must be an array .*, got list"):
        _C.adam_step(p, z(), z(), [0.0] * 6, None, ADAM)
    ro = z()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="'param' is read-only"):
        _C.sgd_step(ro, z(), z(), SGD)
    with pytest.raises(ValueError, match="momentum_buffer"):
        _C.sgd_step(p, z(), None, SGD)
    with pytest.raises(ValueError, match="momentum_buffer"):
        _C.sgd_step(p, z(), z(), dict(SGD, momentum=0.0))
    with pytest.raises(TypeError, match="'grad' must be an array, got None"):
        _C.sgd_step(p, None, z(), SGD)
    # a read-only gradient is fine (it is only read); empty arrays are a no-op
    g = np.ones(6, np.float32)
    g.flags.writeable = False
    buf = z()
    _C.sgd_step(p, g, buf, SGD)
    np.testing.assert_array_equal(p, np.float32(-0.1))
    np.testing.assert_array_equal(buf, 1)
    _C.adam_step(z(0), z(0), z(0), z(0), None, ADAM)
