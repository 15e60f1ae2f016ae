"""``fastnn.utils``: helpers beside the library's core (PyTorch's ``torch.utils``); ``checkpoint`` for now."""
from . import checkpoint  # noqa: F401
