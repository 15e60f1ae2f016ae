"""``fastnn.backends.cudnn``: ``allow_tf32`` switches fastnn's float32 GPU convolutions to TF32.

fastnn has no cuDNN; the name is PyTorch's, so code written for PyTorch keeps working.
"""
import sys
import types


class _Module(types.ModuleType):
    """Module whose ``allow_tf32`` only accepts a bool (PyTorch raises the same way)."""

    _allow_tf32 = False

    @property
    def allow_tf32(self) -> bool:
        return type(self)._allow_tf32

    @allow_tf32.setter
    def allow_tf32(self, value):
        if not isinstance(value, bool):
            raise TypeError(f"allow_tf32 must be a bool, got {type(value).__name__}")
        type(self)._allow_tf32 = value


sys.modules[__name__].__class__ = _Module
