"""Devices: ``device=`` in creation functions, ``.to``/``.cuda``/``.cpu``, ``Module.to``, optimiser state
placement, mixed-device errors and the messages given when CUDA cannot be used.

Three groups:
* without a GPU (always run here): the RuntimeErrors that say why CUDA is unusable;
* under tests/cuda_emu/fake_cupy (a host-memory stand-in for cupy whose arrays are numpy subclasses):
  the placement logic, round trips and mixed-device errors, no kernels launched;
* ``gpu``-marked: models trained on a real GPU give the CPU's losses. Without a GPU they also run
  against the emulated kernels: ``bash tests/cuda_emu/run_gpu_tests_emulated.sh tests/test_devices.py``.
"""
import importlib.util
import os
import sys

import numpy as np
import pytest

import fastnn
from fastnn import backend, nn

HAVE_GPU = backend.cuda_available()
FAKE_CUPY = os.path.join(os.path.dirname(__file__), "cuda_emu", "fake_cupy", "cupy", "__init__.py")


# ------------------------------------------------------------------ without a GPU

def test_package_exposes_cuda_backends_models():
    assert fastnn.cuda.is_available() is HAVE_GPU
    assert isinstance(fastnn.cuda.device_count(), int)
    assert fastnn.backends.cuda.matmul.allow_tf32 is False
    assert hasattr(fastnn.models, "LeNet5")
    assert fastnn.device("cuda:1") == fastnn.device("cuda", 1)


@pytest.mark.skipif(HAVE_GPU, reason="checks the errors given without a usable GPU")
@pytest.mark.parametrize("make", [
    lambda: fastnn.ones(3).to("cuda"),
    lambda: fastnn.ones(3).cuda(),
    lambda: fastnn.ones(3).to(device="cuda:0"),
    lambda: fastnn.zeros(2, 3, device="cuda"),
    lambda: fastnn.tensor([1.0, 2.0], device="cuda:0"),
    lambda: fastnn.randn(4, device="cuda"),
    lambda: fastnn.arange(5, device=fastnn.device("cuda")),
    lambda: fastnn.zeros_like(fastnn.ones(2), device="cuda"),
    lambda: nn.Linear(3, 2).to("cuda"),
    lambda: nn.Linear(3, 2, device="cuda"),
    lambda: fastnn.cuda.synchronize(),
    lambda: fastnn.cuda.get_device_name(),
    lambda: fastnn.cuda.memory_allocated(),
    lambda: fastnn.cuda.mem_get_info(),
])
def test_cuda_without_gpu_says_why(make):
    with pytest.raises(RuntimeError, match="CUDA is not available: .*(built without CUDA|cupy is not installed|"
                                           "no CUDA device)"):
        make()


@pytest.mark.skipif(HAVE_GPU, reason="checks the behaviour without a usable GPU")
def test_without_gpu_cpu_keeps_working():
    fastnn.cuda.manual_seed(3)          # ignored, as in PyTorch
    fastnn.cuda.manual_seed_all(3)
    fastnn.cuda.empty_cache()           # likewise
    assert fastnn.cuda.device_count() == 0
    m = nn.Linear(3, 2)
    assert m.to("cpu") is m and m.weight.device == fastnn.device("cpu")
    x = fastnn.ones(2, 3, device="cpu")
    assert x.cpu() is x and x.to("cpu") is x and not x.is_cuda


def test_bad_device_strings():
    with pytest.raises(ValueError, match="unknown device type 'tpu'"):
        fastnn.zeros(2, device="tpu")
    with pytest.raises(ValueError, match="index must be an integer"):
        fastnn.ones(2).to("cuda:x")
    with pytest.raises(TypeError, match="device must be a string"):
        fastnn.device(3.0)


# ------------------------------------------------------------------ under the cupy stand-in

