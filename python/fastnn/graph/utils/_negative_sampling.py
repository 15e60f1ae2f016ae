"""Sampling node pairs that are not edges (``negative_sampling`` and its batched / structured forms).

The draws come from fastnn's global generator, so ``fastnn.manual_seed`` reproduces them.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _arrays
from .num_nodes import maybe_num_nodes


def _generator():
    from ... import random as fastnn_random
    return fastnn_random.generator()


def _sample(population, k):
    """``k`` distinct integers from range(population) (all of them, in order, when k >= population)."""
    if population <= k:
        return np.arange(population, dtype=np.int64)
    return _generator().choice(population, size=k, replace=False).astype(np.int64)


def _to_vector(ei, size, bipartite, force_undirected):
    """Each edge as one integer in the space of candidate pairs, and that space's size
    (self-loops excluded unless bipartite; only i < j pairs when undirected)."""
    row, col = ei[0], ei[1]
    if bipartite:
        return row * size[1] + col, size[0] * size[1]
    n = size[0]
    if force_undirected:
        keep = row < col
        row, col = row[keep], col[keep]
        offset = np.cumsum(np.arange(1, n, dtype=np.int64))
        return row * n + col - offset[row], (n * (n + 1)) // 2 - n
    keep = row != col
    row, col = row[keep], col[keep].copy()
    col[row < col] -= 1
    return row * (n - 1) + col, n * n - n


def _from_vector(idx, size, bipartite, force_undirected):
    if bipartite:
        return np.stack([idx // size[1], idx % size[1]])
    n = size[0]
    if force_undirected:
        offset = np.cumsum(np.arange(1, n, dtype=np.int64))
        end = np.arange(n, n * n, n, dtype=np.int64) - offset
        row = np.searchsorted(end, idx, side="right")
        col = (offset[row] + idx) % n
        return np.stack([np.concatenate([row, col]), np.concatenate([col, row])])
    row = idx // (n - 1)
    col = idx % (n - 1)
    col[row <= col] += 1
    return np.stack([row, col])


def _num_samples(num_neg_samples, num_edges, fn):
    if num_neg_samples is None:
        return num_edges
    if isinstance(num_neg_samples, float):
        return int(num_neg_samples * num_edges)
    if isinstance(num_neg_samples, numbers.Integral) and not isinstance(num_neg_samples, bool):
        return int(num_neg_samples)
    raise TypeError(f"{fn}: argument 'num_neg_samples' must be None, an int or a float, got "
                    f"{type(num_neg_samples).__name__}")


def _negative_vectors(ei, size, bipartite, force_undirected, num_neg, method):
    idx, population = _to_vector(ei, size, bipartite, force_undirected)
    if idx.size >= population:
        return None
    if force_undirected:
        num_neg //= 2
    prob = 1.0 - idx.size / population
    sample_size = int(1.1 * num_neg / prob)
    taken = np.unique(idx)
    neg = np.empty(0, dtype=np.int64)
    for _ in range(3):  # a few rounds of over-sampling, as PyG: may return fewer when the graph is dense
        rnd = _sample(population, sample_size)
        rnd = rnd[~np.isin(rnd, taken) & ~np.isin(rnd, neg)]
        neg = np.concatenate([neg, rnd])
        if neg.size >= num_neg:
            neg = neg[:num_neg]
            break
    return neg


def negative_sampling(edge_index, num_nodes=None, num_neg_samples=None, method="sparse", force_undirected=False):
    """Random node pairs that are not edges of ``edge_index`` (and not self-loops): a (2, k) int64
    tensor with k ≈ ``num_neg_samples`` (default: as many as edges; a float is a ratio). ``num_nodes``
    may be an (N_src, N_dst) pair for bipartite graphs. ``force_undirected`` returns each sampled
    pair in both directions."""
    fn = "negative_sampling"
    if method not in ("sparse", "dense"):
        raise ValueError(f"{fn}: argument 'method' must be 'sparse' or 'dense', got {method!r}")
    if isinstance(num_nodes, (tuple, list)):
        size = (_arrays.check_int(num_nodes[0], fn, "num_nodes"), _arrays.check_int(num_nodes[1], fn, "num_nodes"))
        bipartite, force_undirected = True, False
        ei = _arrays.check_edge_index(edge_index, fn)
        if ei.size and (ei[0].max() >= size[0] or ei[1].max() >= size[1]):
            raise IndexError(f"{fn}: argument 'edge_index' has node indices outside num_nodes={tuple(size)}")
    else:
        ei = _arrays.check_edge_index(edge_index, fn, num_nodes)
        n = maybe_num_nodes(edge_index, num_nodes)
        size, bipartite = (n, n), False
    num_neg = _num_samples(num_neg_samples, ei.shape[1], fn)
    neg = _negative_vectors(ei, size, bipartite, force_undirected, num_neg, method)
    if neg is None:
        return _arrays.long_tensor(np.empty((2, 0), dtype=np.int64), edge_index)
    return _arrays.long_tensor(_from_vector(neg, size, bipartite, force_undirected), edge_index)


def batched_negative_sampling(edge_index, batch, num_neg_samples=None, method="sparse", force_undirected=False):
    """:func:`negative_sampling` within each graph of a batch (pairs never cross graphs); the
    edges of each graph must be contiguous in ``edge_index``, as after batching."""
    fn = "batched_negative_sampling"
    ei = _arrays.check_edge_index(edge_index, fn)
    if isinstance(batch, (tuple, list)):
        src_b = _arrays.check_index_tensor(batch[0], fn, "batch", ndim=1)
        dst_b = _arrays.check_index_tensor(batch[1], fn, "batch", ndim=1)
        bipartite = True
    else:
        src_b = dst_b = _arrays.check_index_tensor(batch, fn, "batch", ndim=1)
        bipartite = False
    if ei.size and (ei[0].max() >= src_b.size or ei[1].max() >= dst_b.size):
        raise IndexError(f"{fn}: argument 'edge_index' has nodes beyond the length of 'batch'")
    num_graphs = int(max(src_b.max() if src_b.size else -1, dst_b.max() if dst_b.size else -1)) + 1
    split = np.bincount(src_b[ei[0]], minlength=num_graphs)
    num_src = np.bincount(src_b, minlength=num_graphs)
    num_dst = np.bincount(dst_b, minlength=num_graphs)
    cum_src = np.concatenate([[0], np.cumsum(num_src)[:-1]])
    cum_dst = np.concatenate([[0], np.cumsum(num_dst)[:-1]])
    bounds = np.concatenate([[0], np.cumsum(split)])
    parts = []
    for g in range(num_graphs):
        local = ei[:, bounds[g]:bounds[g + 1]] - np.asarray([[cum_src[g]], [cum_dst[g]]])
        size = (int(num_src[g]), int(num_dst[g]))
        num_neg = _num_samples(num_neg_samples, local.shape[1], fn)
        neg = _negative_vectors(local, size, bipartite, force_undirected and not bipartite, num_neg, method)
        if neg is None:
            continue
        pairs = _from_vector(neg, size, bipartite, force_undirected and not bipartite)
        parts.append(pairs + np.asarray([[cum_src[g]], [cum_dst[g]]]))
    out = np.concatenate(parts, axis=1) if parts else np.empty((2, 0), dtype=np.int64)
    return _arrays.long_tensor(out, edge_index)


def structured_negative_sampling(edge_index, num_nodes=None, contains_neg_self_loops=True):
    """For each edge (i, j), a node k such that (i, k) is not an edge: ``(i, j, k)`` as three tensors."""
    fn = "structured_negative_sampling"
    ei = _arrays.check_edge_index(edge_index, fn, num_nodes)
    n = maybe_num_nodes(edge_index, num_nodes)
    row, col = ei[0], ei[1]
    pos = row * n + col
    if not contains_neg_self_loops:
        pos = np.concatenate([pos, np.arange(n, dtype=np.int64) * (n + 1)])
    pos = np.unique(pos)
    gen = _generator()
    rand = gen.integers(0, n, size=row.size, dtype=np.int64) if n else np.zeros(0, dtype=np.int64)
    rest = np.flatnonzero(np.isin(row * n + rand, pos))
    while rest.size:
        tmp = gen.integers(0, n, size=rest.size, dtype=np.int64)
        rand[rest] = tmp
        rest = rest[np.isin(row[rest] * n + tmp, pos)]
    like = edge_index
    return _arrays.long_tensor(row, like), _arrays.long_tensor(col, like), _arrays.long_tensor(rand, like)


def structured_negative_sampling_feasible(edge_index, num_nodes=None, contains_neg_self_loops=True):
    """Whether every node has a non-neighbour to sample for :func:`structured_negative_sampling`."""
    ei = _arrays.check_edge_index(edge_index, "structured_negative_sampling_feasible", num_nodes)
    n = maybe_num_nodes(edge_index, num_nodes)
    limit = n
    pairs = np.unique(ei[0] * n + ei[1]) if ei.size else np.zeros(0, dtype=np.int64)
    row, col = pairs // max(n, 1), pairs % max(n, 1)
    if not contains_neg_self_loops:
        row = row[row != col]
        limit -= 1
    deg = np.bincount(row, minlength=n)
    return bool(np.all(deg < limit))
