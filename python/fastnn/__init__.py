"""fastnn: a deep-learning library with its own C++ and CUDA kernels and a PyTorch-style API."""
from . import _C
from . import backend, kernels

__version__ = _C.__version__


def set_num_threads(n: int) -> None:
    """Number of threads the CPU kernels use."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: argument 'n' must be a positive int, got {n!r}")
    _C.set_num_threads(n)


def get_num_threads() -> int:
    return _C.get_num_threads()