@pytest.fixture
def fake_cuda(monkeypatch):
    """One emulated CUDA device: cupy is the host-memory stand-in, the kernel module counts 1 device."""
    spec = importlib.util.spec_from_file_location("cupy", FAKE_CUPY)
    cupy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cupy)
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setattr(backend, "cuda_built", lambda: True)
    monkeypatch.setattr(backend, "cuda_device_count", lambda: 1)
    # no kernel module behind the stand-in: optimisers take their array-operation path, not a fused kernel
    monkeypatch.setattr(fastnn.optim.optimizer, "_fusable", lambda pd, g: False)
    backend._cupy.cache_clear()
    yield cupy
    backend._cupy.cache_clear()


def test_fake_round_trip(fake_cuda):
    x = fastnn.randn(3, 4)
    xc = x.to("cuda")
    assert isinstance(xc._data, fake_cuda.ndarray)
    assert xc.is_cuda and xc.device == fastnn.device("cuda:0") and str(xc.device) == "cuda:0"
    assert xc.cuda() is xc and xc.to("cuda:0") is xc
    back = xc.cpu()
    assert back._data.__class__ is np.ndarray and back.device == fastnn.device("cpu")
    np.testing.assert_array_equal(back.numpy(), x.numpy())
    assert "device='cuda:0'" in repr(xc)


def test_fake_get_device_and_data_ptr(fake_cuda):
    xc = fastnn.arange(6.0).to("cuda")
    assert xc.get_device() == 0 and xc.cpu().get_device() == -1
    assert xc.data_ptr() == xc._data.data.ptr and xc[2:].data_ptr() == xc.data_ptr() + 2 * xc.element_size()


def test_fake_to_records_the_copy_for_autograd(fake_cuda):
    x = fastnn.randn(5, requires_grad=True)
    y = x.to("cuda")
    assert y.requires_grad and y.grad_fn is not None
    y.cpu().sum().backward()
    assert x.grad.device == fastnn.device("cpu")
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(5, np.float32))


@pytest.mark.parametrize("make", [
    lambda: fastnn.zeros(2, 3, device="cuda"),
    lambda: fastnn.ones((2, 3), device="cuda:0"),
    lambda: fastnn.empty(2, device="cuda"),
    lambda: fastnn.full((2,), 7.0, device="cuda"),
    lambda: fastnn.eye(3, device="cuda"),
    lambda: fastnn.arange(4, device="cuda"),
    lambda: fastnn.linspace(0, 1, 5, device="cuda"),
    lambda: fastnn.logspace(0, 1, 5, device="cuda"),
    lambda: fastnn.rand(2, device="cuda"),
    lambda: fastnn.randn(2, device="cuda"),
    lambda: fastnn.randint(0, 5, (3,), device="cuda"),
    lambda: fastnn.randperm(4, device="cuda"),
    lambda: fastnn.normal(0.0, 1.0, (2,), device="cuda"),
    lambda: fastnn.tensor([1, 2], device="cuda"),
    lambda: fastnn.as_tensor(np.ones(2), device="cuda"),
    lambda: fastnn.tril_indices(3, 3, device="cuda"),
    lambda: fastnn.triu_indices(3, 3, device="cuda"),
    lambda: fastnn.Tensor([1.0], device="cuda"),
])
def test_fake_creation_functions_take_device(fake_cuda, make):
    assert make().device == fastnn.device("cuda:0")


def test_fake_like_and_new_follow_the_input_device(fake_cuda):
    xc = fastnn.ones(2, 3).cuda()
    for t in (fastnn.zeros_like(xc), fastnn.ones_like(xc), fastnn.empty_like(xc), fastnn.full_like(xc, 2.0),
              fastnn.rand_like(xc), fastnn.randn_like(xc), fastnn.randint_like(xc, 3), xc.new_zeros(4),
              xc.new_ones(2), xc.new_full((2,), 1.0), xc.new_empty(3), xc.new_tensor([1.0]),
              fastnn.bernoulli(fastnn.full_like(xc, 0.5)), fastnn.normal(xc, 1.0)):
        assert t.device == fastnn.device("cuda:0"), t
    assert fastnn.zeros_like(xc, device="cpu").device == fastnn.device("cpu")


