"""fastnn.graph.transforms against torch_geometric.transforms on the same graphs."""
import numpy as np
import pytest

import fastnn
from fastnn.graph import Data
from fastnn.graph import transforms as TF
from graph_compare import graph_pair as pair


def same_data(ours, theirs):
    assert sorted(ours.keys()) == sorted(theirs.keys())
    for key in ours.keys():
        a, b = ours[key], theirs[key]
        if hasattr(b, "numpy"):
            b = b.numpy()
            a = a.detach().numpy()
            assert a.shape == b.shape, key
            if a.dtype.kind == "f":
                np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=key)
            else:
                assert a.dtype == b.dtype, key
                np.testing.assert_array_equal(a, b, err_msg=key)
        else:
            assert a == b, key
    assert repr(ours) == repr(theirs)


def graph(rng, n=7, e=12, edge_feats=True):
    ei = rng.integers(0, n - 1, size=(2, e))  # node n-1 isolated
    ei[:, 0] = [1, 1]  # a self-loop
    out = {"x": rng.standard_normal((n, 3)).astype(np.float32), "edge_index": ei,
           "y": np.array([1], dtype=np.int64)}
    if edge_feats:
        out["edge_attr"] = rng.standard_normal((e, 2)).astype(np.float32)
        out["edge_weight"] = rng.random(e).astype(np.float32)
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_simple_transforms_match_pyg(pyg, seed):
    T = pyg.transforms
    rng = np.random.default_rng(seed)
    arrays = graph(rng)
    cases = [(TF.ToUndirected(), T.ToUndirected()), (TF.ToUndirected(reduce="add"), T.ToUndirected(reduce="add")),
             (TF.AddSelfLoops(), T.AddSelfLoops()),
             (TF.AddSelfLoops("edge_attr", 0.5), T.AddSelfLoops("edge_attr", 0.5)),
             (TF.AddRemainingSelfLoops(), T.AddRemainingSelfLoops()), (TF.RemoveSelfLoops(), T.RemoveSelfLoops()),
             (TF.NormalizeFeatures(), T.NormalizeFeatures()), (TF.VirtualNode(), T.VirtualNode()),
             (TF.Compose([TF.ToUndirected(), TF.AddSelfLoops(), TF.VirtualNode()]),
              T.Compose([T.ToUndirected(), T.AddSelfLoops(), T.VirtualNode()]))]
    for ours_t, theirs_t in cases:
        ours, theirs = pair(pyg, **arrays)
        out_o, out_t = ours_t(ours), theirs_t(theirs)
        same_data(out_o, out_t)
        same_data(ours, pair(pyg, **arrays)[1])  # the input graph is left as it was
    # graphs without edge features, with num_nodes set, and with existing edge types
    for extra in ({"num_nodes": 7}, {"edge_type": np.arange(12, dtype=np.int64) % 3}):
        a = graph(rng, edge_feats=False)
        a.update(extra)
        for ours_t, theirs_t in [(TF.VirtualNode(), T.VirtualNode()), (TF.ToUndirected(), T.ToUndirected())]:
            ours, theirs = pair(pyg, **a)
            same_data(ours_t(ours), theirs_t(theirs))


def test_virtual_node_on_a_batch_and_with_no_edges(pyg):
    rng = np.random.default_rng(3)
    data = [Data(x=fastnn.tensor(rng.standard_normal((k, 2)).astype(np.float32)),
                 edge_index=fastnn.tensor([[0, 1], [1, 0]])) for k in (2, 3)]
    from fastnn.graph import Batch
    b = TF.VirtualNode()(Batch.from_data_list(data))
    assert b.edge_index.shape == (2, 4 + 2 * 5) and b.x.shape == (6, 2) and b.batch.shape == (6,)
    assert int(b.edge_index.max()) == 5 and b.edge_type.numpy().tolist()[-1] == 2
    ours, theirs = pair(pyg, x=np.ones((3, 1), np.float32), edge_index=np.zeros((2, 0), np.int64))
    same_data(TF.VirtualNode()(ours), pyg.transforms.VirtualNode()(theirs))


def _pairs(ei):
    return set(map(tuple, np.asarray(ei).T.tolist()))


