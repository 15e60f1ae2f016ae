"""Text classification, cross-validated: TF-IDF + a linear/MLP layer, or an EmbeddingBag model.

Small labelled corpora (a few hundred texts) give noisy single-split accuracies, so
:func:`classify_texts` uses stratified k-fold cross-validation: every text is predicted once by a
model that did not train on it, the vocabulary and the idf weights are fitted on the training
folds only, and the majority-class baseline is the training folds' most frequent class. The
accuracy, confusion matrix and report are over those out-of-fold predictions.

Models:
    ``"tfidf"``: TF-IDF vectors (``sublinear_tf``) → ``Linear`` (``hidden=0``: logistic regression)
    or → ``Linear → ReLU → Dropout → Linear``.
    ``"embedding"``: token ids → ``EmbeddingBag(mode="mean")`` → ``Linear`` (fastText's classifier).
``subwords=True`` adds each word's character 3–5-grams as tokens (:func:`~fastnn.data.text.char_ngrams`).
"""
from __future__ import annotations

import numpy as np

__all__ = ["TextResult", "classify_texts"]


class TextResult:
    """What :func:`classify_texts` produced: out-of-fold ``y_pred`` beside ``y_true``, the majority
    baseline's ``baseline_pred``, ``accuracy``/``baseline_accuracy``, ``confusion``, the first
    fold's ``history`` (with the held-out fold as validation data, for the curves only) and the
    first fold's vocabulary size ``n_tokens``."""

    def __init__(self, y_true, y_pred, baseline_pred, history, n_tokens, class_names):
        from .. import metrics
        self.y_true, self.y_pred, self.baseline_pred = y_true, y_pred, baseline_pred
        self.accuracy = float((y_pred == y_true).mean())
        self.baseline_accuracy = float((baseline_pred == y_true).mean())
        self.confusion = metrics.confusion_matrix(y_true, y_pred, num_classes=len(class_names))
        self.history, self.n_tokens, self.class_names = history, n_tokens, list(class_names)

    def report(self, digits=3):
        from .. import metrics
        return metrics.classification_report(self.y_true, self.y_pred, target_names=self.class_names,
                                             digits=digits, num_classes=len(self.class_names))


def _bags(id_lists):
    """``(flat ids, offsets)`` int64 tensors: EmbeddingBag's input for a batch of id lists."""
    from .. import tensor
    lengths = np.fromiter((len(ids) for ids in id_lists), dtype=np.int64, count=len(id_lists))
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    flat = np.concatenate([np.asarray(ids, dtype=np.int64) for ids in id_lists]) if len(id_lists) else []
    return tensor(np.asarray(flat, dtype=np.int64)), tensor(offsets)


def _bag_collate(batch):
    from .. import tensor
    ids, offsets = _bags([ids for ids, _ in batch])
    return ids, offsets, tensor(np.asarray([label for _, label in batch], dtype=np.int64))


class _BagClassifier:
    """EmbeddingBag(mean) → Linear, built lazily so that fastnn.nn is imported only when used."""

    @staticmethod
    def build(n_tokens, dim, n_classes, pad_index):
        from .. import nn

        class BagClassifier(nn.Module):
            def __init__(self):
                super().__init__()
                self.embedding = nn.EmbeddingBag(n_tokens, dim, mode="mean", padding_idx=pad_index)
                self.fc = nn.Linear(dim, n_classes)

            def forward(self, ids, offsets):
                return self.fc(self.embedding(ids, offsets))
        return BagClassifier()


def _fold(model, train_docs, y_train, test_docs, y_test, n_classes, cfg, verbose):
    """Train on one fold; returns (test predictions, history, vocabulary size)."""
    from .. import nn, optim
    from ..data import DataLoader, TensorDataset
    from ..data.text import TfidfEncoder, Vocab
    from .loop import fit, predict

    vocab = Vocab.build(train_docs, min_freq=cfg["min_freq"])
    if model == "tfidf":
        enc = TfidfEncoder(vocab, sublinear_tf=True).fit(train_docs)
        x_train, x_test = enc.transform(train_docs), enc.transform(test_docs)
        layers = [nn.Linear(len(vocab), n_classes)] if not cfg["hidden"] else [
            nn.Linear(len(vocab), cfg["hidden"]), nn.ReLU(), nn.Dropout(cfg["dropout"]),
            nn.Linear(cfg["hidden"], n_classes)]
        net = nn.Sequential(*layers)
        train_data = DataLoader(TensorDataset(x_train, y_train), batch_size=cfg["batch_size"], shuffle=True)
        test_data = (x_test, y_test)
        opt = optim.AdamW(net.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    else:
        net = _BagClassifier.build(len(vocab), cfg["embedding_dim"], n_classes, vocab.pad_index)
        train_ids = [vocab.encode(d) or [vocab.pad_index] for d in train_docs]
        test_ids = [vocab.encode(d) or [vocab.pad_index] for d in test_docs]
        train_data = DataLoader(list(zip(train_ids, y_train.tolist())), batch_size=cfg["batch_size"], shuffle=True,
                                collate_fn=_bag_collate)
        test_data = DataLoader(list(zip(test_ids, y_test.tolist())), batch_size=256, collate_fn=_bag_collate)
        opt = optim.Adam(net.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    history = fit(net, train_data, nn.CrossEntropyLoss(), opt, epochs=cfg["epochs"], val_data=test_data,
                  metrics=["accuracy"], verbose=verbose)
    return predict(net, test_data).argmax(axis=1), history, len(vocab)


def classify_texts(texts, labels, class_names=None, *, model="tfidf", subwords=False, folds=5, epochs=20, lr=1e-2,
                   weight_decay=1e-2, batch_size=64, hidden=0, dropout=0.5, embedding_dim=64, min_freq=1, seed=0,
                   verbose=0) -> TextResult:
    """Cross-validate a text classifier on ``texts`` (str) with int ``labels``; see the module docstring."""
    from .. import manual_seed
    from ..data import StratifiedKFold
    from ..data.text import char_ngrams, tokenize

    if model not in ("tfidf", "embedding"):
        raise ValueError(f"classify_texts: 'model' must be 'tfidf' or 'embedding', got {model!r}")
    y = np.asarray(labels, dtype=np.int64)
    if y.ndim != 1 or len(y) != len(texts):
        raise ValueError(f"classify_texts: 'labels' must be 1-D with one label per text, got shape {y.shape} for "
                         f"{len(texts)} texts")
    n_classes = int(y.max()) + 1 if len(y) else 0
    class_names = [str(c) for c in range(n_classes)] if class_names is None else list(class_names)
    docs = [tokenize(t) for t in texts]
    if subwords:
        docs = [char_ngrams(d) for d in docs]
    cfg = dict(epochs=epochs, lr=lr, weight_decay=weight_decay, batch_size=batch_size, hidden=hidden,
               dropout=dropout, embedding_dim=embedding_dim, min_freq=min_freq)
    y_pred, baseline = np.empty_like(y), np.empty_like(y)
    first = None
    for k, (train, test) in enumerate(StratifiedKFold(folds, shuffle=True, seed=seed).split(y)):
        manual_seed(seed * 1000 + k)
        pred, history, n_tokens = _fold(model, [docs[i] for i in train], y[train], [docs[i] for i in test], y[test],
                                        n_classes, cfg, verbose)
        y_pred[test] = pred
        baseline[test] = np.bincount(y[train], minlength=n_classes).argmax()
        if first is None:
            first = (history, n_tokens)
    return TextResult(y, y_pred, baseline, first[0], first[1], class_names)
