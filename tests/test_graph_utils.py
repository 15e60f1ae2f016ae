"""fastnn.graph.utils against torch_geometric.utils on the same graphs (0 edges, isolated nodes,
self-loops, duplicate edges), plus determinism of the samplers and the errors on bad input."""
import numpy as np
import pytest

import fastnn
from fastnn.graph import utils as U


def graphs():
    """(name, edge_index array, num_nodes) covering the edge cases."""
    rng = np.random.default_rng(7)
    out = [("no_edges", np.zeros((2, 0), np.int64), 4), ("no_nodes", np.zeros((2, 0), np.int64), 0),
           ("single_loop", np.array([[0], [0]]), 1)]
    n = 12
    ei = rng.integers(0, n - 3, size=(2, 40))  # the last 3 nodes isolated
    ei = np.concatenate([ei, ei[:, :5], np.array([[2, 4], [2, 4]])], axis=1)  # duplicates and self-loops
    out.append(("random", ei, n))
    sym = np.concatenate([ei, ei[::-1]], axis=1)
    out.append(("symmetric", sym, n))
    return out


GRAPHS = graphs()
IDS = [g[0] for g in GRAPHS]


def F(a, dtype=None):
    return fastnn.tensor(np.asarray(a), dtype=dtype)


def T(t):
    import torch
    return torch.from_numpy(np.array(t.numpy() if hasattr(t, "numpy") else t))


def same(ours, theirs, tol=0.0):
    if theirs is None:
        assert ours is None
        return
    a = np.asarray(ours.detach().numpy() if hasattr(ours, "detach") else ours)
    b = theirs.detach().numpy()
    assert a.shape == b.shape, (a.shape, b.shape)
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        np.testing.assert_allclose(a, b, rtol=1e-5 + tol, atol=1e-6)
    else:
        assert a.dtype == b.dtype, (a.dtype, b.dtype)
        np.testing.assert_array_equal(a, b)


def attrs(ei, width=None):
    rng = np.random.default_rng(ei.shape[1])
    shape = (ei.shape[1],) if width is None else (ei.shape[1], width)
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("name,ei,n", GRAPHS, ids=IDS)
def test_self_loop_functions_match_pyg(pyg, name, ei, n):
    import torch
    pu = pyg.utils
    w = attrs(ei, 3)
    assert U.contains_self_loops(F(ei)) == pu.contains_self_loops(T(ei))
    for a, b in zip(U.remove_self_loops(F(ei), F(w)), pu.remove_self_loops(T(ei), T(w))):
        same(a, b)
    for a, b in zip(U.segregate_self_loops(F(ei), F(w)), pu.segregate_self_loops(T(ei), T(w))):
        same(a, b)
    for fill in (None, 2.5, "add"):
        for a, b in zip(U.add_self_loops(F(ei), F(w), fill_value=fill, num_nodes=n),
                        pu.add_self_loops(T(ei), T(w), fill_value=fill, num_nodes=n)):
            same(a, b)
        for a, b in zip(U.add_remaining_self_loops(F(ei), F(w), fill_value=fill, num_nodes=n),
                        pu.add_remaining_self_loops(T(ei), T(w), fill_value=fill, num_nodes=n)):
            same(a, b)
    fill_t = np.array([1.0, -2.0, 3.0], np.float32)
    for a, b in zip(U.add_self_loops(F(ei), F(w), fill_value=F(fill_t), num_nodes=n),
                    pu.add_self_loops(T(ei), T(w), fill_value=torch.from_numpy(fill_t), num_nodes=n)):
        same(a, b)
    same(U.add_self_loops(F(ei), num_nodes=n)[0], pu.add_self_loops(T(ei), num_nodes=n)[0])
    same(U.get_self_loop_attr(F(ei), F(w), n), pu.get_self_loop_attr(T(ei), T(w), n))
    same(U.get_self_loop_attr(F(ei), num_nodes=n), pu.get_self_loop_attr(T(ei), num_nodes=n))


