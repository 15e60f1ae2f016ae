"""Generator evaluation metrics: Fréchet distance (against scipy.linalg.sqrtm's formula), Inception
score and mean max-probability (against scipy.stats.entropy), PSNR."""
import math

import numpy as np
import pytest

import fastnn
from fastnn import metrics


def _scipy_fid(mu1, s1, mu2, s2):
    linalg = pytest.importorskip("scipy.linalg")
    covmean = linalg.sqrtm(s1 @ s2)
    covmean = np.real(covmean)
    d = mu1 - mu2
    return d @ d + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)


@pytest.mark.parametrize("d", [1, 2, 7, 33])
def test_frechet_distance_matches_scipy_sqrtm(rng, d):
    a = rng.normal(size=(3 * d + 5, d))
    b = rng.normal(size=(2 * d + 9, d)) @ rng.normal(size=(d, d)) + 0.5
    mu1, s1 = a.mean(0), np.atleast_2d(np.cov(a, rowvar=False))
    mu2, s2 = b.mean(0), np.atleast_2d(np.cov(b, rowvar=False))
    got = metrics.frechet_distance(mu1, s1, mu2, s2)
    assert isinstance(got, float)
    assert got == pytest.approx(_scipy_fid(mu1, s1, mu2, s2), rel=1e-7, abs=1e-9)
    # tensors (float32) are accepted too
    got32 = metrics.frechet_distance(fastnn.tensor(mu1.astype(np.float32)), fastnn.tensor(s1.astype(np.float32)),
                                     fastnn.tensor(mu2.astype(np.float32)), fastnn.tensor(s2.astype(np.float32)))
    assert got32 == pytest.approx(got, rel=1e-4, abs=1e-4)


def test_frechet_distance_identical_and_rank_deficient(rng):
    x = rng.normal(size=(5, 12))  # 5 samples in 12-D: covariance of rank 4
    mu, s = metrics.feature_statistics(x)
    assert abs(metrics.frechet_distance(mu, s, mu, s)) < 1e-9
    y = rng.normal(size=(6, 12))
    got = metrics.frechet_distance_from_features(x, y)
    assert np.isfinite(got) and got > 0
    assert got == pytest.approx(_scipy_fid(*metrics.feature_statistics(x), *metrics.feature_statistics(y)), rel=1e-6)


def test_frechet_distance_from_features_matches_statistics(rng):
    x = rng.normal(size=(40, 6))
    y = rng.normal(size=(30, 6)) * 2 + 1
    mu1, s1 = x.mean(0), np.cov(x, rowvar=False)
    mu2, s2 = y.mean(0), np.cov(y, rowvar=False)
    assert metrics.frechet_distance_from_features(fastnn.tensor(x), y) == pytest.approx(
        _scipy_fid(mu1, s1, mu2, s2), rel=1e-8)


def test_frechet_distance_bad_input(rng):
    with pytest.raises(ValueError, match="mu2"):
        metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="sigma2"):
        metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(4))
    with pytest.raises(ValueError, match="sigma1"):
        metrics.frechet_distance(np.zeros(3), np.zeros(3), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="columns"):
        metrics.frechet_distance_from_features(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="fake"):
        metrics.frechet_distance_from_features(np.zeros((4, 3)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        metrics.frechet_distance_from_features(np.full((4, 3), np.nan), np.zeros((4, 3)))


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _reference_is(p, splits):
    stats = pytest.importorskip("scipy.stats")
    n = p.shape[0]
    scores = []
    for k in range(splits):
        part = p[k * (n // splits):(k + 1) * (n // splits)]
        py = part.mean(0)
        scores.append(math.exp(np.mean([stats.entropy(row, py) for row in part])))
    return np.mean(scores), np.std(scores)


@pytest.mark.parametrize("n,c,splits", [(1, 3, 1), (50, 10, 1), (53, 4, 5), (20, 2, 20)])
def test_inception_score_matches_reference(rng, n, c, splits):
    p = _softmax(rng.normal(size=(n, c)) * 3)
    p[0, :] = 0
    p[0, 0] = 1  # exact zeros: 0 log 0 = 0
    mean, std = metrics.inception_score(p, splits=splits)
    ref_mean, ref_std = _reference_is(p, splits)
    assert mean == pytest.approx(ref_mean, rel=1e-10)
    assert std == pytest.approx(ref_std, rel=1e-8, abs=1e-12)
    r = metrics.inception_score(fastnn.tensor(p.astype(np.float32)), splits=splits)
    assert float(r) == pytest.approx(ref_mean, rel=1e-4) and r.mean == r[0]


def test_inception_score_bounds():
    c = 6
    assert metrics.inception_score(np.eye(c))[0] == pytest.approx(c)  # confident and diverse
    assert metrics.inception_score(np.tile(np.eye(c)[2], (10, 1)))[0] == pytest.approx(1.0)  # one class only
    assert metrics.inception_score(np.full((10, c), 1 / c))[0] == pytest.approx(1.0)  # unsure


def test_mean_max_probability(rng):
    p = _softmax(rng.normal(size=(17, 5)))
    assert metrics.mean_max_probability(p) == pytest.approx(p.max(1).mean())
    assert metrics.mean_max_probability(fastnn.tensor(p)) == pytest.approx(p.max(1).mean())


def test_probability_checks():
    with pytest.raises(ValueError, match="probs"):
        metrics.mean_max_probability(np.array([[0.5, 0.6]]))
    with pytest.raises(ValueError, match="softmax"):
        metrics.inception_score(np.array([[2.0, -1.0]]))
    with pytest.raises(ValueError, match="2-D"):
        metrics.inception_score(np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="splits"):
        metrics.inception_score(np.full((3, 2), 0.5), splits=4)


def test_psnr(rng):
    x = rng.random((2, 3, 8, 9))
    y = np.clip(x + rng.normal(scale=0.05, size=x.shape), 0, 1)
    mse = np.mean((x - y) ** 2)
    assert metrics.psnr(x, y) == pytest.approx(10 * np.log10(1 / mse))
    assert metrics.psnr(fastnn.tensor(x * 255), fastnn.tensor(y * 255), data_range=255) == pytest.approx(
        10 * np.log10(1 / mse))
    assert metrics.psnr(x, x) == float("inf")
    with pytest.raises(ValueError, match="shape"):
        metrics.psnr(x, y[0])
    with pytest.raises(ValueError, match="data_range"):
        metrics.psnr(x, y, data_range=0)
