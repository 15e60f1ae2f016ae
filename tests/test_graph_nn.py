"""fastnn.graph.nn against PyTorch Geometric: every layer with the same weights (a PyG state dict loaded)
gives the same values and gradients (inputs and parameters) on random graphs with isolated nodes,
self-loops, duplicate edges and no edges at all; gradchecks in float64; user MessagePassing subclasses;
bad input."""
import numpy as np
import pytest

import fastnn
from fastnn.graph import nn as gnn
from fastnn.graph.utils import scatter, softmax

pyg = pytest.importorskip("torch_geometric")
torch = pytest.importorskip("torch")
pyg_nn = pytest.importorskip("torch_geometric.nn")

RTOL, ATOL = 1e-4, 1e-5


def graph(rng, n, e, isolated=0, loops=True, dups=True):
    """(2, E) int64 edges over nodes [0, n - isolated) (the last `isolated` nodes have none)."""
    m = max(n - isolated, 1)
    ei = rng.integers(0, m, (2, e))
    if e >= 4 and loops:
        ei[:, 0], ei[:, 1] = 0, m - 1
    if e >= 6 and dups:
        ei[:, 4] = ei[:, 5]
    return ei


GRAPHS = [(12, 40, 2), (9, 0, 0), (1, 3, 0), (30, 7, 20)]


def both(a, requires_grad=False, dtype=np.float32):
    a = np.asarray(a)
    f = fastnn.tensor(a.astype(dtype) if a.dtype.kind == "f" else a,
                      dtype=None if a.dtype.kind == "f" else fastnn.long, requires_grad=requires_grad)
    t = torch.tensor(a.astype(dtype) if a.dtype.kind == "f" else a, requires_grad=requires_grad)
    return f, t


def load_from(fmodel, tmodel):
    sd = {k: fastnn.tensor(v.detach().numpy().copy()) for k, v in tmodel.state_dict().items()}
    fmodel.load_state_dict(sd)


def close(f, t, what):
    if f is None and t.numel() == 0:     # the gradient of an empty input
        return
    np.testing.assert_allclose(f.detach().numpy() if hasattr(f, "detach") else f, t.detach().numpy(),
                               rtol=RTOL, atol=ATOL, err_msg=what)


def check_layer(fmodel, tmodel, f_inputs, t_inputs, grads_of):
    """Forward, then backward of a random projection; compares outputs and the gradients of the inputs
    named by `grads_of` (positions) and of every parameter."""
    load_from(fmodel, tmodel)
    fo = fmodel(*f_inputs)
    to = tmodel(*t_inputs)
    close(fo, to, "output")
    g = np.random.default_rng(5).standard_normal(tuple(to.shape)).astype(np.float32)
    (fo * fastnn.tensor(g)).sum().backward()
    (to * torch.tensor(g)).sum().backward()
    for k in grads_of:
        close(f_inputs[k].grad, t_inputs[k].grad, f"grad of input {k}")
    fp = dict(fmodel.named_parameters())
    for name, p in tmodel.named_parameters():
        if p.grad is None:
            assert fp[name].grad is None or not np.any(fp[name].grad.numpy()), name
        else:
            close(fp[name].grad, p.grad, f"grad of {name}")


@pytest.mark.parametrize("n,e,iso", GRAPHS)
@pytest.mark.parametrize("improved,weighted", [(False, False), (True, True)])
def test_gcn_conv_equals_pyg(rng, n, e, iso, improved, weighted):
    ei = graph(rng, n, e, iso)
    fx, tx = both(rng.standard_normal((n, 5)), True)
    fe, te = both(ei)
    fw, tw = both(rng.random(e) + 0.1, True)
    torch.manual_seed(0)
    tm = pyg_nn.GCNConv(5, 3, improved=improved)
    fm = gnn.GCNConv(5, 3, improved=improved)
    fin, tin = ([fx, fe, fw], [tx, te, tw]) if weighted else ([fx, fe], [tx, te])
    loops = ei[0][ei[0] == ei[1]]
    # two weighted self-loops at one node: the kept one's weight is used, and PyTorch's index_put backward
    # also hands the overwritten one a gradient; the overwritten weight's true gradient is 0
    unique_loops = len(np.unique(loops)) == len(loops)
    check_layer(fm, tm, fin, tin, [0, 2] if weighted and unique_loops else [0])


