"""Recurrent layers and cells (nn.RNN / LSTM / GRU, nn.RNNCell / LSTMCell / GRUCell) against PyTorch, and the
fused recurrent kernels (kernels.rnn_forward / rnn_backward) against a numpy loop on every CPU path.

PyTorch is the reference for values and gradients (float32, 1e-4 relative); gradcheck in float64 covers
every layer and direction without it.
"""
import warnings

import numpy as np
import pytest

import fastnn
from fastnn import kernels, nn
from fastnn.autograd import gradcheck, gradgradcheck

KINDS = ("RNN", "LSTM", "GRU")


def rel_err(got, ref):
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    d = np.linalg.norm(ref.ravel())
    return np.linalg.norm((got - ref).ravel()) / (d if d > 0 else 1.0)


def pair(torch, kind, *args, dtype=np.float32, **kwargs):
    """The same layer in both libraries: fastnn's weights copied from PyTorch's state dict."""
    tm = getattr(torch.nn, kind)(*args, **kwargs)
    fm = getattr(nn, kind)(*args, **kwargs)
    if dtype == np.float64:
        tm = tm.double()
        fm = fm.double()
    missing, unexpected = fm.load_state_dict({k: fastnn.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    assert not missing and not unexpected
    return tm, fm


def both(torch, a, requires_grad=True):
    return torch.tensor(a, requires_grad=requires_grad), fastnn.tensor(a, requires_grad=requires_grad)


def flat(o):
    """The tensors of an output tree (tuples, LSTM's (h, c))."""
    if isinstance(o, (tuple, list)):
        return [t for x in o for t in flat(x)]
    return [o]


def check_same(torch, tm, fm, t_in, f_in, t_leaves, f_leaves, tol=1e-4):
    """Outputs of both calls, then the gradients of one random weighting of all outputs."""
    t_out, f_out = flat(tm(*t_in)), flat(fm(*f_in))
    assert len(t_out) == len(f_out)
    rng = np.random.default_rng(5)
    t_loss = f_loss = 0
    for t, f in zip(t_out, f_out):
        assert rel_err(f.detach().numpy(), t.detach().numpy()) < tol
        w = rng.standard_normal(tuple(t.shape)).astype(t.detach().numpy().dtype)
        t_loss = t_loss + (t * torch.tensor(w)).sum()
        f_loss = f_loss + (f * fastnn.tensor(w)).sum()
    t_loss.backward()
    f_loss.backward()
    for (name, tp), fp in zip(tm.named_parameters(), fm.parameters()):
        assert rel_err(fp.grad.numpy(), tp.grad.numpy()) < tol, name
    for t, f in zip(t_leaves, f_leaves):
        assert rel_err(f.grad.numpy(), t.grad.numpy()) < tol


# every option against PyTorch: (kind, constructor kwargs, give hx, unbatched)
LAYER_CASES = [
    ("RNN", {}, False, False),
    ("RNN", {"nonlinearity": "relu", "num_layers": 2}, True, False),
    ("RNN", {"num_layers": 3, "bidirectional": True, "batch_first": True}, True, False),
    ("RNN", {"bias": False}, False, True),
    ("LSTM", {}, True, False),
    ("LSTM", {"num_layers": 2, "bidirectional": True}, True, False),
    ("LSTM", {"proj_size": 3, "num_layers": 2, "bidirectional": True, "batch_first": True}, True, False),
    ("LSTM", {"proj_size": 2}, False, True),
    ("LSTM", {"bias": False, "num_layers": 3, "dropout": 0.5}, False, False),
    ("LSTM", {"batch_first": True}, True, True),
    ("GRU", {}, True, False),
    ("GRU", {"num_layers": 3, "bidirectional": True}, False, False),
    ("GRU", {"bias": False, "batch_first": True}, True, False),
    ("GRU", {"num_layers": 2, "dropout": 0.3, "bidirectional": True}, True, True),
]


def _hx(torch, fm, kind, batch, unbatched, rng):
    D = 2 if fm.bidirectional else 1
    P = fm.proj_size or fm.hidden_size
    lead = (fm.num_layers * D,) + (() if unbatched else (batch,))
    t_h, f_h = both(torch, rng.standard_normal(lead + (P,)).astype(np.float32))
    if kind != "LSTM":
        return t_h, f_h, [t_h], [f_h]
    t_c, f_c = both(torch, rng.standard_normal(lead + (fm.hidden_size,)).astype(np.float32))
    return (t_h, t_c), (f_h, f_c), [t_h, t_c], [f_h, f_c]


@pytest.mark.parametrize("kind,kwargs,give_hx,unbatched", LAYER_CASES)
def test_layer_matches_torch(torch, rng, kind, kwargs, give_hx, unbatched):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tm, fm = pair(torch, kind, 5, 6, **kwargs)
    tm.eval()
    fm.eval()  # dropout is off in eval mode, as PyTorch's
    T, B = 7, 3
    shape = (T, 5) if unbatched else ((B, T, 5) if fm.batch_first else (T, B, 5))
    t_x, f_x = both(torch, rng.standard_normal(shape).astype(np.float32))
    t_in, f_in, t_leaves, f_leaves = [t_x], [f_x], [t_x], [f_x]
    if give_hx:
        t_h, f_h, tl, fl = _hx(torch, fm, kind, B, unbatched, rng)
        t_in.append(t_h)
        f_in.append(f_h)
        t_leaves += tl
        f_leaves += fl
    check_same(torch, tm, fm, t_in, f_in, t_leaves, f_leaves)


@pytest.mark.parametrize("kind", KINDS)
def test_layer_on_every_cpu_path_edge_sizes(torch, rng, cpu_path, kind):
    """hidden 1, batch 1, one step, and a hidden size that is no multiple of any vector width (masked tails)."""
    for hidden, T, B in ((1, 4, 2), (3, 1, 1), (37, 5, 3)):
        tm, fm = pair(torch, kind, 4, hidden, bidirectional=True)
        t_x, f_x = both(torch, rng.standard_normal((T, B, 4)).astype(np.float32))
        check_same(torch, tm, fm, [t_x], [f_x], [t_x], [f_x])


def test_non_contiguous_input_and_state(torch, rng):
    tm, fm = pair(torch, "LSTM", 4, 5, num_layers=2)
    base = rng.standard_normal((4, 6, 5)).astype(np.float32)  # (I, 2B, T): a strided, transposed view
    t_b, f_b = both(torch, base)
    h = rng.standard_normal((3, 2, 5)).astype(np.float32)  # (B, L, H): transposed views
    t_h, f_h = both(torch, h)
    t_c, f_c = both(torch, h * 0.5)

    def run(m, b, hh, cc):
        return m(b[:, ::2].transpose(0, 2), (hh.transpose(0, 1), cc.transpose(0, 1)))
    t_out = flat(run(tm, t_b, t_h, t_c))
    f_out = flat(run(fm, f_b, f_h, f_c))
    for t, f in zip(t_out, f_out):
        assert rel_err(f.detach().numpy(), t.detach().numpy()) < 1e-4
    sum(o.sum() for o in t_out).backward()
    sum(o.sum() for o in f_out).backward()
    for t, f in ((t_b, f_b), (t_h, f_h), (t_c, f_c)):
        assert rel_err(f.grad.numpy(), t.grad.numpy()) < 1e-4


CELL_CASES = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu", "bias": False}), ("LSTMCell", {}),
              ("LSTMCell", {"bias": False}), ("GRUCell", {}), ("GRUCell", {"bias": False})]


@pytest.mark.parametrize("kind,kwargs", CELL_CASES)
@pytest.mark.parametrize("unbatched", [False, True])
@pytest.mark.parametrize("give_hx", [False, True])
def test_cell_matches_torch(torch, rng, kind, kwargs, unbatched, give_hx):
    tm, fm = pair(torch, kind, 4, 5, **kwargs)
    lead = () if unbatched else (3,)
    t_x, f_x = both(torch, rng.standard_normal(lead + (4,)).astype(np.float32))
    t_in, f_in, t_leaves, f_leaves = [t_x], [f_x], [t_x], [f_x]
    if give_hx:
        states = [both(torch, rng.standard_normal(lead + (5,)).astype(np.float32))
                  for _ in range(2 if kind == "LSTMCell" else 1)]
        t_leaves += [s[0] for s in states]
        f_leaves += [s[1] for s in states]
        if kind == "LSTMCell":
            t_in.append(tuple(s[0] for s in states))
            f_in.append(tuple(s[1] for s in states))
        else:
            t_in.append(states[0][0])
            f_in.append(states[0][1])
    check_same(torch, tm, fm, t_in, f_in, t_leaves, f_leaves)


def test_cell_loop_equals_layer(rng):
    """An LSTMCell stepped by hand gives the LSTM layer's output (same weights)."""
    layer = nn.LSTM(3, 4)
    cell = nn.LSTMCell(3, 4)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = fastnn.tensor(rng.standard_normal((5, 2, 3)).astype(np.float32))
    out, (h, c) = layer(x)
    hc = None
    for t in range(5):
        hc = cell(x[t], hc)
        np.testing.assert_allclose(hc[0].detach().numpy(), out[t].detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hc[1].detach().numpy(), c[0].detach().numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- gradcheck (float64)

GRADCHECK_CASES = [("RNN", {}), ("RNN", {"nonlinearity": "relu", "bidirectional": True}),
                   ("LSTM", {"bidirectional": True}), ("LSTM", {"proj_size": 2, "bidirectional": True}),
                   ("GRU", {"bidirectional": True}), ("GRU", {"num_layers": 2, "bias": False})]


@pytest.mark.parametrize("kind,kwargs", GRADCHECK_CASES)
def test_gradcheck_layers(rng, kind, kwargs):
    m = getattr(nn, kind)(2, 3, **kwargs).double()
    names = [n for n, _ in m.named_parameters()]
    params = [p for _, p in m.named_parameters()]
    D = 2 if m.bidirectional else 1
    P = m.proj_size or m.hidden_size
    x = fastnn.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    h0 = fastnn.tensor(rng.standard_normal((m.num_layers * D, 2, P)), requires_grad=True)
    c0 = fastnn.tensor(rng.standard_normal((m.num_layers * D, 2, 3)), requires_grad=True)

    def f(x, h0, c0, *ps):
        for n, p in zip(names, ps):
            m._parameters[n] = p
        if kind == "LSTM":
            out, (h, c) = m(x, (h0, c0))
            return out, h, c
        return m(x, h0)

    inputs = [x, h0, c0] + [fastnn.tensor(p.detach().numpy(), requires_grad=True) for p in params]
    assert gradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_gradcheck_cells(rng, kind):
    m = getattr(nn, kind)(3, 2).double()
    x = fastnn.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    h = fastnn.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    c = fastnn.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    w = fastnn.tensor(m.weight_hh.detach().numpy(), requires_grad=True)

    def f(x, h, c, w):
        m._parameters["weight_hh"] = w
        return m(x, (h, c)) if kind == "LSTMCell" else m(x, h)

    assert gradcheck(f, [x, h, c, w], eps=1e-6, atol=1e-5, rtol=1e-4)


def test_double_backward_raises(rng):
    m = nn.GRU(2, 3).double()
    x = fastnn.tensor(rng.standard_normal((3, 1, 2)), requires_grad=True)
    out, _ = m(x)
    (g,) = fastnn.autograd.grad(out.sum(), [x], create_graph=False)
    assert g.shape == x.shape
    out, _ = m(x)
    with pytest.raises(RuntimeError, match="gradients of gradients"):
        fastnn.autograd.grad(out.sum(), [x], create_graph=True)
    with pytest.raises(RuntimeError, match="gradients of gradients"):
        gradgradcheck(lambda x: m(x)[0], [x])


# ---------------------------------------------------------------------------- parameters, state dicts

@pytest.mark.parametrize("kind,kwargs", [("LSTM", {"proj_size": 2, "num_layers": 2, "bidirectional": True}),
                                         ("GRU", {"bias": False, "num_layers": 2}), ("RNN", {"bidirectional": True})])
def test_parameter_names_shapes_and_init(torch, kind, kwargs):
    tm = getattr(torch.nn, kind)(4, 5, **kwargs)
    fm = getattr(nn, kind)(4, 5, **kwargs)
    assert [(n, tuple(p.shape)) for n, p in tm.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in fm.named_parameters()]
    assert fm._flat_weights_names == tm._flat_weights_names
    assert repr(fm) == repr(tm)
    bound = 1 / np.sqrt(5)
    for p in fm.parameters():
        a = p.detach().numpy()
        assert np.all(np.abs(a) <= bound) and a.std() > bound / 4
    fm.flatten_parameters()  # accepted, nothing to do
    for kind_c in ("RNNCell", "LSTMCell", "GRUCell"):
        assert [(n, tuple(p.shape)) for n, p in getattr(torch.nn, kind_c)(4, 5).named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in getattr(nn, kind_c)(4, 5).named_parameters()]
    assert repr(nn.RNNCell(4, 5, nonlinearity="relu")) == repr(torch.nn.RNNCell(4, 5, nonlinearity="relu"))


def test_state_dict_both_ways(torch, rng):
    fm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    tm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in fm.state_dict().items()})
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    t_out, _ = tm(torch.tensor(x))
    f_out, _ = fm(fastnn.tensor(x))
    assert rel_err(f_out.detach().numpy(), t_out.detach().numpy()) < 1e-5


