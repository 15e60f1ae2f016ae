"""Sequence 9: link prediction — which characters of *Les Misérables* appear together? A GCN encoder and
a dot-product decoder rank the pairs of characters, scored by ROC-AUC on held-out edges.

``RandomLinkSplit`` hides 10% of the co-appearances for the test and 5% for validation (with as many
sampled non-edges each); the encoder only ever propagates over the training edges. Each epoch the
training edges are the positives and ``negative_sampling`` draws as many new non-edges as negatives.
Model: GCNConv(77 → 64) → ReLU → GCNConv(64 → 32) gives an embedding z per character; the score of
a pair (i, j) is z_i · z_j, trained with binary cross-entropy on the logits.
Beside it, the classic heuristics on the training graph: common neighbours |N(i) ∩ N(j)| and
Adamic-Adar Σ_{k ∈ N(i) ∩ N(j)} 1 / log deg(k).
Printed: test ROC-AUC of each over several random splits; saved: the validation AUC per epoch and the graph.
Quick run: ``python examples/53_link_prediction.py --epochs 20 --seeds 1``.
"""
import _common

import numpy as np

import fastnn
import fastnn.nn.functional as F
from fastnn import metrics, nn, optim
from fastnn.datasets import les_miserables
from fastnn.graph import transforms as T
from fastnn.graph.nn import GCNConv
from fastnn.graph.utils import negative_sampling


class LinkPredictor(nn.Module):
    def __init__(self, in_channels, hidden_channels, out_channels):
        super().__init__()
        self.conv1 = GCNConv(in_channels, hidden_channels)
        self.conv2 = GCNConv(hidden_channels, out_channels)

    def encode(self, x, edge_index):
        return self.conv2(F.relu(self.conv1(x, edge_index)), edge_index)

    def decode(self, z, edge_label_index):
        return (z[edge_label_index[0]] * z[edge_label_index[1]]).sum(dim=-1)


def heuristics(edge_index, num_nodes, pairs):
    """Common-neighbour counts and Adamic-Adar scores of `pairs` (2, P) on the undirected graph `edge_index`."""
    a = np.zeros((num_nodes, num_nodes))
    a[edge_index[0], edge_index[1]] = 1.0
    a = np.maximum(a, a.T)
    deg = a.sum(axis=1)
    inv_log = np.where(deg > 1, 1.0 / np.log(np.maximum(deg, 2)), 0.0)
    common = (a @ a)[pairs[0], pairs[1]]
    adamic_adar = (a * inv_log @ a)[pairs[0], pairs[1]]
    return common, adamic_adar


def run_split(data, seed, epochs, verbose=False):
    """One random split: test AUC of the GCN, of common neighbours and of Adamic-Adar, and the validation curve."""
    fastnn.manual_seed(seed)
    split = T.RandomLinkSplit(num_val=0.05, num_test=0.1, is_undirected=True, add_negative_train_samples=False)
    train_data, val_data, test_data = split(data)
    model = LinkPredictor(data.num_features, 64, 32)
    opt = optim.Adam(model.parameters(), lr=0.01)
    criterion = nn.BCEWithLogitsLoss()

    def auc(part):
        model.eval()
        with fastnn.no_grad():
            z = model.encode(part.x, part.edge_index)
            scores = model.decode(z, part.edge_label_index)
        return metrics.roc_auc_score(part.edge_label.numpy(), scores.numpy())

    curve = []
    for epoch in range(epochs):
        model.train()
        opt.zero_grad()
        z = model.encode(train_data.x, train_data.edge_index)
        neg = negative_sampling(edge_index=train_data.edge_index, num_nodes=train_data.num_nodes,
                                num_neg_samples=train_data.edge_label_index.size(1), method="sparse")
        edge_label_index = fastnn.cat([train_data.edge_label_index, neg], dim=-1)
        edge_label = fastnn.cat([train_data.edge_label, fastnn.zeros(neg.size(1))], dim=0)
        loss = criterion(model.decode(z, edge_label_index), edge_label)
        loss.backward()
        opt.step()
        curve.append(auc(val_data))
        if verbose and (epoch % 25 == 24 or epoch == epochs - 1):
            print(f"  epoch {epoch + 1}: loss {float(loss.item()):.4f}, validation AUC {curve[-1]:.4f}")
    pairs = test_data.edge_label_index.numpy()
    common, adamic_adar = heuristics(train_data.edge_index.numpy(), data.num_nodes, pairs)
    labels = test_data.edge_label.numpy()
    return (auc(test_data), metrics.roc_auc_score(labels, common), metrics.roc_auc_score(labels, adamic_adar),
            curve, test_data)


def main():
    args = _common.count_options(__doc__, epochs=("epochs", 200, "training epochs"),
                                 seeds=("seeds", 5, "random edge splits"))
    data = les_miserables()
    print(f"Les Misérables: {data.num_nodes} characters, {data.num_edges // 2} co-appearance edges")
    results = []
    for seed in range(args["seeds"]):
        gcn, cn, aa, curve, test_data = run_split(data, seed, args["epochs"], verbose=seed == 0)
        print(f"split {seed}: {int(test_data.edge_label.numpy().sum())} test edges and as many non-edges: "
              f"ROC-AUC GCN {gcn:.4f}, common neighbours {cn:.4f}, Adamic-Adar {aa:.4f}")
        results.append((gcn, cn, aa))
        if seed == 0:
            first_curve = curve
    gcn, cn, aa = np.mean(results, axis=0)
    print(f"\ntest ROC-AUC: {gcn:.4f} (GCN encoder + dot product, mean over {len(results)} splits)")
    print(f"baselines on the training graph: common neighbours {cn:.4f}, Adamic-Adar {aa:.4f} (chance 0.5)")
    _common.save_plot("plot_curves", "53_link_prediction_auc.png", {"validation ROC-AUC (split 0)": first_curve},
                      ylabel="ROC-AUC", title="GCN link prediction on Les Misérables")
    degree = np.bincount(data.edge_index.numpy()[0], minlength=data.num_nodes)
    _common.save_plot("plot_graph", "53_les_miserables.png", data, node_color=degree.astype(np.float64),
                      labels=[n if d >= 10 else "" for n, d in zip(data.names, degree)], node_size=60,
                      title="Les Misérables co-appearances (colour: degree; width: shared chapters)")
    return gcn, cn, aa


if __name__ == "__main__":
    main()
