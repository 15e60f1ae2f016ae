"""Training helpers for graphs. Transductive node labelling on one graph: a 2-layer GCN (Kipf & Welling)
trained on a few labelled nodes predicts the others (``fastnn demo graph``, examples/50_gcn_karate.py).
Graph-level models over a graph DataLoader: one training epoch and the predictions of a loader
(examples/51 and 52)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import nn


class GCNClassifier(nn.Module):
    """GCNConv(in → hidden) → ReLU → dropout → GCNConv(hidden → out); ``forward(x, edge_index)`` returns
    the class scores and the hidden node embeddings. ``graph=False`` puts Linear layers in place of the
    convolutions: the same network seeing each node alone, the baseline that shows what the edges bring."""

    def __init__(self, in_channels, hidden_channels, out_channels, dropout=0.5, graph=True):
        super().__init__()
        from ..graph.nn import GCNConv
        layer = GCNConv if graph else nn.Linear
        self.conv1 = layer(in_channels, hidden_channels)
        self.conv2 = layer(hidden_channels, out_channels)
        self.dropout = dropout
        self.graph = graph

    def _apply(self, conv, h, edge_index):
        return conv(h, edge_index) if self.graph else conv(h)

    def forward(self, x, edge_index):
        from ..nn import functional as F
        h = F.relu(self._apply(self.conv1, x, edge_index))
        out = self._apply(self.conv2, F.dropout(h, p=self.dropout, training=self.training), edge_index)
        return out, h


def labelled_nodes(y, per_class, seed):
    """A boolean mask of ``per_class`` nodes drawn at random (numpy generator seeded with ``seed``) from
    each class of the labels ``y``."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(y), bool)
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if per_class > len(members):
            raise ValueError(f"labelled_nodes: {per_class} labelled nodes asked for class {c}, which has "
                             f"{len(members)}")
        mask[rng.choice(members, per_class, replace=False)] = True
    return mask


def train_node_classifier(model, data, train_mask, epochs=200, lr=0.01, weight_decay=5e-4):
    """Full-graph training of ``model(x, edge_index) -> (scores, hidden)`` with cross-entropy on the nodes of
    ``train_mask`` (Adam); returns the predicted class of every node and the hidden embeddings (numpy)."""
    from .. import from_numpy, no_grad, optim
    from ..nn import functional as F
    opt = optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    mask = from_numpy(np.asarray(train_mask, bool))
    for _ in range(epochs):
        model.train()
        opt.zero_grad()
        out, _ = model(data.x, data.edge_index)
        F.cross_entropy(out[mask], data.y[mask]).backward()
        opt.step()
    model.eval()
    with no_grad():
        out, hidden = model(data.x, data.edge_index)
    return out.argmax(dim=1).numpy(), hidden.numpy()


def train_graph_epoch(model, loader, loss_fn, optimizer):
    """One epoch of ``loss_fn(model(x, edge_index, batch), y)`` over the batches of a graph ``loader``, one
    optimiser step per batch; returns the mean loss per graph."""
    model.train()
    total, graphs = 0.0, 0
    for data in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(data.x, data.edge_index, data.batch), data.y)
        loss.backward()
        optimizer.step()
        total += float(loss.item()) * data.num_graphs
        graphs += data.num_graphs
    return total / max(graphs, 1)


def predict_graphs(model, loader):
    """``model(x, edge_index, batch)`` on every batch of a graph ``loader`` in eval mode without gradients,
    concatenated as one numpy array (one row per graph)."""
    from .. import no_grad
    model.eval()
    with no_grad():
        return np.concatenate([model(d.x, d.edge_index, d.batch).numpy() for d in loader])


class NodeLabellingResult(NamedTuple):
    accuracy: float  # on the held-out (unlabelled) nodes
    prediction: np.ndarray  # predicted class of every node
    hidden: np.ndarray  # hidden embeddings of every node
    train_mask: np.ndarray


def label_nodes(data, per_class=2, seed=0, epochs=200, hidden_channels=16, graph=True):
    """Draw ``per_class`` labelled nodes per class, train a :class:`GCNClassifier` (seeded with ``seed``)
    on them and score it on the other nodes."""
    from .. import manual_seed
    y = data.y.numpy()
    train_mask = labelled_nodes(y, per_class, seed)
    manual_seed(seed)
    model = GCNClassifier(data.num_features, hidden_channels, int(y.max()) + 1, graph=graph)
    pred, hidden = train_node_classifier(model, data, train_mask, epochs)
    held_out = ~train_mask
    return NodeLabellingResult(float(np.mean(pred[held_out] == y[held_out])), pred, hidden, train_mask)