def test_gcn_conv_without_normalisation_and_cached(rng):
    ei = graph(rng, 10, 30)
    fx, tx = both(rng.standard_normal((10, 4)), True)
    fe, te = both(ei)
    tm, fm = pyg_nn.GCNConv(4, 2, normalize=False), gnn.GCNConv(4, 2, normalize=False)
    check_layer(fm, tm, [fx, fe], [tx, te], [0])
    tm, fm = pyg_nn.GCNConv(4, 2, cached=True), gnn.GCNConv(4, 2, cached=True)
    load_from(fm, tm)
    for _ in range(2):
        close(fm(fx, fe), tm(tx, te), "cached")


@pytest.mark.parametrize("n,e,iso", GRAPHS)
@pytest.mark.parametrize("aggr", ["mean", "max", "add", "min"])
def test_sage_conv_equals_pyg(rng, n, e, iso, aggr):
    ei = graph(rng, n, e, iso)
    fx, tx = both(rng.standard_normal((n, 6)), True)
    fe, te = both(ei)
    tm = pyg_nn.SAGEConv(6, 4, aggr=aggr, normalize=aggr == "add", project=aggr == "max")
    fm = gnn.SAGEConv(6, 4, aggr=aggr, normalize=aggr == "add", project=aggr == "max")
    check_layer(fm, tm, [fx, fe], [tx, te], [0])


def test_sage_conv_bipartite(rng):
    ei = np.stack([rng.integers(0, 7, 25), rng.integers(0, 4, 25)])
    fxs, txs = both(rng.standard_normal((7, 5)), True)
    fxd, txd = both(rng.standard_normal((4, 3)), True)
    fe, te = both(ei)
    tm, fm = pyg_nn.SAGEConv((5, 3), 2), gnn.SAGEConv((5, 3), 2)
    load_from(fm, tm)
    fo, to = fm((fxs, fxd), fe), tm((txs, txd), te)
    close(fo, to, "bipartite output")
    fo.sum().backward()
    to.sum().backward()
    close(fxs.grad, txs.grad, "grad x_src")
    close(fxd.grad, txd.grad, "grad x_dst")


@pytest.mark.parametrize("n,e,iso", GRAPHS)
@pytest.mark.parametrize("train_eps", [False, True])
def test_gin_conv_equals_pyg(rng, n, e, iso, train_eps):
    ei = graph(rng, n, e, iso)
    fx, tx = both(rng.standard_normal((n, 4)), True)
    fe, te = both(ei)
    tm = pyg_nn.GINConv(torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)),
                        eps=0.3, train_eps=train_eps)
    fm = gnn.GINConv(fastnn.nn.Sequential(fastnn.nn.Linear(4, 8), fastnn.nn.ReLU(), fastnn.nn.Linear(8, 3)),
                     eps=0.3, train_eps=train_eps)
    assert list(fm.state_dict()) == list(tm.state_dict())
    check_layer(fm, tm, [fx, fe], [tx, te], [0])


@pytest.mark.parametrize("n,e,iso", GRAPHS)
@pytest.mark.parametrize("edge_dim", [None, 3])
def test_gine_conv_equals_pyg(rng, n, e, iso, edge_dim):
    ei = graph(rng, n, e, iso)
    fx, tx = both(rng.standard_normal((n, 4)), True)
    fe, te = both(ei)
    fa, ta = both(rng.standard_normal((e, edge_dim or 4)), True)
    tm = pyg_nn.GINEConv(torch.nn.Sequential(torch.nn.Linear(4, 3)), edge_dim=edge_dim)
    fm = gnn.GINEConv(fastnn.nn.Sequential(fastnn.nn.Linear(4, 3)), edge_dim=edge_dim)
    check_layer(fm, tm, [fx, fe, fa], [tx, te, ta], [0, 2])