@pytest.mark.parametrize("op", [
    lambda a, b: a + b,
    lambda a, b: b * a,
    lambda a, b: a - b,
    lambda a, b: a / b,
    lambda a, b: a ** b,
    lambda a, b: a == b,
    lambda a, b: fastnn.maximum(a, b),
    lambda a, b: a @ b.T,
    lambda a, b: fastnn.cat([a, b]),
    lambda a, b: fastnn.stack([b, a]),
    lambda a, b: fastnn.where(a > 0, a, b),
])
def test_fake_mixed_devices_raise(fake_cuda, op):
    a = fastnn.randn(2, 3)
    b = fastnn.randn(2, 3).cuda()
    with pytest.raises(RuntimeError, match=r"same device.*(cpu and cuda:0|cuda:0 and cpu)"):
        op(a, b)


def test_fake_same_device_ops_are_allowed(fake_cuda):
    a, b = fastnn.randn(2, 3).cuda(), fastnn.randn(2, 3).cuda()
    assert (a + b).device == fastnn.device("cuda:0")
    assert (a * 2.0 + 1).device == fastnn.device("cuda:0")
    assert fastnn.cat([a, b]).shape == (4, 3)


def test_fake_zero_dim_cpu_tensor_meets_cuda_tensor(fake_cuda):
    # PyTorch lets a 0-d CPU tensor combine with a tensor on any device, like a Python number
    x = fastnn.tensor([1.0, 2.0, 3.0], device="cuda")
    s = fastnn.tensor(2.0)
    for r in (x * s, s * x, x - s, s - x, x / s, x ** s, fastnn.maximum(x, s)):
        assert r.device == fastnn.device("cuda:0") and r.dtype == fastnn.float32
    np.testing.assert_allclose((s - x).cpu().numpy(), [1.0, 0.0, -1.0])
    # the result keeps the CUDA tensor's dtype, as with a number (category rule)
    assert (x * fastnn.tensor(2.0, dtype=fastnn.float64)).dtype == fastnn.float32
    # gradients flow to the CUDA operand
    w = fastnn.ones(3, device="cuda", requires_grad=True)
    (w * s).sum().backward()
    assert w.grad.device == fastnn.device("cuda:0")
    np.testing.assert_allclose(w.grad.cpu().numpy(), [2.0, 2.0, 2.0])


def test_fake_zero_dim_cpu_tensor_with_grad_or_ndim_still_raises(fake_cuda):
    x = fastnn.ones(3, device="cuda")
    with pytest.raises(RuntimeError, match="same device"):
        x * fastnn.tensor(2.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="same device"):
        x * fastnn.tensor([2.0])


class _CudaProducer:
    """A DLPack producer that reports CUDA memory (its capsule is host memory, which the stand-in reads)."""
    def __init__(self, a):
        self.a = a

    def __dlpack__(self, *args, **kwargs):
        return self.a.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return (2, 0)


def test_fake_from_dlpack_places_cuda_producers_on_the_gpu(fake_cuda):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = fastnn.from_dlpack(_CudaProducer(a))
    assert t.device == fastnn.device("cuda:0") and t.shape == (2, 3)
    np.testing.assert_array_equal(t.cpu().numpy(), a)
    assert fastnn.from_dlpack(a).device == fastnn.device("cpu")


def test_from_dlpack_rejects_non_producers():
    with pytest.raises(TypeError, match="from_dlpack.*list"):
        fastnn.from_dlpack([1.0, 2.0])


def test_from_dlpack_shares_memory_with_numpy():
    a = np.zeros(4, dtype=np.float32)
    t = fastnn.from_dlpack(a)
    a[1] = 5.0
    assert t[1].item() == 5.0
    back = np.from_dlpack(t)
    t[2] = 7.0
    assert back[2] == 7.0


@pytest.mark.skipif(HAVE_GPU, reason="checks the error given without a usable GPU")
def test_from_dlpack_of_cuda_memory_without_gpu_raises():
    with pytest.raises(RuntimeError):
        fastnn.from_dlpack(_CudaProducer(np.ones(2, dtype=np.float32)))


