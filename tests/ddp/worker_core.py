"""Run under ``mpiexec -n 2``: DistributedDataParallel against one process over the same samples.

Each check prints ``ok <name>`` on rank 0; any failure raises (mpiexec then exits non-zero).
"""
import numpy as np

import fastnn
import fastnn.distributed as dist
from fastnn import nn
from fastnn.data import DataLoader, DistributedSampler, TensorDataset
from fastnn.distributed.algorithms.ddp_comm_hooks import default_hooks
from fastnn.nn.parallel import DistributedDataParallel as DDP

fastnn.set_num_threads(1)
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
assert world == 2, world


def gather(arr):
    out = [None, None]
    dist.all_gather_object(out, np.asarray(arr))
    return out


def report(name):
    if rank == 0:
        print("ok", name, flush=True)


def mlp(seed, dtype):
    fastnn.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 40), nn.Tanh(), nn.Linear(40, 40), nn.Tanh(), nn.Linear(40, 3)).to(dtype)


def data(dtype, n=96):
    g = np.random.default_rng(7)
    X = g.standard_normal((n, 6)).astype(dtype)
    y = g.integers(0, 3, n).astype(np.int64)
    return TensorDataset(fastnn.from_numpy(X), fastnn.from_numpy(y))


def train(model, loader, sampler, epochs, ddp_model=None):
    net = ddp_model if ddp_model is not None else model
    opt = fastnn.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for x, y in loader:
            opt.zero_grad()
            loss_fn(net(x), y).backward()
            opt.step()
    return [p.detach().numpy().copy() for p in model.parameters()]


def check_equivalence(dtype, tol, comm_hook=None, **ddp_kw):
    """2 ranks with batch B == 1 process with batch 2B over the same samples, Adam, 4 epochs."""
    np_dtype = np.float64 if dtype == fastnn.float64 else np.float32
    ds = data(np_dtype)
    model = mlp(100 + rank, dtype)           # different start on each rank: DDP broadcasts rank 0's
    ddp = DDP(model, bucket_cap_mb=0.0005, **ddp_kw)
    if comm_hook is not None:
        ddp.register_comm_hook(None, comm_hook)
    assert len(ddp._buckets) >= 3, len(ddp._buckets)
    sampler = DistributedSampler(ds, shuffle=True, seed=5)
    got = train(model, DataLoader(ds, batch_size=8, sampler=sampler), sampler, 4, ddp)
    ref_model = mlp(100, dtype)
    ref_sampler = DistributedSampler(ds, num_replicas=1, rank=0, shuffle=True, seed=5)
    want = train(ref_model, DataLoader(ds, batch_size=16, sampler=ref_sampler), ref_sampler, 4)
    for a, b in zip(got, want):
        err = np.max(np.abs(a - b))
        assert err <= tol, (dtype, ddp_kw, err)
    other = gather(np.concatenate([a.ravel() for a in got]))
    assert np.array_equal(other[0], other[1]), "ranks differ"
    st = ddp.comm_stats
    assert st["iterations"] == 4 * 6 and len(st["buckets"]) == len(ddp._buckets)
    # the first bucket (last layer) was launched before backward reached its end
    assert st["buckets"][0][2] < st["last_backward_s"], st
    report(f"equivalence {dtype} {ddp_kw}" + (f" {comm_hook.__name__}" if comm_hook else ""))


check_equivalence(fastnn.float64, 1e-10)
check_equivalence(fastnn.float64, 1e-10, gradient_as_bucket_view=True)
check_equivalence(fastnn.float32, 2e-5)
check_equivalence(fastnn.float64, 1e-10, comm_hook=default_hooks.allreduce_hook)


# ---- fp16 compression hook: gradients averaged within float16's precision
def grads_with(hook):
    fastnn.manual_seed(21)
    m = nn.Sequential(nn.Linear(6, 40), nn.Tanh(), nn.Linear(40, 3))
    d = DDP(m)
    if hook is not None:
        d.register_comm_hook(None, hook)
    ds = data(np.float32, 32)
    xs, ys = ds.tensors
    nn.CrossEntropyLoss()(d(xs[rank * 16:(rank + 1) * 16]), ys[rank * 16:(rank + 1) * 16]).backward()
    return [p.grad.numpy().copy() for p in m.parameters()]


for a, b in zip(grads_with(default_hooks.fp16_compress_hook), grads_with(None)):
    np.testing.assert_allclose(a, b, rtol=2e-3, atol=1e-4)
    assert a.dtype == np.float32
report("fp16_compress_hook")


# ---- state_dict names and construction checks
m = mlp(0, fastnn.float32)
d = DDP(m)
assert list(d.state_dict()) == ["module." + k for k in m.state_dict()], list(d.state_dict())
assert d.module is m
try:
    DDP(m, device_ids=[0])
    raise AssertionError("device_ids on a CPU module accepted")