@pytest.mark.parametrize("is_undirected", [False, True])
@pytest.mark.parametrize("split_labels", [False, True])
@pytest.mark.parametrize("disjoint", [0.0, 0.3])
def test_random_link_split_matches_pyg_structure(pyg, is_undirected, split_labels, disjoint):
    import torch
    nx = pytest.importorskip("networkx")
    G = nx.les_miserables_graph()
    theirs = pyg.utils.from_networkx(G)
    ours = fastnn.graph.utils.from_networkx(G)
    n = ours.num_nodes
    kwargs = dict(num_val=0.1, num_test=0.2, is_undirected=is_undirected, split_labels=split_labels,
                  disjoint_train_ratio=disjoint)
    fastnn.manual_seed(0)
    torch.manual_seed(0)
    o = TF.RandomLinkSplit(**kwargs)(ours)
    t = pyg.transforms.RandomLinkSplit(**kwargs)(theirs)
    all_edges = _pairs(ours.edge_index.numpy())
    for od, td in zip(o, t):
        assert sorted(od.keys()) == sorted(td.keys())
        for key in od.keys():
            if hasattr(td[key], "shape"):
                assert tuple(od[key].shape) == tuple(td[key].shape), key
                assert od[key].dtype == getattr(fastnn, str(td[key].dtype).split(".")[-1]), key
        assert _pairs(od.edge_index.numpy()) <= all_edges
        if is_undirected:
            assert fastnn.graph.utils.is_undirected(od.edge_index, num_nodes=n)
        if split_labels:
            pos, neg = od.pos_edge_label_index.numpy(), od.neg_edge_label_index.numpy()
            assert np.all(od.pos_edge_label.numpy() == 1) and np.all(od.neg_edge_label.numpy() == 0)
        else:
            lab, idx = od.edge_label.numpy(), od.edge_label_index.numpy()
            pos, neg = idx[:, lab == 1], idx[:, lab == 0]
        assert _pairs(pos) <= all_edges and not _pairs(neg) & all_edges
    # supervision edges of the three splits are disjoint; val/test are not used for message passing
    sup = [(_pairs(d.pos_edge_label_index.numpy()) if split_labels
            else _pairs(d.edge_label_index.numpy()[:, d.edge_label.numpy() == 1])) for d in o]
    assert not sup[1] & sup[2] and not sup[0] & sup[1]
    assert not sup[1] & _pairs(o[1].edge_index.numpy()) and not sup[2] & _pairs(o[2].edge_index.numpy())
    if disjoint:
        assert not sup[0] & _pairs(o[0].edge_index.numpy())


def test_random_link_split_is_reproducible_and_shifts_existing_labels():
    ei = np.array([[i, (i + 1) % 20] for i in range(20)] + [[i, (i + 3) % 20] for i in range(20)]).T
    data = Data(x=fastnn.ones(20, 2), edge_index=fastnn.tensor(ei), edge_label=fastnn.tensor(np.arange(40) % 2))
    fastnn.manual_seed(5)
    a = TF.RandomLinkSplit()(data)
    fastnn.manual_seed(5)
    b = TF.RandomLinkSplit()(data)
    for x, y in zip(a, b):
        for key in x.keys():
            np.testing.assert_array_equal(x[key].numpy(), y[key].numpy())
    train = a[0]
    labels = train.edge_label.numpy()
    n_pos = train.edge_label_index.shape[1] // 2
    assert set(labels[:n_pos].tolist()) <= {1, 2} and np.all(labels[n_pos:] == 0)
    assert "edge_label" in data and data.edge_label.numpy().tolist() == (np.arange(40) % 2).tolist()
    with pytest.raises(ValueError, match="Insufficient"):
        TF.RandomLinkSplit(num_val=20, num_test=20)(data)
    with pytest.warns(UserWarning, match="not enough negative edges"):
        TF.RandomLinkSplit(neg_sampling_ratio=100.0)(data)


def test_transform_errors_and_repr():
    with pytest.raises(ValueError, match="num_val"):
        TF.RandomLinkSplit(num_val=-1)
    assert repr(TF.RandomLinkSplit()) == "RandomLinkSplit(num_val=0.1, num_test=0.2)"
    assert repr(TF.ToUndirected()) == "ToUndirected()"
    assert "ToUndirected()" in repr(TF.Compose([TF.ToUndirected()]))
    with pytest.raises(ValueError, match="edge_index"):
        TF.VirtualNode()(Data(x=fastnn.ones(3, 1), edge_index=fastnn.tensor([0, 1, 2])))


@pytest.mark.parametrize("split", ["train_rest", "test_rest", "random"])
@pytest.mark.parametrize("num_splits", [1, 3])
def test_random_node_split_matches_pyg_counts(pyg, split, num_splits):
    rng = np.random.default_rng(11)
    y = rng.integers(0, 3, 80)
    ours, theirs = pair(pyg, x=np.ones((80, 1), np.float32), y=y)
    kwargs = dict(split=split, num_splits=num_splits, num_train_per_class=5, num_val=0.2, num_test=10)
    o, t = TF.RandomNodeSplit(**kwargs)(ours), pyg.transforms.RandomNodeSplit(**kwargs)(theirs)
    for key in ("train_mask", "val_mask", "test_mask"):
        assert o[key].dtype == fastnn.bool and tuple(o[key].shape) == tuple(t[key].shape)
        np.testing.assert_array_equal(o[key].numpy().sum(0), t[key].numpy().sum(0))
    masks = [o[k].numpy().reshape(80, -1) for k in ("train_mask", "val_mask", "test_mask")]
    assert not np.any((masks[0] & masks[1]) | (masks[0] & masks[2]) | (masks[1] & masks[2]))
    if split != "train_rest":
        for c in range(3):
            assert np.all(masks[0][y == c].sum(0) == 5)
    fastnn.manual_seed(2)
    a = TF.RandomNodeSplit()(ours)
    fastnn.manual_seed(2)
    b = TF.RandomNodeSplit()(ours)
    np.testing.assert_array_equal(a.train_mask.numpy(), b.train_mask.numpy())
    with pytest.raises(ValueError, match="split"):
        TF.RandomNodeSplit(split="bad")
