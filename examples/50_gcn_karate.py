"""Sequence 9: transductive node labelling — a 2-layer GCN labels the members of Zachary's karate club.

The club split in two after a conflict between its instructor (member 0, "Mr. Hi") and its officer
(member 33); networkx's ``club`` attribute says which side each of the 34 members joined. The members
have no features: x is the one-hot id of each (34×34), so everything the model learns about an
unlabelled member comes through the edges (friendships). Training is transductive (one graph):
``--per-class`` members of each club are labelled, the others are held out and predicted.

Model (Kipf & Welling, ``fastnn.train.graph.GCNClassifier``): GCNConv(34 → 16) → ReLU → dropout →
GCNConv(16 → 2), full-graph Adam with weight decay on the labelled members' cross-entropy
(``fastnn.train.graph.train_node_classifier``). Beside it, the same layers without the edges (Linear
in place of GCNConv): on held-out members it can only guess.
Printed: the held-out accuracy of each seed (a different draw of labelled members) and their mean;
saved: the graph coloured by prediction (labelled members outlined) and the hidden layer projected to 2-D.
Quick run: ``python examples/50_gcn_karate.py --epochs 50 --seeds 2``.
"""
import _common

import numpy as np

from fastnn.datasets import KARATE_CLUBS, karate_club
from fastnn.demos import KARATE
from fastnn.train.graph import GCNClassifier, label_nodes


def pca_2d(h):
    """The rows of h projected on their first two principal axes."""
    h = h - h.mean(axis=0)
    _, _, vt = np.linalg.svd(h, full_matrices=False)
    out = h @ vt[:2].T
    return np.pad(out, ((0, 0), (0, 2 - out.shape[1])))


def main():
    args = _common.count_options(__doc__, epochs=("epochs", 200, "training epochs"),
                                 seeds=("seeds", 10, "draws of labelled members"),
                                 **{"per-class": ("per_class", KARATE["per_class"], "labelled members per club")})
    data = karate_club()
    y = data.y.numpy()
    print(f"karate club: {data.num_nodes} members, {data.num_edges // 2} friendships, clubs "
          f"{dict(zip(KARATE_CLUBS, np.bincount(y).tolist()))}; {args['per_class']} labelled members per club, "
          f"{data.num_nodes - 2 * args['per_class']} held out")
    print(GCNClassifier(data.num_features, KARATE["hidden_channels"], 2))
    gcn, mlp = [], []
    for seed in range(args["seeds"]):
        run = dict(per_class=args["per_class"], seed=seed, epochs=args["epochs"])
        result = label_nodes(data, hidden_channels=KARATE["hidden_channels"], **run)
        alone = label_nodes(data, hidden_channels=KARATE["hidden_channels"], graph=False, **run)
        gcn.append(result.accuracy)
        mlp.append(alone.accuracy)
        print(f"seed {seed}: labelled members {np.flatnonzero(result.train_mask).tolist()}, held-out accuracy "
              f"GCN {result.accuracy:.4f}, without the graph {alone.accuracy:.4f}")
    gcn, mlp = np.array(gcn), np.array(mlp)
    print(f"\ntest accuracy: {gcn.mean():.4f} (GCN, held-out members, mean over {len(gcn)} seeds; min "
          f"{gcn.min():.4f}, max {gcn.max():.4f}; goal >= 0.90)")
    print(f"the same layers without the graph (Linear for GCNConv): {mlp.mean():.4f} (chance 0.5)")
    pred, held_out = result.prediction, ~result.train_mask
    _common.save_plot("plot_graph", "50_karate_prediction.png", data, node_color=pred, class_names=list(KARATE_CLUBS),
                      marked=np.flatnonzero(result.train_mask), marked_label="labelled for training",
                      title=f"GCN predictions, seed {seed}: {np.mean(pred[held_out] == y[held_out]):.0%} of the "
                            "held-out members right")
    _common.save_plot("plot_embedding", "50_karate_embedding.png", pca_2d(result.hidden), list(range(len(y))),
                      groups=[KARATE_CLUBS[c] for c in y],
                      title="GCN hidden layer (16 dims, first two principal axes), coloured by true club")
    return gcn, mlp


if __name__ == "__main__":
    main()