def test_add_self_loops_bipartite_and_reduced_fill(pyg):
    ei = np.array([[0, 1, 2, 2], [1, 0, 0, 1]])
    w = attrs(ei)
    for a, b in zip(U.add_self_loops(F(ei), F(w), num_nodes=(3, 2)),
                    pyg.utils.add_self_loops(T(ei), T(w), num_nodes=(3, 2))):
        same(a, b)
    if not hasattr(U, "scatter"):
        pytest.skip("fastnn.graph.utils.scatter (the segment-kernel reductions) is not in this build")
    for fill in ("mean", "max"):
        for a, b in zip(U.add_self_loops(F(ei), F(w), fill_value=fill), pyg.utils.add_self_loops(T(ei), T(w),
                                                                                                   fill_value=fill)):
            same(a, b)


@pytest.mark.parametrize("name,ei,n", GRAPHS, ids=IDS)
def test_sorting_coalescing_and_undirected_match_pyg(pyg, name, ei, n):
    pu = pyg.utils
    w, w2 = attrs(ei), attrs(ei, 2)
    for by_row in (True, False):
        same(U.sort_edge_index(F(ei), sort_by_row=by_row), pu.sort_edge_index(T(ei), sort_by_row=by_row))
        a_ei, (a1, a2) = U.sort_edge_index(F(ei), [F(w), F(w2)], sort_by_row=by_row)
        b_ei, _ = pu.sort_edge_index(T(ei), [T(w), T(w2)], sort_by_row=by_row)
        same(a_ei, b_ei)
        # duplicate edges keep their input order (PyG's sort is not stable there)
        perm = np.lexsort((ei[1], ei[0]) if by_row else (ei[0], ei[1]))
        np.testing.assert_array_equal(a1.numpy(), w[perm]), np.testing.assert_array_equal(a2.numpy(), w2[perm])
        same(U.coalesce(F(ei), num_nodes=n, sort_by_row=by_row), pu.coalesce(T(ei), num_nodes=n,
                                                                            sort_by_row=by_row))
    for a, b in zip(U.coalesce(F(ei), F(w2), n), pu.coalesce(T(ei), T(w2), n)):
        same(a, b)
    out = U.coalesce(F(ei), None, n)
    assert isinstance(out, tuple) and out[1] is None
    same(U.to_undirected(F(ei), num_nodes=n), pu.to_undirected(T(ei), num_nodes=n))
    same(U.to_undirected(F(ei), n), pu.to_undirected(T(ei), n))
    for a, b in zip(U.to_undirected(F(ei), F(w), n), pu.to_undirected(T(ei), T(w), n)):
        same(a, b)
    assert U.is_undirected(F(ei), num_nodes=n) == pu.is_undirected(T(ei), num_nodes=n)
    assert U.is_undirected(U.to_undirected(F(ei), num_nodes=n), num_nodes=n)
    assert U.contains_isolated_nodes(F(ei), n) == pu.contains_isolated_nodes(T(ei), n)
    for a, b in zip(U.remove_isolated_nodes(F(ei), F(w), n), pu.remove_isolated_nodes(T(ei), T(w), n)):
        same(a, b)
    same(U.degree(F(ei[0]), n), pu.degree(T(ei[0]), n))
    same(U.degree(F(ei[1]), n, dtype=fastnn.long), pu.degree(T(ei[1]), n, dtype=__import__("torch").long))


def test_coalesce_reductions(pyg):
    ei = np.array([[1, 0, 1, 1, 2], [0, 1, 0, 0, 2]])
    w = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, -6.0], [0.5, 1.0], [7.0, 8.0]], np.float32)
    for a, b in zip(U.coalesce(F(ei), F(w)), pyg.utils.coalesce(T(ei), T(w))):
        same(a, b)
    ew = F(w, fastnn.float64).requires_grad_()
    _, out = U.coalesce(F(ei), ew)
    out.sum().backward()
    np.testing.assert_array_equal(ew.grad.numpy(), np.ones_like(w))
    if not hasattr(U, "scatter"):
        pytest.skip("fastnn.graph.utils.scatter (the segment-kernel reductions) is not in this build")
    for reduce in ("mean", "max", "min", "mul"):
        for a, b in zip(U.coalesce(F(ei), F(w), reduce=reduce), pyg.utils.coalesce(T(ei), T(w), reduce=reduce)):
            same(a, b)


