"""fastnn.autograd: grad(), backward(), Function for custom ops, gradcheck/gradgradcheck.

Grad-mode switches (no_grad, enable_grad, set_grad_enabled) are re-exported here as in PyTorch.
"""
from __future__ import annotations

import numpy as np

from . import backend

from ._autograd_engine import (Node, _mode, enable_grad, inference_mode, is_grad_enabled, no_grad,  # noqa: F401
                               run_backward, set_grad_enabled)
from .tensor import Tensor, _array_on, _filled, _on_device_of, _wrap

__all__ = ["grad", "backward", "Function", "FunctionCtx", "gradcheck", "gradgradcheck", "no_grad", "enable_grad",
           "set_grad_enabled", "is_grad_enabled", "inference_mode", "GradcheckError"]


def _as_list(x, name):
    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        for i, t in enumerate(x):
            if not isinstance(t, Tensor):
                raise TypeError(f"argument '{name}' must hold Tensors; element {i} is {type(t).__name__}")
        return list(x)
    raise TypeError(f"argument '{name}' must be a Tensor or a sequence of Tensors, got {type(x).__name__}")


def _zeros_like(t):
    """Zeros shaped like Tensor ``t``, on its device (the gradient of an input the outputs do not use)."""
    return _wrap(_filled(t._data, t._data.shape, 0, t._data.dtype))


def _make_grads(outputs, grad_outputs, op):
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    else:
        grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"{op}: got {len(grad_outputs)} gradients for {len(outputs)} outputs")
    res = []
    for i, (o, g) in enumerate(zip(outputs, grad_outputs)):
        if not o._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if o._data.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs (output {i} has shape "
                                   f"{tuple(o.shape)}); pass grad_outputs")
            g = _wrap(_filled(o._data, o._data.shape, 1, o._data.dtype))
        elif not isinstance(g, Tensor):
            g = _wrap(_array_on(o._data, g, o._data.dtype))
        if g._data.shape != o._data.shape:
            raise RuntimeError(f"{op}: mismatch in shape: grad_output[{i}] has a shape of {tuple(g.shape)} and "
                               f"output[{i}] has a shape of {tuple(o.shape)}")
        res.append(g)
    return res


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of ``tensors`` into the leaves' ``.grad`` (``torch.autograd.backward``)."""
    tensors = _as_list(tensors, "tensors")
    grads = _make_grads(tensors, grad_tensors, "backward")
    if inputs is not None:
        inputs = _as_list(inputs, "inputs")
        res = run_backward(tensors, grads, retain_graph, create_graph, inputs=inputs, allow_unused=True)
        for t, g in zip(inputs, res):
            if g is not None:
                if t._grad is None:
                    t._grad = g if create_graph else _wrap(g._data.copy())
                else:
                    t._grad = t._grad + g
        return None
    run_backward(tensors, grads, retain_graph, create_graph)
    return None


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs`` (a tuple), without touching any ``.grad``.

    With ``create_graph=True`` the result is itself differentiable (gradients of gradients).
    """
    if is_grads_batched:
        raise NotImplementedError("grad: is_grads_batched=True is not supported")
    outputs = _as_list(outputs, "outputs")
    inputs = _as_list(inputs, "inputs")
    for i, t in enumerate(inputs):
        if not t._requires_grad:
            raise RuntimeError(f"grad: inputs[{i}] does not require grad")
    if allow_unused is None:
        allow_unused = materialize_grads
    grads = _make_grads(outputs, grad_outputs, "grad")
    res = run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs, allow_unused=allow_unused)
    if materialize_grads:
        res = [g if g is not None else _zeros_like(t)
               for g, t in zip(res, inputs)]
    return tuple(res)


# ---------------------------------------------------------------------------- custom Functions

class FunctionCtx:
    """The ``ctx`` passed to a Function's forward and backward."""

    def __init__(self):
        self._saved = ()
        self._freed = False
        self.needs_input_grad = ()
        self.materialize_grads = True
        self._non_diff = set()

    def save_for_backward(self, *tensors):
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save Tensors or None, but argument {i} is "
                                f"{type(t).__name__}")
        self._saved = tensors

    @property
    def saved_tensors(self):
        if self._freed:
            from ._autograd_engine import _FREED_MSG
            raise RuntimeError(_FREED_MSG)
        return self._saved

    def mark_non_differentiable(self, *tensors):
        self._non_diff.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        """Accepted for compatibility: forward runs on arrays that fastnn never shares with the graph."""

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)




