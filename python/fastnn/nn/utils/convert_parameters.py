"""Flatten parameters into one vector and back."""
from __future__ import annotations

from ... import backend
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """One 1-D tensor holding every parameter, flattened and concatenated (differentiable)."""
    params = list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    from ... import cat
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of ``vec`` into the parameters (in place, outside autograd)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected 'vec' to be a Tensor, but got: {type(vec).__name__}")
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != total:
        raise ValueError(f"vector_to_parameters: 'vec' must be 1-D with {total} elements, got shape {tuple(vec.shape)}")
    pointer = 0
    v = vec._data
    for p in params:
        n = p.numel()
        part = v[pointer:pointer + n].reshape(p._data.shape)
        if part.__class__ is not p._data.__class__:
            # a vector on another device than the parameter: copy it over explicitly (cupy refuses
            # implicit host/device conversions)
            part = backend.to_device(part, backend.device_of(p._data))
        p._data[...] = part
        pointer += n
