"""What the device tests of the kernel families share: the ``gpu`` mark with its skip (no GPU and cupy),
cupy and the CUDA module when present (``cp``, ``K``; None otherwise, so the files still collect), the
tolerances and the comparison helpers. tests/cuda_emu/run_gpu_tests_emulated.sh runs these tests on the
CPU with the kernels emulated."""
import numpy as np
import pytest

from fastnn import backend

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not backend.cuda_available(), reason="needs a CUDA GPU and cupy")]

if backend.cuda_available():
    import cupy as cp

    from fastnn import _C_cuda as K
else:
    cp = K = None

TOL = {np.float32: 2e-5, np.float64: 1e-12}


def rel_err(got, ref):
    """||got - ref|| / ||ref|| in float64, after checking the shapes match and nothing is NaN."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    assert not np.isnan(got).any(), "NaN in the result (an element was not written?)"
    denom = np.linalg.norm(ref.ravel())
    return np.linalg.norm((got - ref).ravel()) / (denom if denom > 0 else 1.0)


def dev(a):
    """``a`` on the device (None stays None)."""
    return None if a is None else cp.asarray(a)


def host(a):
    """``a`` back on the host (None stays None)."""
    return None if a is None else cp.asnumpy(a)
