"""``Module`` and ``Parameter``: the containers every layer is built from (PyTorch's semantics)."""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from ..tensor import Tensor
from .. import backend
from .. import dtypes as _dtypes

__all__ = ["Module", "Parameter", "Buffer", "RemovableHandle"]


class Parameter(Tensor):
    """A Tensor that a Module registers as a learnable parameter when assigned as an attribute.

    ``Parameter(data, requires_grad=True)`` shares ``data``'s storage, like PyTorch.
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            arr = backend.on_device(np.empty((0,), dtype=_dtypes.get_default_dtype()))
        elif isinstance(data, Tensor):
            arr = data._data
        else:
            raise TypeError(f"Parameter: argument 'data' must be a Tensor, got {type(data).__name__}")
        return cls._wrap(arr, requires_grad=requires_grad)

    def __init__(self, data=None, requires_grad=True):
        # Everything was set up by __new__; Tensor.__init__ must not run again.
        pass

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        out = Parameter(Tensor._wrap(self._data.copy()), self.requires_grad)
        memo[id(self)] = out
        return out


class Buffer(Tensor):
    """Marker for a tensor to register as a buffer when assigned (``nn.Buffer(t, persistent=True)``)."""

    def __new__(cls, data, *, persistent=True):
        if not isinstance(data, Tensor):
            raise TypeError(f"Buffer: argument 'data' must be a Tensor, got {type(data).__name__}")
        b = cls._wrap(data._data, requires_grad=False)
        b.persistent = persistent
        return b

    def __init__(self, data, *, persistent=True):
        pass


_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class _IncompatibleKeysRepr(_IncompatibleKeys):
    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods; ``handle.remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks_dict):
        self._hooks_dict = hooks_dict
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        self._hooks_dict.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _addindent(s, num_spaces):
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * num_spaces + line for line in lines[1:])


class Module:
    """Base class of every layer and model.

    Attributes assigned as ``Parameter``s, ``Module``s or buffers are registered, so that
    ``parameters()``, ``state_dict()``, ``to()``, ``train()``/``eval()`` reach them recursively.
    """

    training: bool
    _version = 1

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments {args} {kwargs}")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}
        d["_forward_hooks"] = OrderedDict()
        d["_forward_hooks_with_kwargs"] = set()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_pre_hooks_with_kwargs"] = set()
        d["_forward_hooks_always_called"] = set()
        d["_backward_hooks"] = OrderedDict()
        d["_backward_pre_hooks"] = OrderedDict()
        d["_state_dict_hooks"] = OrderedDict()
        d["_state_dict_pre_hooks"] = OrderedDict()
        d["_load_state_dict_pre_hooks"] = OrderedDict()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    # ------------------------------------------------------------------ calling
    def __call__(self, *args, **kwargs):
        if not self._has_call_hooks():
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _has_call_hooks(self):
        """Whether calling the module runs hooks around ``forward`` (a caller that fuses modules must not skip them)."""
        return bool(self._forward_pre_hooks or self._forward_hooks or self._backward_hooks or self._backward_pre_hooks)

    def _call_with_hooks(self, args, kwargs):
        for hid, hook in list(self._forward_pre_hooks.items()):
            if hid in self._forward_pre_hooks_with_kwargs:
                res = hook(self, args, kwargs)
                if res is not None:
                    if not (isinstance(res, tuple) and len(res) == 2):
                        raise RuntimeError("forward pre-hook with kwargs must return None or a tuple (args, kwargs)")
                    args, kwargs = res
            else:
                res = hook(self, args)
                if res is not None:
                    args = res if isinstance(res, tuple) else (res,)
        bw_state = None
        if (self._backward_hooks or self._backward_pre_hooks) and _grad_enabled():
            bw_state = _BackwardHookState(self)
            if self._backward_hooks:
                args = bw_state.wrap_inputs(args)
        try:
            out = self.forward(*args, **kwargs)
        except Exception:
            for hid, hook in list(self._forward_hooks.items()):
                if hid in self._forward_hooks_always_called:
                    try:
                        if hid in self._forward_hooks_with_kwargs:
                            hook(self, args, kwargs, None)
                        else:
                            hook(self, args, None)
                    except Exception:  # noqa: BLE001 - the forward's own error is the one to report
                        pass
            raise
        for hid, hook in list(self._forward_hooks.items()):
            if hid in self._forward_hooks_with_kwargs:
                res = hook(self, args, kwargs, out)
            else:
                res = hook(self, args, out)
            if res is not None:
                out = res
        if bw_state is not None:
            out = bw_state.wrap_outputs(out)
        return out

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """``hook(module, grad_output) -> None or new grad_output`` runs when the output's gradient is known."""
        handle = RemovableHandle(self._backward_pre_hooks)
        self._backward_pre_hooks[handle.id] = hook
        if prepend:
            self._backward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_hook(self, hook, prepend=False):
        """``hook(module, grad_input, grad_output) -> None or new grad_input`` runs once the gradients with
        respect to the module's positional tensor inputs are computed (``grad_input`` holds None for
        inputs that do not require grad)."""
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        if prepend:
            self._backward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args) -> None or new args`` runs before ``forward``."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs.add(handle.id)
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """``hook(module, args, output) -> None or new output`` runs after ``forward``.

        ``with_kwargs=True``: ``hook(module, args, kwargs, output)``. ``always_call=True``: also called
        (with output None) when ``forward`` raises.
        """
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_hooks_with_kwargs.add(handle.id)
        if always_call:
            self._forward_hooks_always_called.add(handle.id)
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_state_dict_pre_hook(self, hook):
        """``hook(module, prefix, keep_vars)`` runs before this module's entries are collected."""
        handle = RemovableHandle(self._state_dict_pre_hooks)
        self._state_dict_pre_hooks[handle.id] = hook
        return handle

    def _register_state_dict_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata) -> None or new state_dict``."""
        handle = RemovableHandle(self._state_dict_hooks)
        self._state_dict_hooks[handle.id] = hook
        return handle

    register_state_dict_post_hook = _register_state_dict_hook

    def _register_load_state_dict_pre_hook(self, hook, with_module=False):
        """``hook(state_dict, prefix, local_metadata, strict, missing, unexpected, error_msgs)``."""
        handle = RemovableHandle(self._load_state_dict_pre_hooks)
        if with_module:
            module = self
            self._load_state_dict_pre_hooks[handle.id] = lambda *a: hook(module, *a)
        else:
            self._load_state_dict_pre_hooks[handle.id] = hook
        return handle

    register_load_state_dict_pre_hook = _register_load_state_dict_pre_hook

    # ------------------------------------------------------------ registration
    def register_parameter(self, name, param):
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_name(name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is None:
            self._parameters[name] = None
            return
        if not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                            "(fastnn.nn.Parameter or None required)")
        if param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be "
                             "created explicitly; use a Tensor.detach() result wrapped in nn.Parameter.")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(fastnn Tensor or None required)")
        if isinstance(tensor, Buffer):
            persistent = tensor.persistent
            tensor = Tensor._wrap(tensor._data)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string, got {type(name).__name__}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if "." in name or name == "":
            raise KeyError(f"module name can't contain \".\" and can't be empty, got {name!r}")
        self._modules[name] = module

    register_module = add_module

    @staticmethod
    def _check_name(name, what):
        if not isinstance(name, str):
            raise TypeError(f"{what} name should be a string, got {type(name).__name__}")
        if "." in name:
            raise KeyError(f"{what} name can't contain \".\"")
        if name == "":
            raise KeyError(f"{what} name can't be empty string \"\"")

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._remove_from(name, d, "_buffers", "_modules")
            d.pop(name, None)
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(fastnn.nn.Parameter or None expected)")
            self.register_parameter(name, value)
            return
        if isinstance(value, Module):
            if "_modules" not in d:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._remove_from(name, d, "_parameters", "_buffers")
            d.pop(name, None)
            d["_modules"][name] = value
            return
        modules = d.get("_modules")
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                                "(fastnn.nn.Module or None expected)")
            modules[name] = value
            return
        buffers = d.get("_buffers")
        if isinstance(value, Buffer) or (buffers is not None and name in buffers):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(fastnn Tensor or None expected)")
            if isinstance(value, Buffer):
                persistent = value.persistent
            else:
                persistent = name not in self._non_persistent_buffers_set
            d.pop(name, None)
            self.register_buffer(name, value, persistent)
            return
        object.__setattr__(self, name, value)

    @staticmethod
    def _remove_from(name, d, *dict_names):
        for dn in dict_names:
            sub = d.get(dn)
            if sub is not None and name in sub:
                del sub[name]
                if dn == "_buffers":
                    d["_non_persistent_buffers_set"].discard(name)

    def __getattr__(self, name):
        d = self.__dict__
        for dn in ("_parameters", "_buffers", "_modules"):
            sub = d.get(dn)
            if sub is not None and name in sub:
                return sub[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        d = self.__dict__
        for dn in ("_parameters", "_buffers", "_modules"):
            if name in d.get(dn, ()):
                del d[dn][name]
                d["_non_persistent_buffers_set"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = list(super().__dir__()) + list(self._parameters) + list(self._modules) + list(self._buffers)
        return sorted(k for k in set(keys) if not k[0].isdigit())

    def get_submodule(self, target):
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if not isinstance(mod, Module) or item not in mod._modules:
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}` (looking up {target!r})")
            mod = mod._modules[item]
        return mod

    def get_parameter(self, target):
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if name not in mod._parameters:
            raise AttributeError(f"{mod._get_name()} has no parameter `{name}`")
        return mod._parameters[name]

    def get_buffer(self, target):
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if name not in mod._buffers:
            raise AttributeError(f"{mod._get_name()} has no buffer `{name}`")
        return mod._buffers[name]

    # ---------------------------------------------------------------- iteration
    def _named_members(self, get_members_fn, prefix="", recurse=True, remove_duplicate=True):
        memo = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for module_prefix, module in modules:
            for k, v in get_members_fn(module):
                if v is None or (remove_duplicate and id(v) in memo):
                    continue
                if remove_duplicate:
                    memo.add(id(v))
                yield (module_prefix + ("." if module_prefix else "") + k, v)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_children(self):
        memo = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in memo:
                memo.add(id(module))
                yield name, module

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub, remove_duplicate)

    # ----------------------------------------------------------------- modes
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean, got {type(mode).__name__}")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                g = p.grad
                if g.grad_fn is not None:
                    g = g.detach()
                    p.grad = g
                g._data[...] = 0

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------- device and dtype
    def _apply(self, fn):
        """Apply ``fn`` (Tensor -> Tensor) to every parameter, gradient and buffer, keeping Parameter objects."""
        for m in self.children():
            m._apply(fn)
        for key, p in self._parameters.items():
            if p is None:
                continue
            new = fn(p.detach())
            if new._data is not p._data:
                p.data = new
            if p.grad is not None:
                g = fn(p.grad.detach())
                if g._data is not p.grad._data:
                    p.grad = g
        for key, b in self._buffers.items():
            if b is not None:
                self._buffers[key] = fn(b)
        return self

    def to(self, *args, **kwargs):
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)`` or keywords ``device=``, ``dtype=``.

        Only floating-point parameters and buffers change dtype, as in PyTorch.
        """
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, bool) or a is None:
                continue
            else:
                try:
                    dtype = _dtypes.as_dtype(a)
                    continue
                except TypeError:
                    pass
                device = a
        if dtype is not None:
            dtype = _dtypes.as_dtype(dtype)
            if not _dtypes.is_floating(dtype):
                raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype}")

        def convert(t):
            if dtype is not None and _dtypes.is_floating(t.dtype):
                t = t.to(dtype=dtype)
            if device is not None:
                t = t.to(device=device)
            return t

        return self._apply(convert)

    def _float_cast(self, dtype):
        return self._apply(lambda t: t.to(dtype=dtype) if _dtypes.is_floating(t.dtype) else t)

    def float(self):
        return self._float_cast(_dtypes.float32)

    def double(self):
        return self._float_cast(_dtypes.float64)

    def half(self):
        return self._float_cast(_dtypes.float16)

    def type(self, dst_type):
        dt = _dtypes.as_dtype(dst_type)
        return self._apply(lambda t: t.to(dtype=dt))

    def cpu(self):
        return self.to(device="cpu")

    def cuda(self, device=None):
        return self.to(device="cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device))

    # ------------------------------------------------------------ state dict
    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """An OrderedDict of every parameter and persistent buffer, keyed by dotted name."""
        if args:
            # PyTorch's deprecated positional form: state_dict(destination, prefix, keep_vars)
            names = ["destination", "prefix", "keep_vars"]
            vals = dict(zip(names, args))
            destination = vals.get("destination", destination)
            prefix = vals.get("prefix", prefix)
            keep_vars = vals.get("keep_vars", keep_vars)
        if destination is None:
            destination = OrderedDict()
        for hook in self._state_dict_pre_hooks.values():
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        for hook in self._state_dict_hooks.values():
            res = hook(self, destination, prefix, {})
            if res is not None:
                destination = res
        return destination

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        for hook in self._load_state_dict_pre_hooks.values():
            hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
        assign = local_metadata.get("assign_to_params_buffers", False)
        local = [(k, v, True) for k, v in self._parameters.items() if v is not None]
        local += [(k, v, False) for k, v in self._buffers.items()
                  if v is not None and k not in self._non_persistent_buffers_set]
        for name, param, is_param in local:
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            value = state_dict[key]
            if isinstance(value, np.ndarray) or backend.is_cuda_array(value):
                value = Tensor._wrap(value)
            if not isinstance(value, Tensor):
                error_msgs.append(f'While copying the parameter named "{key}", expected a Tensor from checkpoint '
                                  f"but received {type(value)}")
                continue
            if len(param.shape) == 0 and tuple(value.shape) == (1,):
                value = value.reshape(())
            if tuple(value.shape) != tuple(param.shape):
                error_msgs.append(f"size mismatch for {key}: copying a param with shape {_shape_str(value)} from "
                                  f"checkpoint, the shape in current model is {_shape_str(param)}.")
                continue
            try:
                if assign:
                    if is_param:
                        newp = Parameter(value.detach(), requires_grad=param.requires_grad)
                        self._parameters[name] = newp
                    else:
                        self._buffers[name] = value.detach()
                else:
                    _copy_into(param, value)
            except Exception as ex:  # noqa: BLE001 - reported to the caller with the key
                error_msgs.append(f'While copying the parameter named "{key}", whose dimensions in the model are '
                                  f"{_shape_str(param)} and whose dimensions in the checkpoint are "
                                  f"{_shape_str(value)}, an exception occurred : {ex.args}.")
        if strict:
            local_names = {k for k, _, _ in local}
            for key in state_dict.keys():
                if key.startswith(prefix):
                    input_name = key[len(prefix):].split(".", 1)
                    # a dotted remainder must belong to a child module
                    if len(input_name) > 1:
                        if input_name[0] not in self._modules:
                            unexpected_keys.append(key)
                    elif input_name[0] not in local_names:
                        unexpected_keys.append(key)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy parameters and buffers from ``state_dict``; returns ``(missing_keys, unexpected_keys)``.

        With ``strict=True`` any missing or unexpected key raises a RuntimeError listing them all.
        Shape mismatches always raise.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict).__name__}.")
        missing_keys, unexpected_keys, error_msgs = [], [], []
        state_dict = OrderedDict(state_dict)
        metadata = {"assign_to_params_buffers": assign}

        def load(module, prefix=""):
            module._load_from_state_dict(state_dict, prefix, metadata, True, missing_keys, unexpected_keys,
                                         error_msgs)
            for name, child in module._modules.items():
                if child is not None:
                    load(child, prefix + name + ".")

        load(self)
        if strict:
            if unexpected_keys:
                error_msgs.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected_keys)))
            if missing_keys:
                error_msgs.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing_keys)))
        if error_msgs:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                self._get_name(), "\n\t".join(error_msgs)))
        return _IncompatibleKeysRepr(missing_keys, unexpected_keys)

    # ------------------------------------------------------------------ repr
    def _get_name(self):
        return type(self).__name__

    def extra_repr(self):
        return ""

    def __repr__(self):
        extra_lines = []
        extra = self.extra_repr()
        if extra:
            extra_lines = extra.split("\n")
        child_lines = []
        for key, module in self._modules.items():
            mod_str = _addindent(repr(module), 2)
            child_lines.append("(" + key + "): " + mod_str)
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


