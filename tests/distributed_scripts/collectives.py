"""Every collective of fastnn.distributed on 2+ ranks, checked against numpy on each rank.

Run by tests/test_distributed.py through the launcher; prints one line per group of checks and 'ALL OK'."""
import os
import sys
from datetime import timedelta

import numpy as np

import fastnn
import fastnn.distributed as dist
from fastnn.distributed import _comm

dist.init_process_group("gloo", timeout=timedelta(seconds=60))
r, n = dist.get_rank(), dist.get_world_size()
assert dist.is_initialized() and dist.get_backend() == "gloo"
assert os.environ["RANK"] == str(r) and os.environ["WORLD_SIZE"] == str(n)
assert os.environ["LOCAL_RANK"] == str(r) and os.environ["LOCAL_WORLD_SIZE"] == str(n)
assert dist.get_node_local_rank() == r
assert os.environ["MASTER_ADDR"] and os.environ["MASTER_PORT"]
assert os.environ["OMP_NUM_THREADS"] == os.environ.get("EXPECT_OMP", os.environ["OMP_NUM_THREADS"])
assert sys.argv[1:] == ["--flag", "value"], sys.argv


def data(rank, shape, dtype, seed=0):
    g = np.random.default_rng(seed * 100 + rank)
    if np.dtype(dtype).kind == "f":
        return g.standard_normal(shape).astype(dtype)
    return g.integers(-5, 6, shape).astype(dtype)


ALL = lambda shape, dtype, seed=0: [data(k, shape, dtype, seed) for k in range(n)]  # noqa: E731
REF = {"SUM": lambda a: np.sum(a, axis=0), "MAX": lambda a: np.max(a, axis=0), "MIN": lambda a: np.min(a, axis=0),
       "PRODUCT": lambda a: np.prod(a, axis=0), "AVG": lambda a: np.sum(a, axis=0) / n}

# all_reduce: every op and dtype, contiguous and strided views, in place
for dtype in (np.float32, np.float64, np.int64):
    for op in ("SUM", "AVG", "MAX", "MIN", "PRODUCT"):
        if op == "AVG" and dtype == np.int64:
            continue
        for shape in ((7,), (3, 5), (1,), (0,)):
            x = fastnn.from_numpy(data(r, shape, dtype).copy())
            before_id = id(x._data)
            dist.all_reduce(x, op=getattr(dist.ReduceOp, op))
            want = REF[op](np.stack(ALL(shape, dtype))).astype(dtype)
            assert id(x._data) == before_id, "all_reduce must work in place"
            assert x.dtype == dtype
            if dtype == np.float32:
                np.testing.assert_allclose(x.numpy(), want, rtol=1e-6, atol=1e-6)
            else:
                np.testing.assert_array_equal(x.numpy(), want)
        # non-contiguous: a transposed view of a bigger tensor is reduced in place, the rest untouched
        base = fastnn.from_numpy(data(r, (4, 6), dtype).copy())
        view = base[:, ::2]
        dist.all_reduce(view, op=dist.ReduceOp.SUM)
        want = np.stack(ALL((4, 6), dtype)).sum(0)
        np.testing.assert_allclose(base.numpy()[:, ::2], want[:, ::2], rtol=1e-6)
        np.testing.assert_array_equal(base.numpy()[:, 1::2], data(r, (4, 6), dtype)[:, 1::2])
print(r, "all_reduce ok", flush=True)

# float64 AVG is the sum rounded once, then divided: equal to the single-process mean to the last bit
x = fastnn.from_numpy(data(r, (1000,), np.float64, 3))
dist.all_reduce(x, op=dist.ReduceOp.AVG)
assert np.array_equal(x.numpy(), np.sum(np.stack(ALL((1000,), np.float64, 3)), axis=0) / n)

# async: Work.wait / is_completed / result / get_future
x = fastnn.from_numpy(data(r, (50000,), np.float32, 4))
work = dist.all_reduce(x, async_op=True)
assert work is not None
assert work.wait() is True and work.is_completed() and work.is_success()
assert work.result()[0] is x
np.testing.assert_allclose(x.numpy(), np.sum(np.stack(ALL((50000,), np.float32, 4)), 0), rtol=1e-5, atol=1e-5)
works = [dist.all_reduce(fastnn.full((1000,), float(r + k)), async_op=True) for k in range(5)]
for k, w in enumerate(works):
    w.wait(timeout=timedelta(seconds=30))
    np.testing.assert_array_equal(w.result()[0].numpy(), np.full(1000, sum(q + k for q in range(n)), np.float32))