def test_fake_module_to_keeps_parameter_objects(fake_cuda):
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    params = list(m.parameters())
    before = [p.detach().numpy().copy() for p in params]
    m[0].weight.grad = fastnn.ones_like(m[0].weight)
    assert m.to("cuda") is m
    assert [id(p) for p in m.parameters()] == [id(p) for p in params]
    assert all(p.device == fastnn.device("cuda:0") and isinstance(p, nn.Parameter) for p in m.parameters())
    assert all(b.device == fastnn.device("cuda:0") for b in m.buffers())
    assert m[0].weight.grad.device == fastnn.device("cuda:0")
    m.cpu()
    for p, w in zip(m.parameters(), before):
        assert p.device == fastnn.device("cpu")
        np.testing.assert_array_equal(p.detach().numpy(), w)


@pytest.mark.parametrize("make_opt", [
    lambda ps: fastnn.optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: fastnn.optim.Adam(ps, lr=0.1, amsgrad=True),
    lambda ps: fastnn.optim.AdamW(ps, lr=0.1),
    lambda ps: fastnn.optim.RMSprop(ps, lr=0.1, momentum=0.5, centered=True),
    lambda ps: fastnn.optim.Adagrad(ps, lr=0.1, initial_accumulator_value=0.1),
])
def test_fake_optimizer_state_on_parameter_device(fake_cuda, make_opt):
    m = nn.Linear(3, 2).to("cuda")
    opt = make_opt(m.parameters())
    for p in m.parameters():
        p.grad = fastnn.ones_like(p)
    opt.step()
    for p in m.parameters():
        for key, v in opt.state[p].items():
            if key != "step":
                assert v.device == fastnn.device("cuda:0"), key
                assert v.shape == p.shape and v.dtype == p.dtype


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.bool_, np.int32, np.float16, np.float64])
def test_fake_scatter_add_and_index_add_in_every_dtype(fake_cuda, dtype):
    # cupy's add.at takes 32/64-bit integers and floats only: narrower dtypes must still accumulate
    base = (np.arange(12).reshape(3, 4) * 37 % 5).astype(dtype)
    src = (np.arange(12).reshape(3, 4) * 101 % 7 + 120).astype(dtype)
    index = np.array([[0, 1, 2, 0], [2, 0, 1, 1], [0, 0, 0, 2]], dtype=np.int64)
    sel = np.array([2, 0, 2], dtype=np.int64)
    for make in (
        lambda x, s, i, j: x.scatter_add(0, i, s),
        lambda x, s, i, j: x.scatter(0, i, s, reduce="add"),
        lambda x, s, i, j: x.index_add(0, j, s),
    ):
        want = make(fastnn.from_numpy(base), fastnn.from_numpy(src), fastnn.from_numpy(index),
                    fastnn.from_numpy(sel))
        got = make(*(fastnn.from_numpy(a).to("cuda") for a in (base, src, index, sel)))
        assert got.device == fastnn.device("cuda:0") and got.dtype == want.dtype
        np.testing.assert_array_equal(got.cpu().numpy(), want.numpy())


