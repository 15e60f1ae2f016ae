"""``fastnn.summary``: a Keras/torchsummary-style table of a model's layers, output shapes and parameters."""
from __future__ import annotations

import numpy as np

from .tensor import Tensor

__all__ = ["summary"]


def _shape_of(out):
    if isinstance(out, Tensor):
        return [-1] + list(out.shape[1:])
    if isinstance(out, (list, tuple)):
        shapes = [_shape_of(o) for o in out if isinstance(o, (Tensor, list, tuple))]
        return shapes[0] if len(shapes) == 1 else shapes
    return []


def _fmt_shape(shape):
    if shape and isinstance(shape[0], list):
        return ", ".join(str(s) for s in shape)
    return str(shape)


def summary(model, input_size, batch_size=-1, dtype=None, device=None, dtypes=None, print_fn=print):
    """Run ``model`` once on zeros of ``(2, *input_size)`` and print each layer's output shape and parameters.

    ``input_size`` is one shape without the batch dim, or a list of shapes for several inputs.
    Returns the table as a string. Only leaf layers (modules without children) and layers with
    their own parameters are listed; totals count every distinct parameter once.
    """
    from . import nn, no_grad, dtypes as _dt
    if not isinstance(model, nn.Module):
        raise TypeError(f"summary: argument 'model' must be a fastnn.nn.Module, got {type(model).__name__}")
    if isinstance(input_size, (tuple, list)) and input_size and all(isinstance(s, (tuple, list)) for s in input_size):
        sizes = [tuple(s) for s in input_size]
    elif isinstance(input_size, (tuple, list)) and all(isinstance(s, int) for s in input_size):
        sizes = [tuple(input_size)]
    else:
        raise ValueError(f"summary: argument 'input_size' must be a shape tuple (without the batch dim) or a list "
                         f"of them, got {input_size!r}")
    if dtypes is None:
        dt = _dt.as_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
        dtypes = [dt] * len(sizes)
    else:
        dtypes = [_dt.as_dtype(d) for d in dtypes]
    if device is None:
        p0 = next(model.parameters(), None)
        device = p0.device if p0 is not None else "cpu"

    rows = []
    hooks = []

    def register(module):
        has_children = any(True for _ in module.children())
        has_own_params = any(True for _ in module.parameters(recurse=False))
        if module is model and has_children:
            return
        if has_children and not has_own_params:
            return

        def hook(mod, args, output):
            own = list(mod.parameters(recurse=False))
            n = sum(int(p.numel()) for p in own)
            rows.append((f"{type(mod).__name__}-{len(rows) + 1}", _shape_of(output), n))
        hooks.append(module.register_forward_hook(hook))

    model.apply(register)
    from .backend import to_device
    inputs = [Tensor._wrap(to_device(np.zeros((2,) + s, dtype=d), device)) for s, d in zip(sizes, dtypes)]
    was_training = model.training
    try:
        model.eval()
        with no_grad():
            model(*inputs)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()

    params = list(model.parameters())
    total = sum(int(p.numel()) for p in params)
    trainable = sum(int(p.numel()) for p in params if p.requires_grad)
    itemsize = {id(p): p._data.itemsize for p in params}
    param_bytes = sum(int(p.numel()) * itemsize[id(p)] for p in params)
    input_bytes = sum(int(np.prod(s)) * d.itemsize * abs(batch_size if batch_size > 0 else 1)
                      for s, d in zip(sizes, dtypes))

    width = 64
    lines = ["-" * width, f"{'Layer (type)':>20}  {'Output Shape':>25} {'Param #':>15}", "=" * width]
    for name, shape, n in rows:
        if batch_size > 0 and shape and not isinstance(shape[0], list):
            shape = [batch_size] + shape[1:]
        lines.append(f"{name:>20}  {_fmt_shape(shape):>25} {n:>15,}")
    lines += ["=" * width,
              f"Total params: {total:,}",
              f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}",
              "-" * width,
              f"Input size (MB): {input_bytes / 2 ** 20:.2f}",
              f"Params size (MB): {param_bytes / 2 ** 20:.2f}",
              "-" * width]
    text = "\n".join(lines)
    if print_fn is not None:
        print_fn(text)
    return text
