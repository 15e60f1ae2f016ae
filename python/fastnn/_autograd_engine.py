"""Grad mode, graph nodes and the reverse-mode engine.

Each differentiable op that sees an input requiring grad (with grad mode on) wraps its result
in a Tensor whose ``grad_fn`` is a ``Node``: the op's inputs plus a backward rule mapping the
output gradient(s) to input gradients. Backward rules are written with Tensor ops, so running
them with grad mode on (``create_graph=True``) records the graph of the gradient itself.
"""
from __future__ import annotations

import functools
import itertools
import sys
import threading
import weakref

import numpy as np


class _GradMode(threading.local):
    """Grad mode is per thread, as in PyTorch (each new thread starts with it on)."""

    def __init__(self):
        self.enabled = True


_mode = _GradMode()


def is_grad_enabled() -> bool:
    return _mode.enabled


class _GradModeContext:
    """Base of no_grad/enable_grad/set_grad_enabled: a context manager and a decorator."""

    _target = True

    def __enter__(self):
        self._prev = _mode.enabled
        _mode.enabled = self._target
        return None

    def __exit__(self, *exc):
        _mode.enabled = self._prev
        return False

    def __call__(self, func):
        target = self._target

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            prev = _mode.enabled
            _mode.enabled = target
            try:
                return func(*args, **kwargs)
            finally:
                _mode.enabled = prev
        return wrapper

    def clone(self):
        return type(self)()


class no_grad(_GradModeContext):
    """Disable graph recording: ``with fastnn.no_grad():`` or ``@fastnn.no_grad()`` / ``@fastnn.no_grad``."""

    _target = False

    def __new__(cls, orig_func=None):
        self = super().__new__(cls)
        if orig_func is not None:
            if not callable(orig_func):
                raise TypeError(f"no_grad: expected a function to decorate, got {orig_func!r}")
            return self(orig_func)
        return self

    def __init__(self, orig_func=None):
        pass


class enable_grad(_GradModeContext):
    """Re-enable graph recording inside a ``no_grad`` block (also a decorator)."""

    _target = True

    def __new__(cls, orig_func=None):
        self = super().__new__(cls)
        if orig_func is not None:
            return self(orig_func)
        return self

    def __init__(self, orig_func=None):
        pass


class set_grad_enabled(_GradModeContext):
    """``set_grad_enabled(False)`` switches grad mode at once and, used with ``with``, restores it."""

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled: argument 'mode' must be a bool, got {type(mode).__name__}")
        self._prev = _mode.enabled
        self._target = mode
        _mode.enabled = mode

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        _mode.enabled = self._prev
        return False

    def clone(self):
        return type(self)(self._target)


class inference_mode(no_grad):
    """Same as ``no_grad`` here (no separate inference tensors)."""

    def __new__(cls, mode=True):
        self = object.__new__(cls)
        if callable(mode) and not isinstance(mode, bool):
            return self(mode)
        self._target = not mode
        return self

    def __init__(self, mode=True):
        pass


_next_seq = itertools.count().__next__


class _EngineState:
    inplace_seen = False      # set once any in-place op has been recorded (enables the check below)
    post_hooks = 0            # live post-accumulate-grad hooks (any > 0 enables finishing leaves early)


class _Callbacks(threading.local):
    stack = None              # the callback lists of the backward passes running in this thread, innermost last


_callbacks = _Callbacks()


_state = _EngineState()


def queue_callback(callback):
    """Run ``callback()`` once the backward pass running now has finished (PyTorch's
    ``Variable._execution_engine.queue_callback``): hooks use it to wait for work they started, e.g.
    DistributedDataParallel waits there for its gradient all-reduces. Callbacks run in the order
    queued, after every ``.grad`` is accumulated; one may queue another."""
    stack = _callbacks.stack
    if not stack:
        raise RuntimeError("queue_callback: no backward pass is running in this thread; call it from a hook")
    if not callable(callback):
        raise TypeError(f"queue_callback: 'callback' must be callable, got {type(callback).__name__}")
    stack[-1].append(callback)

