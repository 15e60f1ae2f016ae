"""Sequence 9: inductive graph classification — does a graph hold a cycle? A GIN answers from the structure.

``fastnn.datasets.synthetic_graphs("cycles_vs_trees")`` draws forests (label 0) and graphs with exactly
one cycle (label 1) whose node and edge counts are distributed identically in both classes, with all
node features equal to 1: only the way the nodes are connected tells the classes apart. Training is
inductive: the model learns on some graphs and labels graphs it has never seen.

Model (Xu et al.'s GIN): 4 GINConv layers (sum aggregation, a 2-layer MLP each), every layer's node
embeddings summed over the graph (``global_add_pool``) and concatenated, then a 2-layer classifier;
mini-batches of graphs from ``fastnn.graph.DataLoader`` (one disconnected big graph per batch).
Beside it, dense networks on per-graph summaries: (number of nodes, number of edges) — at chance by
construction — and the histogram of node degrees.
Printed: test accuracy of each; saved: training loss and test accuracy per epoch, and a few test graphs
coloured by predicted class. Quick run: ``python examples/52_graph_classification.py --epochs 3 --graphs 200``.
"""
import time

import _common

import numpy as np

import fastnn
import fastnn.nn.functional as F
from fastnn import nn, optim
from fastnn.data import train_test_split
from fastnn.datasets import synthetic_graphs
from fastnn.graph import DataLoader
from fastnn.graph.nn import GINConv, global_add_pool
from fastnn.train.graph import predict_graphs, train_graph_epoch
from fastnn.train import train_tabular

CLASSES = ["forest", "has a cycle"]
MAX_DEGREE = 10  # degree histogram bins for the baseline (the last bin counts degrees >= 10)


class GIN(nn.Module):
    def __init__(self, in_channels, hidden_channels, out_channels, num_layers=4):
        super().__init__()
        self.convs = nn.ModuleList()
        for i in range(num_layers):
            mlp = nn.Sequential(nn.Linear(in_channels if i == 0 else hidden_channels, hidden_channels),
                                nn.BatchNorm1d(hidden_channels), nn.ReLU(),
                                nn.Linear(hidden_channels, hidden_channels), nn.ReLU())
            self.convs.append(GINConv(mlp))
        self.lin1 = nn.Linear(hidden_channels * num_layers, hidden_channels)
        self.lin2 = nn.Linear(hidden_channels, out_channels)

    def forward(self, x, edge_index, batch):
        pooled = []
        for conv in self.convs:
            x = conv(x, edge_index)
            pooled.append(global_add_pool(x, batch))
        h = F.relu(self.lin1(fastnn.cat(pooled, dim=1)))
        return self.lin2(F.dropout(h, p=0.5, training=self.training))


def evaluate(model, loader):
    return predict_graphs(model, loader).argmax(axis=1)


def summaries(graphs):
    """Per-graph (nodes, edges) and degree histograms, for the baselines."""
    counts = np.array([[g.num_nodes, g.num_edges // 2] for g in graphs], np.float32)
    degrees = np.stack([np.bincount(np.minimum(np.bincount(g.edge_index.numpy()[0], minlength=g.num_nodes),
                                               MAX_DEGREE), minlength=MAX_DEGREE + 1) for g in graphs])
    return counts, degrees.astype(np.float32)


def main():
    args = _common.count_options(__doc__, epochs=("epochs", 40, "training epochs"),
                                 graphs=("graphs", 2000, "generated graphs (80% training, 20% test)"),
                                 hidden=("hidden", 32, "hidden units per layer"))
    seed = 0
    graphs = synthetic_graphs("cycles_vs_trees", num_graphs=args["graphs"], seed=seed)
    y = np.array([int(g.y.numpy()[0]) for g in graphs])
    train_idx, test_idx = train_test_split(np.arange(len(graphs)), test_size=0.2, stratify=y, seed=seed)
    train, test = [graphs[i] for i in train_idx], [graphs[i] for i in test_idx]
    sizes = np.array([g.num_nodes for g in graphs])
    print(f"{len(graphs)} generated graphs of {sizes.min()}-{sizes.max()} nodes, {y.mean():.0%} with a cycle; "
          f"{len(train)} for training, {len(test)} for the test")

    # Baselines on per-graph summaries; train_tabular's stratified split with the same seed and test size
    # holds out the same graphs.
    counts, degrees = summaries(graphs)
    base_counts = train_tabular(counts, y, "classification", hidden=(16,), epochs=args["epochs"], lr=1e-2,
                                test_size=0.2, seed=seed).scores["accuracy"]
    base_degrees = train_tabular(degrees, y, "classification", hidden=(32,), epochs=args["epochs"], lr=1e-2,
                                 test_size=0.2, seed=seed).scores["accuracy"]

    fastnn.manual_seed(seed)
    model = GIN(1, args["hidden"], 2)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args["epochs"])
    train_loader = DataLoader(train, batch_size=32, shuffle=True)
    test_loader = DataLoader(test, batch_size=128)
    y_test = y[test_idx]
    losses, accuracies = [], []
    start = time.perf_counter()
    for epoch in range(args["epochs"]):
        losses.append(train_graph_epoch(model, train_loader, F.cross_entropy, opt))
        sched.step()
        accuracies.append(float(np.mean(evaluate(model, test_loader) == y_test)))
        if epoch % 5 == 4 or epoch == args["epochs"] - 1:
            print(f"epoch {epoch + 1}: training loss {losses[-1]:.4f}, test accuracy {accuracies[-1]:.4f}")
    seconds = time.perf_counter() - start
    pred = evaluate(model, test_loader)
    acc = float(np.mean(pred == y_test))
    print(f"\ntest accuracy: {acc:.4f} (GIN, {args['epochs']} epochs in {seconds:.0f} s on "
          f"{fastnn.get_num_threads()} CPU threads; chance 0.5)")
    print(f"dense network on (nodes, edges): {base_counts:.4f}   on the degree histogram: {base_degrees:.4f}")
    _common.save_plot("plot_curves", "52_graph_classification_curves.png",
                      {"training loss": losses, "test accuracy": accuracies}, ylabel="loss / accuracy",
                      title="GIN on cycles vs trees")
    for i in range(min(2, len(test))):
        _common.save_plot("plot_graph", f"52_test_graph_{i}.png", test[i], node_color="tab:green" if pred[i] else
                          "tab:orange", title=f"true: {CLASSES[y_test[i]]}, predicted: {CLASSES[pred[i]]}")
    return acc, base_counts, base_degrees


if __name__ == "__main__":
    main()
