"""SyncBatchNorm on 2+ ranks, each with its slice of a batch, against BatchNorm over the whole batch in one
process (computed on every rank): outputs, input/weight/bias gradients and running statistics, float64."""
import os

import numpy as np

import fastnn
import fastnn.distributed as dist
from fastnn import nn

dist.init_process_group("gloo")
r, n = dist.get_rank(), dist.get_world_size()
B = 3
rng = np.random.default_rng(0)
for shape, layer in (((B * n, 4, 5, 3), nn.BatchNorm2d), ((B * n, 6), nn.BatchNorm1d), ((B * n, 2, 7), nn.BatchNorm1d)):
    c = shape[1]
    full = rng.standard_normal(shape) * 3 + 1.5
    gout = rng.standard_normal(shape)
    w0, b0 = rng.standard_normal(c), rng.standard_normal(c)

    ref = layer(c, momentum=0.3, dtype=fastnn.float64)
    ref.weight._data[...] = w0
    ref.bias._data[...] = b0
    sync = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(layer(c, momentum=0.3, dtype=fastnn.float64)))[0]
    assert isinstance(sync, nn.SyncBatchNorm)
    sync.weight._data[...] = w0
    sync.bias._data[...] = b0

    for step in range(2):
        xf = fastnn.from_numpy(full + step).requires_grad_()
        yf = ref(xf)
        (yf * fastnn.from_numpy(gout)).sum().backward()

        xl = fastnn.from_numpy((full + step)[r * B:(r + 1) * B].copy()).requires_grad_()
        yl = sync(xl)
        (yl * fastnn.from_numpy(gout[r * B:(r + 1) * B])).sum().backward()

        np.testing.assert_allclose(yl.detach().numpy(), yf.detach().numpy()[r * B:(r + 1) * B], rtol=0, atol=1e-10)
        np.testing.assert_allclose(xl.grad.numpy(), xf.grad.numpy()[r * B:(r + 1) * B], rtol=0, atol=1e-10)
        # parameter gradients are per-rank sums; their sum over the ranks is the whole batch's
        for p_sync, p_ref in ((sync.weight, ref.weight), (sync.bias, ref.bias)):
            g = fastnn.from_numpy(p_sync.grad.numpy().copy())
            dist.all_reduce(g)
            np.testing.assert_allclose(g.numpy(), p_ref.grad.numpy(), rtol=0, atol=1e-10)
            p_sync.grad = None
            p_ref.grad = None
        np.testing.assert_allclose(sync.running_mean.numpy(), ref.running_mean.numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(sync.running_var.numpy(), ref.running_var.numpy(), rtol=0, atol=1e-10)
        assert int(sync.num_batches_tracked.numpy()) == step + 1

    # eval mode: the running statistics, no communication
    sync.eval()
    ref.eval()
    xl = fastnn.from_numpy(full[r * B:(r + 1) * B].copy())
    want = ref(fastnn.from_numpy(full)).detach().numpy()[r * B:(r + 1) * B]
    np.testing.assert_allclose(sync(xl).detach().numpy(), want, atol=1e-12)

# uneven batches across ranks (rank r holds r + 1 samples) still equal the whole batch
sizes = [k + 1 for k in range(n)]
full = rng.standard_normal((sum(sizes), 3, 2))
lo = sum(sizes[:r])
ref = nn.BatchNorm1d(3, dtype=fastnn.float64)
sync = nn.SyncBatchNorm(3, dtype=fastnn.float64)
xf = fastnn.from_numpy(full).requires_grad_()
(ref(xf) ** 2).sum().backward()
xl = fastnn.from_numpy(full[lo:lo + sizes[r]].copy()).requires_grad_()
(sync(xl) ** 2).sum().backward()
np.testing.assert_allclose(xl.grad.numpy(), xf.grad.numpy()[lo:lo + sizes[r]], atol=1e-10)
np.testing.assert_allclose(sync.running_var.numpy(), ref.running_var.numpy(), atol=1e-12)

# float32 follows float64 closely
sync32 = nn.SyncBatchNorm(3)
x32 = fastnn.from_numpy(full[lo:lo + sizes[r]].astype(np.float32))
ref32 = nn.BatchNorm1d(3)(fastnn.from_numpy(full.astype(np.float32))).detach()
np.testing.assert_allclose(sync32(x32).detach().numpy(), ref32.detach().numpy()[lo:lo + sizes[r]], atol=2e-5)
# first-order only: asking for gradients of gradients says so (on every rank, before any collective)
xg = fastnn.from_numpy(full[lo:lo + sizes[r]].copy()).requires_grad_()
try:
    fastnn.autograd.grad((sync(xg) ** 2).sum(), xg, create_graph=True)
except RuntimeError as exc:
    assert "create_graph=True" in str(exc), exc
else:
    raise AssertionError("double backward through SyncBatchNorm did not raise")
dist.destroy_process_group()
if os.environ.get("REPORT_DIR"):  # tests/test_distributed.py reads one file per rank
    with open(os.path.join(os.environ["REPORT_DIR"], str(r)), "w") as f:
        f.write("SYNCBN OK")
print(r, "SYNCBN OK", flush=True)
