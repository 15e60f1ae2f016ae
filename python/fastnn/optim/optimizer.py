"""``Optimizer``: parameter groups, per-parameter state and (de)serialisation of both, like PyTorch's.

Subclasses update parameters in place on the raw arrays (``p._data``) with a handful of array
operations per parameter; no autograd is recorded.
"""
from __future__ import annotations

import copy
from collections import defaultdict

import numpy as np

from .. import backend
from ..tensor import Tensor

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _scalar_state(value, dtype=np.float32):
    """A 0-d tensor for the 'step' counters (PyTorch keeps them as float tensors too)."""
    return Tensor._wrap(np.asarray(value, dtype=dtype))


def _state_like(pd, fill=0.0):
    """A state tensor shaped, typed and placed (CPU or GPU) like parameter array ``pd``, filled with ``fill``."""
    xp = backend.array_module_of(pd)
    return Tensor._wrap(xp.zeros_like(pd) if fill == 0 else xp.full_like(pd, fill))


_LABELS = {"lr": "learning rate", "eps": "epsilon value"}


def _check_non_negative(**values):
    """PyTorch's ``Invalid <name>: <value>`` ValueError for a hyper-parameter that is negative (or NaN)."""
    for name, v in values.items():
        if not 0.0 <= v:
            raise ValueError(f"Invalid {_LABELS.get(name, name + ' value')}: {v}")


def _init_state(state, pd, *names, fill=0.0):
    """An empty per-parameter state filled in: the 'step' counter and one array like ``pd`` per name."""
    state["step"] = _scalar_state(0.0)
    for name in names:
        state[name] = _state_like(pd, fill)
    return state


def _next_step(state):
    """Advance the state's 'step' counter and return its new value as a float."""
    step_t = state["step"]
    step_t._data += 1
    return float(step_t._data)


def _scratch(x):
    """``x`` as an array: numpy gives scalars for 0-d results, which in-place ``out=`` operations refuse."""
    return np.asarray(x) if isinstance(x, np.generic) else x


# The fused optimiser kernels (kernels.adam_step / sgd_step) run when True; tests set it to False to compare
# them with the array operations.
_FUSED = True

_FUSED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _fusable(pd, g):
    """Whether the fused kernel updates parameter array ``pd`` from gradient array ``g`` (CPU or GPU): float32
    or float64 of one dtype, both C-contiguous; its state arrays are made like ``pd`` (``_state_like``) or
    C-contiguous (``load_state_dict``). Other parameters (float16, bfloat16, non-contiguous views) run as array
    operations."""
    return (_FUSED and pd.dtype in _FUSED_DTYPES and g.dtype == pd.dtype and pd.flags.c_contiguous
            and g.flags.c_contiguous)


def _update(kernel, array_update, pd, g, *rest):
    """One parameter's update: ``kernel`` (a fused one of ``fastnn.kernels``) when it takes the arrays
    (``_fusable``), else ``array_update``, the same operations as array operations; both take
    ``(pd, g, *rest)``."""
    (kernel if _fusable(pd, g) else array_update)(pd, g, *rest)


def _refuse_sparse(grad, who):
    """PyTorch's error for a sparse gradient given to an optimiser that has no sparse update."""
    if grad is not None and grad.is_sparse:
        raise RuntimeError(f"{who} does not support sparse gradients, please consider SparseAdam instead")


def _gradients(group, decoupled_weight_decay=False, who=None, sparse_skipped=False):
    """``(p, p's array, gradient array)`` for each parameter of ``group`` that has a gradient, the gradient
    negated under ``maximize`` and plus ``weight_decay * p`` (L2, added to the gradient) unless the caller
    applies decoupled weight decay itself. The parameter's own gradient is never modified: negation and decay
    make new arrays."""
    maximize = group["maximize"]
    wd = 0 if decoupled_weight_decay else group["weight_decay"]
    for p in group["params"]:
        grad = p._grad
        if grad is None or (sparse_skipped and grad.is_sparse):
            continue
        _refuse_sparse(grad, who)
        pd = p._data
        g = grad._data
        if maximize:
            g = -g
        if wd != 0:
            g = g + wd * pd
        yield p, pd, g


