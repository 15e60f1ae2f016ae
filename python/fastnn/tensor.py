"""fastnn.Tensor: an array (numpy on the CPU) plus the autograd bookkeeping.

Ops live in ``_ops_*.py`` and are attached to Tensor as methods at import time; this file holds
the class, wrapping/recording helpers, arithmetic operators and the in-place helpers used by
initialisers and optimisers.
"""
from __future__ import annotations

import builtins
import numbers

import numpy as np

from . import backend
from . import dtypes as _dt
from ._autograd_engine import Node, RemovableHandle, _PostAccumulateHandle, _mode, run_backward
from ._autograd_engine import _state as _engine_state

ndarray = np.ndarray
_new = object.__new__
_asarray = np.asarray
_np_generic = np.generic


class Size(tuple):
    """A tensor shape: a tuple of ints (``torch.Size``)."""

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, idx):
        r = tuple.__getitem__(self, idx)
        return Size(r) if isinstance(idx, slice) else r

    def __repr__(self):
        return f"fastnn.Size({list(self)})"


def _as_array(a):
    """numpy scalars (what numpy returns for full reductions of 0-d operands) as 0-d arrays; device
    arrays (cupy) pass through."""
    if isinstance(a, _np_generic) or not hasattr(a, "shape"):
        return _asarray(a)
    return a


def _xp(a):
    """The array module (numpy or cupy) of array ``a``; numpy at the cost of one comparison."""
    return np if a.__class__ is ndarray else backend.array_module_of(a)


def _filled(like, shape, value, dtype):
    """An array of ``shape`` filled with ``value`` on the device of array ``like``."""
    return _xp(like).full(shape, value, dtype=dtype)


def _on_device_of(like, a):
    """Array ``a`` moved to the device of array ``like`` (no copy when already there). A numpy scalar
    (what numpy functions give for 0-d results) becomes a 0-d array there."""
    if a.__class__ is like.__class__:
        return a
    if like.__class__ is ndarray and isinstance(a, _np_generic):
        return _asarray(a)
    return backend.to_device(_as_array(a), backend.device_of(like))


def _array_on(like, v, dtype=None):
    """``v`` (a number, a list, a numpy or a device array) as an array of ``dtype`` (None: inferred) on the
    device of array ``like``; host data is copied there explicitly (cupy refuses implicit transfers)."""
    if v.__class__ is not like.__class__ and not backend.is_cuda_array(v):
        v = np.asarray(v, dtype=dtype)
    elif dtype is not None and v.dtype != dtype:
        v = v.astype(dtype)
    return _on_device_of(like, v)


def _wrap(a):
    """A Tensor over array ``a`` (no copy; numpy scalars become 0-d arrays)."""
    if a.__class__ is not ndarray:
        a = _as_array(a)
    t = _new(Tensor)
    t._data = a
    return t


def _make(a, inputs, fn, name):
    """A Tensor over ``a`` recorded as the output of a node (callers check grad mode first)."""
    if a.__class__ is not ndarray:
        a = _as_array(a)
    t = _new(Tensor)
    t._data = a
    t.grad_fn = Node(fn, inputs, name)
    t._requires_grad = True
    return t