# ---------------------------------------------------------------------------- dropout between layers

def test_dropout_between_layers_in_training_only(rng):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = nn.GRU(3, 8, num_layers=2, dropout=0.5)
    x = fastnn.tensor(rng.standard_normal((4, 2, 3)).astype(np.float32))
    m.eval()
    a, b = m(x)[0].detach().numpy(), m(x)[0].detach().numpy()
    np.testing.assert_array_equal(a, b)
    m.train()
    fastnn.manual_seed(3)
    c = m(x)[0].detach().numpy()
    fastnn.manual_seed(3)
    d = m(x)[0].detach().numpy()
    np.testing.assert_array_equal(c, d)  # the shared Philox stream: same seed, same mask
    assert np.abs(c - a).max() > 1e-3
    with pytest.warns(UserWarning, match="dropout option adds dropout after all but last"):
        nn.LSTM(3, 4, dropout=0.2)


# ---------------------------------------------------------------------------- bad input

def test_constructor_errors():
    with pytest.raises(ValueError, match="dropout should be a number"):
        nn.LSTM(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.GRU(3, 0)
    with pytest.raises(TypeError, match="hidden_size should be of type int"):
        nn.GRU(3, 2.0)
    with pytest.raises(ValueError, match="input_size must be greater than zero"):
        nn.RNN(0, 3)
    with pytest.raises(ValueError, match="num_layers must be greater than zero"):
        nn.RNN(2, 3, num_layers=0)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(2, 3, proj_size=3)
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
        nn.GRU(2, 3, proj_size=1)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
        nn.RNN(2, 3, nonlinearity="sigmoid")


def test_forward_errors_name_argument_and_shapes():
    m = nn.LSTM(3, 4)
    with pytest.raises(ValueError, match="LSTM: Expected input to be 2D or 3D, got 4D instead"):
        m(fastnn.zeros(2, 2, 2, 3))
    with pytest.raises(ValueError, match=r"RNN: Expected input to be 2D or 3D, got 1D tensor instead"):
        nn.RNN(3, 4)(fastnn.zeros(3))
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size. Expected 3, got 5"):
        m(fastnn.zeros(2, 2, 5))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 2, 4\), got \[1, 3, 4\]"):
        m(fastnn.zeros(5, 2, 3), (fastnn.zeros(1, 3, 4), fastnn.zeros(1, 2, 4)))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(1, 2, 4\), got \[1, 2, 5\]"):
        m(fastnn.zeros(5, 2, 3), (fastnn.zeros(1, 2, 4), fastnn.zeros(1, 2, 5)))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(2, 2, 4\), got \[1, 2, 4\]"):
        nn.GRU(3, 4, num_layers=2)(fastnn.zeros(5, 2, 3), fastnn.zeros(1, 2, 4))
    with pytest.raises(RuntimeError, match="For batched 3-D input, hx should also be 3-D but got 2-D tensor"):
        nn.GRU(3, 4)(fastnn.zeros(5, 2, 3), fastnn.zeros(2, 4))
    with pytest.raises(RuntimeError, match="For unbatched 2-D input, hx and cx should also be 2-D"):
        m(fastnn.zeros(5, 3), (fastnn.zeros(1, 2, 4), fastnn.zeros(1, 2, 4)))
    with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0 in RNN"):
        m(fastnn.zeros(0, 2, 3))
    out, h = nn.GRU(3, 4)(fastnn.zeros(5, 0, 3))  # an empty batch is allowed, as in PyTorch
    assert tuple(out.shape) == (5, 0, 4) and tuple(h.shape) == (1, 0, 4)
    with pytest.raises(ValueError, match="does not match weight dtype"):
        m(fastnn.zeros(5, 2, 3, dtype=fastnn.float64))
    cell = nn.GRUCell(3, 4)
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 5 expected 3"):
        cell(fastnn.zeros(2, 5))
    with pytest.raises(RuntimeError, match="Input batch size 2 doesn't match hidden0 batch size 3"):
        cell(fastnn.zeros(2, 3), fastnn.zeros(3, 4))
    with pytest.raises(RuntimeError, match="hidden1 has inconsistent hidden_size: got 2, expected 4"):
        nn.LSTMCell(3, 4)(fastnn.zeros(2, 3), (fastnn.zeros(2, 4), fastnn.zeros(2, 2)))
    with pytest.raises(ValueError, match="GRUCell: Expected input to be 1D or 2D, got 3D instead"):
        cell(fastnn.zeros(1, 2, 3))