@pytest.mark.parametrize("name,ei,n", GRAPHS, ids=IDS)
@pytest.mark.parametrize("normalization", [None, "sym", "rw"])
def test_laplacian_matches_pyg_and_dense_maths(pyg, torch, name, ei, n, normalization):
    w = np.abs(attrs(ei)).astype(np.float64) + 0.1
    for weight in (None, w):
        ours = U.get_laplacian(F(ei), None if weight is None else F(weight), normalization, num_nodes=n)
        theirs = pyg.utils.get_laplacian(T(ei), None if weight is None else T(weight), normalization,
                                         num_nodes=n)
        same(ours[0], theirs[0]), same(ours[1], theirs[1])
    # beside the dense computation: L = D - A, I - D^-1/2 A D^-1/2, I - D^-1 A (self-loops ignored)
    keep = ei[0] != ei[1]
    A = np.zeros((n, n))
    np.add.at(A, (ei[0][keep], ei[1][keep]), w[keep])
    d = A.sum(1)
    with np.errstate(divide="ignore"):
        inv = np.where(d > 0, 1 / d, 0.0)
    dense = {None: np.diag(d) - A, "sym": np.eye(n) - np.sqrt(inv)[:, None] * A * np.sqrt(inv)[None, :],
             "rw": np.eye(n) - inv[:, None] * A}[normalization]
    lei, lw = U.get_laplacian(F(ei), F(w), normalization, num_nodes=n)
    got = U.to_dense_adj(lei, edge_attr=lw, max_num_nodes=n)[0] if n else fastnn.zeros(0, 0)
    np.testing.assert_allclose(got.numpy().reshape(n, n), dense, atol=1e-12)