def _as_tensor_like(x, like):
    """``x`` (scalar/array/Tensor) as a Tensor, scalars taking ``like``'s dtype under PyTorch's rules."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (builtins.bool, numbers.Number, np.generic)):
        return _wrap(_on_device_of(like._data, np.asarray(x, dtype=_dt.scalar_result(like._data.dtype, x))))
    return _wrap(_on_device_of(like._data, _array_from_data(x, None)))


def _array_from_data(data, dtype):
    if isinstance(data, Tensor):
        a = data._data
        return a.astype(dtype) if dtype is not None and a.dtype != dtype else a.copy()
    if data.__class__ is not np.ndarray and backend.is_cuda_array(data):
        # a device array stays on its device (numpy cannot read device memory)
        if data.dtype not in _dt._SUPPORTED:
            raise TypeError(f"tensor: unsupported dtype {data.dtype}")
        return data.astype(dtype) if dtype is not None and data.dtype != dtype else data.copy()
    if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flat_iter(data)):
        data = _replace_tensors(data)
    a = np.array(data, dtype=dtype, copy=True) if dtype is not None else np.array(data, copy=True)
    if dtype is None:
        k = a.dtype.kind
        if k == "f":
            if not isinstance(data, (np.ndarray, np.generic)):
                a = a.astype(_dt.get_default_dtype())
        elif k in "iu":
            if not isinstance(data, (np.ndarray, np.generic)) or a.dtype.itemsize > 8:
                a = a.astype(np.int64)
        elif k == "b":
            pass
        elif k == "O" or k == "U" or k == "S":
            raise TypeError(f"tensor: could not infer a numeric dtype from data of type {type(data).__name__}")
        elif k == "c":
            raise TypeError("tensor: complex data is not supported")
    if a.dtype not in _dt._SUPPORTED:
        raise TypeError(f"tensor: unsupported dtype {a.dtype}")
    return a


def _flat_iter(x):
    stack = [x]
    while stack:
        y = stack.pop()
        if isinstance(y, (list, tuple)):
            stack.extend(y)
        else:
            yield y


def _replace_tensors(x):
    if isinstance(x, (list, tuple)):
        return [_replace_tensors(y) for y in x]
    if isinstance(x, Tensor):
        return backend.to_device(x._data, backend.CPU)
    return x


def _sum_to(g, shape, node=None):
    """Reduce a broadcast gradient ``g`` to ``shape`` (differentiable)."""
    gs = g._data.shape
    if gs == shape:
        return g
    lead = len(gs) - len(shape)
    if lead < 0:
        # a backward rule returned fewer dims than its input had: only size-1 dims may be missing
        return g.reshape(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and gs[i + lead] != 1)
    if axes and not _mode.enabled and g._data.dtype.kind == "f":
        # a leading and a trailing block of axes (a per-channel bias over N, H, W) sums on the GEMM
        first = 0
        while first < len(axes) and axes[first] == first:
            first += 1
        rest = axes[first:]
        if not rest or rest == tuple(range(rest[0], len(gs))):
            kept = (rest[0] if rest else len(gs)) - first
            from . import kernels
            return Tensor._wrap(kernels.sum_outer_inner(g._data, first, kept).reshape(shape))
    if axes:
        g = g.sum(dim=axes, keepdim=True)
    if g._data.shape != shape:
        g = g.reshape(shape)
    return g


def _bcast_error(op, a, b):
    raise RuntimeError(
        f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together "
        f"(sizes must match or be 1 in each trailing dimension)") from None


def _promote_pair(ad, bd):
    r = _dt.promote(ad.dtype, ad.ndim > 0, bd.dtype, bd.ndim > 0)
    if ad.dtype != r:
        ad = ad.astype(r)
    if bd.dtype != r:
        bd = bd.astype(r)
    return ad, bd


def _scalar_operand(ad, b, r):
    """Scalar ``b`` as dtype ``r`` for an operation with array ``ad``: a 0-d numpy array on the CPU,
    a numpy scalar for device arrays (cupy takes numpy scalars, not host arrays)."""
    bd = np.asarray(b, dtype=r)
    return bd if ad.__class__ is ndarray else bd[()]


def _check_same_device(tensors, op):
    """RuntimeError naming the devices when ``tensors`` (a sequence of Tensors) are not all on one device."""
    cls = tensors[0]._data.__class__
    for t in tensors:
        if t._data.__class__ is not cls:
            backend.check_same_device(tensors[0]._data, t._data, op)


def _cpu_scalar_to_device(a, ad, b, bd, op):
    """Arrays of a and b on one device. As in PyTorch, a 0-d CPU tensor outside autograd may meet a tensor on
    another device (it travels there, like a Python number); any other mix raises."""
    da, db = backend.device_of(ad), backend.device_of(bd)
    if da == db:
        return ad, bd
    if db.type == "cpu" and bd.ndim == 0 and not b.requires_grad:
        return ad, backend.to_device(bd, da)
    if da.type == "cpu" and ad.ndim == 0 and not a.requires_grad:
        return backend.to_device(ad, db), bd
    backend.check_same_device(ad, bd, op)
    return ad, bd


def _operands(a, b, op):
    """Arrays of a (Tensor) and b (Tensor or scalar) after PyTorch type promotion; b_t is b as Tensor or None."""
    ad = a._data
    if isinstance(b, Tensor):
        bd = b._data
        if bd.__class__ is not ad.__class__:
            ad, bd = _cpu_scalar_to_device(a, ad, b, bd, op)
        if ad.dtype != bd.dtype:
            ad, bd = _promote_pair(ad, bd)
        return ad, bd, b
    tb = type(b)
    if tb is builtins.float or tb is builtins.int or tb is builtins.bool:
        if ad.dtype.kind != "f" and (type(b) is builtins.float or ad.dtype.kind == "b"):
            r = _dt.scalar_result(ad.dtype, b)
            if r != ad.dtype:
                ad = ad.astype(r)
            return ad, _scalar_operand(ad, b, r), None
        return ad, b, None
    if isinstance(b, (np.generic, numbers.Number)):
        r = _dt.scalar_result(ad.dtype, b)
        if r != ad.dtype:
            ad = ad.astype(r)
        return ad, _scalar_operand(ad, b, r), None
    if isinstance(b, (np.ndarray, list, tuple)) or backend.is_cuda_array(b):
        bt = _wrap(_on_device_of(ad, _array_from_data(b, None)))
        return _operands(a, bt, op)
    raise TypeError(f"{op}: unsupported operand type {type(b).__name__} (expected a Tensor or a number)")


# ---------------------------------------------------------------------------- the Tensor class

class Tensor:
    """A multi-dimensional array with autograd (PyTorch's ``torch.Tensor``)."""

    # defaults shared by every instance: a new tensor only sets _data
    grad_fn = None
    _requires_grad = False
    _grad = None
    _out_idx = 0
    _hooks = None
    _post_acc_hooks = None
    _retains_grad = False
    _name = None
    _hist = None        # states before in-place ops recorded by autograd (see _autograd_engine._edge)
    # PyTorch's version counter: bumped by every in-place write through this tensor object (writes
    # through a separately held view of its memory are not counted), so caches keyed on a tensor's
    # values (a graph's CSR grouping of edge_index) know when to rebuild.
    _version = 0
    is_sparse = False   # fastnn.sparse.SparseRowsTensor (sparse gradients of embeddings) says True
    __array_priority__ = 1000   # numpy defers binary operators to Tensor's reflected ones

    def __init__(self, *args, dtype=None, device=None, requires_grad=False):
        """``Tensor(data)`` copies data as the default float dtype; ``Tensor(2, 3)`` is uninitialised (2, 3)."""
        d = _dt.as_dtype(dtype) or _dt.get_default_dtype()
        if not args:
            arr = np.empty((0,), dtype=d)
        elif all(isinstance(a, (builtins.int, np.integer)) and not isinstance(a, builtins.bool) for a in args):
            arr = np.empty(tuple(builtins.int(a) for a in args), dtype=d)
        elif len(args) == 1 and isinstance(args[0], Size):
            arr = np.empty(tuple(args[0]), dtype=d)
        elif len(args) == 1:
            arr = _array_from_data(args[0], d)
        else:
            raise TypeError(f"Tensor(): expected data or a sequence of ints, got {args!r}")
        self._data = arr
        if device is not None and backend.as_device(device) != backend.CPU:
            self._data = backend.to_device(self._data, device)
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array, requires_grad=False):
        """Wrap an existing array without copying."""
        if array.__class__ is not ndarray and not backend.is_cuda_array(array):
            array = _asarray(array)
        t = _new(cls)
        t._data = array
        if requires_grad:
            t.requires_grad_(True)
        return t

    # ---- basic attributes
    @property
    def shape(self):
        return Size(self._data.shape)

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def device(self):
        return backend.device_of(self._data)

    @property
    def layout(self):
        from .sparse import strided
        return strided

    def to_dense(self, dtype=None, *, masked_grad=None):
        """This tensor (already dense), or a copy in ``dtype``; sparse tensors override it."""
        return self if dtype is None else self.to(dtype)

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    def get_device(self) -> int:
        """The CUDA device index holding the tensor, -1 on the CPU (PyTorch's convention)."""
        d = self.device
        return -1 if d.index is None else d.index

    def data_ptr(self) -> int:
        """Address of the tensor's first element: equal for views that start at the same element."""
        return backend.data_ptr(self._data)

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    ndimension = dim

    def numel(self):
        return self._data.size

    nelement = numel

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_canon_dim(dim, self._data.ndim, "size")]

    def element_size(self):
        return self._data.itemsize

    def stride(self, dim=None):
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[_canon_dim(dim, self._data.ndim, "stride")]

    def is_contiguous(self, memory_format=None):
        return bool(self._data.flags.c_contiguous)

    def contiguous(self, memory_format=None):
        if self._data.flags.c_contiguous:
            return self
        return _unary_copy(self, _xp(self._data).ascontiguousarray(self._data), "Clone")

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    def is_complex(self):
        return False

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad=True):
        if self.grad_fn is not None:
            if not requires_grad:
                raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use "
                                   "a computed variable in a subgraph that doesn't require differentiation use "
                                   "var_no_grad = var.detach().")
            return self
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients, got {self._data.dtype}")
        self._requires_grad = builtins.bool(requires_grad)
        return self

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad must be a Tensor or None, got {type(value).__name__}")
            if tuple(value.shape) != self._data.shape:
                raise RuntimeError(f"assigned grad has data of a different size: {tuple(value.shape)} "
                                   f"vs the tensor's {tuple(self.shape)}")
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    @property
    def data(self):
        return _wrap(self._data)

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be set to a Tensor, got {type(value).__name__}")
        self._data = value._data

    @property
    def name(self):
        return self._name

    @property
    def retains_grad(self):
        return self._retains_grad

    @property
    def output_nr(self):
        return self._out_idx

    # ---- autograd
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into each leaf's ``.grad`` (``gradient`` is required unless self has one element)."""
        if not self._requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        if gradient is None:
            if self._data.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs (got shape "
                                   f"{tuple(self.shape)}); pass 'gradient' to backward()")
            gradient = _wrap(_filled(self._data, self._data.shape, 1, self._data.dtype))
        else:
            if not isinstance(gradient, Tensor):
                gradient = _wrap(_on_device_of(self._data, _array_from_data(gradient, self._data.dtype)))
            if gradient._data.shape != self._data.shape:
                raise RuntimeError(f"backward: argument 'gradient' has shape {tuple(gradient.shape)} but the "
                                   f"tensor has shape {tuple(self.shape)}")
        if inputs is not None:
            inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
            grads = run_backward([self], [gradient], retain_graph, create_graph, inputs=inputs, allow_unused=True)
            for t, g in zip(inputs, grads):
                if g is None:
                    continue
                if t._grad is None:
                    t._grad = g if create_graph else _wrap(g._data.copy())
                else:
                    t._grad = t._grad + g
            return
        run_backward([self], [gradient], retain_graph, create_graph)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a non-None return replaces the gradient."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            entry = self.grad_fn.register_prehook(self._out_idx, hook)
            return RemovableHandle(self.grad_fn.pre_hooks, entry)
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return RemovableHandle(self._hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` on this leaf once its gradient of the current backward pass has been
        accumulated into ``.grad`` (PyTorch's name and rules: leaves only; the return value is ignored).

        The hook fires as soon as every op using the tensor has been differentiated, while the rest
        of the graph is still running: DistributedDataParallel starts reducing a bucket of gradients
        there. ``fastnn._autograd_engine.queue_callback`` runs a function at the end of the pass."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if not callable(hook):
            raise TypeError(f"register_post_accumulate_grad_hook: 'hook' must be callable, got {type(hook).__name__}")
        if self._post_acc_hooks is None:
            self._post_acc_hooks = []
        self._post_acc_hooks.append(hook)
        return _PostAccumulateHandle(self._post_acc_hooks, hook, self)

    def retain_grad(self):
        """Keep the gradient of this non-leaf tensor in ``.grad`` after backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        import weakref
        ref = weakref.ref(self)

        def hook(g):
            t = ref()
            if t is not None:
                t._grad = (_wrap(g._data.copy()) if not _mode.enabled else g) if t._grad is None else t._grad + g
            return None
        self.grad_fn.register_prehook(self._out_idx, hook)
        self._retains_grad = True

    def detach(self):
        return _wrap(self._data)

    def detach_(self):
        self.grad_fn = None
        self._requires_grad = False
        return self

    # ---- conversion
    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item() if not backend.is_cuda_array(self._data) else self._data.item()

    def tolist(self):
        return backend.to_device(self._data, "cpu").tolist()

    def numpy(self, *, force=False):
        if self._data.__class__ is not ndarray and backend.is_cuda_array(self._data):
            if not force:
                raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to "
                                "copy the tensor to host memory first.")
            return backend.to_device(self._data, backend.CPU)
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        a = backend.to_device(self._data, "cpu")
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def __dlpack__(self, *args, **kwargs):
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __contains__(self, element):
        if isinstance(element, (Tensor, builtins.int, builtins.float, builtins.bool, np.generic)):
            return builtins.bool((self == element).any())
        raise RuntimeError(f"Tensor.__contains__ only supports Tensor or scalar, but you passed in a "
                           f"{type(element).__name__}")

    def __reversed__(self):
        return self.flip(0) if self._data.ndim else self

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self._data.size} elements is ambiguous")
        return builtins.bool(self._data.reshape(()))

    def __float__(self):
        if self._data.size != 1:
            raise TypeError(f"only one element tensors can be converted to Python scalars (got {self._data.size})")
        return builtins.float(self._data.reshape(()))

    def __int__(self):
        if self._data.size != 1:
            raise TypeError(f"only one element tensors can be converted to Python scalars (got {self._data.size})")
        return builtins.int(self._data.reshape(()))

    def __index__(self):
        if self._data.size != 1 or self._data.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return builtins.int(self._data.reshape(()))

    def __complex__(self):
        return complex(self.item())

    def __format__(self, spec):
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec) if spec else repr(self)

    __hash__ = object.__hash__

    def __reduce_ex__(self, proto):
        # lets copy.deepcopy and pickling of modules work (fastnn.save uses its own format)
        return (_rebuild, (self._data.copy() if isinstance(self._data, np.ndarray) else self._data,
                           self._requires_grad, type(self)))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                               "protocol at the moment")
        t = _new(type(self))
        t.__dict__.update({k: v for k, v in self.__dict__.items() if k not in ("_data", "_grad", "_hooks", "_post_acc_hooks")})
        t._data = self._data.copy()
        if self._grad is not None:
            t._grad = _wrap(self._grad._data.copy())
        memo[id(self)] = t
        return t

    def __repr__(self):
        return _format_tensor(self)

    __str__ = __repr__

    # ---- operators
    def __add__(self, other):
        return _add(self, other)

    def __radd__(self, other):
        return _add(self, other)

    def __sub__(self, other):
        return _sub(self, other)

    def __rsub__(self, other):
        return _rsub(self, other)

    def __mul__(self, other):
        return _mul(self, other)

    def __rmul__(self, other):
        return _mul(self, other)

    def __truediv__(self, other):
        return _div(self, other)

    def __rtruediv__(self, other):
        return _rdiv(self, other)

    def __floordiv__(self, other):
        return _div(self, other, "floor")

    def __rfloordiv__(self, other):
        return _div(_as_tensor_like(other, self), self, "floor")

    def __mod__(self, other):
        return remainder(self, other)

    def __rmod__(self, other):
        return remainder(_as_tensor_like(other, self), self)

    def __pow__(self, other):
        return _pow(self, other)

    def __rpow__(self, other):
        return _rpow(self, other)

    def __matmul__(self, other):
        if not isinstance(other, Tensor):
            other = _as_tensor_like(other, self)
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(_as_tensor_like(other, self), self)

    def __neg__(self):
        return _neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def __invert__(self):
        return bitwise_not(self)

    def __and__(self, other):
        return bitwise_and(self, other)

    __rand__ = __and__

    def __or__(self, other):
        return bitwise_or(self, other)

    __ror__ = __or__

    def __xor__(self, other):
        return bitwise_xor(self, other)

    __rxor__ = __xor__

    def __eq__(self, other):
        return eq(self, other)

    def __ne__(self, other):
        return ne(self, other)

    def __lt__(self, other):
        return lt(self, other)

    def __le__(self, other):
        return le(self, other)

    def __gt__(self, other):
        return gt(self, other)

    def __ge__(self, other):
        return ge(self, other)

    # in-place operators: in place on the array when no graph is recorded
    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __ipow__(self, other):
        return self.pow_(other)

    def __imatmul__(self, other):
        return _inplace_op(self, lambda old: matmul(old, other))

    # ---- in-place helpers (initialisers, optimisers)
    def _check_inplace(self):
        if _mode.enabled and self._requires_grad and self.grad_fn is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")

    def _recording(self, other=None):
        return _mode.enabled and (self._requires_grad or (isinstance(other, Tensor) and other._requires_grad))

    def zero_(self):
        self._check_inplace()
        if self._recording():
            # part of a graph: record it (the gradient through a zeroed tensor is zero)
            return _inplace_op(self, lambda old: old * 0)
        self._data[...] = 0
        self._version += 1
        return self

    def fill_(self, value):
        self._check_inplace()
        if self._recording(value):
            v = value if isinstance(value, Tensor) else value
            return _inplace_op(self, lambda old: old * 0 + v)
        if isinstance(value, Tensor):
            value = value.item()
        self._data[...] = value
        self._version += 1
        return self

    def copy_(self, src, non_blocking=False):
        if self._recording(src):
            self._check_inplace()
            src_t = src if isinstance(src, Tensor) else _as_tensor_like(src, self)
            return _inplace_op(self, lambda old: src_t.to(self._data.dtype).expand(self._data.shape) + 0)
        s = src._data if isinstance(src, Tensor) else src
        s = _array_on(self._data, s)
        try:
            np.copyto(self._data, s, casting="unsafe") if isinstance(self._data, np.ndarray) else \
                self._data.__setitem__(Ellipsis, s)
        except ValueError:
            raise RuntimeError(f"copy_: source of shape {tuple(s.shape)} cannot be broadcast to the "
                               f"destination's shape {tuple(self.shape)}") from None
        self._version += 1
        return self

    def _binary_inplace(self, other, ufunc, fallback, name):
        if self._recording(other):
            self._check_inplace()
            return _inplace_op(self, lambda old: fallback(old, other))
        sd = self._data
        if isinstance(other, Tensor):
            o = other._data
            if o.__class__ is not sd.__class__:
                # like PyTorch, a 0-d CPU tensor may update a tensor on another device
                if o.ndim == 0 and backend.device_of(o) == backend.CPU:
                    o = backend.to_device(o, backend.device_of(sd))
                else:
                    backend.check_same_device(sd, o, name)
        else:
            o = other
            if sd.__class__ is not ndarray and isinstance(o, (np.ndarray, list, tuple)):
                o = _array_on(sd, o)
        try:
            ufunc(sd, o, out=sd, casting="same_kind")
        except ValueError:
            raise RuntimeError(f"{name}: shape {tuple(np.shape(o))} of 'other' cannot be broadcast to the "
                               f"in-place destination's shape {tuple(self.shape)}") from None
        except TypeError as e:
            raise RuntimeError(f"{name}: result type cannot be cast to the destination's dtype {self.dtype}: {e}") \
                from None
        self._version += 1
        return self

    def add_(self, other, *, alpha=1):
        if alpha != 1:
            other = other * alpha
        return self._binary_inplace(other, np.add, _add, "add_")

    def sub_(self, other, *, alpha=1):
        if alpha != 1:
            other = other * alpha
        return self._binary_inplace(other, np.subtract, _sub, "sub_")

    def mul_(self, other):
        return self._binary_inplace(other, np.multiply, _mul, "mul_")

    def div_(self, other, *, rounding_mode=None):
        if rounding_mode is not None:
            return _inplace_op(self, lambda old: _div(old, other, rounding_mode))
        if self._data.dtype.kind != "f":
            raise RuntimeError(f"div_: result type float can't be cast to the desired output type {self.dtype}")
        return self._binary_inplace(other, np.true_divide, _div, "div_")

    def pow_(self, other):
        return self._binary_inplace(other, np.power, _pow, "pow_")

    def addcmul_(self, tensor1, tensor2, *, value=1):
        if self._recording(tensor1) or self._recording(tensor2):
            self._check_inplace()
            return _inplace_op(self, lambda old: old + tensor1 * tensor2 * value)
        t = np.multiply(tensor1._data, tensor2._data)
        if value != 1:
            t *= value
        self._data += t
        return self

    def addcdiv_(self, tensor1, tensor2, *, value=1):
        if self._recording(tensor1) or self._recording(tensor2):
            self._check_inplace()
            return _inplace_op(self, lambda old: old + tensor1 / tensor2 * value)
        t = np.divide(tensor1._data, tensor2._data)
        if value != 1:
            t *= value
        self._data += t
        return self

    def lerp_(self, end, weight):
        if self._recording(end) or self._recording(weight):
            self._check_inplace()
            return _inplace_op(self, lambda old: old + (end - old) * weight)
        w = weight._data if isinstance(weight, Tensor) else weight
        e = end._data if isinstance(end, Tensor) else end
        self._data += w * (e - self._data)
        return self

    def clamp_(self, min=None, max=None):
        if self._recording():
            self._check_inplace()
            return _inplace_op(self, lambda old: old.clamp(min, max))
        if min is None and max is None:
            raise RuntimeError("clamp_: at least one of 'min' or 'max' must not be None")
        lo = min._data if isinstance(min, Tensor) else min
        hi = max._data if isinstance(max, Tensor) else max
        np.clip(self._data, lo, hi, out=self._data)
        return self

    clip_ = clamp_

    def uniform_(self, a=0.0, b=1.0):
        from . import random as _random
        self._check_inplace()
        self._data[...] = _on_device_of(self._data, _random.generator().uniform(a, b, size=self._data.shape))
        return self

    def normal_(self, mean=0.0, std=1.0):
        from . import random as _random
        self._check_inplace()
        self._data[...] = _on_device_of(self._data, _random.generator().normal(mean, std, size=self._data.shape))
        return self

    def bernoulli_(self, p=0.5):
        from . import random as _random
        self._check_inplace()
        self._data[...] = _on_device_of(self._data, _random.generator().random(size=self._data.shape) < p)
        return self

    def exponential_(self, lambd=1.0):
        from . import random as _random
        self._check_inplace()
        a = _random.generator().exponential(1.0 / lambd, size=self._data.shape)
        self._data[...] = _on_device_of(self._data, a)
        return self

    def random_(self, low=0, high=None):
        from . import random as _random
        self._check_inplace()
        if high is None:
            low, high = 0, low if low else 2 ** 24
        a = _random.generator().integers(low, high, size=self._data.shape)
        self._data[...] = _on_device_of(self._data, a)
        return self

    def set_(self, source):
        self._data = source._data
        return self

    def _unary_inplace(self, fn):
        if self._recording():
            self._check_inplace()
            return _inplace_op(self, fn)
        self._data[...] = fn(_wrap(self._data))._data
        self._version += 1
        return self

    # ---- dtype / device conversion
    def to(self, *args, **kwargs):
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``; ``copy=`` forces a copy."""
        dtype = kwargs.pop("dtype", None)
        device = kwargs.pop("device", None)
        copy = kwargs.pop("copy", False)
        kwargs.pop("non_blocking", None)
        kwargs.pop("memory_format", None)
        if kwargs:
            raise TypeError(f"to: unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, (str, backend.Device)):
                device = a
            elif a is None:
                continue
            else:
                dtype = _dt.as_dtype(a)
        t = self
        if dtype is not None:
            dtype = _dt.as_dtype(dtype)
            if dtype != t._data.dtype:
                t = _cast(t, dtype)
                copy = False
        if device is not None and backend.as_device(device) != t.device:
            t = _to_device(t, backend.as_device(device))
            copy = False
        if copy and t is self:
            t = self.clone()
        return t

    def type(self, dtype=None):
        if dtype is None:
            return f"fastnn.{_TYPE_NAMES.get(self._data.dtype, str(self._data.dtype))}"
        return self.to(dtype)

    def float(self):
        return self.to(_dt.float32)

    def double(self):
        return self.to(_dt.float64)

    def half(self):
        return self.to(_dt.float16)

    def long(self):
        return self.to(_dt.int64)

    def int(self):
        return self.to(_dt.int32)

    def bool(self):
        return self.to(_dt.bool)

    def byte(self):
        return self.to(_dt.uint8)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        if device is None:
            return self.to("cuda")
        if isinstance(device, builtins.int):
            return self.to(backend.Device("cuda", device))
        return self.to(device)

    def type_as(self, other):
        return self.to(other.dtype)

    def clone(self, *, memory_format=None):
        return _unary_copy(self, self._data.copy(), "Clone")

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        return Tensor(data, dtype=dtype or self.dtype, device=self.device if device is None else device,
                      requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return _new_filled(self, size, 0, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return _new_filled(self, size, 1, dtype, device, requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return _new_filled(self, (size,), fill_value, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return _new_filled(self, size, 0, dtype, device, requires_grad)

    def neg_(self):
        return self._unary_inplace(_neg)


def _rebuild(data, requires_grad, cls):
    t = _new(cls)
    t._data = data
    if requires_grad:
        t._requires_grad = True
    return t


_TYPE_NAMES = {np.dtype("float32"): "FloatTensor", np.dtype("float64"): "DoubleTensor",
               np.dtype("float16"): "HalfTensor", np.dtype("int64"): "LongTensor",
               np.dtype("int32"): "IntTensor", np.dtype("bool"): "BoolTensor", np.dtype("uint8"): "ByteTensor",
               np.dtype("int16"): "ShortTensor", np.dtype("int8"): "CharTensor"}


class _ZeroGrad(Tensor):
    """A gradient known to be zero: an activation's derivative with respect to its input inside a gradient
    of a gradient (WGAN-GP). It holds a broadcast view of one zero, and the autograd engine skips the
    backward of every node that receives nothing else, materialising zeros only where they reach a leaf:
    the leaves get zero gradients, as PyTorch gives them, without the work of computing them."""


def _zero_grad_like(a):
    """A :class:`_ZeroGrad` of the shape and dtype of array ``a``."""
    xp = _xp(a)
    t = _new(_ZeroGrad)
    t._data = xp.broadcast_to(xp.zeros((), dtype=a.dtype), a.shape)
    return t


def _new_filled(like, size, value, dtype, device, requires_grad):
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = tuple(size[0])
    shape = tuple(_check_size_arg(s, "size") for s in size)
    a = np.full(shape, value, dtype=_dt.as_dtype(dtype) or like._data.dtype)
    t = _wrap(backend.to_device(a, like.device if device is None else device))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _check_size_arg(s, arg):
    if isinstance(s, Tensor):
        s = s.item()
    if isinstance(s, builtins.bool) or not isinstance(s, (builtins.int, np.integer)):
        raise TypeError(f"argument '{arg}' must be a tuple of ints, but found element of type {type(s).__name__}")
    if s < 0:
        raise RuntimeError(f"argument '{arg}': negative dimension {s}")
    return builtins.int(s)


def _canon_dim(dim, ndim, op="", arg="dim"):
    if type(dim) is builtins.int and -ndim <= dim < ndim:
        return dim % ndim
    if isinstance(dim, builtins.bool) or not isinstance(dim, (builtins.int, np.integer)):
        if isinstance(dim, Tensor) and dim.numel() == 1 and dim._data.dtype.kind in "iu":
            dim = dim.item()
        else:
            raise TypeError(f"{op}: argument '{arg}' must be an int, got {type(dim).__name__}")
    n = builtins.max(ndim, 1)
    if dim < -n or dim >= n:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return builtins.int(dim) % n if ndim > 0 else 0


def _unary_copy(t, arr, name):
    if _mode.enabled and t._requires_grad:
        return _make(arr, (t,), lambda g: (g,), name)
    return _wrap(arr)


def _cast(t, dtype):
    arr = t._data.astype(dtype)
    if _mode.enabled and t._requires_grad and dtype.kind == "f":
        src = t._data.dtype
        return _make(arr, (t,), lambda g: (g.to(src),), "ToCopy")
    return _wrap(arr)


def _to_device(t, device):
    arr = backend.to_device(t._data, device)
    if _mode.enabled and t._requires_grad:
        src = t.device
        return _make(arr, (t,), lambda g: (g.to(src),), "ToCopy")
    return _wrap(arr)


def _snapshot(t):
    """A Tensor standing for ``t`` as it is now (same array, same place in the graph)."""
    old = _new(Tensor)
    old._data = t._data
    old.grad_fn = t.grad_fn
    old._out_idx = t._out_idx
    old._requires_grad = t._requires_grad
    return old


def _inplace_op(self, fn, reshape=False):
    """Record an in-place op: ``fn(old_self)`` computes the result out of place, then ``self`` becomes it.

    The graph keeps the old value (a snapshot sharing the old array), so backward sees the
    inputs as they were when the op ran.
    """
    res = fn(_snapshot(self))
    if res._data.dtype != self._data.dtype:
        if res._data.dtype.kind == "f" and self._data.dtype.kind != "f":
            raise RuntimeError(f"result type {res._data.dtype} can't be cast to the desired output type "
                               f"{self._data.dtype}")
        res = res.to(self._data.dtype)
    if res._data.shape != self._data.shape and not reshape:
        raise RuntimeError(f"output with shape {tuple(self.shape)} doesn't match the broadcast shape "
                           f"{tuple(res.shape)}")
    if res.grad_fn is not None:
        # nodes recorded before this op keep seeing the old state of `self`
        hist = self._hist if self._hist is not None else []
        hist.append((res.grad_fn.seq, self.grad_fn, self._out_idx, self._requires_grad))
        self._hist = hist
        _engine_state.inplace_seen = True
    self._data = res._data
    self.grad_fn = res.grad_fn
    self._out_idx = res._out_idx
    self._requires_grad = res._requires_grad
    self._version += 1
    return self


def _format_tensor(t):
    """PyTorch's style: integral floats as ``1.``, others with 4 decimals (scientific when tiny/huge)."""
    a = backend.to_device(t._data, "cpu")
    prefix = "tensor("
    if a.size == 0:
        body = "[]"
        extra = [f"size={tuple(a.shape)}"] if a.ndim > 1 else []
    else:
        if a.dtype.kind == "f":
            finite = a[np.isfinite(a)]
            # Python floats: 1e8 cast to float16 would overflow
            if finite.size and np.all(finite == np.round(finite)) and float(np.max(np.abs(finite), initial=0)) < 1e8:
                body = np.array2string(a, separator=", ", prefix=prefix, threshold=1000, edgeitems=3,
                                       formatter={"float_kind": lambda v: (f"{v:.0f}." if np.isfinite(v) else
                                                                           str(v))})
            else:
                mx = float(np.max(np.abs(finite), initial=0))
                mn = float(np.min(np.abs(finite[finite != 0]), initial=1)) if finite.size else 1.0
                if mx >= 1e8 or mn < 1e-4:
                    body = np.array2string(a, separator=", ", prefix=prefix, threshold=1000, edgeitems=3,
                                           formatter={"float_kind": lambda v: f"{v:.4e}"})
                else:
                    body = np.array2string(a, separator=", ", prefix=prefix, threshold=1000, edgeitems=3,
                                           precision=4, floatmode="fixed")
        else:
            body = np.array2string(a, separator=", ", prefix=prefix, threshold=1000, edgeitems=3)
        extra = []
    default = {_dt.get_default_dtype(), np.dtype("int64"), np.dtype("bool")}
    if a.dtype not in default or (a.size == 0 and a.dtype != _dt.get_default_dtype()):
        extra.append(f"dtype=fastnn.{a.dtype}")
    dev = t.device
    if dev.type != "cpu":
        extra.insert(0, f"device='{dev}'")
    if t.grad_fn is not None:
        extra.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._requires_grad:
        extra.append("requires_grad=True")
    return prefix + body + "".join(", " + e for e in extra) + ")"


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(input):
    return input.is_floating_point()


def numel(input):
    return input.numel()


def clone(input, *, memory_format=None):
    return input.clone()


def detach(input):
    return input.detach()


# the op modules attach their functions to Tensor as methods; the arithmetic names stay importable
# from here (the operators above call them)
from ._ops_arith import (_add, _div, _mul, _neg, _pow, _rdiv, _rpow, _rsub, _sub, add, bitwise_and,  # noqa: E402,F401
                         bitwise_not, bitwise_or, bitwise_xor, div, dot, eq, floor_divide, fmod, ge, gt, le, lt,
                         matmul, mm, mul, mv, bmm, ne, neg, negative, pow, remainder, rsub, sub, true_divide,
                         logical_and, logical_or, logical_xor, logical_not)
from . import _ops_shape, _ops_math, _ops_reduce, _ops_extra  # noqa: E402,F401