# Backward rules that never read their inputs' values (only shapes, masks or constants saved at
# forward time): an input modified in place after the op ran does not change their result.
_VALUE_FREE = frozenset(["Add", "Sub", "Rsub", "Neg", "Index", "IndexPutBackward", "Reshape", "View", "Expand",
                         "Sum", "Mean", "Cat", "Stack", "Transpose", "Permute", "Squeeze", "Unsqueeze", "Clone",
                         "ToCopy", "Flip", "Roll", "Repeat", "Relu", "LeakyRelu", "Hardtanh", "Clamp", "MaskedFill",
                         "Where", "Gather", "Tril", "Triu", "Amax", "Amin", "Abs", "Sign", "Floor", "Ceil", "Trunc",
                         "Round", "Fmod", "IndexPut", "Scatter", "ScatterAdd", "IndexAdd", "Maximum", "Minimum",
                         "NanToNum"])


def _check_inplace_modified(node):
    """PyTorch's error for a tensor modified in place after an op that needs its value ran."""
    if node._name in _VALUE_FREE or (node._name in ("Mul", "Div") and len(node.inputs) == 1):
        return
    for inp in node.inputs:
        if inp is not None and inp._hist is not None:
            for bseq, _fn, _idx, _rg in inp._hist:
                if bseq > node.seq:
                    raise RuntimeError(
                        f"one of the variables needed for gradient computation has been modified by an inplace "
                        f"operation: a Tensor of shape {tuple(inp._data.shape)} used by {node.name()} was modified "
                        "in place after that op ran. Use an out-of-place op (e.g. x = x + y instead of x += y).")


def _edge(inp, seq):
    """(grad_fn, output index, requires_grad) of ``inp`` as the node numbered ``seq`` saw it.

    A tensor modified in place under autograd keeps the states it had before (``_hist``), so the
    nodes recorded before the modification still route their gradient to the old producer.
    """
    for bseq, fn, idx, rg in inp._hist:
        if seq < bseq:
            return fn, idx, rg
    return inp.grad_fn, inp._out_idx, inp._requires_grad


class _FreedInput:
    """What a freed node keeps of a non-leaf input: the edge, not the tensor and its array."""

    __slots__ = ("grad_fn", "_out_idx", "_requires_grad")
    _hist = None

    def __init__(self, grad_fn, out_idx, requires_grad):
        self.grad_fn = grad_fn
        self._out_idx = out_idx
        self._requires_grad = requires_grad


def _freed_edge(inp, seq):
    if inp is None:
        return None
    if inp._hist is None:
        if inp.grad_fn is None:
            return inp          # leaves (parameters) stay: they are alive anyway
        return _FreedInput(inp.grad_fn, inp._out_idx, inp._requires_grad)
    fn, idx, rg = _edge(inp, seq)
    return inp if fn is None else _FreedInput(fn, idx, rg)


_FREED_MSG = ("Trying to backward through the graph a second time (or directly access saved tensors after "
              "they have already been freed). Saved intermediate values of the graph are freed when you call "
              ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
              "graph a second time or if you need to access saved tensors after calling backward.")


class Node:
    """One recorded op: ``fn(*grad_outputs) -> grads aligned with inputs`` (None where no grad)."""

    __slots__ = ("fn", "inputs", "_name", "n_outputs", "out_meta", "pre_hooks", "seq", "__weakref__")

    def __init__(self, fn, inputs, name, n_outputs=1, out_meta=None):
        self.seq = _next_seq()
        self.fn = fn
        self.inputs = inputs
        self._name = name
        self.n_outputs = n_outputs
        self.out_meta = out_meta
        self.pre_hooks = None

    def name(self):
        return self._name + "Backward0"

    @property
    def next_functions(self):
        out = []
        for t in self.inputs:
            if t is None or not getattr(t, "_requires_grad", False):
                out.append((None, 0))
            elif t.grad_fn is not None:
                out.append((t.grad_fn, t._out_idx))
            else:
                out.append((_AccumulateGrad(t), 0))
        return tuple(out)

    def register_prehook(self, idx, hook):
        if self.pre_hooks is None:
            self.pre_hooks = []
        entry = [idx, hook]
        self.pre_hooks.append(entry)
        return entry

    def __repr__(self):
        return f"<{self.name()} object at {hex(id(self))}>"

    def __call__(self, *grads):
        if self.fn is None:
            raise RuntimeError(_FREED_MSG)
        return self.fn(*grads)


class _AccumulateGrad:
    __slots__ = ("variable",)

    def __init__(self, t):
        self.variable = t

    def name(self):
        return "AccumulateGrad"

    next_functions = ()

    def __repr__(self):
        return f"<AccumulateGrad object at {hex(id(self))}>"


