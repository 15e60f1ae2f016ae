"""A collate function for variable-length sequences: pad to the longest in the batch, keep the lengths.

The result feeds ``nn.utils.rnn.pack_padded_sequence(padded, lengths, batch_first=...,
enforce_sorted=False)`` directly (lengths are an int64 tensor on the CPU), or a model that masks
the padding. ``batch_first`` and ``padding_value`` mean what they mean for
``nn.utils.rnn.pad_sequence``; bind them with ``functools.partial``::

    loader = DataLoader(list(zip(id_lists, labels)), batch_size=32, shuffle=True,
                        collate_fn=functools.partial(pad_collate, batch_first=True, padding_value=vocab.pad_index))
    for padded, lengths, labels in loader: ...
"""
from __future__ import annotations

import collections.abc

import numpy as np

from . import _arrays

__all__ = ["pad_collate"]


def _sequence(s, i):
    """Sample ``i``'s sequence as a host array of shape (L, *); Python int lists become int64."""
    if _arrays.is_tensor(s) or isinstance(s, np.ndarray) or hasattr(s, "__cuda_array_interface__"):
        a = _arrays.to_numpy(s, "batch")
    elif isinstance(s, collections.abc.Sequence) and not isinstance(s, (str, bytes)):
        try:
            a = np.asarray(s)
        except ValueError as exc:
            raise ValueError(f"pad_collate: sequence {i} is ragged inside its steps: {exc}") from None
        if a.size == 0:
            a = a.astype(np.int64)
        elif a.dtype.kind in "iub":
            a = a.astype(np.int64)
    else:
        raise TypeError(f"pad_collate: sample {i} must be a sequence (list of token ids, 1-D array or tensor) or a "
                        f"tuple whose first item is one, got {type(s).__name__}")
    if a.ndim == 0:
        raise ValueError(f"pad_collate: sequence {i} is a scalar; each needs a first (time) dimension")
    if a.dtype.kind not in "biuf":
        raise TypeError(f"pad_collate: sequence {i} has dtype {a.dtype}; expected numbers")
    return a


def pad_collate(batch, batch_first=False, padding_value=0):
    """Collate samples ``seq`` or ``(seq, label, ...)`` into ``(padded, lengths, labels, ...)``.

    ``seq`` is a list of token ids, a 1-D array/tensor, or an (L, *) array/tensor of features.
    ``padded`` has shape (T, B, *) — (B, T, *) with ``batch_first`` — where T is the longest
    length in the batch, filled with ``padding_value``; integer sequences give an int64 (Long)
    tensor, float ones keep their dtype. ``lengths`` is an int64 tensor of shape (B,) on the CPU.
    The other fields of the samples are collated with ``default_collate``. Samples that are bare
    sequences give ``(padded, lengths)``.
    """
    from .dataloader import default_collate

    if not isinstance(batch, collections.abc.Sequence) or isinstance(batch, (str, bytes)) or len(batch) == 0:
        raise ValueError("pad_collate: 'batch' must be a non-empty list of samples")
    paired = isinstance(batch[0], tuple)
    if any(isinstance(b, tuple) != paired for b in batch):
        raise TypeError("pad_collate: a batch mixes (sequence, label, ...) tuples and bare sequences")
    if paired:
        sizes = {len(b) for b in batch}
        if len(sizes) > 1 or min(sizes) == 0:
            raise ValueError(f"pad_collate: every sample tuple needs the same number of fields, got sizes {sorted(sizes)}")
    seqs = [_sequence(b[0] if paired else b, i) for i, b in enumerate(batch)]
    trailing = {s.shape[1:] for s in seqs}
    if len(trailing) > 1:
        raise ValueError(f"pad_collate: sequences differ in their trailing dimensions: {sorted(trailing, key=str)}")
    lengths = np.array([s.shape[0] for s in seqs], dtype=np.int64)
    dtype = np.result_type(*[s.dtype for s in seqs])
    if dtype.kind in "biu":
        dtype = np.dtype(np.int64)
    padded = np.full((len(seqs), int(lengths.max()), *seqs[0].shape[1:]), padding_value, dtype=dtype)
    for i, s in enumerate(seqs):
        padded[i, :len(s)] = s
    if not batch_first:
        padded = np.ascontiguousarray(np.swapaxes(padded, 0, 1))
    out = (_arrays.wrap(padded), _arrays.wrap(lengths))
    if not paired:
        return out
    rest = [default_collate([b[k] for b in batch]) for k in range(1, len(batch[0]))]
    return (*out, *rest)
