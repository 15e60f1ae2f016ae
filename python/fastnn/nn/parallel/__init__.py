"""``fastnn.nn.parallel``: data-parallel training over several processes (PyTorch's ``torch.nn.parallel``)."""
from .distributed import DistributedDataParallel, GradBucket  # noqa: F401

__all__ = ["DistributedDataParallel"]
