"""End to end (SCOPE.md, sequence 2): a LeNet-style CNN trained on scikit-learn's 8x8 digits reaches >= 97%
test accuracy."""
import numpy as np
import pytest

import fastnn
import fastnn.datasets
import fastnn.nn as nn
import fastnn.optim
from fastnn.models import DigitsCNN, LeNet5

pytest.importorskip("sklearn")


def _split(X, y, test_fraction, seed):
    rng = np.random.default_rng(seed)
    test_idx, train_idx = [], []
    for c in np.unique(y):  # stratified, so every class is in both parts
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(len(idx) * test_fraction))
        test_idx.append(idx[:k])
        train_idx.append(idx[k:])
    return np.concatenate(train_idx), np.concatenate(test_idx)


def _digits_cnn_accuracy(device):
    """Test accuracy of DigitsCNN trained for six epochs on ``device`` (same seed, same batches)."""
    X, y = fastnn.datasets.digits()
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    tr, te = _split(X, y, 0.25, seed=0)
    fastnn.manual_seed(0)
    model = DigitsCNN().to(device)
    opt = fastnn.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    xtr, ytr = X[tr], y[tr]
    for _ in range(6):
        model.train()
        perm = rng.permutation(len(tr))
        for i in range(0, len(perm), 64):
            b = perm[i:i + 64]
            opt.zero_grad()
            loss = loss_fn(model(fastnn.tensor(xtr[b], device=device)), fastnn.tensor(ytr[b], device=device))
            loss.backward()
            opt.step()
    model.eval()
    with fastnn.no_grad():
        pred = model(fastnn.tensor(X[te], device=device)).cpu().numpy().argmax(1)
    return float((pred == y[te]).mean())


def test_digits_cnn_reaches_97_percent():
    acc = _digits_cnn_accuracy("cpu")
    assert acc >= 0.97, f"test accuracy {acc:.4f} < 0.97"


@pytest.mark.gpu
@pytest.mark.skipif(not fastnn.cuda.is_available(), reason="needs a CUDA GPU and cupy")
def test_digits_cnn_on_gpu_reaches_the_cpu_accuracy():
    # the same seed gives the same weights, dropout masks and batches on both devices; only the
    # summation order differs, so the accuracies agree to a couple of test images
    cpu, gpu = _digits_cnn_accuracy("cpu"), _digits_cnn_accuracy("cuda")
    assert gpu >= 0.97, f"GPU test accuracy {gpu:.4f} < 0.97"
    assert abs(gpu - cpu) <= 0.01, f"GPU accuracy {gpu:.4f} vs CPU {cpu:.4f}"


def test_lenet5_shapes_and_one_step():
    fastnn.manual_seed(0)
    for size, pad, feats in ((28, 0, 256), (28, 2, 400), (32, 0, 400)):
        m = LeNet5(input_size=size, padding=pad)
        assert m.classifier[1].in_features == feats
        out = m(fastnn.randn(3, 1, size, size))
        assert tuple(out.shape) == (3, 10)
    m = LeNet5()
    opt = fastnn.optim.SGD(m.parameters(), lr=0.1)
    x = fastnn.randn(16, 1, 28, 28)
    y = fastnn.tensor(np.arange(16) % 10)
    loss_fn = nn.CrossEntropyLoss()
    first = loss_fn(m(x), y).item()
    for _ in range(5):
        opt.zero_grad()
        loss = loss_fn(m(x), y)
        loss.backward()
        opt.step()
    assert loss_fn(m(x), y).item() < first
    with pytest.raises(ValueError, match="too small"):
        LeNet5(input_size=8)
