"""Recurrent layers (PyTorch's ``nn.RNN``, ``nn.LSTM``, ``nn.GRU`` and their cells): the same arguments,
parameter names, shapes, initialisation and gate order, so a PyTorch state dict loads unchanged.

Each layer and direction runs over the whole sequence as one op (``_rnn_functional``): one GEMM for the
input projection of every step, then a native loop over time with a fused gate kernel per step.
Padded batches run as packed sequences whose every step has the whole batch; PackedSequence input runs
each step on the sequences that have it.
"""
from __future__ import annotations

import math
import numbers
import warnings

from .. import backend
from . import init
from ._functional_misc import dropout as _dropout
from ._layer_params import empty_tensor
from ._rnn_functional import check_dtype, native_mode, recurrent_sequence, steps_of
from .module import Module, Parameter
from .utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _zeros(shape, like):
    xp = backend.array_module_of(like._data)
    from ..tensor import Tensor
    return Tensor._wrap(xp.zeros(shape, dtype=like._data.dtype))


def _check_hidden(hx, expected, msg="Expected hidden size {}, got {}"):
    if tuple(hx.shape) != tuple(expected):
        raise RuntimeError(msg.format(tuple(expected), list(hx.shape)))


class RNNBase(Module):
    """The multi-layer, optionally bidirectional recurrent layer shared by RNN, LSTM and GRU."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                          stacklevel=2)
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first should be of type bool, got: {type(batch_first).__name__}")
        if not isinstance(input_size, int) or isinstance(input_size, bool):
            raise TypeError(f"input_size should be of type int, got: {type(input_size).__name__}")
        if input_size <= 0:
            raise ValueError("input_size must be greater than zero")
        if not isinstance(hidden_size, int) or isinstance(hidden_size, bool):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gate_size = _GATES[mode] * hidden_size
        num_directions = 2 if bidirectional else 1
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input = input_size if layer == 0 else real_hidden * num_directions
                suffix = "_reverse" if direction == 1 else ""
                shapes = [("weight_ih_l{}{}", (gate_size, layer_input)), ("weight_hh_l{}{}", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih_l{}{}", (gate_size,)), ("bias_hh_l{}{}", (gate_size,))]
                if proj_size > 0:
                    shapes += [("weight_hr_l{}{}", (proj_size, hidden_size))]
                names = []
                for fmt, shape in shapes:
                    name = fmt.format(layer, suffix)
                    self.register_parameter(name, Parameter(empty_tensor(shape, dtype, device)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self):
        """Kept for PyTorch code: the parameters are already used in place (nothing to flatten)."""

    @property
    def _flat_weights(self):
        return [getattr(self, n, None) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def _weights(self, layer, direction):
        """(w_ih, w_hh, b_ih, b_hh, w_hr) of one layer and direction (absent ones None)."""
        suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
        p = self._parameters
        return (p["weight_ih" + suffix], p["weight_hh" + suffix], p.get("bias_ih" + suffix),
                p.get("bias_hh" + suffix), p.get("weight_hr" + suffix))

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    # ---------------------------------------------------------------- forward

    def _run(self, rows, batch_sizes, h0, c0):
        """All layers over packed rows (N, input_size): (out rows (N, D * P), h_n, c_n or None)."""
        from .. import cat, stack
        mode = native_mode(self.mode)
        D = 2 if self.bidirectional else 1
        inp, hs, cs = rows, [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                out, hn, cn = recurrent_sequence(mode, inp, self._weights(layer, d), h0[k],
                                                 None if c0 is None else c0[k], batch_sizes, d == 1)
                outs.append(out)
                hs.append(hn)
                cs.append(cn)
            inp = outs[0] if D == 1 else cat(outs, 1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                inp = _dropout(inp, self.dropout, True)
        return inp, stack(hs, 0), None if c0 is None else stack(cs, 0)

    def _real_hidden(self):
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    def forward(self, input, hx=None):
        lstm = self.mode == "LSTM"
        name = "RNN" if self.mode.startswith("RNN") else self.mode
        D = 2 if self.bidirectional else 1
        P = self._real_hidden()
        weight = self._weights(0, 0)[0]
        packed = isinstance(input, PackedSequence)
        is_batched = True
        if packed:
            rows, batch_sizes_t, sorted_indices, unsorted_indices = input
            batch_sizes = steps_of(batch_sizes_t)
            batch = batch_sizes[0] if batch_sizes else 0
            check_dtype(rows, weight)
            if rows.ndim != 2:
                raise RuntimeError(f"input must have 2 dimensions, got {rows.ndim}")
        else:
            from ..tensor import Tensor
            if not isinstance(input, Tensor):
                raise TypeError(f"{name}: argument 'input' must be a Tensor or a PackedSequence, "
                                f"got {type(input).__name__}")
            if input.ndim not in (2, 3):
                tail = " tensor instead" if name == "RNN" else " instead"
                raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D{tail}")
            is_batched = input.ndim == 3
            batch_dim = 0 if self.batch_first else 1
            if not is_batched:
                input = input.unsqueeze(batch_dim)
            hx = self._unbatched_hx(hx, is_batched, lstm)
            check_dtype(input, weight)
            sorted_indices = unsorted_indices = None
            x = input.transpose(0, 1) if self.batch_first else input
            steps, batch = x.shape[0], x.shape[1]
            batch_sizes = (batch,) * steps
            rows = x.reshape(steps * batch, x.shape[2])
        if rows.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {rows.shape[-1]}")
        h_shape = (self.num_layers * D, batch, P)
        c_shape = (self.num_layers * D, batch, self.hidden_size)
        if hx is None:
            h0 = _zeros(h_shape, rows)
            c0 = _zeros(c_shape, rows) if lstm else None
        elif lstm:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("LSTM: argument 'hx' must be a tuple (h_0, c_0)")
            h0, c0 = hx
            _check_hidden(h0, h_shape, "Expected hidden[0] size {}, got {}")
            _check_hidden(c0, c_shape, "Expected hidden[1] size {}, got {}")
        else:
            h0, c0 = hx, None
            _check_hidden(h0, h_shape)
        if sorted_indices is not None:
            h0 = h0.index_select(1, sorted_indices)
            c0 = None if c0 is None else c0.index_select(1, sorted_indices)
        out, h_n, c_n = self._run(rows, batch_sizes, h0, c0)
        if packed:
            if unsorted_indices is not None:
                h_n = h_n.index_select(1, unsorted_indices)
                c_n = None if c_n is None else c_n.index_select(1, unsorted_indices)
            output = PackedSequence(out, batch_sizes_t, sorted_indices, unsorted_indices)
        else:
            output = out.reshape(steps, batch, D * P)
            if self.batch_first:
                output = output.transpose(0, 1)
            if not is_batched:
                output = output.squeeze(batch_dim)
                h_n = h_n.squeeze(1)
                c_n = None if c_n is None else c_n.squeeze(1)
        return (output, (h_n, c_n)) if lstm else (output, h_n)

    def _unbatched_hx(self, hx, is_batched, lstm):
        """hx with PyTorch's dimension checks, given a batch dimension when the input has none."""
        if hx is None:
            return None
        if lstm:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("LSTM: argument 'hx' must be a tuple (h_0, c_0)")
            want = 3 if is_batched else 2
            if hx[0].ndim != want or hx[1].ndim != want:
                kind = "batched 3-D" if is_batched else "unbatched 2-D"
                raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but got "
                                   f"({hx[0].ndim}-D, {hx[1].ndim}-D) tensors")
            return hx if is_batched else (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
        if is_batched and hx.ndim != 3:
            raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got {hx.ndim}-D tensor")
        if not is_batched:
            if hx.ndim != 2:
                raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got {hx.ndim}-D tensor")
            return hx.unsqueeze(1)
        return hx


class RNN(RNNBase):
    """Elman RNN: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``, act = tanh or relu."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, *args, **kwargs)


class LSTM(RNNBase):
    """LSTM with PyTorch's gate order (i, f, g, o) and optional projection (``proj_size``); returns
    ``output, (h_n, c_n)``."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """GRU with PyTorch's gate order (r, z, n): ``n = tanh(W_in x + b_in + r (W_hn h + b_hn))``,
    ``h' = (1 - z) n + z h``."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)


# ---------------------------------------------------------------------------- cells

class RNNCellBase(Module):
    """One step of a recurrent layer: weight_ih (G H, in), weight_hh (G H, H), bias_ih, bias_hh."""

    _mode = None

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(empty_tensor((num_chunks * hidden_size, input_size), dtype, device))
        self.weight_hh = Parameter(empty_tensor((num_chunks * hidden_size, hidden_size), dtype, device))
        if bias:
            self.bias_ih = Parameter(empty_tensor((num_chunks * hidden_size,), dtype, device))
            self.bias_hh = Parameter(empty_tensor((num_chunks * hidden_size,), dtype, device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _step(self, mode, input, states, names):
        """One fused step on batched input (B, in) and states (B, H) each: (h, c or None)."""
        check_dtype(input, self.weight_ih)
        if input.shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} expected {self.input_size}")
        for k, s in enumerate(states):
            if s.shape[0] != input.shape[0]:
                raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match {names[k]} batch size "
                                   f"{s.shape[0]}")
            if s.shape[1] != self.hidden_size:
                raise RuntimeError(f"{names[k]} has inconsistent hidden_size: got {s.shape[1]}, expected "
                                   f"{self.hidden_size}")
        weights = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, None)
        h, _, c = recurrent_sequence(mode, input, weights, states[0], states[1] if len(states) > 1 else None,
                                     (input.shape[0],), False)
        return h, c

    def _batched(self, input, hx, name):
        from ..tensor import Tensor
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: argument 'input' must be a Tensor, got {type(input).__name__}")
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        return input.ndim == 2


