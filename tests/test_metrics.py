"""fastnn.metrics against scikit-learn."""
import warnings

import numpy as np
import pytest

import fastnn
from fastnn import metrics as M

skm = pytest.importorskip("sklearn.metrics")


def _cases(n_cases=60, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(n_cases):
        n = int(rng.integers(1, 60))
        k = int(rng.integers(1, 7))
        t = rng.integers(0, k, n)
        p = np.where(rng.random(n) < 0.6, t, rng.integers(0, k + 1, n))  # mostly right, some unseen labels
        yield t, p


def test_accuracy_and_inputs_kinds():
    for t, p in _cases():
        assert M.accuracy(t, p) == pytest.approx(skm.accuracy_score(t, p))
        assert M.accuracy(t, p, normalize=False) == skm.accuracy_score(t, p, normalize=False)
    t = np.array([0, 2, 1, 1])
    scores = np.array([[0.9, 0.0, 0.1], [0.1, 0.2, 0.7], [0.2, 0.5, 0.3], [0.6, 0.3, 0.1]], np.float32)
    assert M.accuracy(fastnn.from_numpy(t), fastnn.from_numpy(scores)) == 0.75  # argmax of scores
    assert M.accuracy([1, 0, 1], [0.8, 0.3, 0.4]) == pytest.approx(2 / 3)  # probabilities thresholded at 0.5
    assert M.accuracy([1, 0, 1], np.array([[2.0], [-1.0], [0.5]]), threshold=0.0) == 1.0
    assert M.accuracy(np.eye(3)[[0, 2, 1, 1]], scores) == 0.75  # one-hot targets
    with pytest.raises(ValueError, match="different numbers of samples"):
        M.accuracy([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="class labels"):
        M.accuracy([0.5, 1.0], [0, 1])


@pytest.mark.parametrize("normalize", [None, "true", "pred", "all"])
def test_confusion_matrix_equals_sklearn(normalize):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t, p in _cases():
            np.testing.assert_allclose(M.confusion_matrix(t, p, normalize=normalize),
                                       skm.confusion_matrix(t, p, normalize=normalize))
            k = int(max(t.max(), p.max())) + 2
            np.testing.assert_allclose(M.confusion_matrix(t, p, num_classes=k, normalize=normalize),
                                       skm.confusion_matrix(t, p, labels=np.arange(k), normalize=normalize))


def test_confusion_matrix_layout_and_errors():
    cm = M.confusion_matrix(fastnn.tensor([0, 0, 1, 2]), fastnn.tensor([0, 1, 1, 0]), num_classes=3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 0]] and cm.dtype == np.int64
    with pytest.raises(ValueError, match="label 5 outside"):
        M.confusion_matrix([0, 5], [0, 1], num_classes=3)
    with pytest.raises(ValueError, match="normalize"):
        M.confusion_matrix([0], [0], normalize="rows")


@pytest.mark.parametrize("average", [None, "macro", "micro", "weighted"])
@pytest.mark.parametrize("zero_division", [0, 1, np.nan])
def test_precision_recall_f1_equals_sklearn(average, zero_division):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # our side must not warn at all
        for t, p in _cases():
            ours = M.precision_recall_f1(t, p, average=average, zero_division=zero_division)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = skm.precision_recall_fscore_support(t, p, average=average, zero_division=zero_division)[:3]
            np.testing.assert_allclose(np.array(ours, dtype=float), np.array(ref, dtype=float), equal_nan=True)
            if average is not None:
                k = int(max(t.max(), p.max())) + 2
                ours = M.precision_recall_f1(t, p, average=average, num_classes=k, zero_division=zero_division)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ref = skm.precision_recall_fscore_support(t, p, average=average, labels=np.arange(k),
                                                              zero_division=zero_division)[:3]
                np.testing.assert_allclose(np.array(ours, dtype=float), np.array(ref, dtype=float), equal_nan=True)


def test_binary_average_and_helpers():
    t = np.array([0, 1, 1, 0, 1, 1, 0])
    p = np.array([0, 1, 0, 1, 1, 1, 0])
    ref = skm.precision_recall_fscore_support(t, p, average="binary")[:3]
    np.testing.assert_allclose(M.precision_recall_f1(t, p, average="binary"), ref)
    assert M.f1_score(t, p, average="binary") == pytest.approx(skm.f1_score(t, p))
    assert M.precision(t, p) == pytest.approx(skm.precision_score(t, p, average="macro"))
    assert M.recall(t, p, average="weighted") == pytest.approx(skm.recall_score(t, p, average="weighted"))
    with pytest.raises(ValueError, match="binary"):
        M.precision_recall_f1([0, 1, 2], [0, 1, 2], average="binary")
    with pytest.raises(ValueError, match="average"):
        M.precision_recall_f1([0, 1], [0, 1], average="samples")


def test_classification_report_equals_sklearn():
    for t, p in _cases(40, seed=1):
        for digits in (2, 4):
            ours = M.classification_report(t, p, digits=digits)
            if (t == p).any():  # (scikit-learn prints float supports when nothing is right)
                assert ours == skm.classification_report(t, p, digits=digits, zero_division=0)
            d_ours = M.classification_report(t, p, output_dict=True)
            d_ref = skm.classification_report(t, p, output_dict=True, zero_division=0)
            assert d_ours.keys() == d_ref.keys()
            for key in d_ref:
                if key == "accuracy":
                    assert d_ours[key] == pytest.approx(d_ref[key])
                else:
                    for col in d_ref[key]:
                        assert d_ours[key][col] == pytest.approx(d_ref[key][col])
    names = ["cat", "dog", "bird"]
    t, p = [0, 1, 2, 2, 1], [0, 2, 2, 2, 1]
    assert M.classification_report(t, p, target_names=names) == skm.classification_report(t, p, target_names=names)
    with pytest.raises(ValueError, match="target_names"):
        M.classification_report(t, p, target_names=["a"])


def test_regression_metrics_equal_sklearn():
    rng = np.random.default_rng(0)
    for shape in [(1,), (2,), (17,), (40, 1), (30, 3)]:
        t = rng.normal(size=shape)
        p = t + rng.normal(scale=0.5, size=shape)
        assert M.mse(t, p) == pytest.approx(skm.mean_squared_error(t, p))
        assert M.mae(t, p) == pytest.approx(skm.mean_absolute_error(t, p))
        assert M.rmse(t, p) == pytest.approx(skm.root_mean_squared_error(t, p))
        if shape[0] >= 2:
            assert M.r2(t, p) == pytest.approx(skm.r2_score(t, p))
    const = np.full(5, 2.0)
    assert M.r2(const, const) == skm.r2_score(const, const) == 1.0
    assert M.r2(const, const + 1) == skm.r2_score(const, const + 1) == 0.0
    tt = fastnn.from_numpy(np.array([1.0, 2.0, 3.0], np.float32))
    assert M.mse(tt, fastnn.from_numpy(np.array([[1.0], [2.0], [5.0]], np.float32))) == pytest.approx(4 / 3)
    with pytest.raises(ValueError, match="same shape"):
        M.mse(np.zeros(3), np.zeros(4))


def test_roc_auc_score_equals_sklearn():
    rng = np.random.default_rng(3)
    for i in range(40):
        n = int(rng.integers(2, 400))
        t = rng.integers(0, 2, n)
        t[:2] = (0, 1)
        # integer scores give many ties, which count one half as in scikit-learn's trapezoids
        s = rng.integers(0, 4, n).astype(np.float64) if i % 2 else rng.normal(size=n) + t
        labels = np.where(t == 1, 1, -1) if i % 3 == 0 else t
        assert M.roc_auc_score(labels, s) == pytest.approx(skm.roc_auc_score(labels, s), abs=1e-12)
    t = np.array([0, 1, 1, 0, 1])
    s = fastnn.from_numpy(np.array([0.1, 0.9, 0.8, 0.3, 0.2], np.float32))
    assert M.roc_auc_score(fastnn.from_numpy(t), s) == pytest.approx(skm.roc_auc_score(t, s.numpy()))
    assert M.roc_auc_score([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    with pytest.raises(ValueError, match="exactly two classes"):
        M.roc_auc_score([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="same length"):
        M.roc_auc_score([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="NaN"):
        M.roc_auc_score([0, 1], [0.1, float("nan")])


def test_rankdata_equals_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(4)
    for n in (0, 1, 7, 500):
        a = rng.integers(0, 5, n)
        np.testing.assert_allclose(M.rankdata(a), stats.rankdata(a))