# ---------------------------------------------------------------------------- the native kernels

def _sig(x):
    return 1 / (1 + np.exp(-x))


def numpy_sequence(mode, x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0, batch_sizes, reverse):
    """A plain loop over the packed rows: (out, h_n, c_n)."""
    H = w_hh.shape[0] // {"lstm": 4, "gru": 3}.get(mode, 1)
    off = np.concatenate([[0], np.cumsum(batch_sizes)]).astype(int)
    h, c = h0.copy(), c0.copy() if c0 is not None else None
    out = np.zeros((x.shape[0], h0.shape[1]))
    order = range(len(batch_sizes) - 1, -1, -1) if reverse else range(len(batch_sizes))
    for t in order:
        b = batch_sizes[t]
        xg = x[off[t]:off[t] + b] @ w_ih.T + b_ih
        hg = h[:b] @ w_hh.T + b_hh
        if mode.startswith("rnn"):
            pre = xg + hg
            hb = np.tanh(pre) if mode == "rnn_tanh" else np.maximum(pre, 0)
        elif mode == "lstm":
            i, f, g, o = np.split(xg + hg, 4, axis=1)
            c[:b] = _sig(f) * c[:b] + _sig(i) * np.tanh(g)
            hb = _sig(o) * np.tanh(c[:b])
            if w_hr is not None:
                hb = hb @ w_hr.T
        else:
            xr, xz, xn = np.split(xg, 3, axis=1)
            hr, hz, hn = np.split(hg, 3, axis=1)
            r, z = _sig(xr + hr), _sig(xz + hz)
            n = np.tanh(xn + r * hn)
            hb = (1 - z) * n + z * h[:b]
        h[:b] = hb
        out[off[t]:off[t] + b] = hb
    return out, h, c