@pytest.mark.parametrize("n,e,iso", GRAPHS)
@pytest.mark.parametrize("heads,concat,edge_dim,residual", [(1, True, None, False), (3, True, 2, True),
                                                            (2, False, None, False)])
def test_gat_conv_equals_pyg(rng, n, e, iso, heads, concat, edge_dim, residual):
    ei = graph(rng, n, e, iso)
    fx, tx = both(rng.standard_normal((n, 5)), True)
    fe, te = both(ei)
    kw = dict(heads=heads, concat=concat, edge_dim=edge_dim, residual=residual)
    tm, fm = pyg_nn.GATConv(5, 4, **kw), gnn.GATConv(5, 4, **kw)
    assert sorted(fm.state_dict()) == sorted(tm.state_dict())
    if edge_dim:
        fa, ta = both(rng.standard_normal((e, edge_dim)), True)
        check_layer(fm, tm, [fx, fe, fa], [tx, te, ta], [0, 2])
    else:
        check_layer(fm, tm, [fx, fe], [tx, te], [0])


def test_gat_conv_attention_weights_and_bipartite(rng):
    ei = graph(rng, 8, 20)
    fx, tx = both(rng.standard_normal((8, 3)))
    fe, te = both(ei)
    tm, fm = pyg_nn.GATConv(3, 2, heads=2), gnn.GATConv(3, 2, heads=2)
    load_from(fm, tm)
    fo, (fei, fa) = fm(fx, fe, return_attention_weights=True)
    to, (tei, ta) = tm(tx, te, return_attention_weights=True)
    close(fo, to, "out")
    np.testing.assert_array_equal(fei.numpy(), tei.numpy())
    close(fa, ta, "attention")
    bi = np.stack([rng.integers(0, 6, 15), rng.integers(0, 4, 15)])
    fxs, txs = both(rng.standard_normal((6, 3)))
    fxd, txd = both(rng.standard_normal((4, 2)))
    fb, tb = both(bi)
    tm = pyg_nn.GATConv((3, 2), 2, heads=2, add_self_loops=False)
    fm = gnn.GATConv((3, 2), 2, heads=2, add_self_loops=False)
    load_from(fm, tm)
    close(fm((fxs, fxd), fb), tm((txs, txd), tb), "bipartite")


@pytest.mark.parametrize("pool", ["global_add_pool", "global_mean_pool", "global_max_pool"])
@pytest.mark.parametrize("order", ["sorted", "unsorted", "none"])
def test_global_pools_equal_pyg(rng, pool, order):
    batch = np.sort(rng.integers(0, 5, 23))
    batch[batch == 2] = 3        # an empty graph in the middle
    if order == "unsorted":
        rng.shuffle(batch)
    fx, tx = both(rng.standard_normal((23, 4)), True)
    fb, tb = both(batch)
    args_f, args_t = ((fx, None), (tx, None)) if order == "none" else ((fx, fb, 6), (tx, tb, 6))
    fo, to = getattr(gnn, pool)(*args_f), getattr(pyg_nn, pool)(*args_t)
    close(fo, to, pool)
    fo.sum().backward()
    to.sum().backward()
    close(fx.grad, tx.grad, pool + " grad")


