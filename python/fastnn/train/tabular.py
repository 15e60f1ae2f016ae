"""Dense networks on tabular data, end to end: split, standardise on the training part, train,
evaluate on the test part. Shared by the course examples, ``fastnn demo`` and the tests.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import metrics as _metrics

_ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "leaky_relu")


def _module_base():
    from ..nn import Module
    return Module


class Ensemble(_module_base()):
    """The mean of the outputs of several models (trained separately)."""

    def __init__(self, models):
        from ..nn import ModuleList
        super().__init__()
        self.members = ModuleList(models)

    def forward(self, *inputs):
        out = None
        for m in self.members:
            o = m(*inputs)
            out = o if out is None else out + o
        return out / len(self.members)


def mlp(in_features, hidden=(64,), out_features=1, activation="relu", dropout=0.0):
    """``Linear → activation (→ Dropout)`` for each hidden width, then a Linear output layer.
    ``hidden=()`` gives a single Linear layer (linear / logistic regression)."""
    from .. import nn
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU, "leaky_relu": nn.LeakyReLU}
    if activation not in acts:
        raise ValueError(f"mlp: 'activation' must be one of {_ACTIVATIONS}, got {activation!r}")
    if isinstance(hidden, numbers.Integral):
        hidden = (int(hidden),)
    layers, width = [], int(in_features)
    for h in hidden:
        layers += [nn.Linear(width, int(h)), acts[activation]()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = int(h)
    layers.append(nn.Linear(width, int(out_features)))
    return nn.Sequential(*layers)


class TabularResult:
    """What :func:`train_tabular` produced: ``model``, ``scaler`` (fitted on the training part),
    ``history``, ``scores`` (test metrics), ``y_test``/``y_pred`` (labels or values on the original
    scale), ``confusion`` (classification), ``predict(X)`` for new raw samples."""

    def __init__(self, task, model, scaler, history, scores, y_test, y_pred, confusion, target_mean, target_std,
                 binary, n_classes):
        self.task = task
        self.model = model
        self.scaler = scaler
        self.history = history
        self.scores = scores
        self.y_test = y_test
        self.y_pred = y_pred
        self.confusion = confusion
        self._target = (target_mean, target_std)
        self._binary = binary
        self.n_classes = n_classes

    def predict(self, X):
        """Labels (classification) or values on the original target scale for raw samples ``X``."""
        from .loop import predict
        out = predict(self.model, np.asarray(self.scaler.transform(np.asarray(X, dtype=np.float32)), np.float32))
        if self.task == "regression":
            return out[:, 0] * self._target[1] + self._target[0]
        return (out[:, 0] > 0).astype(np.int64) if self._binary else out.argmax(axis=1)


def train_tabular(X, y, task="classification", *, hidden=(64,), activation="relu", dropout=0.0, epochs=30, lr=1e-3,
                  batch_size=32, weight_decay=0.0, optimizer="adam", test_size=0.2, seed=0, scale_target=True,
                  callbacks=(), verbose=0, val_split=0.0, ensemble=1):
    """Train a dense network on ``(X, y)`` and evaluate it on a held-out test part.

    ``task="classification"``: a stratified split; two classes use one logit with
    ``BCEWithLogitsLoss`` (logistic regression when ``hidden=()``), more use ``CrossEntropyLoss``;
    scores: accuracy, macro precision/recall/F1, and the confusion matrix.
    ``task="regression"``: ``MSELoss`` on a target standardised with the training statistics
    (``scale_target``); scores mse, rmse, mae, r2 on the original scale.
    Features are standardised with a StandardScaler fitted on the training part only. The test
    part is the validation data followed during training, unless ``val_split`` > 0 carves a
    separate validation part out of the training part (then ``callbacks`` such as EarlyStopping
    never see the test part). ``seed`` seeds fastnn's generator (initialisation, shuffling) and the split.
    ``ensemble=n`` trains n networks from different initialisations and averages their outputs
    (:class:`Ensemble`; ``history`` is the first one's).
    """
    from .. import manual_seed, nn, optim
    from ..data import StandardScaler, train_test_split
    from .loop import evaluate, fit, predict
    if task not in ("classification", "regression"):
        raise ValueError(f"train_tabular: 'task' must be 'classification' or 'regression', got {task!r}")
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y):
        raise ValueError(f"train_tabular: expected X of shape (N, features) and y of shape (N,), got {X.shape} "
                         f"and {y.shape}")
    manual_seed(seed)
    classification = task == "classification"
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=test_size, stratify=y if classification else None,
                                          seed=seed)
    Xva = yva = None
    if val_split:
        Xtr, Xva, ytr, yva = train_test_split(Xtr, ytr, test_size=val_split,
                                              stratify=ytr if classification else None, seed=seed + 1)
    scaler = StandardScaler().fit(Xtr)
    Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
    if Xva is not None:
        Xva = scaler.transform(Xva)
    mean, std = 0.0, 1.0
    binary = False
    n_classes = None
    if classification:
        y_int = y.astype(np.int64)
        n_classes = int(y_int.max()) + 1
        binary = n_classes == 2
        out_features = 1 if binary else n_classes
        loss_fn = nn.BCEWithLogitsLoss() if binary else nn.CrossEntropyLoss()

        def target(v):
            return v.astype(np.float32)[:, None] if binary else v.astype(np.int64)
        metrics = ["accuracy"]
    else:
        if scale_target:
            mean, std = float(ytr.mean()), float(ytr.std()) or 1.0
        out_features = 1
        loss_fn = nn.MSELoss()

        def target(v):
            return ((v.astype(np.float64) - mean) / std).astype(np.float32)[:, None]
        metrics = ["mae"]
    opts = {"adam": optim.Adam, "sgd": optim.SGD, "adamw": optim.AdamW, "rmsprop": optim.RMSprop}
    if optimizer not in opts:
        raise ValueError(f"train_tabular: 'optimizer' must be one of {sorted(opts)}, got {optimizer!r}")
    if isinstance(ensemble, bool) or not isinstance(ensemble, int) or ensemble < 1:
        raise ValueError(f"train_tabular: 'ensemble' must be a positive int, got {ensemble!r}")
    val = (Xva, target(yva)) if Xva is not None else (Xte, target(yte))
    members, history = [], None
    for i in range(ensemble):
        model = mlp(X.shape[1], hidden, out_features, activation, dropout)
        opt = opts[optimizer](model.parameters(), lr=lr, weight_decay=weight_decay)
        h = fit(model, (Xtr, target(ytr)), loss_fn, opt, epochs=epochs, val_data=val, metrics=metrics,
                callbacks=callbacks if i == 0 else (), verbose=verbose if i == 0 else 0, batch_size=batch_size)
        history = history or h
        members.append(model)
    model = members[0] if ensemble == 1 else Ensemble(members)
    model.eval()
    out = predict(model, Xte)
    confusion = None
    if classification:
        y_pred = (out[:, 0] > 0).astype(np.int64) if binary else out.argmax(axis=1)
        p, r, f1 = _metrics.precision_recall_f1(yte, y_pred, average="macro")
        scores = {"accuracy": _metrics.accuracy(yte, y_pred), "precision": p, "recall": r, "f1": f1}
        confusion = _metrics.confusion_matrix(yte, y_pred, num_classes=n_classes)
        scores["loss"] = evaluate(model, (Xte, target(yte)), loss_fn)["loss"]
    else:
        y_pred = out[:, 0].astype(np.float64) * std + mean
        scores = {name: getattr(_metrics, name)(yte, y_pred) for name in ("mse", "rmse", "mae", "r2")}
    return TabularResult(task, model, scaler, history, scores, yte, y_pred, confusion, mean, std, binary, n_classes)
