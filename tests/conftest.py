"""Shared fixtures: a seeded fastnn RNG for every test, and ``torch`` (skips when PyTorch is missing)."""
import numpy as np
import pytest

import fastnn


@pytest.fixture(autouse=True)
def _seed():
    fastnn.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture(scope="session")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
