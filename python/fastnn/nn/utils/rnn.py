"""``fastnn.nn.utils.rnn`` (PyTorch's ``torch.nn.utils.rnn``): padding and packing of variable-length sequences.

A ``PackedSequence`` holds the rows of every sequence time step by time step: step t has ``batch_sizes[t]``
rows (the sequences still running at t, longest first), so a recurrent layer runs each step on exactly
the sequences that have it, without masking. Every conversion is one gather (``index_select``) with the
indices computed on the host, so gradients flow back through packing and padding.
"""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable

import numpy as np

from ... import backend
from ...tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "unpad_sequence", "pack_sequence", "unpack_sequence"]


def _long(values, like=None):
    """An int64 tensor of ``values`` (on the device of tensor ``like``, else the host)."""
    a = np.asarray(values, dtype=np.int64)
    if like is not None:
        a = backend.to_device(a, backend.device_of(like._data))
    return Tensor._wrap(a)


def _host_ints(v, name, fn):
    """A 1-D host int64 array from a Tensor, an array or a sequence of ints."""
    if isinstance(v, Tensor):
        v = backend.to_device(v._data, backend.CPU)
    a = np.asarray(v)
    if a.ndim != 1:
        raise ValueError(f"{fn}: '{name}' must be 1-D, got shape {a.shape}")
    if a.size and a.dtype.kind not in "iuf":
        raise TypeError(f"{fn}: '{name}' must hold integers, got dtype {a.dtype}")
    return a.astype(np.int64)


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """Packed rows of a batch of variable-length sequences (built by ``pack_padded_sequence`` or
    ``pack_sequence``): ``data`` (rows, *), ``batch_sizes`` (host int64, rows per time step),
    ``sorted_indices`` / ``unsorted_indices`` (the permutation to longest-first and back, or None)."""

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        if isinstance(batch_sizes, Tensor) and batch_sizes.device.type != "cpu":
            raise ValueError("batch_sizes should always be on CPU. Instances of PackedSequence should never be "
                             "created manually. They should be instantiated by functions like pack_sequence and "
                             "pack_padded_sequences in nn.utils.rnn.")
        if not isinstance(batch_sizes, Tensor):
            batch_sizes = _long(_host_ints(batch_sizes, "batch_sizes", "PackedSequence"))
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def _map(self, fn):
        data = fn(self.data)
        same_device = data.device == self.data.device

        def move(t):
            return t if t is None or same_device else t.to(data.device)
        return type(self)(data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices))

    def to(self, *args, **kwargs):
        """The same sequence with ``data`` converted by ``Tensor.to`` (indices follow its device)."""
        return self._map(lambda d: d.to(*args, **kwargs))

    def cuda(self, *args, **kwargs):
        return self._map(lambda d: d.cuda(*args, **kwargs))

    def cpu(self, *args, **kwargs):
        return self._map(lambda d: d.cpu(*args, **kwargs))

    def double(self):
        return self.to(dtype=np.float64)

    def float(self):
        return self.to(dtype=np.float32)

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return False


def invert_permutation(permutation):
    """The inverse of a 1-D permutation tensor (None stays None)."""
    if permutation is None:
        return None
    p = _host_ints(permutation, "permutation", "invert_permutation")
    inv = np.empty_like(p)
    inv[p] = np.arange(p.size, dtype=np.int64)
    return _long(inv, permutation)