# many in flight at once, like gradient buckets, waited in reverse order, with a blocking call in between;
# with the progress thread (MPI_THREAD_MULTIPLE, the default) and without it (progress in wait/is_completed)
assert _comm._progress.enabled == (n > 1)
for thread in (True, False):
    _comm._progress.enabled = thread
    sizes = [1, 17, 4096, 100000, 3, 250000, 64] * 3
    flight = [(k, s, dist.all_reduce(fastnn.full((s,), float(r * 10 + k)), op=dist.ReduceOp.AVG, async_op=True))
              for k, s in enumerate(sizes)]
    mid = fastnn.ones(5)
    dist.all_reduce(mid)
    assert float(mid.numpy()[0]) == n
    while not all(w.is_completed() for _, _, w in flight):
        pass
    for k, s, w in reversed(flight):
        w.wait()
        want = np.full(s, sum(q * 10 + k for q in range(n)) / n)
        np.testing.assert_allclose(w.result()[0].numpy(), want, rtol=1e-6)
_comm._progress.enabled = True
fut = dist.all_reduce(fastnn.ones(3), async_op=True).get_future()
np.testing.assert_array_equal(fut.wait()[0].numpy(), np.full(3, n, np.float32))
print(r, "async ok", flush=True)

# broadcast from each rank, float and int
for src in range(n):
    for dtype in (np.float32, np.int64):
        x = fastnn.from_numpy(data(r, (3, 4), dtype, 5).copy())
        assert dist.broadcast(x, src=src) is None
        np.testing.assert_array_equal(x.numpy(), data(src, (3, 4), dtype, 5))
w = dist.broadcast(fastnn.full((2,), float(r)), src=n - 1, async_op=True)
w.wait()
np.testing.assert_array_equal(w.result()[0].numpy(), [n - 1, n - 1])

# all_gather / all_gather_into_tensor (both layouts)
for dtype in (np.float64, np.int64):
    mine = fastnn.from_numpy(data(r, (2, 3), dtype, 6))
    out = [fastnn.zeros((2, 3), dtype=dtype) for _ in range(n)]
    dist.all_gather(out, mine)
    for k in range(n):
        np.testing.assert_array_equal(out[k].numpy(), data(k, (2, 3), dtype, 6))
    cat = fastnn.zeros((2 * n, 3), dtype=dtype)
    dist.all_gather_into_tensor(cat, mine)
    np.testing.assert_array_equal(cat.numpy(), np.concatenate(ALL((2, 3), dtype, 6)))
    stk = fastnn.zeros((n, 2, 3), dtype=dtype)
    dist.all_gather_into_tensor(stk, mine)
    np.testing.assert_array_equal(stk.numpy(), np.stack(ALL((2, 3), dtype, 6)))

# reduce_scatter / reduce_scatter_tensor
for op in ("SUM", "MAX", "AVG"):
    ins = [fastnn.from_numpy(data(r, (4,), np.float64, 10 + k)) for k in range(n)]
    out = fastnn.zeros(4, dtype=fastnn.float64)
    dist.reduce_scatter(out, ins, op=getattr(dist.ReduceOp, op))
    want = REF[op](np.stack([data(q, (4,), np.float64, 10 + r) for q in range(n)]))
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-15)
big = fastnn.from_numpy(data(r, (2 * n, 3), np.float32, 11))
out = fastnn.zeros((2, 3))
dist.reduce_scatter_tensor(out, big)
np.testing.assert_allclose(out.numpy(), np.sum(np.stack(ALL((2 * n, 3), np.float32, 11)), 0)[2 * r:2 * r + 2],
                           rtol=1e-6)

