"""Sequence 9: the matrices of a graph — adjacency W, degree D, Laplacian L = D − W, its normalised forms
and the GCN's normalised adjacency — from ``fastnn.graph.utils`` beside the same matrices computed densely.

The graph is small enough to print: 7 nodes in two groups (a triangle and a square) joined by one edge,
plus an isolated node, with edge weights. For each matrix the sparse computation (an edge list and
its weights) is turned into a dense matrix and compared with the formula written with numpy:

* W from ``to_dense_adj``; D from ``degree`` (number of edges) and from the row sums of W (weighted);
* L = D − W, L_sym = I − D^-1/2 W D^-1/2, L_rw = I − D^-1 W from ``get_laplacian`` (normalization None,
  "sym", "rw");
* Â = D̃^-1/2 (W + I) D̃^-1/2 with D̃ the degrees of W + I, from ``gcn_norm`` (the GCN's propagation
  matrix), and one GCNConv step equal to Â X Θ + b computed densely;
* the eigenvalues of L and L_sym: as many zeros as connected components, L_sym's within [0, 2]; the
  eigenvector of the second-smallest eigenvalue of L (the Fiedler vector) separates the two groups.

Saved: the graph coloured by the Fiedler vector.
"""
import _common

import numpy as np

import fastnn
from fastnn.graph.nn import GCNConv
from fastnn.graph.nn.conv.gcn_conv import gcn_norm
from fastnn.graph.utils import degree, get_laplacian, to_dense_adj

# (u, v, weight): a triangle 0-1-2, a square 3-4-5-6, the bridge 2-3; node 7 is isolated
EDGES = [(0, 1, 1.0), (1, 2, 2.0), (0, 2, 1.0), (2, 3, 0.5), (3, 4, 1.0), (4, 5, 1.0), (5, 6, 1.0), (6, 3, 1.0)]
N = 8


def dense(edge_index, edge_weight, num_nodes):
    """A dense (num_nodes, num_nodes) matrix from an edge list and its weights, via to_dense_adj."""
    return to_dense_adj(edge_index, edge_attr=edge_weight, max_num_nodes=num_nodes)[0].numpy().astype(np.float64)


def show(name, sparse, reference):
    """Print a matrix computed by fastnn.graph.utils and its largest difference from the dense formula."""
    diff = float(np.abs(sparse - reference).max())
    print(f"{name}  (max |fastnn.graph − dense| = {diff:.1e})")
    print(np.array2string(sparse, precision=3, suppress_small=True, max_line_width=120))
    if diff > 1e-5:
        raise SystemExit(f"{name}: the sparse computation differs from the dense formula by {diff}")
    return diff


def main():
    pairs = np.array([(u, v) for u, v, _ in EDGES]).T
    weights = np.array([w for *_, w in EDGES], np.float32)
    edge_index = fastnn.tensor(np.concatenate([pairs, pairs[::-1]], axis=1), dtype=fastnn.long)
    edge_weight = fastnn.tensor(np.concatenate([weights, weights]))
    print(f"{N} nodes, {len(EDGES)} undirected weighted edges (both directions stored: edge_index "
          f"{tuple(edge_index.shape)}), node 7 isolated\n")

    # dense references, straight from the definitions
    W = np.zeros((N, N))
    for u, v, w in EDGES:
        W[u, v] = W[v, u] = w
    D = np.diag(W.sum(axis=1))
    deg = np.diag(D)
    inv_sqrt = np.where(deg > 0, 1 / np.sqrt(np.where(deg > 0, deg, 1)), 0.0)
    inv = np.where(deg > 0, 1 / np.where(deg > 0, deg, 1), 0.0)
    I = np.eye(N)
    L = D - W
    L_sym = I - inv_sqrt[:, None] * W * inv_sqrt[None, :]
    L_rw = I - inv[:, None] * W
    W_tilde = W + I
    d_tilde = W_tilde.sum(axis=1)
    A_hat = W_tilde / np.sqrt(d_tilde[:, None] * d_tilde[None, :])

    show("W: adjacency (to_dense_adj)", dense(edge_index, edge_weight, N), W)
    counts = degree(edge_index[0], num_nodes=N).numpy()
    show("number of neighbours (degree)", counts, (W > 0).sum(axis=1).astype(np.float64))
    show("D: weighted degrees (row sums of W)", np.diag(dense(edge_index, edge_weight, N).sum(axis=1)), D)
    diffs = []
    for name, norm, ref in (("L = D − W", None, L), ("L_sym = I − D^-1/2 W D^-1/2", "sym", L_sym),
                            ("L_rw = I − D^-1 W", "rw", L_rw)):
        lap_index, lap_weight = get_laplacian(edge_index, edge_weight, normalization=norm, num_nodes=N)
        diffs.append(show(f"{name} (get_laplacian, normalization={norm!r})", dense(lap_index, lap_weight, N), ref))
    norm_index, norm_weight = gcn_norm(edge_index, edge_weight, num_nodes=N, add_self_loops=True)
    diffs.append(show("Â = D̃^-1/2 (W + I) D̃^-1/2 (gcn_norm)", dense(norm_index, norm_weight, N), A_hat))

    fastnn.manual_seed(0)
    x = fastnn.randn(N, 3)
    conv = GCNConv(3, 2)
    with fastnn.no_grad():
        out = conv(x, edge_index, edge_weight).numpy().astype(np.float64)
    theta = conv.lin.weight.detach().numpy().astype(np.float64).T  # Linear stores Θ transposed (out, in)
    bias = conv.bias.detach().numpy().astype(np.float64)
    diffs.append(show("one GCN step: GCNConv(x, edge_index, edge_weight) vs Â X Θ + b",
                      out, A_hat @ x.numpy().astype(np.float64) @ theta + bias))

    eig_L, vec_L = np.linalg.eigh(L)
    eig_sym = np.linalg.eigvalsh(L_sym)
    print(f"\neigenvalues of L:     {np.array2string(eig_L, precision=3, suppress_small=True)}")
    print(f"eigenvalues of L_sym: {np.array2string(eig_sym, precision=3, suppress_small=True)} (within [0, 2])")
    zeros = int(np.sum(np.abs(eig_L) < 1e-9))
    print(f"{zeros} zero eigenvalues of L = {zeros} connected components (the 7 joined nodes and node 7)")
    # Restricted to the connected part, the Fiedler vector: the eigenvector of its second-smallest eigenvalue.
    part = np.arange(7)
    _, vec_part = np.linalg.eigh(L[np.ix_(part, part)])
    fiedler = np.zeros(N)
    fiedler[part] = vec_part[:, 1]
    sides = {int(np.sign(v)) for v in fiedler[:3]}, {int(np.sign(v)) for v in fiedler[3:7]}
    print(f"Fiedler vector of the connected part: {np.array2string(fiedler[part], precision=3)}; its sign "
          f"separates the triangle from the square: {len(sides[0]) == len(sides[1]) == 1 and sides[0] != sides[1]}")
    print(f"\nall matrices equal their dense formulas (largest difference {max(diffs):.1e})")
    from fastnn.graph.data import Data
    _common.save_plot("plot_graph", "54_fiedler_vector.png", Data(edge_index=edge_index, edge_weight=edge_weight,
                                                                  num_nodes=N),
                      node_color=fiedler, title="Fiedler vector of L (colour); edge width: weight")
    return max(diffs)


if __name__ == "__main__":
    main()
