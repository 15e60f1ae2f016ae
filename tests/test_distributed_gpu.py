"""fastnn.distributed on a real GPU through NCCL, world size 1 in this process: the collectives reduce the
device buffers in place (no copy to the host) and give numpy's results. Marked ``gpu``: skipped without a GPU
and cupy; bench/gpu_check.sh runs them (family ``distributed``)."""
import numpy as np
import pytest

import fastnn
from fastnn import backend

from gpu_family import pytestmark  # noqa: F401

dist = pytest.importorskip("fastnn.distributed")
pytest.importorskip("mpi4py")


@pytest.fixture
def nccl_group():
    if backend.nccl_unavailable_reason() is not None:
        pytest.skip(f"NCCL: {backend.nccl_unavailable_reason()}")
    dist.init_process_group("nccl")
    yield
    dist.destroy_process_group()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.float16])
def test_nccl_all_reduce_on_device(nccl_group, dtype):
    a = np.random.default_rng(0).integers(-5, 6, (257, 33)).astype(dtype)
    for op in (dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.MAX, dist.ReduceOp.MIN, dist.ReduceOp.PRODUCT):
        if op == dist.ReduceOp.AVG and dtype == np.int64:
            continue
        t = fastnn.from_numpy(a.copy()).to("cuda")
        ptr = backend.data_ptr(t._data)
        w = dist.all_reduce(t, op=op, async_op=True)
        w.wait()
        assert backend.data_ptr(t._data) == ptr  # in place, on the device
        np.testing.assert_array_equal(t.cpu().numpy(), a)


def test_nccl_broadcast_gather_scatter_on_device(nccl_group):
    x = fastnn.arange(10, dtype=fastnn.float32).to("cuda")
    dist.broadcast(x, src=0)
    out = [fastnn.zeros(10).to("cuda")]
    dist.all_gather(out, x)
    np.testing.assert_array_equal(out[0].cpu().numpy(), np.arange(10))
    cat = fastnn.zeros(10).to("cuda")
    dist.all_gather_into_tensor(cat, x)
    np.testing.assert_array_equal(cat.cpu().numpy(), np.arange(10))
    red = fastnn.zeros(10).to("cuda")
    dist.reduce_scatter_tensor(red, x)
    np.testing.assert_array_equal(red.cpu().numpy(), np.arange(10))
    big = fastnn.ones(1 << 20).to("cuda")
    dist.all_reduce(big)
    fastnn.cuda.synchronize()
    assert float(big.sum().item()) == float(1 << 20)