def _out_of_range_indexing(dev):
    """Every integer-index op given an index outside its dimension raises IndexError (cupy itself would wrap
    such indices around); in-range negative indices still count from the end."""
    x = fastnn.arange(12.0).reshape(3, 4).to(dev)

    def i(*v):
        return fastnn.tensor(list(v)).to(dev)
    ones = fastnn.ones(1, 4).to(dev)
    cases = {
        "x[i]": lambda: x[i(0, 3)],
        "x[:, i]": lambda: x[:, i(4)],
        "x[..., i]": lambda: x[..., i(-5)],
        "x[mask, i]": lambda: x[fastnn.tensor([True, False, True]).to(dev), i(0, 4)],
        "x[None, i]": lambda: x[None, i(3)],
        "x[i] = v": lambda: x.__setitem__(i(3), 1.0),
        "x[:, i] = v": lambda: x.__setitem__((slice(None), i(-5)), 1.0),
        "index_select": lambda: x.index_select(0, i(3)),
        "take": lambda: fastnn.take(x, i(12)),
        "gather": lambda: x.gather(0, fastnn.tensor([[3, 0, 0, 0]]).to(dev)),
        "scatter": lambda: x.scatter(0, fastnn.tensor([[3, 0, 0, 0]]).to(dev), 1.0),
        "scatter_add": lambda: x.scatter_add(0, fastnn.tensor([[0, 3, 0, 0]]).to(dev), ones),
        "index_add": lambda: x.index_add(0, i(3), ones),
        "index_fill": lambda: x.index_fill(0, i(3), 0.0),
        "index_copy": lambda: x.index_copy(0, i(3), ones),
    }
    for name, op in cases.items():
        with pytest.raises(IndexError, match="out of (bounds|range)"):
            op()
            pytest.fail(f"{name} on {dev}: no IndexError")
    np.testing.assert_array_equal(x.cpu().numpy(), np.arange(12.0).reshape(3, 4))   # nothing was written
    np.testing.assert_array_equal(x[i(-1, 0)].cpu().numpy(), np.arange(12.0).reshape(3, 4)[[2, 0]])
    with pytest.raises(RuntimeError, match="smaller"):
        x.scatter_add(0, fastnn.zeros(2, 4, dtype=fastnn.int64).to(dev), ones)   # index larger than src


def test_out_of_range_indices_raise_on_cpu():
    _out_of_range_indexing("cpu")


def test_fake_out_of_range_indices_raise_on_device(fake_cuda):
    _out_of_range_indexing("cuda")


def test_fake_stand_in_wraps_indices_like_cupy(fake_cuda):
    """The stand-in's arrays wrap out-of-range integer-array indices as cupy's do, so the test above is
    only passed by fastnn's own bounds checks."""
    a = fake_cuda.asarray(np.arange(3.0))
    np.testing.assert_array_equal(np.asarray(a[fake_cuda.asarray(np.array([3, -4]))]), [0.0, 2.0])


def test_fake_memory_queries(fake_cuda):
    assert fastnn.cuda.memory_allocated() == 0 and fastnn.cuda.memory_reserved("cuda:0") == 0
    free, total = fastnn.cuda.mem_get_info(0)
    assert 0 < free <= total
    fastnn.cuda.empty_cache()
    with pytest.raises(RuntimeError, match="cuda:1 requested"):
        fastnn.cuda.memory_allocated(1)


@pytest.fixture
def host_transfers(fake_cuda, monkeypatch):
    """The list of device-to-host transfers (each a wait for the GPU) made under the stand-in."""
    moved = []

    def counting(name, orig):
        def f(*args, **kwargs):
            moved.append(name)
            return orig(*args, **kwargs)
        return f
    for name in ("__bool__", "__int__", "__float__", "item", "tolist", "get"):
        monkeypatch.setattr(fake_cuda.ndarray, name, counting(name, getattr(fake_cuda.ndarray, name)), raising=False)
    monkeypatch.setattr(fake_cuda, "asnumpy", counting("asnumpy", fake_cuda.asnumpy))
    return moved


def test_fake_argmax_and_bce_wait_at_most_once(host_transfers):
    x = fastnn.tensor([[1.0, float("nan"), 3.0], [4.0, 0.0, 2.0]]).to("cuda")
    host_transfers.clear()
    am, an = x.argmax(1), x.argmin()
    assert host_transfers == []      # NaN handling without asking the device whether a NaN exists
    assert am.tolist() == [1, 0] and an.item() == 1
    p = fastnn.tensor([0.2, 0.9]).to("cuda").requires_grad_()
    host_transfers.clear()
    nn.functional.binary_cross_entropy(p, fastnn.tensor([0.0, 1.0]).to("cuda")).backward()
    assert len(host_transfers) == 1, host_transfers     # the [0, 1] range check


