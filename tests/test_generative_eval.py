"""ImageEvaluator: a classifier trained here scores generated images (confidence, inception score,
Fréchet distance), with reduced settings on scikit-learn's digits."""
import os

import numpy as np
import pytest

import fastnn
from fastnn import metrics
from fastnn.train import ImageEvaluator

pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def digits():
    x, y = fastnn.datasets.digits_images()
    perm = np.random.default_rng(0).permutation(len(x))
    return x[perm], y[perm]


@pytest.fixture(scope="module")
def evaluator(digits):
    x, y = digits
    # the first 1300 images train/test the evaluator; the other 497 are a second real split it never saw
    return ImageEvaluator(x[:1300], y[:1300], epochs=10, seed=0)


def test_attributes_and_accuracy(evaluator):
    ev = evaluator
    assert ev.test_accuracy >= 0.93
    assert ev.image_shape == (1, 8, 8) and ev.num_classes == 10
    mu, sigma = ev.real_statistics
    d = mu.shape[0]
    assert 32 <= d <= 128 and sigma.shape == (d, d) and mu.dtype == np.float64
    assert np.allclose(sigma, sigma.T)
    assert len(ev.test_indices) == 260 and len(np.unique(ev.test_indices)) == 260
    assert not ev.classifier.training
    f = ev.classifier.features(fastnn.zeros(3, 1, 8, 8))
    assert tuple(f.shape) == (3, d)
    assert isinstance(ev.classifier, fastnn.nn.Module)
    assert ev.history is not None and len(ev.history.history["loss"]) == 10


def test_real_images_score_well_and_noise_or_grey_badly(evaluator, digits):
    x, y = digits
    ev = evaluator
    real = ev.score(x[1300:])
    noise = ev.score(np.random.default_rng(1).random((497, 1, 8, 8), dtype=np.float32))
    grey = ev.score(np.full((497, 1, 8, 8), 0.5, np.float32))
    assert real["confidence"] >= 0.85  # 10 epochs here; about 0.99 with the default 30
    assert real["inception_score"] >= 7.0
    assert real["frechet_distance"] < 0.1 * noise["frechet_distance"]
    assert real["frechet_distance"] < 0.1 * grey["frechet_distance"]
    # one image repeated: p(y|x) = p(y), KL = 0
    assert grey["inception_score"] == pytest.approx(1.0, abs=1e-9)
    assert grey["class_counts"].max() == 497
    assert real["class_counts"].dtype == np.int64 and real["class_counts"].sum() == 497
    assert (real["class_counts"] > 20).all()
    acc = np.mean(ev.predict(x[1300:]) == y[1300:])
    assert acc >= 0.9


def test_scores_match_metrics(evaluator, digits):
    x, _ = digits
    ev = evaluator
    imgs = x[1300:1500]
    s = ev.score(imgs, splits=2)
    p = ev.predict_proba(imgs)
    assert p.shape == (200, 10) and np.allclose(p.sum(axis=1), 1.0)
    assert s["confidence"] == pytest.approx(metrics.mean_max_probability(p))
    assert s["inception_score"] == pytest.approx(metrics.inception_score(p, splits=2).mean)
    f = ev.features(imgs)
    assert s["frechet_distance"] == pytest.approx(
        metrics.frechet_distance(*metrics.feature_statistics(f), *ev.real_statistics))
    # the held-out real features give the recorded statistics
    mu, sigma = metrics.feature_statistics(ev.features(x[:1300][ev.test_indices]))
    assert np.allclose(mu, ev.real_statistics[0], atol=1e-5) and np.allclose(sigma, ev.real_statistics[1], atol=1e-5)
    # tensors are accepted like arrays
    assert np.allclose(ev.predict_proba(fastnn.from_numpy(imgs)), p)


