"""Shared fixtures: a seeded fastnn RNG for every test, ``torch`` (skips when PyTorch is missing) and
``cpu_path`` (runs a test on the AVX2 and on the portable CPU kernels)."""
import os

import numpy as np
import pytest

import fastnn
from fastnn import _C


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


@pytest.fixture(params=["avx2", "portable"])
def cpu_path(request):
    """Selects the CPU kernels for one test (FASTNN_CPU_PATH), restoring the previous choice afterwards."""
    old = os.environ.get("FASTNN_CPU_PATH")
    os.environ["FASTNN_CPU_PATH"] = request.param
    _C.refresh_cpu_path()
    try:
        if _C.cpu_path() != request.param:
            pytest.skip(f"this CPU cannot run the {request.param} path")
        yield request.param
    finally:
        if old is None:
            os.environ.pop("FASTNN_CPU_PATH", None)
        else:
            os.environ["FASTNN_CPU_PATH"] = old
        _C.refresh_cpu_path()
