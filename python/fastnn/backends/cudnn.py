"""``fastnn.backends.cudnn``: PyTorch's cuDNN switches, applied to fastnn's own GPU convolutions.

fastnn has no cuDNN; the names are PyTorch's, so code written for PyTorch keeps working:

* ``allow_tf32`` (default False): float32 convolutions may use the TF32 tensor cores.
* ``deterministic`` (default False): the weight gradient does not split its reduction over the
  chip (the split partial sums meet through atomics, in no fixed order), so it is bitwise
  reproducible from run to run, at some speed for shapes with few output tiles.
* ``benchmark`` (default False): accepted and kept; fastnn's convolutions have one algorithm each,
  so there is nothing to search.
"""
import sys
import types


def _bool_flag(name):
    def get(self) -> bool:
        return type(self)._flags[name]

    def set(self, value):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
        type(self)._flags[name] = value
    return property(get, set)


class _Module(types.ModuleType):
    """Module whose flags only accept a bool (PyTorch raises the same way)."""

    _flags = {"allow_tf32": False, "deterministic": False, "benchmark": False}
    allow_tf32 = _bool_flag("allow_tf32")
    deterministic = _bool_flag("deterministic")
    benchmark = _bool_flag("benchmark")


sys.modules[__name__].__class__ = _Module