@pytest.mark.parametrize("mode", ["rnn_tanh", "rnn_relu", "lstm", "gru", "lstm_proj"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_native_forward_matches_numpy_every_path(rng, cpu_path, mode, dtype):
    proj = mode == "lstm_proj"
    mode = "lstm" if proj else mode
    G = {"lstm": 4, "gru": 3}.get(mode, 1)
    for H, I, batch_sizes, reverse in ((19, 3, [4, 4, 3, 1, 1], False), (19, 3, [4, 4, 3, 1, 1], True),
                                       (1, 2, [1], False), (8, 1, [], False), (33, 5, [2, 0, 0], True)):
        P = max(1, H // 2) if proj and H > 1 else H
        if proj and P == H:
            continue
        B = 5
        N = sum(batch_sizes)
        x = rng.standard_normal((N, I))
        w_ih, w_hh = rng.standard_normal((G * H, I)) * 0.5, rng.standard_normal((G * H, P)) * 0.5
        b_ih, b_hh = rng.standard_normal(G * H), rng.standard_normal(G * H)
        w_hr = rng.standard_normal((P, H)) * 0.5 if proj else None
        h0 = rng.standard_normal((B, P))
        c0 = rng.standard_normal((B, H)) if mode == "lstm" else None
        ref = numpy_sequence(mode, x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0, batch_sizes, reverse)
        cast = [None if a is None else a.astype(dtype) for a in (x @ w_ih.T, w_hh, b_ih, b_hh, w_hr, h0, c0)]
        for training in (False, True):
            out, hn, cn, saved = kernels.rnn_forward(mode, *cast, batch_sizes, reverse, training)
            tol = 1e-5 if dtype == np.float32 else 1e-12
            assert rel_err(out, ref[0]) < tol and rel_err(hn, ref[1]) < tol
            if mode == "lstm":
                assert rel_err(cn, ref[2]) < tol
            assert (saved is not None) == training


def test_native_argument_errors(rng):
    w = np.zeros((8, 2), np.float32)
    xg = np.zeros((6, 8), np.float32)
    h0 = np.zeros((3, 2), np.float32)
    c0 = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match="mode"):
        kernels.rnn_forward("lstmx", xg, w, None, None, None, h0, c0, [3, 3])
    with pytest.raises(ValueError, match="'xg' must have shape \\(7, 8\\)"):
        kernels.rnn_forward("lstm", xg, w, None, None, None, h0, c0, [3, 3, 1])
    with pytest.raises(ValueError, match="batch_sizes' must be non-increasing"):
        kernels.rnn_forward("lstm", xg, w, None, None, None, h0, c0, [2, 4])
    with pytest.raises(ValueError, match="batch_sizes' starts with 4 rows but 'h0' has batch 3"):
        kernels.rnn_forward("lstm", np.zeros((8, 8), np.float32), w, None, None, None, h0, c0, [4, 4])
    with pytest.raises(ValueError, match="'c0' is for mode 'lstm' only"):
        kernels.rnn_forward("rnn_tanh", np.zeros((6, 2), np.float32), np.zeros((2, 2), np.float32), None, None,
                            None, h0, c0, [3, 3])
    with pytest.raises(TypeError, match="same dtype"):
        kernels.rnn_forward("lstm", xg.astype(np.float64), w, None, None, None, h0, c0, [3, 3])
    with pytest.raises(ValueError, match="'h0'.*contiguous"):
        kernels.rnn_forward("lstm", xg, w, None, None, None, np.zeros((2, 3), np.float32).T, c0, [3, 3])