def _topo_order(root_nodes):
    """Nodes reachable from ``root_nodes``, each before all the nodes of its inputs (iterative DFS)."""
    order = []
    visited = set()
    for r in root_nodes:
        if r in visited:
            continue
        visited.add(r)
        stack = [(r, iter(r.inputs))]
        while stack:
            node, it = stack[-1]
            for inp in it:
                if inp is not None:
                    fn = inp.grad_fn if inp._hist is None else _edge(inp, node.seq)[0]
                    if fn is not None and fn not in visited:
                        visited.add(fn)
                        stack.append((fn, iter(fn.inputs)))
                        break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


class RemovableHandle:
    def __init__(self, container, entry):
        self._container = container
        self._entry = entry

    def remove(self):
        c = self._container
        if c is not None:
            for i, e in enumerate(c):
                if e is self._entry:
                    del c[i]
                    break

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class _PostAccumulateHandle(RemovableHandle):
    """Removes a post-accumulate-grad hook and keeps the engine's count of live ones.

    A hook also stops counting when its tensor is garbage collected without ``remove()``: otherwise one
    forgotten hook would keep every later backward pass on the slower leaf-tracking path."""

    def __init__(self, container, entry, tensor):
        super().__init__(container, entry)
        _state.post_hooks += 1
        live = self._live = [True]

        def _forget():
            if live[0]:
                live[0] = False
                _state.post_hooks -= 1

        self._finalizer = weakref.finalize(tensor, _forget)

    def remove(self):
        if self._live[0] and self._container is not None and any(e is self._entry for e in self._container):
            super().remove()
            self._finalizer.detach()
            self._live[0] = False
            _state.post_hooks -= 1


def _stealable(g, assigned):
    """Whether leaf-gradient tensor ``g`` may become ``.grad`` without a copy.

    ``.grad`` is later updated in place (accumulation, optimisers, clipping), so it must share
    memory with nothing else: not the caller's gradient, not another leaf's gradient, not a tensor
    a hook kept. Fresh results of the backward pass (and views of them that nothing else holds,
    e.g. the transpose of a matmul result) qualify, which saves a copy per parameter per step.
    """
    # references to g: the caller's local, this parameter, getrefcount's argument
    if sys.getrefcount(g) > 3:
        return False
    a = g._data
    if type(a) is not np.ndarray or not a.flags.writeable or id(a) in assigned:
        return False
    # references to a: g's attribute, the local `a`, getrefcount's argument
    if sys.getrefcount(a) > 3:
        return False
    base = a.base
    if base is None:
        return True
    if type(base) is not np.ndarray or base.base is not None:
        return False
    # references to base: a.base, the local `base`, getrefcount's argument
    return sys.getrefcount(base) <= 3


_HELPERS = []


def _tensor_helpers():
    if not _HELPERS:
        from .tensor import Tensor, _sum_to, _wrap, _zero_grad_like, _ZeroGrad   # tensor.py imports this module
        _HELPERS.extend((Tensor, _sum_to, _wrap, _zero_grad_like, _ZeroGrad))
    return _HELPERS


def _real(g, zero_cls, wrap):
    """``g`` with a known-zero gradient turned into a real (writable) array of zeros."""
    return wrap(g._data.copy()) if g is not None and g.__class__ is zero_cls else g


def _add_grads(a, b, zero_cls):
    """``a + b`` where either may be a known-zero gradient (then the other is the sum)."""
    if a.__class__ is zero_cls:
        return b
    if b.__class__ is zero_cls:
        return a
    return a + b


def _accumulate_sparse(cur, g):
    """``.grad`` after adding ``g`` when either is sparse: sparse + sparse stays sparse (rows concatenated,
    as PyTorch does), a dense ``.grad`` takes a sparse ``g`` in place, a sparse ``.grad`` plus a dense ``g``
    becomes dense."""
    if cur is None:
        return g
    if cur.is_sparse:
        return cur + g
    if cur.grad_fn is None and type(cur._data) is np.ndarray and cur._data.flags.writeable \
            and cur._data.flags.c_contiguous:
        g._add_into(cur._data)
        return cur
    return cur + g


