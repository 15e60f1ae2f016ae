"""Activation checkpointing: ``checkpoint(function, *args)`` (PyTorch's ``torch.utils.checkpoint.checkpoint``).

The block ``function`` runs once forward and its graph (the activations its backward would need)
is dropped at once: what stays is one graph node holding the block's inputs. In the backward that
node runs the block again, with the random state of the first run restored (dropout draws the same
masks), and back-propagates through the fresh graph. Memory held between the forward and the
backward is then the inputs and outputs of each checkpointed block, not everything inside it, for
the price of a second forward.

The node's inputs are the block's Tensor arguments and the leaf tensors that require grad inside
it (its parameters, found by walking the graph of the first run), so both ``loss.backward()`` and
``autograd.grad(loss, params)`` see the parameters' gradients, and ``create_graph=True`` works
through it (the recomputation runs with grad mode on). ``use_reentrant`` is accepted for
compatibility; both settings behave this way.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .. import random as _random
from .._autograd_engine import Node, _mode, enable_grad, run_backward
from ..tensor import Tensor, _wrap

__all__ = ["checkpoint", "checkpoint_sequential"]


def _detached(args):
    """Each Tensor argument detached (a new leaf keeping requires_grad); other arguments unchanged."""
    return [a.detach().requires_grad_(a._requires_grad) if isinstance(a, Tensor) else a for a in args]


def _flat(out):
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [o for o in out if isinstance(o, Tensor)]
    return []


def _leaves(outputs, exclude):
    """Leaf tensors requiring grad reached from ``outputs``' graph, other than those in ``exclude`` (ids)."""
    found = {}
    seen = set()
    stack = [o.grad_fn for o in outputs if o.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        for t in node.inputs or ():
            if not isinstance(t, Tensor):
                continue
            if t.grad_fn is None:
                if t._requires_grad and id(t) not in exclude:
                    found.setdefault(id(t), t)
            else:
                stack.append(t.grad_fn)
    return list(found.values())


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default", debug=False,
               preserve_rng_state=True, early_stop=True, **kwargs):
    """``function(*args, **kwargs)`` without keeping its activations; the backward recomputes them."""
    if not callable(function):
        raise TypeError(f"checkpoint: argument 'function' must be callable, got {type(function).__name__}")
    if not _mode.enabled:
        return function(*args, **kwargs)
    rng_state = _random.get_rng_state() if preserve_rng_state else None
    inner = _detached(args)
    with enable_grad():
        out = function(*inner, **kwargs)
    outs = _flat(out)
    inner_ids = {id(a) for a in inner if isinstance(a, Tensor)}
    params = _leaves(outs, inner_ids)
    arg_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a._requires_grad]
    diff = [k for k, o in enumerate(outs) if o._requires_grad and o._data.dtype.kind == "f"]
    if not diff or not (arg_pos or params):
        return out
    meta = [(o._data.shape, o._data.dtype, backend.array_module_of(o._data)) for o in (outs[k] for k in diff)]
    del inner

    def recompute(*grads):
        current = _random.get_rng_state() if preserve_rng_state else None
        if preserve_rng_state:
            _random.set_rng_state(rng_state)
        try:
            again = _detached(args)
            with enable_grad():
                res = _flat(function(*again, **kwargs))
        finally:
            if preserve_rng_state:
                _random.set_rng_state(current)
        roots, root_grads = [], []
        for k, g in zip(diff, grads):
            if g is not None and res[k]._requires_grad:
                roots.append(res[k])
                root_grads.append(g)
        targets = [again[i] for i in arg_pos] + params
        if not roots:
            return [None] * len(targets)
        return list(run_backward(roots, root_grads, None, _mode.enabled, inputs=targets, allow_unused=True))

    node = Node(recompute, tuple(args[i] for i in arg_pos) + tuple(params), "Checkpoint", n_outputs=len(diff),
                out_meta=meta)
    fresh = {}
    for j, k in enumerate(diff):
        o = outs[k]
        t = _wrap(o._data)
        t.grad_fn = node
        t._out_idx = j
        t._requires_grad = True
        fresh[id(o)] = t
    del outs
    if isinstance(out, Tensor):
        return fresh.get(id(out), out.detach())
    kind = type(out)
    items = [fresh.get(id(o), o.detach()) if isinstance(o, Tensor) else o for o in out]
    return kind(items) if kind in (tuple, list) else tuple(items)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run a ``Sequential`` (or list of modules) in ``segments`` checkpointed chunks; the last chunk runs
    normally, as in PyTorch."""
    fns = list(functions.children()) if hasattr(functions, "children") else list(functions)
    if segments < 1:
        raise ValueError(f"checkpoint_sequential: argument 'segments' must be >= 1, got {segments}")
    size = max(len(fns) // segments, 1)

    def run(start, end):
        def f(x):
            for fn in fns[start:end + 1]:
                x = fn(x)
            return x
        return f

    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant, **kwargs)
    return run(end + 1, len(fns) - 1)(input)
