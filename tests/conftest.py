"""Shared fixtures: a seeded fastnn RNG for every test, ``torch`` (skips when PyTorch is missing) and
``cpu_path`` (runs a test on every CPU path: avx512, avx2 and portable, skipping those this machine
cannot run with the reason)."""
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


CPU_PATHS = ("avx512", "avx2", "portable")


@pytest.fixture(params=CPU_PATHS)
def cpu_path(request):
    """Selects the CPU kernels for one test (FASTNN_CPU_PATH), restoring the previous choice afterwards."""
    why = _C.cpu_paths().get(request.param, "this build does not hold it")
    if why:
        pytest.skip(f"the {request.param} path cannot run here: {why}")
    old = os.environ.get("FASTNN_CPU_PATH")
    os.environ["FASTNN_CPU_PATH"] = request.param
    _C.refresh_cpu_path()
    try:
        assert _C.cpu_path() == request.param
        yield request.param
    finally:
        if old is None:
            os.environ.pop("FASTNN_CPU_PATH", None)
        else:
            os.environ["FASTNN_CPU_PATH"] = old
        _C.refresh_cpu_path()