def _finish_leaf(entry, targets, captured, create_graph, assigned):
    """The end of one leaf's backward, ``entry = [leaf, gradient]``: its tensor hooks, then capture (for
    ``autograd.grad``) or accumulation into ``.grad``, then its post-accumulate-grad hooks."""
    _, _, _wrap, _, _ZeroGrad = _tensor_helpers()
    leaf, g = entry
    entry[1] = None                 # the local `g` is now the only reference we hold (see _stealable)
    g = _real(g, _ZeroGrad, _wrap)
    if leaf._hooks:
        for h in list(leaf._hooks):
            r = h(g)
            if r is not None:
                g = r
            r = None
    if targets is not None:
        for k in targets.get(id(leaf), ()):
            captured[k] = g
        return
    if not leaf._requires_grad:
        return
    cur = leaf._grad
    if create_graph:
        leaf._grad = g if cur is None else cur + g
    elif g.is_sparse or (cur is not None and cur.is_sparse):
        leaf._grad = _accumulate_sparse(cur, g)
    elif cur is None:
        if _stealable(g, assigned):
            a = g._data
        else:
            a = g._data.copy()
        assigned.add(id(a))
        leaf._grad = _wrap(a)
        a = None
    elif cur.grad_fn is not None or type(cur._data) is not np.ndarray or not cur._data.flags.writeable \
            or cur._data.shape != g._data.shape:
        leaf._grad = _wrap(cur._data + g._data)
    else:
        cur._data += g._data
    g = cur = None
    if leaf._post_acc_hooks:
        for h in list(leaf._post_acc_hooks):
            h(leaf)


def _leaf_uses(order):
    """For early leaf finishing: ``(pending, uses)`` with ``pending[id(leaf)]`` the number of edges of
    ``order`` into each leaf that has post-accumulate-grad hooks and ``uses[node]`` those leaves of a node.
    Once every node using a leaf has run, the leaf's gradient is final and its hooks can fire while the
    rest of the graph still runs (what DistributedDataParallel overlaps its all-reduces with)."""
    pending, uses = {}, {}
    for node in order:
        found = None
        for inp in node.inputs:
            if inp is None or not getattr(inp, "_post_acc_hooks", None):
                continue
            fn = inp.grad_fn if inp._hist is None else _edge(inp, node.seq)[0]
            if fn is not None:
                continue
            pending[id(inp)] = pending.get(id(inp), 0) + 1
            if found is None:
                found = []
            found.append(inp)
        if found:
            uses[node] = found
    return pending, uses


def run_backward(roots, root_grads, retain_graph, create_graph, inputs=None, allow_unused=False):
    """Back-propagate ``root_grads`` from ``roots``.

    With ``inputs=None`` gradients are accumulated into the ``.grad`` of the leaves; otherwise the
    gradients with respect to ``inputs`` are returned (nothing is accumulated) and only the part of
    the graph leading to them runs. The callbacks queued during the pass (:func:`queue_callback`)
    run after it, in order.
    """
    stack = _callbacks.stack
    if stack is None:
        stack = _callbacks.stack = []
    queued = []
    stack.append(queued)
    try:
        out = _run_backward(roots, root_grads, retain_graph, create_graph, inputs, allow_unused)
    finally:
        stack.pop()
    stack.append(queued)            # a callback may queue another one
    try:
        while queued:
            queued.pop(0)()
    finally:
        stack.pop()
    return out


