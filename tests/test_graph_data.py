"""fastnn.graph.Data / Batch / DataLoader / NeighborLoader against torch_geometric on the same graphs."""
import copy
import pickle
import warnings

import numpy as np
import pytest

import fastnn
from fastnn.graph import Batch, Data, DataLoader
from fastnn.graph.loader import NeighborLoader
from graph_compare import graph_pair as pair, to_torch


def same_value(a, b, key=""):
    if hasattr(b, "numpy"):
        a, b = a.detach().numpy(), b.numpy()
        assert a.shape == b.shape and a.dtype == b.dtype, (key, a.shape, b.shape, a.dtype, b.dtype)
        np.testing.assert_array_equal(a, b, err_msg=key)
    elif isinstance(b, list) and b and hasattr(b[0], "numpy"):
        for x, y in zip(a, b):
            same_value(x, y, key)
    else:
        assert a == b, (key, a, b)


def same_data(ours, theirs):
    assert list(ours.keys()) == list(theirs._store.keys())
    for key in ours.keys():
        same_value(ours[key], theirs[key], key)
    assert repr(ours) == repr(theirs)
    assert type(ours).__name__ == type(theirs).__name__


def graph_arrays(rng, n, e, **extra):
    out = {"x": rng.standard_normal((n, 3)).astype(np.float32),
           "edge_index": rng.integers(0, max(n, 1), size=(2, e)) if n else np.zeros((2, 0), np.int64),
           "edge_attr": rng.standard_normal((e, 2)).astype(np.float32)}
    out.update(extra)
    return out


