"""Philox 4x32-10 fills, in place, the same numbers on the CPU and the GPU for one (key, offset).

Each returns the number of counters it used; ``fastnn.random.philox_draw`` moves the stream's offset
by it, so successive draws never reuse a counter."""
from __future__ import annotations

from .. import backend


def philox_uniform(out, key, offset):
    """Uniform numbers in [0, 1) into contiguous float32/float64 ``out``."""
    return backend.kernel("philox_uniform", out)(out, key, offset)


def philox_normal(out, key, offset, mean=0.0, std=1.0):
    """Normal numbers (Box-Muller) into contiguous float32/float64 ``out``."""
    return backend.kernel("philox_normal", out)(out, key, offset, mean, std)


def dropout_mask(out, p, key, offset):
    """Dropout's scaled keep mask into ``out``: 1/(1-p) with probability 1-p, else 0."""
    return backend.kernel("dropout_mask", out)(out, p, key, offset)