class Function:
    """Base class of custom differentiable ops.

    Subclass with ``@staticmethod forward(ctx, *args)`` (Tensors in, Tensor or tuple of Tensors out,
    run without recording a graph) and ``@staticmethod backward(ctx, *grad_outputs)`` returning one
    gradient (or None) per forward argument; call ``MyFn.apply(*args)``. When gradients of gradients
    are requested, backward runs with grad mode on, so a backward written with Tensor ops is itself
    differentiable.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function subclasses must implement a static forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("Function subclasses must implement a static backward(ctx, *grad_outputs)")

    @staticmethod
    def setup_context(ctx, inputs, output):
        return None

    def __init__(self, *args, **kwargs):
        raise RuntimeError("Function objects are not instantiated: call the static method MyFunction.apply(...)")

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        prev = _mode.enabled
        _mode.enabled = False
        try:
            if cls.setup_context is not Function.setup_context and _forward_takes_no_ctx(cls):
                outputs = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, outputs)
            else:
                outputs = cls.forward(ctx, *args, **kwargs)
        finally:
            _mode.enabled = prev
        is_tuple = isinstance(outputs, tuple)
        outs = outputs if is_tuple else (outputs,)
        if not (prev and any(ctx.needs_input_grad)):
            return outputs
        arg_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        inputs = tuple(args[i] for i in arg_pos)
        nargs = len(args)
        diff_idx = [k for k, o in enumerate(outs) if isinstance(o, Tensor) and o._data.dtype.kind == "f"
                    and id(o) not in ctx._non_diff]
        # the array module, not the array: the node must not keep the output alive
        meta = [(o._data.shape, o._data.dtype, backend.array_module_of(o._data)) if isinstance(o, Tensor)
                else ((), np.float64, np) for o in outs]

        def fn(*grads):
            res = cls.backward(ctx, *grads)
            if not isinstance(res, tuple):
                res = (res,)
            if len(res) < nargs:
                if len(res) == len(arg_pos):
                    full = [None] * nargs
                    for p, r in zip(arg_pos, res):
                        full[p] = r
                    res = tuple(full)
                else:
                    raise RuntimeError(f"function {cls.__name__}Backward returned an incorrect number of gradients "
                                       f"(expected {nargs}, got {len(res)})")
            elif len(res) > nargs:
                extra = res[nargs:]
                if any(r is not None for r in extra):
                    raise RuntimeError(f"function {cls.__name__}Backward returned an incorrect number of "
                                       f"gradients (expected {nargs}, got {len(res)})")
            out = []
            for p in arg_pos:
                r = res[p]
                if r is not None and not isinstance(r, Tensor):
                    if isinstance(r, np.ndarray) or np.isscalar(r) or backend.is_cuda_array(r):
                        r = _wrap(_array_on(args[p]._data, r, args[p]._data.dtype))
                    else:
                        raise TypeError(f"{cls.__name__}.backward returned {type(r).__name__} for argument {p}; "
                                        "expected a Tensor or None")
                if r is not None and (tuple(r.shape) if r.is_sparse else r._data.shape) != args[p]._data.shape:
                    try:
                        np.broadcast_shapes(tuple(r.shape), args[p]._data.shape)
                    except ValueError:
                        raise RuntimeError(f"function {cls.__name__}Backward returned an invalid gradient at index "
                                           f"{p} - got {list(r.shape)} but expected shape compatible with "
                                           f"{list(args[p].shape)}") from None
                out.append(r)
            return out

        node = Node(fn, inputs, cls.__name__, n_outputs=len(outs), out_meta=meta)
        new_outs = []
        for k, o in enumerate(outs):
            if k in diff_idx:
                t = _wrap(o._data)
                t.grad_fn = node
                t._out_idx = k
                t._requires_grad = True
                new_outs.append(t)
            else:
                new_outs.append(o)
        return tuple(new_outs) if is_tuple else new_outs[0]


def _forward_takes_no_ctx(cls):
    import inspect
    try:
        params = list(inspect.signature(cls.forward).parameters)
    except (TypeError, ValueError):
        return False
    return not params or params[0] != "ctx"


class once_differentiable:
    """Decorator for a Function's backward that is not itself differentiable: runs it without a graph."""

    def __new__(cls, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(ctx, *grads):
            with no_grad():
                return fn(ctx, *grads)
        return wrapper


# ---------------------------------------------------------------------------- gradient checks

class GradcheckError(RuntimeError):
    pass


def _flat_outputs(out):
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (list, tuple)):
        return [o for o in out if isinstance(o, Tensor)]
    raise TypeError(f"gradcheck: the function must return a Tensor or a tuple of Tensors, got {type(out).__name__}")