def test_data_attributes_match_pyg(pyg):
    rng = np.random.default_rng(0)
    arrays = graph_arrays(rng, 6, 9, y=np.array([2]), pos=rng.standard_normal((6, 2)).astype(np.float32),
                          node_flag=np.arange(6) % 2 == 0, name="g")
    ours, theirs = pair(pyg, **arrays)
    same_data(ours, theirs)
    for attr in ("num_nodes", "num_edges", "num_node_features", "num_features", "num_edge_features",
                 "num_node_types", "num_edge_types"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert len(ours) == len(theirs) and ("x" in ours) and ("foo" not in ours)
    for key in ours.keys():
        assert ours.is_node_attr(key) == theirs.is_node_attr(key), key
        assert ours.is_edge_attr(key) == theirs.is_edge_attr(key), key
    assert ours.has_isolated_nodes() == theirs.has_isolated_nodes()
    assert ours.has_self_loops() == theirs.has_self_loops()
    assert ours.is_undirected() == theirs.is_undirected() and ours.is_directed() == theirs.is_directed()
    assert ours.size() == theirs.size()
    assert ours.edge_weight is None and ours.batch is None
    with pytest.raises(AttributeError):
        ours.not_there  # noqa: B018
    ours.num_nodes = 10
    assert ours.num_nodes == 10 and "num_nodes" in ours.keys()
    ours["extra"] = fastnn.ones(2)
    assert ours.extra.shape == (2,)
    ours.extra = None
    assert "extra" not in ours
    assert dict(ours)["x"] is ours.x and ours.to_dict()["y"] is ours.y
    assert Data.from_dict({"x": ours.x}).x is ours.x


def test_num_nodes_inference_and_warning(pyg):
    ei = np.array([[0, 3], [3, 1]])
    ours, theirs = pair(pyg, edge_index=ei)
    with pytest.warns(UserWarning, match="num_nodes"):
        assert ours.num_nodes == 4
    ours, _ = pair(pyg, edge_index=ei, node_feat=np.ones((7, 1)))
    assert ours.num_nodes == 7
    with pytest.warns(UserWarning, match="num_nodes"):
        assert Data().num_nodes is None
    empty = Data(edge_index=fastnn.tensor(np.zeros((2, 0), np.int64)))
    with pytest.warns(UserWarning):
        assert empty.num_nodes == 0 and empty.num_edges == 0


def test_copy_clone_apply_to_and_pickle():
    rng = np.random.default_rng(1)
    d = Data(**{k: fastnn.tensor(v) for k, v in graph_arrays(rng, 5, 7).items()})
    c = d.clone()
    c.x[0, 0] = 100.0
    assert float(d.x[0, 0]) != 100.0
    s = copy.copy(d)
    s.z = fastnn.ones(1)
    assert "z" not in d and s.x is d.x
    deep = copy.deepcopy(d)
    assert deep.x is not d.x and np.array_equal(deep.x.numpy(), d.x.numpy())
    assert d.to("cpu") is d and d.cpu().x.device == fastnn.device("cpu")
    doubled = d.clone().apply(lambda t: t * 2, "x")
    np.testing.assert_allclose(doubled.x.numpy(), 2 * d.x.numpy())
    np.testing.assert_array_equal(doubled.edge_index.numpy(), d.edge_index.numpy())
    back = pickle.loads(pickle.dumps(d))
    assert repr(back) == repr(d) and np.array_equal(back.x.numpy(), d.x.numpy())
    b = Batch.from_data_list([d, d])
    bb = pickle.loads(pickle.dumps(b))
    assert type(bb).__name__ == "DataBatch" and bb.num_graphs == 2 and repr(bb.get_example(1)) == repr(d)
    assert d.x.requires_grad is False and d.requires_grad_("x").x.requires_grad


def test_validate(pyg):
    good = Data(x=fastnn.ones(3, 1), edge_index=fastnn.tensor([[0, 1], [1, 2]]))
    assert good.validate()
    bad = Data(x=fastnn.ones(3, 1), edge_index=fastnn.tensor([[0, 5], [1, 2]]))
    with pytest.raises(ValueError, match="larger indices than the number of nodes"):
        bad.validate()
    with pytest.warns(UserWarning):
        assert not bad.validate(raise_on_error=False)
    neg = Data(x=fastnn.ones(3, 1), edge_index=fastnn.tensor([[0, -1], [1, 2]]))
    with pytest.raises(ValueError, match="negative"):
        neg.validate()
    shape = Data(x=fastnn.ones(3, 1), edge_index=fastnn.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"shape \[2, num_edges\]"):
        shape.validate()


@pytest.mark.parametrize("subset", [[4, 0, 2], np.array([True, False, True, True, False, True])])
def test_subgraph_and_edge_subgraph_match_pyg(pyg, subset):
    rng = np.random.default_rng(2)
    arrays = graph_arrays(rng, 6, 10, y=np.arange(6), edge_w=rng.random(10).astype(np.float32))
    ours, theirs = pair(pyg, **arrays)
    sub = subset if isinstance(subset, list) else np.asarray(subset)
    same_data(ours.subgraph(fastnn.tensor(sub)), theirs.subgraph(to_torch(np.asarray(sub))))
    edges = np.array([0, 3, 4])
    same_data(ours.edge_subgraph(fastnn.tensor(edges)), theirs.edge_subgraph(to_torch(edges)))
    mask = np.arange(10) % 3 == 0
    same_data(ours.edge_subgraph(fastnn.tensor(mask)), theirs.edge_subgraph(to_torch(mask)))
    ours.num_nodes = 6
    theirs.num_nodes = 6
    same_data(ours.subgraph(fastnn.tensor(sub)), theirs.subgraph(to_torch(np.asarray(sub))))


def test_batch_matches_pyg(pyg):
    rng = np.random.default_rng(3)
    lists = [graph_arrays(rng, n, e, y=np.array([i]), face=rng.integers(0, max(n, 1), (3, 2)),
                          node_index=rng.integers(0, max(n, 1), 2), label=float(i) / 2, count=i, tag=f"g{i}",
                          pair_batch=np.array([0, 0, 1]))
             for i, (n, e) in enumerate([(4, 5), (1, 0), (6, 11), (3, 3)])]
    ours = [pair(pyg, **a)[0] for a in lists]
    theirs = [pair(pyg, **a)[1] for a in lists]
    for kwargs in ({}, {"follow_batch": ["edge_attr", "face"]}, {"exclude_keys": ["tag", "edge_attr"]}):
        b_o = Batch.from_data_list(ours, **kwargs)
        b_t = pyg.data.Batch.from_data_list(theirs, **kwargs)
        same_data(b_o, b_t)
        assert b_o.num_graphs == b_t.num_graphs == len(b_o) == b_o.batch_size
        assert b_o.num_nodes == b_t.num_nodes and b_o.num_edges == b_t.num_edges
        for i in range(4):
            same_data(b_o.get_example(i), b_t.get_example(i))
            same_data(b_o[i], b_t[i])
        for a, b in zip(b_o.to_data_list(), b_t.to_data_list()):
            same_data(a, b)
        for idx in (slice(1, 3), [3, 0], np.array([True, False, True, False])):
            for a, b in zip(b_o.index_select(idx), b_t.index_select(idx)):
                same_data(a, b)
        assert isinstance(b_o, Data) and isinstance(b_o, Batch)
    # batching a batch keeps the batch vector offsets and num_nodes attributes
    with_n = [Data(edge_index=fastnn.tensor([[0], [1]]), num_nodes=3), Data(edge_index=fastnn.tensor([[1], [0]]),
                                                                            num_nodes=2)]
    with_t = [pyg.data.Data(edge_index=to_torch(np.array([[0], [1]])), num_nodes=3),
              pyg.data.Data(edge_index=to_torch(np.array([[1], [0]])), num_nodes=2)]
    same_data(Batch.from_data_list(with_n), pyg.data.Batch.from_data_list(with_t))
    same_data(Batch.from_data_list(with_n).get_example(1), pyg.data.Batch.from_data_list(with_t).get_example(1))


def test_batch_errors_and_subclasses():
    with pytest.raises(ValueError, match="data_list"):
        Batch.from_data_list([])
    with pytest.raises(TypeError, match="element 1"):
        Batch.from_data_list([Data(x=fastnn.ones(1, 1)), {"x": 1}])
    with pytest.raises(RuntimeError, match="from_data_list"):
        Batch().get_example(0)

    class PairData(Data):
        def __inc__(self, key, value, *args, **kwargs):
            if key == "edge_index_s":
                return self.x_s.shape[0]
            if key == "edge_index_t":
                return self.x_t.shape[0]
            return super().__inc__(key, value, *args, **kwargs)

    p = PairData(x_s=fastnn.ones(3, 1), edge_index_s=fastnn.tensor([[0, 2], [1, 0]]), x_t=fastnn.ones(2, 1),
                 edge_index_t=fastnn.tensor([[0], [1]]))
    b = Batch.from_data_list([p, p])
    assert type(b).__name__ == "PairDataBatch" and isinstance(b, PairData)
    np.testing.assert_array_equal(b.edge_index_s.numpy(), [[0, 2, 3, 5], [1, 0, 4, 3]])
    np.testing.assert_array_equal(b.edge_index_t.numpy(), [[0, 2], [1, 3]])
    assert type(b.get_example(1)) is PairData


def test_dataloader_matches_pyg(pyg):
    rng = np.random.default_rng(4)
    lists = [graph_arrays(rng, int(rng.integers(1, 6)), int(rng.integers(0, 8)), y=np.array([i % 2]))
             for i in range(11)]
    ours = [pair(pyg, **a)[0] for a in lists]
    theirs = [pair(pyg, **a)[1] for a in lists]
    lo = DataLoader(ours, batch_size=4, follow_batch=["x"])
    lt = pyg.loader.DataLoader(theirs, batch_size=4, follow_batch=["x"])
    assert len(lo) == len(lt) == 3
    for a, b in zip(lo, lt):
        same_data(a, b)
    assert len(DataLoader(ours, batch_size=4, drop_last=True)) == 2
    fastnn.manual_seed(9)
    first = [b.y.numpy().tolist() for b in DataLoader(ours, batch_size=3, shuffle=True)]
    fastnn.manual_seed(9)
    again = [b.y.numpy().tolist() for b in DataLoader(ours, batch_size=3, shuffle=True)]
    assert first == again and sorted(sum(first, [])) == sorted(d.y.item() for d in ours)
    mixed = DataLoader([(d, 1.5, "a") for d in ours[:3]], batch_size=3)
    b, f, s = next(iter(mixed))
    assert isinstance(b, Batch) and f.dtype == fastnn.float32 and list(s) == ["a", "a", "a"]


def test_model_loop_over_batches():
    """The PyG idiom: pool node features per graph through data.batch."""
    rng = np.random.default_rng(5)
    graphs = [Data(x=fastnn.tensor(rng.standard_normal((k, 2)).astype(np.float32)),
                   edge_index=fastnn.tensor([[0], [0]]), y=fastnn.tensor([k])) for k in (2, 3, 1, 4)]
    for data in DataLoader(graphs, batch_size=2):
        sums = fastnn.zeros(data.num_graphs, 2).index_add(0, data.batch, data.x)
        expected = [g.x.numpy().sum(0) for g in data.to_data_list()]
        np.testing.assert_allclose(sums.numpy(), expected, rtol=1e-6)


def _big_graph(seed=6, n=60, e=400):
    rng = np.random.default_rng(seed)
    ei = rng.integers(0, n - 5, size=(2, e))  # 5 isolated nodes
    return Data(x=fastnn.tensor(rng.standard_normal((n, 3)).astype(np.float32)), edge_index=fastnn.tensor(ei),
                edge_attr=fastnn.tensor(rng.standard_normal((e, 2)).astype(np.float32)),
                y=fastnn.tensor(rng.integers(0, 3, n)))


def test_neighbor_loader_structure():
    data = _big_graph()
    ei = data.edge_index.numpy()
    seen = []
    for batch in NeighborLoader(data, num_neighbors=[4, 2], batch_size=8, shuffle=True):
        n_id, e_id, bs = batch.n_id.numpy(), batch.e_id.numpy(), batch.batch_size
        seen += n_id[:bs].tolist()
        np.testing.assert_array_equal(n_id[:bs], batch.input_id.numpy())  # input_nodes = all nodes
        assert len(set(n_id.tolist())) == n_id.size and batch.num_nodes == n_id.size
        local = batch.edge_index.numpy()
        np.testing.assert_array_equal(n_id[local], ei[:, e_id])
        np.testing.assert_array_equal(batch.x.numpy(), data.x.numpy()[n_id])
        np.testing.assert_array_equal(batch.y.numpy(), data.y.numpy()[n_id])
        np.testing.assert_array_equal(batch.edge_attr.numpy(), data.edge_attr.numpy()[e_id])
        assert sum(batch.num_sampled_nodes) == n_id.size and sum(batch.num_sampled_edges) == e_id.size
        # hop 1: at most 4 incoming edges per seed; hop 2: at most 2 per newly reached node
        hop1 = local[:, :batch.num_sampled_edges[0]]
        assert np.all(hop1[1] < bs) and np.bincount(hop1[1]).max(initial=0) <= 4
        hop2 = local[:, batch.num_sampled_edges[0]:]
        assert np.all(hop2[1] >= bs) and np.bincount(hop2[1]).max(initial=0) <= 2
        assert len(set(e_id.tolist())) == e_id.size
    assert sorted(seen) == list(range(60))


def test_neighbor_loader_full_neighbourhoods_give_exact_outputs():
    """With every neighbour sampled, two rounds of sum aggregation on the sampled subgraph give the
    seeds the same values as on the whole graph."""
    data = _big_graph(7)
    n = data.num_nodes
    ei = data.edge_index.numpy()
    A = np.zeros((n, n))
    np.add.at(A, (ei[1], ei[0]), 1.0)
    full = A @ (A @ data.x.numpy().astype(np.float64))
    mask = np.zeros(n, bool)
    mask[::3] = True
    for directed in (True, False):
        for batch in NeighborLoader(data, [-1, -1], input_nodes=fastnn.tensor(mask), batch_size=7,
                                    directed=directed):
            m = batch.num_nodes
            local = batch.edge_index.numpy()
            B = np.zeros((m, m))
            np.add.at(B, (local[1], local[0]), 1.0)
            out = B @ (B @ batch.x.numpy().astype(np.float64))
            seeds = np.flatnonzero(mask)[batch.input_id.numpy()]
            np.testing.assert_allclose(out[:batch.batch_size], full[seeds], atol=1e-9)


def test_neighbor_loader_reproducible_replace_and_induced():
    data = _big_graph(8)
    fastnn.manual_seed(1)
    a = [b.e_id.numpy() for b in NeighborLoader(data, [3], batch_size=10, shuffle=True)]
    fastnn.manual_seed(1)
    b = [b.e_id.numpy() for b in NeighborLoader(data, [3], batch_size=10, shuffle=True)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    for batch in NeighborLoader(data, [5], batch_size=10, replace=True):
        counts = np.bincount(batch.edge_index.numpy()[1], minlength=batch.batch_size)
        degs = np.bincount(data.edge_index.numpy()[1], minlength=60)[batch.n_id.numpy()[:10]]
        np.testing.assert_array_equal(counts[:10], np.where(degs > 0, 5, 0))
    ei = data.edge_index.numpy()
    for batch in NeighborLoader(data, [2], batch_size=10, subgraph_type="induced"):
        nodes = set(batch.n_id.numpy().tolist())
        inside = [k for k in range(ei.shape[1]) if ei[0, k] in nodes and ei[1, k] in nodes]
        assert sorted(batch.e_id.numpy().tolist()) == inside


def test_neighbor_loader_errors():
    data = _big_graph()
    with pytest.raises(ValueError, match="num_neighbors"):
        NeighborLoader(data, [2, -3])
    with pytest.raises(TypeError, match="data"):
        NeighborLoader({"x": 1}, [2])
    with pytest.raises(IndexError, match="input_nodes"):
        NeighborLoader(data, [2], input_nodes=fastnn.tensor([0, 99]))
    bad = Data(x=fastnn.ones(3, 1), edge_index=fastnn.tensor([[0, 7], [1, 2]]))
    with pytest.raises(IndexError, match="edge_index"):
        NeighborLoader(bad, [2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(NeighborLoader(data, [2], batch_size=64)) == 1