def _batch_sizes_of(lengths):
    """Rows per time step of sequences of these (decreasing) lengths."""
    steps = int(lengths[0]) if lengths.size else 0
    return (lengths[None, :] > np.arange(steps)[:, None]).sum(axis=1).astype(np.int64)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) (``batch_first``: (B, T, *)) of sequences of the given lengths.

    With ``enforce_sorted`` (the default) the lengths must be decreasing; otherwise the batch is sorted
    here and the permutation kept in the result (``sorted_indices``)."""
    fn = "pack_padded_sequence"
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: argument 'input' must be a Tensor, got {type(input).__name__}")
    lengths = _host_ints(lengths, "lengths", fn)
    if input.ndim < 2:
        raise ValueError(f"{fn}: expected input of at least 2 dimensions (T, B, *), got shape {tuple(input.shape)}")
    batch_dim = 0 if batch_first else 1
    steps, batch = input.shape[1 - batch_dim], input.shape[batch_dim]
    if lengths.size != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {lengths.size} "
                           f"(batch_size={batch})")
    if lengths.size and lengths.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    sorted_indices = None
    if enforce_sorted:
        if np.any(lengths[1:] > lengths[:-1]):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                               "sidestep this requirement if you do not need ONNX exportability.")
    else:
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        sorted_indices = _long(order, input)
    if lengths.size and lengths.max() > steps:
        raise RuntimeError(f"{fn}: a length of {int(lengths.max())} is longer than the input's {steps} time steps "
                           f"(input shape {tuple(input.shape)}, batch_first={batch_first})")
    batch_sizes = _batch_sizes_of(lengths)
    # row r of step t is sequence (sorted) r at time t
    t_idx = np.repeat(np.arange(batch_sizes.size), batch_sizes)
    r_idx = np.concatenate([np.arange(b) for b in batch_sizes]) if batch_sizes.size else np.zeros(0, np.int64)
    seq_idx = r_idx if sorted_indices is None else np.asarray(order)[r_idx]
    flat = seq_idx * steps + t_idx if batch_first else t_idx * batch + seq_idx
    rows = input.reshape((steps * batch,) + tuple(input.shape[2:]))
    data = rows.index_select(0, _long(flat, input))
    return PackedSequence(data, _long(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The padded batch (T, B, *) (``batch_first``: (B, T, *)) of a PackedSequence, and the lengths (int64).

    ``total_length`` pads to that many steps (at least the longest sequence's)."""
    fn = "pad_packed_sequence"
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{fn}: argument 'sequence' must be a PackedSequence, got {type(sequence).__name__}")
    batch_sizes = _host_ints(sequence.batch_sizes, "batch_sizes", fn)
    steps = batch_sizes.size
    if total_length is not None:
        if total_length < steps:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {steps}")
        steps = int(total_length)
    data = sequence.data
    batch = int(batch_sizes[0]) if batch_sizes.size else 0
    n = data.shape[0]
    # gather from the rows plus one padding row (index n) at every absent (t, b)
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)])
    src = np.full((steps, batch), n, dtype=np.int64)
    for t, b in enumerate(batch_sizes):
        src[t, :b] = offsets[t] + np.arange(b)
    if batch_first:
        src = src.T
    pad_row = Tensor._wrap(backend.array_module_of(data._data).full((1,) + tuple(data.shape[1:]), padding_value,
                                                                     dtype=data._data.dtype))
    from ... import cat
    rows = cat([data, pad_row], 0)
    padded = rows.index_select(0, _long(src.reshape(-1), data)).reshape(src.shape + tuple(data.shape[1:]))
    lengths = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(axis=1).astype(np.int64)
    if sequence.unsorted_indices is not None:
        unsorted = _host_ints(sequence.unsorted_indices, "unsorted_indices", fn)
        padded = padded.index_select(0 if batch_first else 1, sequence.unsorted_indices)
        lengths = lengths[unsorted]
    return padded, _long(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of shapes (L_i, *) into (T, B, *) (``batch_first``: (B, T, *)), padding the shorter
    ones with ``padding_value`` on ``padding_side`` ('right' or 'left')."""
    if not isinstance(sequences, Iterable) or isinstance(sequences, Tensor) and sequences.ndim == 0:
        raise RuntimeError(f"pad_sequence: Expected iterable for input sequences, but got arg of type: "
                           f"{type(sequences)}")
    sequences = list(sequences)
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor):
            raise TypeError(f"pad_sequence: sequence {i} must be a Tensor, got {type(s).__name__}")
        if s.ndim == 0:
            raise RuntimeError(f"pad_sequence: sequence {i} is a 0-d tensor; expected (L, *)")
    rest = tuple(sequences[0].shape[1:])
    for i, s in enumerate(sequences):
        if tuple(s.shape[1:]) != rest:
            raise RuntimeError(f"pad_sequence: sequence {i} has trailing shape {tuple(s.shape[1:])} but sequence 0 "
                               f"has {rest}; every sequence must be (L_i, *) with the same *")
    from ... import cat, stack
    steps = max(s.shape[0] for s in sequences)
    xp = backend.array_module_of(sequences[0]._data)
    padded = []
    for s in sequences:
        missing = steps - s.shape[0]
        if missing:
            fill = Tensor._wrap(xp.full((missing,) + rest, padding_value, dtype=s._data.dtype))
            s = cat([s, fill] if padding_side == "right" else [fill, s], 0)
        padded.append(s)
    return stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of sequences (L_i, *) of a padded batch (T, B, *) (``batch_first``: (B, T, *))."""
    lengths = _host_ints(lengths, "lengths", "unpad_sequence")
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    if lengths.size != x.shape[0]:
        raise RuntimeError(f"unpad_sequence: {lengths.size} lengths for a batch of {x.shape[0]} sequences")
    if lengths.size and (lengths.max() > x.shape[1] or lengths.min() < 0):
        raise RuntimeError(f"unpad_sequence: lengths {lengths.tolist()} do not fit sequences of {x.shape[1]} steps")
    return [x[i, :int(n)] for i, n in enumerate(lengths)]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of sequences (L_i, *) (decreasing lengths unless ``enforce_sorted=False``)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of sequences (L_i, *) held by a PackedSequence, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