def test_laplacian_gradient_matches_pyg(pyg, torch):
    ei = np.array([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    w = np.array([1.0, 2.0, 0.5, 1.5, 3.0, 0.25])
    for norm in (None, "sym", "rw"):
        ours = F(w, fastnn.float64).requires_grad_()
        theirs = torch.tensor(w, requires_grad=True)
        coef = np.arange(10, dtype=np.float64)
        (U.get_laplacian(F(ei), ours, norm)[1] * F(coef)).sum().backward()
        (pyg.utils.get_laplacian(T(ei), theirs, norm)[1] * torch.from_numpy(coef)).sum().backward()
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10)


def test_to_dense_adj_and_back_match_pyg(pyg, torch):
    ei = np.array([[0, 1, 1, 2, 3, 4, 4, 5, 5], [1, 0, 2, 2, 4, 3, 3, 6, 5]])
    batch = np.array([0, 0, 0, 1, 1, 2, 2])
    w = attrs(ei, 2)
    same(U.to_dense_adj(F(ei)), pyg.utils.to_dense_adj(T(ei)))
    same(U.to_dense_adj(F(ei), F(batch)), pyg.utils.to_dense_adj(T(ei), T(batch)))
    same(U.to_dense_adj(F(ei), F(batch), F(w)), pyg.utils.to_dense_adj(T(ei), T(batch), T(w)))
    same(U.to_dense_adj(F(ei), F(batch), max_num_nodes=2), pyg.utils.to_dense_adj(T(ei), T(batch),
                                                                                 max_num_nodes=2))
    same(U.to_dense_adj(F(ei), F(batch), batch_size=4), pyg.utils.to_dense_adj(T(ei), T(batch), batch_size=4))
    same(U.to_dense_adj(F(np.zeros((2, 0), np.int64))), pyg.utils.to_dense_adj(T(np.zeros((2, 0), np.int64))))
    adj = U.to_dense_adj(F(ei), F(batch), F(w[:, 0]))
    for a, b in zip(U.dense_to_sparse(adj), pyg.utils.dense_to_sparse(T(adj))):
        same(a, b)
    mask = np.array([[True, False, True], [True, True, False], [False, True, True]])
    for a, b in zip(U.dense_to_sparse(adj, F(mask)), pyg.utils.dense_to_sparse(T(adj), T(mask))):
        same(a, b)
    for a, b in zip(U.dense_to_sparse(adj[0]), pyg.utils.dense_to_sparse(T(adj)[0])):
        same(a, b)


@pytest.mark.parametrize("name,ei,n", GRAPHS[3:], ids=IDS[3:])
def test_subgraphs_match_pyg(pyg, torch, name, ei, n):
    pu = pyg.utils
    w = attrs(ei)
    for subset in ([5, 2, 0, 7], np.arange(n) % 3 == 0):
        for relabel in (False, True):
            ours = U.subgraph(F(subset), F(ei), F(w), relabel, n, return_edge_mask=True)
            theirs = pu.subgraph(T(subset), T(ei), T(w), relabel, n, return_edge_mask=True)
            for a, b in zip(ours, theirs):
                same(a, b)
    same(U.subgraph([1, 3], F(ei), num_nodes=n)[0], pu.subgraph([1, 3], T(ei), num_nodes=n)[0])
    for node_idx in (0, [1, 4], F([3])):
        for flow in ("source_to_target", "target_to_source"):
            for directed in (False, True):
                for relabel in (False, True):
                    ours = U.k_hop_subgraph(node_idx, 2, F(ei), relabel, n, flow, directed)
                    theirs = pu.k_hop_subgraph(T(node_idx) if hasattr(node_idx, "numpy") else node_idx, 2, T(ei),
                                               relabel, n, flow, directed)
                    for a, b in zip(ours, theirs):
                        same(a, b)
    ours = U.bipartite_subgraph(([0, 2], [1, 3]), F(ei), F(w), True, size=(n, n), return_edge_mask=True)
    theirs = pu.bipartite_subgraph((T([0, 2]), T([1, 3])), T(ei), T(w), True, size=(n, n), return_edge_mask=True)
    for a, b in zip(ours, theirs):
        same(a, b)


def test_masks_one_hot_and_scipy_match_pyg(pyg, torch):
    pu = pyg.utils
    idx = np.array([3, 0, 3, 5])
    same(U.index_to_mask(F(idx)), pu.index_to_mask(T(idx)))
    same(U.index_to_mask(F(idx), 8), pu.index_to_mask(T(idx), 8))
    m = np.array([True, False, True, True])
    same(U.mask_to_index(F(m)), pu.mask_to_index(T(m)))
    same(U.one_hot(F(idx)), pu.one_hot(T(idx)))
    same(U.one_hot(F(idx), 7, dtype=fastnn.long), pu.one_hot(T(idx), 7, dtype=torch.long))
    ei = np.array([[0, 1, 2], [1, 2, 0]])
    w = np.array([0.5, 2.0, 3.0], np.float32)
    ours, theirs = U.to_scipy_sparse_matrix(F(ei), F(w), 4), pu.to_scipy_sparse_matrix(T(ei), T(w), 4)
    np.testing.assert_array_equal(ours.toarray(), theirs.toarray())
    for a, b in zip(U.from_scipy_sparse_matrix(theirs), pu.from_scipy_sparse_matrix(theirs)):
        same(a, b)


def test_negative_sampling_properties_and_determinism():
    ei = np.array([[0, 0, 1, 2, 3, 4, 5], [1, 2, 2, 3, 4, 5, 0]])
    n = 8
    pos = set(map(tuple, ei.T.tolist()))
    for method in ("sparse", "dense"):
        fastnn.manual_seed(3)
        neg = U.negative_sampling(F(ei), n, method=method)
        fastnn.manual_seed(3)
        again = U.negative_sampling(F(ei), n, method=method)
        np.testing.assert_array_equal(neg.numpy(), again.numpy())
        assert neg.dtype == fastnn.long and neg.shape == (2, ei.shape[1])
        pairs = list(map(tuple, neg.numpy().T.tolist()))
        assert len(set(pairs)) == len(pairs) and not set(pairs) & pos
        assert all(a != b for a, b in pairs)
    fastnn.manual_seed(4)
    und = U.negative_sampling(F(ei), n, num_neg_samples=6, force_undirected=True).numpy()
    assert und.shape == (2, 6)
    assert set(map(tuple, und.T.tolist())) == set(map(tuple, und[::-1].T.tolist()))
    assert U.negative_sampling(F(ei), n, num_neg_samples=0.5).shape[1] == 3
    bip = U.negative_sampling(F(ei), (6, 6), num_neg_samples=10).numpy()
    assert bip.shape == (2, 10) and not set(map(tuple, bip.T.tolist())) & pos
    # a complete graph has no negatives
    full = np.array([(i, j) for i in range(3) for j in range(3) if i != j]).T
    assert U.negative_sampling(F(full), 3).shape == (2, 0)


def test_batched_and_structured_negative_sampling():
    ei = np.array([[0, 1, 2, 3, 4, 5, 6], [1, 2, 0, 4, 5, 6, 3]])
    batch = np.array([0, 0, 0, 1, 1, 1, 1])
    neg = U.batched_negative_sampling(F(ei), F(batch)).numpy()
    assert neg.shape[1] > 0
    assert np.all(batch[neg[0]] == batch[neg[1]])
    assert not set(map(tuple, neg.T.tolist())) & set(map(tuple, ei.T.tolist()))
    i, j, k = (t.numpy() for t in U.structured_negative_sampling(F(ei), 7))
    np.testing.assert_array_equal(i, ei[0]), np.testing.assert_array_equal(j, ei[1])
    assert not set(zip(i.tolist(), k.tolist())) & set(map(tuple, ei.T.tolist()))
    assert U.structured_negative_sampling_feasible(F(ei), 7)
    full = np.array([(a, b) for a in range(3) for b in range(3) if a != b]).T
    assert not U.structured_negative_sampling_feasible(F(full), 3, contains_neg_self_loops=False)


def test_dropout_edge():
    ei = np.array([[0, 1, 1, 2, 3, 3], [1, 0, 2, 1, 2, 0]])
    out, mask = U.dropout_edge(F(ei), p=0.0)
    np.testing.assert_array_equal(out.numpy(), ei) and mask.numpy().all()
    out, mask = U.dropout_edge(F(ei), training=False)
    assert mask.numpy().all()
    fastnn.manual_seed(0)
    a, ma = U.dropout_edge(F(ei), p=0.5)
    fastnn.manual_seed(0)
    b, mb = U.dropout_edge(F(ei), p=0.5)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(a.numpy(), ei[:, ma.numpy()])
    out, ids = U.dropout_edge(F(ei), p=0.3, force_undirected=True)
    o = out.numpy()
    assert o.shape[1] % 2 == 0 and np.all(o[0, : o.shape[1] // 2] <= o[1, : o.shape[1] // 2])
    with pytest.raises(ValueError, match="between 0 and 1"):
        U.dropout_edge(F(ei), p=1.5)


def test_networkx_round_trip_matches_pyg(pyg):
    nx = pytest.importorskip("networkx")
    G = nx.karate_club_graph()
    ours, theirs = U.from_networkx(G), pyg.utils.from_networkx(G)
    assert sorted(ours.keys()) == sorted(theirs.keys())
    same(ours.edge_index, theirs.edge_index)
    same(ours.weight, theirs.weight)
    assert ours.club == theirs.club and ours.num_nodes == theirs.num_nodes == 34
    assert repr(ours) == repr(theirs)
    H = nx.Graph()
    H.add_nodes_from([("a", {"f": 1.0, "g": [1, 2]}), ("b", {"f": 2.0, "g": [3, 4]}), ("c", {"f": 0.5, "g": [5, 6]})])
    H.add_edges_from([("a", "b", {"w": 3}), ("b", "c", {"w": 4})])
    for group in (None, ["f", "g"], "all"):
        o = U.from_networkx(H, group_node_attrs=group, group_edge_attrs=group and ["w"])
        t = pyg.utils.from_networkx(H, group_node_attrs=group, group_edge_attrs=group and ["w"])
        assert sorted(o.keys()) == sorted(t.keys())
        for key in o.keys():
            if hasattr(t[key], "numpy"):
                same(o[key], t[key])
    data = U.from_networkx(G)
    for kwargs in ({}, {"to_undirected": True}, {"to_undirected": "upper"}, {"remove_self_loops": True},
                   {"node_attrs": ["club"], "edge_attrs": ["weight"], "graph_attrs": ["name"]}):
        a, b = U.to_networkx(data, **kwargs), pyg.utils.to_networkx(theirs, **kwargs)
        assert type(a) is type(b)
        assert list(a.nodes(data=True)) == list(b.nodes(data=True))
        assert list(a.edges(data=True)) == list(b.edges(data=True)) and a.graph == b.graph


def test_from_smiles_matches_pyg(pyg):
    pytest.importorskip("rdkit")
    for smiles in ("CCO", "c1ccccc1O", "C[C@H](N)C(=O)O", "[NH4+].[Cl-]", "not a smiles", "C"):
        for kwargs in ({}, {"with_hydrogen": True}, {"kekulize": True}):
            if smiles == "not a smiles" and kwargs:
                continue
            ours, theirs = U.from_smiles(smiles, **kwargs), pyg.utils.from_smiles(smiles, **kwargs)
            assert ours.x.dtype == fastnn.long and ours.x.shape[1] == 9 and ours.edge_attr.shape[1] == 3
            same(ours.x, theirs.x), same(ours.edge_index, theirs.edge_index), same(ours.edge_attr, theirs.edge_attr)
            assert ours.smiles == smiles


def test_results_keep_int64_and_edge_attr_gradients():
    ei = F([[0, 1, 2], [1, 2, 2]])
    w = fastnn.tensor([1.0, 2.0, 3.0], dtype=fastnn.float64, requires_grad=True)
    out_ei, out_w = U.add_remaining_self_loops(ei, w, fill_value=0.5)
    assert out_ei.dtype == fastnn.long
    (out_w * fastnn.arange(out_w.shape[0], dtype=fastnn.float64)).sum().backward()
    # edges 0 and 1 keep their places; the loop of node 2 (edge 2) moves to the last position
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 1.0, 4.0])
    ei32 = fastnn.tensor([[0, 1], [1, 0]], dtype=fastnn.int32)
    assert U.add_self_loops(ei32)[0].dtype == fastnn.long


@pytest.mark.parametrize("fn,args", [
    (U.add_self_loops, ()), (U.remove_self_loops, ()), (U.coalesce, ()), (U.to_undirected, ()),
    (U.is_undirected, ()), (U.get_laplacian, ()), (U.to_dense_adj, ()), (U.negative_sampling, ()),
    (U.contains_self_loops, ()), (U.sort_edge_index, ()), (U.dropout_edge, ()),
])
def test_bad_edge_index_is_a_clear_error(fn, args):
    with pytest.raises(ValueError, match="edge_index"):
        fn(fastnn.tensor([[0, 1, 2]]), *args)
    with pytest.raises(TypeError, match="edge_index"):
        fn(fastnn.tensor([[0.0, 1.0], [1.0, 0.0]]), *args)
    with pytest.raises(IndexError, match="edge_index"):
        fn(fastnn.tensor([[0, -1], [1, 0]]), *args)


def test_out_of_range_indices_and_bad_attributes():
    ei = F([[0, 1, 5], [1, 0, 0]])
    for fn in (U.add_self_loops, U.coalesce, U.to_undirected, U.add_remaining_self_loops, U.remove_isolated_nodes):
        with pytest.raises(IndexError, match="edge_index.*num_nodes=3"):
            fn(ei, num_nodes=3)
    with pytest.raises(IndexError, match="edge_index"):
        U.get_laplacian(ei, num_nodes=3)
    with pytest.raises(IndexError, match="edge_index"):
        U.subgraph([0, 1], ei, num_nodes=3)
    with pytest.raises(ValueError, match="edge_attr.*num_edges=3"):
        U.add_self_loops(ei, fastnn.ones(2))
    with pytest.raises(ValueError, match="normalization"):
        U.get_laplacian(ei, normalization="bad")
    with pytest.raises(ValueError, match="reduce"):
        U.coalesce(ei, fastnn.ones(3), reduce="median")
    with pytest.raises(IndexError, match="index"):
        U.degree(F([0, 3]), 2)
    with pytest.raises(IndexError, match="node_idx"):
        U.k_hop_subgraph(9, 1, ei, num_nodes=6)