def test_fake_loss_step_moves_one_small_array_to_the_host(host_transfers):
    """A cross-entropy training step on a GPU waits for the device once (the target check), not once per
    check: every device-to-host transfer of the stand-in is counted."""
    moved = host_transfers
    w = fastnn.randn(5, requires_grad=True).to("cuda").detach().requires_grad_()
    x = fastnn.randn(8, 5).to("cuda")
    y = fastnn.tensor([0, 4, 2, 1, 3, 3, 0, 1]).to("cuda")
    opt = fastnn.optim.SGD([w], lr=0.1, momentum=0.9)
    for ignore in (-100, 3):
        for _ in range(2):
            moved.clear()
            opt.zero_grad()
            loss = nn.functional.cross_entropy(x * w, y, ignore_index=ignore, label_smoothing=0.1)
            loss.backward()
            opt.step()
            assert len(moved) == 1, moved
    assert np.isfinite(loss.item())


def test_fake_gradcheck_on_device(fake_cuda):
    x = fastnn.randn(2, 3, dtype=fastnn.float64).to("cuda").requires_grad_()
    assert fastnn.autograd.gradcheck(lambda t: (t.sin() * t).sum(1), [x])


# ------------------------------------------------------------------ on a real GPU

def _train_losses(model_fn, x, y, device, steps=5):
    fastnn.manual_seed(0)
    model = model_fn().to(device)
    opt = fastnn.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = fastnn.tensor(x).to(device), fastnn.tensor(y).to(device)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, [p.detach().cpu().numpy() for p in model.parameters()]


def _mlp():
    return nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5))


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))


@pytest.mark.gpu
@pytest.mark.skipif(not HAVE_GPU, reason="needs a CUDA GPU and cupy")
@pytest.mark.parametrize("model_fn,shape", [(_mlp, (16, 20)), (_cnn, (8, 1, 10, 10))], ids=["linear", "cnn"])
def test_gpu_training_matches_cpu(model_fn, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, 5, shape[0]).astype(np.int64)
    cpu_losses, cpu_params = _train_losses(model_fn, x, y, "cpu")
    gpu_losses, gpu_params = _train_losses(model_fn, x, y, "cuda")
    fastnn.cuda.synchronize()
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-4, atol=1e-5)
    for g, c in zip(gpu_params, cpu_params):
        np.testing.assert_allclose(g, c, rtol=1e-3, atol=1e-4)


@pytest.mark.gpu
@pytest.mark.skipif(not HAVE_GPU, reason="needs a CUDA GPU and cupy")
def test_gpu_memory_queries_follow_allocations():
    c = fastnn.cuda
    c.synchronize()
    before = c.memory_allocated()
    t = fastnn.empty(16 << 20, device="cuda")      # 64 MiB of float32
    assert c.memory_allocated() - before >= 64 << 20
    assert c.memory_reserved() >= c.memory_allocated()
    free, total = c.mem_get_info()
    assert 0 < free < total
    del t
    assert c.memory_allocated() - before < 64 << 20
    reserved = c.memory_reserved()
    c.empty_cache()
    assert c.memory_reserved() <= reserved - (64 << 20)


@pytest.mark.gpu
@pytest.mark.skipif(not HAVE_GPU, reason="needs a CUDA GPU and cupy")
def test_gpu_out_of_range_indices_raise():
    _out_of_range_indexing("cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not HAVE_GPU, reason="needs a CUDA GPU and cupy")
def test_gpu_mixed_devices_raise():
    with pytest.raises(RuntimeError, match="same device"):
        fastnn.ones(3) + fastnn.ones(3, device="cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not HAVE_GPU, reason="needs a CUDA GPU and cupy")
def test_gpu_dlpack_with_cupy_and_torch():
    import cupy as cp
    a = cp.arange(6, dtype=cp.float32).reshape(2, 3)
    t = fastnn.from_dlpack(a)
    assert t.device == fastnn.device("cuda:0")
    a[0, 0] = 9.0
    assert t[0, 0].item() == 9.0
    back = cp.from_dlpack(t)
    assert int(back.data.ptr) == int(a.data.ptr)
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        tt = torch.from_dlpack(t)
        assert tt.is_cuda and tt[0, 0].item() == 9.0
        f = fastnn.from_dlpack(torch.ones(2, 2, device="cuda"))
        assert f.device == fastnn.device("cuda:0") and f.sum().item() == 4.0