class RNNCell(RNNCellBase):
    """``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``, act = tanh or relu."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        is_batched = self._batched(input, hx, "RNNCell")
        if hx is not None and hx.ndim not in (1, 2):
            raise ValueError(f"RNNCell: Expected hidden to be 1D or 2D, got {hx.ndim}D instead")
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        if not is_batched:
            input = input.unsqueeze(0)
        hx = _zeros((input.shape[0], self.hidden_size), input) if hx is None else (
            hx if is_batched else hx.unsqueeze(0))
        h, _ = self._step("rnn_" + self.nonlinearity, input, (hx,), ("hidden0",))
        return h if is_batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: returns ``(h', c')``."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        is_batched = self._batched(input, hx, "LSTMCell")
        if hx is not None:
            for idx, value in enumerate(hx):
                if value.ndim not in (1, 2):
                    raise ValueError(f"LSTMCell: Expected hx[{idx}] to be 1D or 2D, got {value.ndim}D instead")
        if not is_batched:
            input = input.unsqueeze(0)
        if hx is None:
            zeros = _zeros((input.shape[0], self.hidden_size), input)
            hx = (zeros, zeros)
        elif not is_batched:
            hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        h, c = self._step("lstm", input, tuple(hx), ("hidden0", "hidden1"))
        return (h, c) if is_batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: ``h' = (1 - z) n + z h``."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        is_batched = self._batched(input, hx, "GRUCell")
        if hx is not None and hx.ndim not in (1, 2):
            raise ValueError(f"GRUCell: Expected hidden to be 1D or 2D, got {hx.ndim}D instead")
        if not is_batched:
            input = input.unsqueeze(0)
        hx = _zeros((input.shape[0], self.hidden_size), input) if hx is None else (
            hx if is_batched else hx.unsqueeze(0))
        h, _ = self._step("gru", input, (hx,), ("hidden0",))
        return h if is_batched else h.squeeze(0)