def _host64(a):
    """Array ``a`` as float64 on the host (the Jacobians are assembled there)."""
    return backend.to_device(a, backend.CPU).astype(np.float64)


def _numerical_jacobian(func, inputs, idx_in, out_idx_list, eps):
    """J[k][i][o, e]: d out_k[o] / d inputs[i][e] by central differences (all outputs at once)."""
    jac = {}
    with no_grad():
        base_outs = _flat_outputs(func(*inputs))
        for i in idx_in:
            x = inputs[i]._data
            if not backend.is_writeable(x):
                raise GradcheckError(f"gradcheck: input {i} is not writeable (an expanded view?); pass a tensor "
                                     "that owns its memory")
            n = x.size
            cols = {k: np.zeros((base_outs[k]._data.size, n)) for k in out_idx_list}
            for e in range(n):
                pos = np.unravel_index(e, x.shape)
                orig = x[pos].item()
                x[pos] = orig + eps
                plus = [_host64(o._data).reshape(-1) for o in _flat_outputs(func(*inputs))]
                x[pos] = orig - eps
                minus = [_host64(o._data).reshape(-1) for o in _flat_outputs(func(*inputs))]
                x[pos] = orig
                for k in out_idx_list:
                    cols[k][:, e] = (plus[k] - minus[k]) / (2 * eps)
            for k in out_idx_list:
                jac[(k, i)] = cols[k]
    return jac