@pytest.mark.parametrize("reduce", ["sum", "add", "mean", "max", "min", "mul", "amax"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_utils_scatter_equals_pyg(rng, reduce, dim):
    shape = [6, 5, 3]
    n = shape[dim]
    idx = rng.integers(0, 4, n)
    src = rng.standard_normal(shape)
    if reduce == "mul":
        src.flat[3] = 0.0
    fs, ts = both(src, True, np.float64)
    fi, ti = both(idx)
    fo = scatter(fs, fi, dim=dim, dim_size=5, reduce=reduce)
    to = pyg.utils.scatter(ts, ti, dim=dim, dim_size=5, reduce=reduce)
    close(fo, to, reduce)
    g = rng.standard_normal(tuple(to.shape))
    (fo * fastnn.tensor(g)).sum().backward()
    (to * torch.tensor(g)).sum().backward()
    close(fs.grad, ts.grad, reduce + " grad")


def test_utils_softmax_equals_pyg(rng):
    idx = rng.integers(0, 5, 17)
    fs, ts = both(rng.standard_normal((17, 3)), True, np.float64)
    fi, ti = both(idx)
    fo, to = softmax(fs, fi, num_nodes=7), pyg.utils.softmax(ts, ti, num_nodes=7)
    close(fo, to, "softmax index")
    g = rng.standard_normal((17, 3))
    (fo * fastnn.tensor(g)).sum().backward()
    (to * torch.tensor(g)).sum().backward()
    close(fs.grad, ts.grad, "softmax grad")
    ptr = np.array([0, 4, 4, 11, 17])
    fp, tp = both(ptr)
    close(softmax(fs, ptr=fp), pyg.utils.softmax(ts, ptr=tp), "softmax ptr")
    fs2, ts2 = both(rng.standard_normal((2, 17)), False, np.float64)
    close(softmax(fs2, fi, dim=1), pyg.utils.softmax(ts2, ti, dim=1), "softmax dim 1")


# ------------------------------------------------------------------ gradchecks in float64

def _f64(rng, shape):
    return fastnn.tensor(rng.standard_normal(shape), dtype=fastnn.float64, requires_grad=True)


def test_layers_gradcheck_float64(rng):
    ei = fastnn.tensor(graph(rng, 6, 14), dtype=fastnn.long)
    x = _f64(rng, (6, 3))
    w = fastnn.tensor(rng.random(14) + 0.5, dtype=fastnn.float64, requires_grad=True)
    for layer, args in [(gnn.GCNConv(3, 2), (x, ei, w)), (gnn.SAGEConv(3, 2, aggr="max"), (x, ei)),
                        (gnn.GATConv(3, 2, heads=2), (x, ei)),
                        (gnn.GINConv(fastnn.nn.Linear(3, 2), train_eps=True), (x, ei))]:
        layer = layer.double()
        params = [p for p in layer.parameters()]
        tensors = [a for a in args if a.dtype == fastnn.float64]

        def fn(*ts, layer=layer, args=args):
            it = iter(ts)
            return layer(*[next(it) if a.dtype == fastnn.float64 else a for a in args])
        assert fastnn.autograd.gradcheck(fn, tuple(tensors)), type(layer).__name__
        assert params


def test_gradients_of_gradients_raise(rng):
    ei = fastnn.tensor(graph(rng, 6, 14), dtype=fastnn.long)
    x = _f64(rng, (6, 3))
    conv = gnn.GCNConv(3, 2).double()
    y = conv(x, ei).pow(2).sum()
    (g,) = fastnn.autograd.grad(y, (x,), create_graph=False)
    assert g.shape == x.shape
    with pytest.raises(RuntimeError, match="gradients of gradients"):
        fastnn.autograd.grad(conv(x, ei).pow(2).sum(), (x,), create_graph=True)


# ------------------------------------------------------------------ user MessagePassing subclasses

class EdgeConditioned(gnn.MessagePassing):
    """A custom message x_j * (edge_attr W) + x_i, mean-aggregated, with an update using x."""

    def __init__(self, lib, channels, edge_dim):
        super().__init__(aggr="mean")
        self.lin = lib.nn.Linear(edge_dim, channels)

    def forward(self, x, edge_index, edge_attr):
        return self.propagate(edge_index, x=x, edge_attr=edge_attr)

    def message(self, x_i, x_j, edge_attr, index, size_i):
        assert index.shape[0] == x_j.shape[0] and size_i == x_i.shape[0] or True
        return x_j * self.lin(edge_attr) + x_i

    def update(self, aggr_out, x):
        return aggr_out + x


class TorchEdgeConditioned(pyg_nn.MessagePassing):
    def __init__(self, channels, edge_dim):
        super().__init__(aggr="mean")
        self.lin = torch.nn.Linear(edge_dim, channels)

    def forward(self, x, edge_index, edge_attr):
        return self.propagate(edge_index, x=x, edge_attr=edge_attr)

    def message(self, x_i, x_j, edge_attr, index, size_i):
        return x_j * self.lin(edge_attr) + x_i

    def update(self, aggr_out, x):
        return aggr_out + x


def test_custom_message_passing_subclass(rng):
    ei = graph(rng, 9, 30, 1)
    fx, tx = both(rng.standard_normal((9, 4)), True)
    fe, te = both(ei)
    fa, ta = both(rng.standard_normal((30, 2)), True)
    fm, tm = EdgeConditioned(fastnn, 4, 2), TorchEdgeConditioned(4, 2)
    assert not fm._sig.fused
    check_layer(fm, tm, [fx, fe, fa], [tx, te, ta], [0, 2])


@pytest.mark.parametrize("aggr", ["add", "sum", "mean", "max", "min"])
@pytest.mark.parametrize("flow", ["source_to_target", "target_to_source"])
def test_default_propagate_equals_pyg(rng, aggr, flow):
    ei = graph(rng, 11, 35, 2)
    fx, tx = both(rng.standard_normal((11, 3)), True)
    fe, te = both(ei)

    class Copy(pyg_nn.MessagePassing):
        def forward(self, x, edge_index):
            return self.propagate(edge_index, x=x)

    fm, tm = gnn.MessagePassing(aggr=aggr, flow=flow), Copy(aggr=aggr, flow=flow)
    assert fm._sig.fused
    fo, to = fm.propagate(fe, x=fx), tm(tx, te)
    close(fo, to, aggr)
    fo.sum().backward()
    to.sum().backward()
    close(fx.grad, tx.grad, aggr + " grad")


# ------------------------------------------------------------------ bad input

def test_bad_input_names_the_argument(rng):
    conv = gnn.GCNConv(3, 2)
    x = fastnn.randn(5, 3)
    with pytest.raises(ValueError, match="edge_index"):
        conv(x, fastnn.tensor(np.zeros((3, 4)), dtype=fastnn.long))
    with pytest.raises(ValueError, match="edge_index"):
        conv(x, fastnn.tensor(np.zeros((2, 4))))
    with pytest.raises(IndexError, match="edge_index"):
        conv(x, fastnn.tensor([[0, 1], [2, 5]], dtype=fastnn.long))
    mp = gnn.MessagePassing()
    with pytest.raises(ValueError, match="size"):
        mp.propagate(fastnn.tensor([[0, 1], [1, 2]], dtype=fastnn.long), x=x, size=(4, 4))
    with pytest.raises(IndexError, match="edge_index"):
        gnn.SAGEConv(3, 2)(fastnn.randn(2, 3), fastnn.tensor([[0, 1], [1, 2]], dtype=fastnn.long))
    with pytest.raises(ValueError, match="index"):
        scatter(fastnn.randn(4, 2), fastnn.tensor([[0, 1]], dtype=fastnn.long))
    with pytest.raises(IndexError, match="index"):
        scatter(fastnn.randn(2, 2), fastnn.tensor([0, 3], dtype=fastnn.long), dim_size=2)
    with pytest.raises(ValueError, match="aggr"):
        gnn.MessagePassing(aggr="median")
    with pytest.raises(ValueError, match="flow"):
        gnn.MessagePassing(flow="up")


def test_state_dict_of_a_pyg_model_loads():
    torch.manual_seed(1)

    class TNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = pyg_nn.GCNConv(4, 8)
            self.conv2 = pyg_nn.GATConv(8, 3, heads=2, concat=False)
            self.sage = pyg_nn.SAGEConv(3, 2)

        def forward(self, x, ei):
            return self.sage(self.conv2(self.conv1(x, ei).relu(), ei), ei)

    class FNet(fastnn.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = gnn.GCNConv(4, 8)
            self.conv2 = gnn.GATConv(8, 3, heads=2, concat=False)
            self.sage = gnn.SAGEConv(3, 2)

        def forward(self, x, ei):
            return self.sage(self.conv2(self.conv1(x, ei).relu(), ei), ei)

    tnet, fnet = TNet(), FNet()
    assert list(fnet.state_dict()) == list(tnet.state_dict())
    rng = np.random.default_rng(3)
    fx, tx = both(rng.standard_normal((10, 4)))
    fe, te = both(graph(rng, 10, 30))
    load_from(fnet, tnet)
    close(fnet(fx, fe), tnet(tx, te), "model")