def test_save_load_round_trip(evaluator, digits, tmp_path):
    x, _ = digits
    path = tmp_path / "digits_evaluator.fnn"
    evaluator.save(path)
    assert sorted(os.listdir(tmp_path)) == ["digits_evaluator.fnn"]  # no temporary left behind
    ev = ImageEvaluator.load(path)
    assert ev.history is None
    assert ev.test_accuracy == evaluator.test_accuracy and ev.image_shape == evaluator.image_shape
    np.testing.assert_array_equal(ev.test_indices, evaluator.test_indices)
    a, b = evaluator.score(x[1300:]), ev.score(x[1300:])
    for k in ("confidence", "inception_score", "frechet_distance"):
        assert a[k] == pytest.approx(b[k], rel=1e-9, abs=1e-9)
    np.testing.assert_array_equal(a["class_counts"], b["class_counts"])
    fastnn.save({"something": 1}, tmp_path / "other.fnn")
    with pytest.raises(ValueError, match="ImageEvaluator.save"):
        ImageEvaluator.load(tmp_path / "other.fnn")


def test_deterministic_for_a_seed(digits):
    x, y = digits
    fastnn.manual_seed(123)
    expected = fastnn.rand(3).numpy()
    fastnn.manual_seed(123)
    a = ImageEvaluator(x[:200], y[:200], epochs=1, seed=3)
    # the evaluator's own seed leaves the caller's global random state alone
    np.testing.assert_array_equal(fastnn.rand(3).numpy(), expected)
    b = ImageEvaluator(x[:200], y[:200], epochs=1, seed=3)
    c = ImageEvaluator(x[:200], y[:200], epochs=1, seed=4)
    np.testing.assert_array_equal(a.test_indices, b.test_indices)
    # equal up to the rounding of multi-threaded reductions inside the kernels
    for k, v in a.classifier.state_dict().items():
        np.testing.assert_allclose(v.numpy(), b.classifier.state_dict()[k].numpy(), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(a.real_statistics[1], b.real_statistics[1], rtol=1e-4, atol=1e-6)
    assert not np.array_equal(a.real_statistics[0], c.real_statistics[0])


@pytest.mark.parametrize("shape", [(3, 12, 10), (1, 28, 28), (2, 8, 33)])
def test_other_image_shapes(shape):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 10)
    x = (rng.random((30, *shape)) + y[:, None, None, None]).astype(np.float32)  # classes differ in brightness
    ev = ImageEvaluator(x, y, epochs=1, batch_size=8)
    assert ev.image_shape == shape and ev.num_classes == 3
    s = ev.score(x[:5])
    assert set(s) == {"confidence", "inception_score", "frechet_distance", "class_counts"}
    assert s["class_counts"].shape == (3,)
    assert np.isfinite(s["frechet_distance"])


def test_bad_input(evaluator, digits):
    x, y = digits
    with pytest.raises(ValueError, match=r"images.*\(N, 1, 8, 8\).*\(4, 1, 28, 28\)"):
        evaluator.score(np.zeros((4, 1, 28, 28), np.float32))
    with pytest.raises(ValueError, match="images.*dtype uint8"):
        evaluator.score(np.zeros((4, 1, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"images.*\(N, C, H, W\).*\(4, 8, 8\)"):
        evaluator.predict_proba(np.zeros((4, 8, 8), np.float32))
    with pytest.raises(ValueError, match="at least 2 images"):
        evaluator.score(np.zeros((1, 1, 8, 8), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        evaluator.score(np.full((4, 1, 8, 8), np.nan, np.float32))
    with pytest.warns(UserWarning, match="range"):
        evaluator.score(np.full((4, 1, 8, 8), -1.0, np.float32) + np.arange(4, dtype=np.float32)[:, None, None, None])
    with pytest.raises(ValueError, match="'labels' has 10"):
        ImageEvaluator(x[:20], y[:10])
    with pytest.raises(ValueError, match=r"at least 8x8.*\(20, 1, 7, 7\)"):
        ImageEvaluator(np.zeros((20, 1, 7, 7), np.float32), y[:20])
    with pytest.raises(ValueError, match="labels"):
        ImageEvaluator(x[:20], y[:20].astype(np.float32))
    with pytest.raises(ValueError, match="epochs"):
        ImageEvaluator(x[:20], y[:20], epochs=0)
    with pytest.raises(ValueError, match="'lr'"):
        ImageEvaluator(x[:20], y[:20], lr=-1.0)
    with pytest.raises(ValueError, match="test_size"):
        ImageEvaluator(x[:20], y[:20], test_size=1.5)
    with pytest.raises(ValueError, match="2 classes"):
        ImageEvaluator(x[:20], np.zeros(20, np.int64))