except ValueError as e:
    assert "device_ids" in str(e)
report("state_dict and arguments")


# ---- no_sync: two local backward passes, then a synced one reduces the sum
ds = data(np.float64, 32)
X, Y = ds.tensors
model = mlp(3 + rank, fastnn.float64)
ddp = DDP(model)
loss_fn = nn.CrossEntropyLoss(reduction="sum")
parts = [slice(0, 4), slice(4, 8), slice(8, 12)]
shard = slice(rank * 16, rank * 16 + 16)
xs, ys = X[shard], Y[shard]
with ddp.no_sync():
    for s in parts[:2]:
        loss_fn(ddp(xs[s]), ys[s]).backward()
local = [p.grad.numpy().copy() for p in model.parameters()]
loss_fn(ddp(xs[parts[2]]), ys[parts[2]]).backward()
ref = mlp(3, fastnn.float64)
for r in range(2):
    for s in parts:
        sl = slice(r * 16, r * 16 + 16)
        loss_fn(ref(X[sl][s]), Y[sl][s]).backward()
for p, q in zip(model.parameters(), ref.parameters()):
    np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy() / 2, rtol=1e-12, atol=1e-12)
# inside no_sync nothing was reduced: the two ranks' local sums differ
assert not np.array_equal(*gather(local[0]))
report("no_sync")


# ---- buffers: BatchNorm running statistics come from rank 0 at each forward
fastnn.manual_seed(11)
bn_model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
ddp = DDP(bn_model)
xb = X[shard].to(fastnn.float32)
ddp(xb).sum().backward()
rm = bn_model[1].running_mean.numpy().copy()
a, b = gather(rm)
assert not np.array_equal(a, b), "each rank updates its own statistics in forward"
ddp.eval()
ddp(xb)
a2, b2 = gather(bn_model[1].running_mean.numpy())
assert np.array_equal(a2, b2) and np.array_equal(a2, a)
nb = bn_model[1].num_batches_tracked.numpy()
assert int(nb) == 1
no_bcast = DDP(nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8)), broadcast_buffers=False)
no_bcast(xb * (rank + 1))
no_bcast.eval()
no_bcast(xb)
a3, b3 = gather(no_bcast.module[1].running_mean.numpy())
assert not np.array_equal(a3, b3)
report("buffers")


# ---- unused parameters
class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(6, 4)
        self.b = nn.Linear(6, 4)        # used on rank 0 only
        self.never = nn.Linear(6, 4)    # used by no rank

    def forward(self, x, use_b):
        out = self.a(x)
        return out + self.b(x) if use_b else out


fastnn.manual_seed(1)
net = Branchy()
ddp = DDP(net, find_unused_parameters=True)
for _ in range(2):
    net.zero_grad()
    ddp(xb, rank == 0).sum().backward()
    assert net.never.weight.grad is None
    g = net.b.weight.grad.numpy()
    ref_b = Branchy()
    ref_b.load_state_dict(net.state_dict())
    ga, _ = gather(g)
    # rank 1 contributed zeros: the average is half of rank 0's gradient
    local0 = gather(xb.numpy())[0]
    rb = ref_b.b(fastnn.from_numpy(local0)).sum()
    rb.backward()
    np.testing.assert_allclose(g, ref_b.b.weight.grad.numpy() / 2, rtol=1e-5, atol=1e-6)
report("find_unused_parameters")

fastnn.manual_seed(1)
net = Branchy()
ddp = DDP(net)
ddp(xb, True).sum().backward()
try:
    ddp(xb, True)
    raise AssertionError("no error for a parameter without gradient")
except RuntimeError as e:
    assert "find_unused_parameters=True" in str(e) and "never.weight" in str(e), str(e)
report("unused parameter error")

# ---- sparse embedding gradients are reduced dense; parameters of two dtypes go to separate buckets
fastnn.manual_seed(4)
emb = nn.Embedding(10, 3, sparse=True)
lin = nn.Linear(3, 1).double()
net = nn.ModuleDict({"emb": emb, "lin": lin})
ddp = DDP(net)
assert len(ddp._buckets) == 2
idx = fastnn.tensor([[1, 2, 2], [5, 1, 0]][rank])
out = lin(emb(idx).double()).sum()
out.backward()
g = emb.weight.grad
assert not g.is_sparse
full = np.zeros((10, 3), np.float32)
for r_idx in ([1, 2, 2], [5, 1, 0]):
    for i in r_idx:
        full[i] += lin.weight.detach().numpy()[0].astype(np.float32)
np.testing.assert_allclose(g.numpy(), full / 2, rtol=1e-6)
report("sparse gradients and mixed dtypes")

dist.destroy_process_group()