# reduce / gather / scatter to and from the last rank
dst = n - 1
x = fastnn.from_numpy(data(r, (5,), np.int64, 12).copy())
dist.reduce(x, dst=dst, op=dist.ReduceOp.SUM)
if r == dst:
    np.testing.assert_array_equal(x.numpy(), np.sum(np.stack(ALL((5,), np.int64, 12)), 0))
gl = [fastnn.zeros(3) for _ in range(n)] if r == dst else None
dist.gather(fastnn.full((3,), float(r)), gather_list=gl, dst=dst)
if r == dst:
    assert [float(t.numpy()[0]) for t in gl] == list(range(n))
sl = [fastnn.full((2,), 10.0 + k) for k in range(n)] if r == 0 else None
got = fastnn.zeros(2)
dist.scatter(got, scatter_list=sl, src=0)
np.testing.assert_array_equal(got.numpy(), [10.0 + r] * 2)
print(r, "broadcast/gather/scatter ok", flush=True)

# objects
objs = [None] * n
dist.all_gather_object(objs, {"rank": r, "text": "x" * (r * 1000)})
assert objs == [{"rank": k, "text": "x" * (k * 1000)} for k in range(n)]
lst = [{"cfg": [1, 2, 3]}, "hello", 3.5] if r == 0 else [None, None, None]
dist.broadcast_object_list(lst, src=0)
assert lst == [{"cfg": [1, 2, 3]}, "hello", 3.5]
dist.barrier()
print(r, "objects ok", flush=True)

# point to point
if n >= 2:
    if r == 0:
        dist.send(fastnn.arange(4, dtype=fastnn.float64), dst=1)
    elif r == 1:
        buf = fastnn.zeros(4, dtype=fastnn.float64)
        assert dist.recv(buf, src=0) == 0
        np.testing.assert_array_equal(buf.numpy(), np.arange(4.0))

# a subgroup of rank 0 and the last rank; the others are not members
sub = dist.new_group([0, n - 1])
if r in (0, n - 1):
    assert dist.get_world_size(sub) == 2 and dist.get_rank(sub) == (0 if r == 0 else 1)
    x = fastnn.full((2,), float(r + 1))
    dist.all_reduce(x, group=sub)
    np.testing.assert_array_equal(x.numpy(), [1 + n, 1 + n])
    assert dist.get_process_group_ranks(sub) == [0, n - 1]
    assert dist.get_global_rank(sub, 1) == n - 1
else:
    assert dist.get_rank(sub) == -1

# cross-rank mismatches are reported on every rank, and the group stays usable
x = fastnn.zeros(3 + r)
try:
    dist.all_reduce(x)
except RuntimeError as exc:
    assert "different shapes" in str(exc) and "rank 0: shape (3,)" in str(exc), exc
else:
    raise AssertionError("mismatched all_reduce did not raise")
x = fastnn.zeros(2, dtype=fastnn.float64 if r == 0 else fastnn.float32)
try:
    dist.broadcast(x, src=0)
except RuntimeError as exc:
    assert "dtype" in str(exc)
else:
    raise AssertionError("mismatched broadcast did not raise")
x = fastnn.ones(2)
dist.all_reduce(x)
assert float(x.numpy()[0]) == n

# argument errors raised locally
for call, exc_type in ((lambda: dist.all_reduce(np.ones(3)), TypeError),
                       (lambda: dist.all_reduce(fastnn.ones(2), op="mean"), (TypeError, ValueError)),
                       (lambda: dist.broadcast(fastnn.ones(2), src=n), ValueError),
                       (lambda: dist.all_gather([fastnn.ones(2)] * (n + 1), fastnn.ones(2)), ValueError),
                       (lambda: dist.all_gather_into_tensor(fastnn.ones(2 * n + 1), fastnn.ones(2)), ValueError)):
    try:
        call()
    except exc_type:
        pass
    else:
        raise AssertionError("expected an error")
try:
    dist.init_process_group("gloo")
except ValueError as exc:
    assert "twice" in str(exc)
dist.destroy_process_group()
assert not dist.is_initialized()
if os.environ.get("REPORT_DIR"):  # tests/test_distributed.py reads one file per rank
    with open(os.path.join(os.environ["REPORT_DIR"], str(r)), "w") as f:
        f.write("ALL OK")
print(r, "ALL OK", flush=True)
