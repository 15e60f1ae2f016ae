"""``fastnn.nn.utils.parametrize``: a module attribute computed on access from a stored tensor (PyTorch's API).

``register_parametrization(module, "weight", p)`` moves the parameter to
``module.parametrizations.weight.original`` (so state_dict keys read ``parametrizations.weight.original``
plus the parametrizations' own buffers under ``parametrizations.weight.0.``) and makes ``module.weight`` a
property of a per-module subclass that returns ``p(original)`` — a graph over ``original``, so gradients
(and gradients of gradients) reach it.
"""
from __future__ import annotations

import contextlib

from ...tensor import Tensor
from ..container import ModuleDict, ModuleList
from ..module import Module, Parameter

__all__ = ["ParametrizationList", "register_parametrization", "remove_parametrizations", "is_parametrized",
           "cached", "type_before_parametrizations"]

_cache_enabled = 0
_cache = {}


@contextlib.contextmanager
def cached():
    """Inside, each parametrized tensor is computed once on first access and reused (one power iteration per
    step even when a module reads its weight several times)."""
    global _cache_enabled
    _cache_enabled += 1
    try:
        yield
    finally:
        _cache_enabled -= 1
        if not _cache_enabled:
            _cache.clear()


def _copy_values(dst, src):
    """Write ``src``'s values into ``dst``'s storage (the Parameter object stays the one optimisers hold)."""
    if tuple(dst.shape) == tuple(src.shape) and dst.dtype == src.dtype:
        dst._data[...] = src._data
        return dst
    return None


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order to ``original`` (a Parameter or a buffer)."""

    def __init__(self, modules, original, unsafe=False):
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        from ..._autograd_engine import no_grad
        with no_grad():
            new = original
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    new = module.right_inverse(new)
        if not isinstance(new, Tensor):
            raise ValueError("'right_inverse' must return a Tensor when registering a parametrization "
                             f"(a sequence of tensors is not supported), got {type(new).__name__}")
        if new is not original and _copy_values(original, new) is None:
            if not unsafe:
                raise ValueError(f"When `right_inverse` outputs one tensor, it may not change the dtype or shape.\n"
                                 f"original.dtype: {original.dtype}\nright_inverse(original).dtype: {new.dtype}\n"
                                 f"original.shape: {tuple(original.shape)}\n"
                                 f"right_inverse(original).shape: {tuple(new.shape)}")
            original = Parameter(new.detach(), original.requires_grad) if isinstance(original, Parameter) \
                else new.detach()
        if isinstance(original, Parameter):
            self.register_parameter("original", original)
        else:
            self.register_buffer("original", original)
        if not unsafe:
            with no_grad():
                z = self()
            if not isinstance(z, Tensor):
                raise ValueError(f"A parametrization must return a tensor. Got {type(z).__name__}.")
            if z.dtype != original.dtype or tuple(z.shape) != tuple(original.shape):
                raise ValueError(f"Registering a parametrization may not change the shape or dtype of the tensor, "
                                 f"unless `unsafe` flag is enabled.\nunparametrized dtype: {original.dtype}\n"
                                 f"parametrized dtype: {z.dtype}\nunparametrized shape: {tuple(original.shape)}\n"
                                 f"parametrized shape: {tuple(z.shape)}")

    def right_inverse(self, value):
        """What ``module.<name> = value`` runs: the inverse parametrizations, in reverse, into ``original``."""
        from ..._autograd_engine import no_grad
        with no_grad():
            for module in reversed(list(self)):
                if not hasattr(module, "right_inverse"):
                    raise RuntimeError(f"parametrization {type(module).__name__} does not implement "
                                       "right_inverse.")
                value = module.right_inverse(value)
            if not isinstance(value, Tensor):
                raise ValueError(f"`right_inverse` should return a tensor. Got {type(value).__name__}")
            if _copy_values(self.original, value) is None:
                if not self.unsafe:
                    raise ValueError(f"The tensor returned by `right_inverse` has shape {tuple(value.shape)} and "
                                     f"dtype {value.dtype}; `original` has shape {tuple(self.original.shape)} and "
                                     f"dtype {self.original.dtype}")
                self.original._data = value._data.copy()

    def forward(self):
        x = self[0](self.original)
        for module in list(self)[1:]:
            x = module(x)
        return x


def _inject_new_class(module):
    """Give ``module`` a class of its own, so that properties added to it concern this module only."""
    cls = module.__class__
    module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), {"_fastnn_parametrized": True})


def _inject_property(module, tensor_name):
    def get_parametrized(self):
        parametrization = self.parametrizations[tensor_name]
        if _cache_enabled:
            key = (id(self), tensor_name)
            t = _cache.get(key)
            if t is None:
                t = _cache[key] = parametrization()
            return t
        return parametrization()

    def set_original(self, value):
        self.parametrizations[tensor_name].right_inverse(value)

    setattr(module.__class__, tensor_name, property(get_parametrized, set_original))


def is_parametrized(module, tensor_name=None):
    """Whether ``module`` has a parametrization (on ``tensor_name`` when given)."""
    parametrizations = module.__dict__.get("_modules", {}).get("parametrizations")
    if parametrizations is None or not isinstance(parametrizations, ModuleDict):
        return False
    if tensor_name is None:
        return len(parametrizations) > 0
    return tensor_name in parametrizations


def type_before_parametrizations(module):
    """The class of ``module`` before any parametrization was registered on it."""
    cls = type(module)
    return cls.__bases__[0] if is_parametrized(module) else cls


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Make ``module.<tensor_name>`` be ``parametrization(original)``; a second registration on the same name
    chains after the first. Returns ``module``."""
    if not isinstance(module, Module):
        raise TypeError(f"register_parametrization: argument 'module' must be a Module, got "
                        f"{type(module).__name__}")
    if not isinstance(parametrization, Module):
        raise TypeError(f"register_parametrization: argument 'parametrization' must be a Module, got "
                        f"{type(parametrization).__name__}")
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        if not unsafe:
            from ..._autograd_engine import no_grad
            with no_grad():
                Y = getattr(module, tensor_name)
                X = parametrization(Y)
            if not isinstance(X, Tensor) or X.dtype != Y.dtype or tuple(X.shape) != tuple(Y.shape):
                raise ValueError("Registering a parametrization may not change the shape or dtype of the tensor, "
                                 "unless `unsafe` flag is enabled.")
        plist.append(parametrization)
        plist.unsafe |= unsafe
        return module
    if tensor_name not in module._parameters and tensor_name not in module._buffers:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a parametrized element "
                         f"with name '{tensor_name}'")
    original = getattr(module, tensor_name)
    if original is None:
        raise ValueError(f"register_parametrization: '{tensor_name}' of {type(module).__name__} is None")
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    delattr(module, tensor_name)
    if not is_parametrized(module):
        _inject_new_class(module)
        module.parametrizations = ModuleDict()
    module.parametrizations[tensor_name] = plist
    _inject_property(module, tensor_name)
    return module


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Undo the parametrizations of ``tensor_name``: the attribute becomes a plain parameter (or buffer) again,
    holding the parametrized value (``leave_parametrized``) or ``original``."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    original = plist.original
    if leave_parametrized:
        from ..._autograd_engine import no_grad
        with no_grad():
            t = getattr(module, tensor_name)
        if _copy_values(original, t) is None:
            original._data = t._data.copy()
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    if isinstance(original, Parameter):
        module.register_parameter(tensor_name, original)
    else:
        module.register_buffer(tensor_name, original)
    if not is_parametrized(module):
        del module.parametrizations
        module.__class__ = module.__class__.__bases__[0]
    return module