class Optimizer:
    """Base class: ``Optimizer(params, defaults)`` where params is an iterable of tensors or of dicts (groups)."""

    def __init__(self, params, defaults):
        # foreach / fused / capturable choose PyTorch implementations with the same arithmetic and are
        # accepted as no-ops; a differentiable step would need the update recorded by autograd.
        if defaults.get("differentiable"):
            raise ValueError(f"{type(self).__name__}: differentiable=True is not supported (fastnn optimisers "
                             "update the parameters in place, outside autograd)")
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {type(params).__name__}")
        try:
            param_groups = list(params)
        except TypeError:
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {type(params).__name__}") from None
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self):
        lines = [self.__class__.__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group.keys()):
                if key not in ("params", "param_names"):
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    def add_param_group(self, param_group):
        """Add a group (a dict with 'params' and optional per-group options) to ``param_groups``."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering of "
                            "tensors in sets will change between runs. Please use a list instead.")
        else:
            param_group["params"] = list(params)
        plist = param_group["params"]
        # named parameters: (name, tensor) pairs
        if plist and isinstance(plist[0], tuple):
            names = []
            tensors = []
            for item in plist:
                if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
                    raise ValueError("all optimizer params should be either all named (name, tensor) pairs or "
                                     "all tensors")
                names.append(item[0])
                tensors.append(item[1])
            param_group["params"] = plist = tensors
            param_group["param_names"] = names
        for p in plist:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if p.grad_fn is not None:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        if len({id(p) for p in plist}) != len(plist):
            import warnings
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will "
                          "cause an error", stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
        if any(id(p) in seen for p in plist):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif g.is_sparse:
                    g.zero_()
                else:
                    if g.grad_fn is not None:
                        g = g.detach()
                        p.grad = g
                    g._data[...] = 0

    def step(self, closure=None):
        raise NotImplementedError

    def _closure_loss(self, closure):
        if closure is None:
            return None
        from .. import enable_grad
        with enable_grad():
            return closure()

    # ------------------------------------------------------------- state dict
    def state_dict(self):
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}`` (indices over all groups)."""
        mapping = {}
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state and self.state[p]:
                    state[mapping[id(p)]] = self.state[p]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore state and group options saved by ``state_dict`` (floating state cast to each param's dtype)."""
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError("optimizer state_dict must be a dict with keys 'state' and 'param_groups'")
        state_dict = copy.deepcopy(state_dict)
        groups = self.param_groups
        saved_groups = state_dict["param_groups"]
        if len(groups) != len(saved_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups ({len(saved_groups)}) "
                             f"than the optimizer ({len(groups)})")
        param_lens = [len(g["params"]) for g in groups]
        saved_lens = [len(g["params"]) for g in saved_groups]
        if param_lens != saved_lens:
            raise ValueError(f"loaded state dict contains a parameter group that doesn't match the size of "
                             f"optimizer's group (saved sizes {saved_lens}, optimizer sizes {param_lens})")
        id_map = {}
        for saved, group in zip(saved_groups, groups):
            for old_id, p in zip(saved["params"], group["params"]):
                id_map[old_id] = p

        def cast(param, value, key):
            # PyTorch's rule: state tensors follow their parameter's dtype (floating ones) and device;
            # the 'step' counters stay on the host, where each step reads them.
            if isinstance(value, Tensor):
                arr = value._data
                if key == "step":
                    return value if arr.__class__ is np.ndarray else Tensor._wrap(backend.to_device(arr, "cpu"))
                if arr.dtype.kind == "f" and arr.dtype != param._data.dtype:
                    arr = arr.astype(param._data.dtype)
                if tuple(arr.shape) != tuple(param._data.shape) and arr.ndim > 0:
                    raise ValueError(f"optimizer state '{key}' has shape {tuple(arr.shape)} but its parameter has "
                                     f"shape {tuple(param._data.shape)}")
                dev = backend.device_of(param._data)
                if backend.device_of(arr) != dev:
                    arr = backend.to_device(arr, dev)
                elif arr.__class__ is np.ndarray and arr is value._data and (not arr.flags.writeable
                                                                             or not arr.flags.c_contiguous):
                    arr = arr.copy()
                if not arr.flags.c_contiguous:  # the fused kernels take C-contiguous state (_fusable)
                    arr = backend.array_module_of(arr).ascontiguousarray(arr)
                return Tensor._wrap(arr)
            if isinstance(value, np.ndarray):
                arr = value.astype(param._data.dtype) if value.dtype.kind == "f" else value
                if key != "step":
                    arr = backend.to_device(arr, backend.device_of(param._data))
                return Tensor._wrap(arr)
            if isinstance(value, dict):
                return {k: cast(param, v, k) for k, v in value.items()}
            return value

        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            key = int(k) if isinstance(k, str) and k.isdigit() else k
            if key in id_map:
                p = id_map[key]
                state[p] = cast(p, v, None)
            else:
                state[key] = v
        new_groups = []
        for group, saved in zip(groups, saved_groups):
            ng = dict(saved)
            ng["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                ng["param_names"] = group["param_names"]
            new_groups.append(ng)
        self.state = state
        self.param_groups = new_groups