def _grad_enabled():
    from .._autograd_engine import is_grad_enabled
    return is_grad_enabled()


class _BackwardHookState:
    """Per-call bookkeeping of the full backward hooks: identity graph nodes around the module's
    tensor inputs and outputs see grad_output first, then grad_input, and call the hooks."""

    def __init__(self, module):
        self.module = module
        self.grad_output = None
        self.tensor_pos = []        # argument positions holding tensors: one grad_input slot each
        self.input_pos = []         # those whose tensor requires grad (wrapped by an identity node)
        self.inputs_hooked = False

    def wrap_inputs(self, args):
        from ..autograd import Function
        self.tensor_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.input_pos = [i for i in self.tensor_pos if args[i].requires_grad]
        if not self.input_pos:
            return args
        state = self

        class BackwardHookFunction(Function):
            @staticmethod
            def forward(ctx, *tensors):
                return tuple(Tensor._wrap(t._data) for t in tensors)

            @staticmethod
            def backward(ctx, *grads):
                return state.run_hooks(grads)

        self.inputs_hooked = True
        new = BackwardHookFunction.apply(*[args[i] for i in self.input_pos])
        args = list(args)
        for i, t in zip(self.input_pos, new):
            args[i] = t
        return tuple(args)

    def run_hooks(self, grads_of_hooked):
        """Call the full backward hooks; returns the (possibly replaced) gradients of the hooked inputs."""
        slots = [None] * len(self.tensor_pos)
        for i, g in zip(self.input_pos, grads_of_hooked):
            slots[self.tensor_pos.index(i)] = g
        grad_input = tuple(slots) if slots else (None,)
        grad_output = self.grad_output if self.grad_output is not None else ()
        for hook in list(self.module._backward_hooks.values()):
            res = hook(self.module, grad_input, grad_output)
            if res is not None:
                res = tuple(res) if isinstance(res, (tuple, list)) else (res,)
                if len(res) != len(grad_input):
                    raise RuntimeError(f"backward hook returned {len(res)} gradients, expected {len(grad_input)}")
                grad_input = res
        return tuple(grad_input[self.tensor_pos.index(i)] for i in self.input_pos)

    def wrap_outputs(self, out):
        from ..autograd import Function
        single = isinstance(out, Tensor)
        outs = (out,) if single else (tuple(out) if isinstance(out, (tuple, list)) else None)
        if outs is None:
            return out
        idx = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
        if not idx:
            return out
        state = self

        class BackwardHookFunction(Function):
            @staticmethod
            def forward(ctx, *tensors):
                return tuple(Tensor._wrap(t._data) for t in tensors)

            @staticmethod
            def backward(ctx, *grads):
                grads = tuple(grads)
                for hook in list(state.module._backward_pre_hooks.values()):
                    res = hook(state.module, grads)
                    if res is not None:
                        grads = tuple(res) if isinstance(res, (tuple, list)) else (res,)
                state.grad_output = grads
                if not state.inputs_hooked and state.module._backward_hooks:
                    state.run_hooks([])
                return grads

        new = BackwardHookFunction.apply(*[outs[i] for i in idx])
        outs = list(outs)
        for i, t in zip(idx, new):
            outs[i] = t
        if single:
            return outs[0]
        return tuple(outs) if isinstance(out, tuple) else outs


def _shape_str(t):
    return "fastnn.Size([" + ", ".join(str(int(s)) for s in t.shape) + "])"


def _copy_into(dst, src):
    """Copy ``src``'s values into ``dst``'s storage, casting to ``dst``'s dtype (no autograd)."""
    from ..backend import to_device, device_of
    arr = src._data
    if device_of(arr) != device_of(dst._data):
        arr = to_device(arr, device_of(dst._data))
    dst._data[...] = arr

