"""``fastnn.backends.cuda``: ``matmul.allow_tf32`` switches fastnn's float32 GPU GEMM to TF32."""


class _MatmulSettings:
    """Holds ``allow_tf32``; assigning anything but a bool raises, like PyTorch's flag."""

    __slots__ = ("_allow_tf32",)

    def __init__(self):
        self._allow_tf32 = False

    @property
    def allow_tf32(self) -> bool:
        return self._allow_tf32

    @allow_tf32.setter
    def allow_tf32(self, value):
        if not isinstance(value, bool):
            raise TypeError(f"allow_tf32 must be a bool, got {type(value).__name__}")
        self._allow_tf32 = value

    def __repr__(self):
        return f"matmul(allow_tf32={self._allow_tf32})"


matmul = _MatmulSettings()