def _run_backward(roots, root_grads, retain_graph, create_graph, inputs, allow_unused):
    Tensor, _sum_to, _wrap, _zero_grad_like, _ZeroGrad = _tensor_helpers()

    if retain_graph is None:
        retain_graph = create_graph
    buffers = {}
    leaf_grads = {}      # id(leaf) -> [leaf, grad]
    for t, g in zip(roots, root_grads):
        fn = t.grad_fn
        if fn is None:
            e = leaf_grads.get(id(t))
            if e is None:
                leaf_grads[id(t)] = [t, g]
            else:
                e[1] = e[1] + g
            continue
        b = buffers.get(fn)
        if b is None:
            b = buffers[fn] = [None] * fn.n_outputs
        i = t._out_idx
        b[i] = g if b[i] is None else b[i] + g

    order = _topo_order([t.grad_fn for t in roots if t.grad_fn is not None])

    targets = None
    needed = None
    captured = None
    if inputs is not None:
        targets = {}
        for k, t in enumerate(inputs):
            targets.setdefault(id(t), []).append(k)
        captured = [None] * len(inputs)
        nonleaf_targets = {}
        for k, t in enumerate(inputs):
            if t.grad_fn is not None:
                nonleaf_targets.setdefault(t.grad_fn, []).append((t._out_idx, k))
        needed = set()
        for node in reversed(order):
            for inp in node.inputs:
                if inp is None:
                    continue
                fn = inp.grad_fn if inp._hist is None else _edge(inp, node.seq)[0]
                if id(inp) in targets or (fn is not None and fn in needed):
                    needed.add(node)
                    break

    pending = uses = None
    assigned = {id(g._data) for g in root_grads}
    if targets is None and _state.post_hooks:
        pending, uses = _leaf_uses(order)

    def release(node):
        for leaf in uses.get(node, ()):
            k = id(leaf)
            pending[k] -= 1
            if pending[k] == 0:
                entry = leaf_grads.pop(k, None)
                if entry is not None:
                    _finish_leaf(entry, None, None, create_graph, assigned)

    prev = _mode.enabled
    _mode.enabled = bool(create_graph)
    try:
        for node in order:
            buf = buffers.pop(node, None)
            if buf is None:
                if uses:
                    release(node)
                continue
            # only known-zero gradients arriving: the node's input gradients are zero too, without calling it
            all_zero = all(b is None or b.__class__ is _ZeroGrad for b in buf)
            if node.pre_hooks:
                buf = [_real(b, _ZeroGrad, _wrap) for b in buf]
                for idx, hook in list(node.pre_hooks):
                    if buf[idx] is not None:
                        r = hook(buf[idx])
                        if r is not None:
                            buf[idx] = r
                all_zero = False
            if targets is not None:
                for idx, k in nonleaf_targets.get(node, ()):
                    captured[k] = _real(buf[idx], _ZeroGrad, _wrap)
                if node not in needed:
                    continue
            fn = node.fn
            if fn is None:
                raise RuntimeError(_FREED_MSG)
            if _state.inplace_seen:
                _check_inplace_modified(node)
            if all_zero:
                grads = tuple(None if inp is None else _zero_grad_like(inp._data) for inp in node.inputs)
            elif node.n_outputs == 1:
                grads = fn(_real(buf[0], _ZeroGrad, _wrap))
            else:
                for i, gi in enumerate(buf):
                    if gi is None:
                        shape, dtype, xp = node.out_meta[i]
                        buf[i] = _wrap(xp.zeros(shape, dtype=dtype))
                    else:
                        buf[i] = _real(gi, _ZeroGrad, _wrap)
                grads = fn(*buf)
            inputs_ = node.inputs
            if not retain_graph:
                node.fn = None
                node.inputs = tuple(_freed_edge(inp, node.seq) for inp in inputs_)
            for inp, g in zip(inputs_, grads):
                if g is None or inp is None:
                    continue
                if inp._hist is None:
                    if not inp._requires_grad:
                        continue
                    ifn = inp.grad_fn
                    i = inp._out_idx
                else:
                    ifn, i, rg = _edge(inp, node.seq)
                    if not rg:
                        continue
                if not isinstance(g, Tensor):
                    raise TypeError(f"backward of {node.name()} returned {type(g).__name__} where a Tensor was expected")
                if g.is_sparse:
                    # sparse-rows gradients (embeddings with sparse=True) reach leaves as they are; ops
                    # between the lookup and a leaf take the dense form
                    if ifn is not None:
                        g = g.to_dense()
                    elif g.dtype != inp._data.dtype:
                        g = g.to(inp._data.dtype)
                elif g._data.shape != inp._data.shape:
                    g = _sum_to(g, inp._data.shape, node)
                if g.dtype != inp._data.dtype:
                    g = g.to(inp._data.dtype)
                if ifn is None:
                    e = leaf_grads.get(id(inp))
                    if e is None:
                        leaf_grads[id(inp)] = [inp, g]
                    else:
                        e[1] = _add_grads(e[1], g, _ZeroGrad)
                else:
                    b = buffers.get(ifn)
                    if b is None:
                        b = buffers[ifn] = [None] * ifn.n_outputs
                    b[i] = g if b[i] is None else _add_grads(b[i], g, _ZeroGrad)
            if uses and node in uses:
                buf = grads = g = b = e = None      # so that _stealable sees only the real owners
                release(node)

        # drop the loop's references so that _stealable sees only real owners
        buf = grads = g = inputs_ = inp = b = e = None
        # the other leaves: tensor hooks, then accumulation (or capture for autograd.grad)
        entries = list(leaf_grads.values())
        leaf_grads.clear()
        for entry in entries:
            _finish_leaf(entry, targets, captured, create_graph, assigned)
        entries = entry = None
    finally:
        _mode.enabled = prev

    if targets is not None:
        for k, t in enumerate(inputs):
            if captured[k] is None and not allow_unused:
                raise RuntimeError(
                    f"One of the differentiated Tensors (inputs[{k}], shape {tuple(t.shape)}) appears to not have "
                    "been used in the graph. Set allow_unused=True if this is the desired behavior.")
        return captured
    return None
