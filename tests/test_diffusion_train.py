"""DDPM training, sampling and evaluation (fastnn.train.diffusion): the variational bound's pieces against
scipy's closed forms, the bound of a perfect-noise oracle (its L_T + decoder floor), the training step's
targets, logs and classifier-free-guidance label dropout, exact resume, sampling through the pipelines,
and bad input."""
import math

import numpy as np
import pytest

import fastnn
from fastnn.train.diffusion import discretized_gaussian_log_likelihood, normal_kl


@pytest.fixture(scope="module")
def scipy_stats():
    return pytest.importorskip("scipy.stats")


def test_erfc_keeps_its_digits_in_the_tail(scipy_stats):
    special = pytest.importorskip("scipy.special")
    x = np.concatenate([np.linspace(-8, 26, 20001), [0.0, 1.0, -1.0, 6.5, 40.0, np.inf, -np.inf]])
    got = fastnn.erfc(fastnn.tensor(x)).numpy()
    ref = special.erfc(x)
    assert np.all(np.abs(got - ref) <= 1e-11 * np.maximum(ref, 1e-300) + 1e-300)
    assert fastnn.erfc(fastnn.tensor(3.0)).item() == pytest.approx(special.erfc(3.0), rel=1e-12)


def test_normal_kl_is_the_integral_of_p_log_p_over_q(scipy_stats, rng):
    integrate = pytest.importorskip("scipy.integrate")
    norm = scipy_stats.norm
    for _ in range(5):
        m1, m2 = rng.normal(size=2)
        lv1, lv2 = rng.normal(size=2)
        s1, s2 = math.exp(lv1 / 2), math.exp(lv2 / 2)
        ref, _ = integrate.quad(lambda x: norm.pdf(x, m1, s1) * (norm.logpdf(x, m1, s1) - norm.logpdf(x, m2, s2)),
                                m1 - 12 * s1, m1 + 12 * s1)
        assert normal_kl(m1, lv1, m2, lv2) == pytest.approx(ref, rel=1e-7, abs=1e-10)
    # element-wise with broadcasting; zero between equal Gaussians
    a = rng.normal(size=(3, 4))
    assert normal_kl(a, 0.5, a, 0.5).shape == (3, 4) and np.allclose(normal_kl(a, 0.5, a, 0.5), 0)


@pytest.mark.parametrize("mu, scale", [(0.3, 0.05), (0.97, 0.002), (-2.0, 0.3), (0.0, 1e-4), (0.5, 3.0)])
def test_discretised_gaussian_is_the_mass_of_each_bin(scipy_stats, mu, scale):
    norm = scipy_stats.norm
    x = np.linspace(-1, 1, 256)
    got = discretized_gaussian_log_likelihood(x, means=mu, log_scales=math.log(scale))
    edges = np.concatenate([[-np.inf], (x[:-1] + 1 / 255 - mu) / scale, [np.inf]])
    lo, hi = edges[:-1], edges[1:]
    # the upper tail through the survival function, where 1 - cdf would cancel
    mass = np.where(lo > 0, norm.sf(lo) - norm.sf(hi), norm.cdf(hi) - norm.cdf(lo))
    ref = np.log(np.maximum(mass, 1e-12))
    assert np.allclose(got, ref, rtol=1e-9, atol=1e-9)
    # the bins cover the line: their masses sum to 1 (up to the 1e-12 floor of empty bins)
    assert abs(np.exp(got).sum() - 1) < 256e-12