def _analytical_jacobian(outputs, inputs, idx_in, out_idx_list):
    jac = {}
    diff_inputs = [inputs[i] for i in idx_in]
    for k in out_idx_list:
        o = outputs[k]
        m = o._data.size
        for i in idx_in:
            jac[(k, i)] = np.zeros((m, inputs[i]._data.size))
        if not o._requires_grad:
            continue
        for r in range(m):
            g = _filled(o._data, o._data.shape, 0, o._data.dtype)
            g.reshape(-1)[r] = 1
            grads = run_backward([o], [_wrap(g)], True, False, inputs=diff_inputs, allow_unused=True)
            for i, gi in zip(idx_in, grads):
                if gi is not None:
                    jac[(k, i)][r, :] = _host64(gi._data).reshape(-1)
    return jac


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False, fast_mode=False,
              masked=None):
    """Compare autograd's Jacobian of ``func(*inputs)`` with central finite differences.

    Inputs that require grad should be float64. Returns True, or raises ``GradcheckError`` naming the
    output, the input and the worst element (returns False instead when ``raise_exception=False``).
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    idx_in = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t._requires_grad]
    if not idx_in:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of them have "
                         "requires_grad=True")
    for i in idx_in:
        if inputs[i]._data.dtype != np.float64:
            msg = (f"gradcheck: input {i} has dtype {inputs[i].dtype}; finite differences need float64 "
                   f"(use .double())")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    with enable_grad():
        outputs = _flat_outputs(func(*inputs))
    out_idx_list = [k for k, o in enumerate(outputs) if o._data.dtype.kind == "f"]
    ana = _analytical_jacobian(outputs, inputs, idx_in, out_idx_list)
    num = _numerical_jacobian(func, inputs, idx_in, out_idx_list, eps)
    for k in out_idx_list:
        for i in idx_in:
            a, n = ana[(k, i)], num[(k, i)]
            if a.size == 0:
                continue
            err = np.abs(a - n) - (atol + rtol * np.abs(n))
            bad = ~(err <= 0)
            if bad.any():
                r, c = np.unravel_index(int(np.argmax(np.where(np.isnan(err), np.inf, err))), a.shape)
                out_pos = tuple(int(v) for v in np.unravel_index(r, outputs[k]._data.shape))
                in_pos = tuple(int(v) for v in np.unravel_index(c, inputs[i]._data.shape))
                msg = (f"Jacobian mismatch for output {k} with respect to input {i}: {int(bad.sum())} of "
                       f"{bad.size} entries differ; worst at d out{list(out_pos)} / d in{list(in_pos)}: "
                       f"analytical {a[r, c]:.8g} vs numerical {n[r, c]:.8g} (atol={atol}, rtol={rtol})")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, gen_non_contig_grad_outputs=False,
                  raise_exception=True, nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
                  check_batched_grad=False, check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False,
                  masked=False):
    """Check second derivatives: gradcheck of (inputs, grad_outputs) -> autograd.grad(func, create_graph=True)."""
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    with enable_grad():
        outputs = _flat_outputs(func(*inputs))
    diff_outs = [o for o in outputs if o._data.dtype.kind == "f" and o._requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(_wrap(_on_device_of(o._data, rng.standard_normal(o._data.shape))).requires_grad_(True)
                             for o in diff_outs)
    else:
        grad_outputs = tuple(grad_outputs)
    n_in = len(inputs)
    idx_in = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t._requires_grad]

    def first_grads(*args):
        with enable_grad():
            return _first_grads(*args)

    def _first_grads(*args):
        ins = args[:n_in]
        gos = args[n_in:]
        outs = [o for o in _flat_outputs(func(*ins)) if o._data.dtype.kind == "f" and o._requires_grad]
        diff_ins = [ins[i] for i in idx_in]
        gs = grad(outs, diff_ins, gos, create_graph=True, allow_unused=True)
        return tuple(g if g is not None else _zeros_like(t)
                     for g, t in zip(gs, diff_ins))

    return gradcheck(first_grads, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)


Variable = Tensor


# ---------------------------------------------------------------------------- autograd.functional

def _tuple_inputs(inputs):
    single = isinstance(inputs, Tensor)
    ins = (inputs,) if single else tuple(inputs)
    return single, ins


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): vector-Jacobian product (``torch.autograd.functional.vjp``)."""
    single, ins = _tuple_inputs(inputs)
    ins = tuple(t.detach().requires_grad_(True) for t in ins)
    with enable_grad():
        out = func(*ins)
        gs = grad(out, ins, v, create_graph=create_graph, allow_unused=True)
    gs = tuple(g if g is not None else _zeros_like(t) for g, t in zip(gs, ins))
    out = out if create_graph else out.detach()
    return out, (gs[0] if single else gs)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """d func(inputs) / d inputs for a single-output ``func``: shape out.shape + input.shape per input."""
    single, ins = _tuple_inputs(inputs)
    ins = tuple(t.detach().requires_grad_(True) for t in ins)
    with enable_grad():
        out = func(*ins)
        if not isinstance(out, Tensor):
            raise TypeError("jacobian: the function must return a single Tensor")
        rows = [[] for _ in ins]
        flat = out.reshape(-1)
        for r in range(flat.shape[0]):
            gs = grad(flat[r], ins, retain_graph=True, create_graph=create_graph, allow_unused=True)
            for k, (g, t) in enumerate(zip(gs, ins)):
                rows[k].append(g if g is not None else _zeros_like(t))
    from ._ops_shape import stack
    jacs = []
    for k, t in enumerate(ins):
        if rows[k]:
            j = stack(rows[k]).reshape(tuple(out.shape) + tuple(t.shape))
        else:
            j = _wrap(_filled(t._data, tuple(out.shape) + tuple(t.shape), 0, t._data.dtype))
        jacs.append(j if create_graph else j.detach())
    return jacs[0] if single else tuple(jacs)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """Second derivatives of a scalar ``func`` (single input: shape input.shape * 2)."""
    single, ins = _tuple_inputs(inputs)
    if not single:
        raise NotImplementedError("hessian: only a single input tensor is supported")

    def gradient(x):
        with enable_grad():
            y = func(x)
            if y._data.size != 1:
                raise RuntimeError(f"hessian: the function must return a single-element tensor, got shape "
                                   f"{tuple(y.shape)}")
            (g,) = grad(y.reshape(()), x, create_graph=True)
        return g
    return jacobian(gradient, ins[0], create_graph=create_graph)


class _Functional:
    """``fastnn.autograd.functional``: jacobian, hessian, vjp."""
    jacobian = staticmethod(jacobian)
    hessian = staticmethod(hessian)
    vjp = staticmethod(vjp)


functional = _Functional()
