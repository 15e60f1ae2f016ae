"""Small reference models used by the examples and tests; each family lives in its own module."""
from .lenet import LeNet5, DigitsCNN  # noqa: F401
