"""nn.utils.rnn (padding and packing) and recurrent layers on PackedSequence input, against PyTorch."""
import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.autograd import gradcheck
from fastnn.nn.utils.rnn import (PackedSequence, pack_padded_sequence, pack_sequence, pad_packed_sequence,
                                 pad_sequence, unpack_sequence, unpad_sequence)


def rel_err(got, ref):
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    d = np.linalg.norm(ref.ravel())
    return np.linalg.norm((got - ref).ravel()) / (d if d > 0 else 1.0)


def arr(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths,enforce_sorted", [([5, 3, 3, 1], True), ([2, 5, 1, 3], False),
                                                    ([4], True), ([3, 3, 3], False)])
def test_pack_and_pad_match_torch(torch, rng, batch_first, lengths, enforce_sorted):
    from torch.nn.utils import rnn as trnn
    T, B = max(lengths), len(lengths)
    x = rng.standard_normal((B, T, 2) if batch_first else (T, B, 2)).astype(np.float32)
    tp = trnn.pack_padded_sequence(torch.tensor(x), torch.tensor(lengths), batch_first, enforce_sorted)
    fp = pack_padded_sequence(fastnn.tensor(x), lengths, batch_first, enforce_sorted)
    assert isinstance(fp, PackedSequence)
    np.testing.assert_array_equal(arr(fp.data), arr(tp.data))
    np.testing.assert_array_equal(arr(fp.batch_sizes), arr(tp.batch_sizes))
    for a, b in ((fp.sorted_indices, tp.sorted_indices), (fp.unsorted_indices, tp.unsorted_indices)):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(arr(a), arr(b))
    for total in (None, T + 2):
        tpad, tlen = trnn.pad_packed_sequence(tp, batch_first, -1.0, total)
        fpad, flen = pad_packed_sequence(fp, batch_first, -1.0, total)
        np.testing.assert_array_equal(arr(fpad), arr(tpad))
        np.testing.assert_array_equal(arr(flen), arr(tlen))


def test_pad_sequence_and_friends_match_torch(torch, rng):
    from torch.nn.utils import rnn as trnn
    seqs = [rng.standard_normal((n, 3)).astype(np.float32) for n in (2, 5, 1)]
    for batch_first in (False, True):
        for side in ("right", "left"):
            t = trnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first, 0.5, side)
            f = pad_sequence([fastnn.tensor(s) for s in seqs], batch_first, 0.5, side)
            np.testing.assert_array_equal(arr(f), arr(t))
    f = pad_sequence([fastnn.tensor(s) for s in seqs], batch_first=True)
    for a, s in zip(unpad_sequence(f, fastnn.tensor([2, 5, 1]), batch_first=True), seqs):
        np.testing.assert_array_equal(arr(a), s)
    fp = pack_sequence([fastnn.tensor(s) for s in seqs], enforce_sorted=False)
    tp = trnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    np.testing.assert_array_equal(arr(fp.data), arr(tp.data))
    for a, s in zip(unpack_sequence(fp), seqs):
        np.testing.assert_array_equal(arr(a), s)


def test_packing_is_differentiable(rng):
    x = fastnn.tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)

    def f(x):
        p = pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
        return pad_packed_sequence(p, total_length=4)[0] * 2
    assert gradcheck(f, [x])
    out = f(x)
    out.sum().backward()
    g = x.grad.numpy()
    assert np.all(g[:2, 0] == 2) and np.all(g[2:, 0] == 0) and np.all(g[:, 1] == 2) and np.all(g[1:, 2] == 0)


def test_packing_errors():
    x = fastnn.zeros(5, 3, 2)
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order when `enforce_sorted` is True"):
        pack_padded_sequence(x, [3, 4, 2])
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        pack_padded_sequence(x, [3, 0, 2], enforce_sorted=False)
    with pytest.raises(RuntimeError, match="a length of 6 is longer than the input's 5 time steps"):
        pack_padded_sequence(x, [6, 3, 2])
    with pytest.raises(RuntimeError, match=r"Expected `len\(lengths\)` to be equal to batch_size, but got 2"):
        pack_padded_sequence(x, [5, 3])
    with pytest.raises(ValueError, match="Expected total_length to be at least the length of the longest"):
        pad_packed_sequence(pack_padded_sequence(x, [5, 3, 2]), total_length=3)
    with pytest.raises(RuntimeError, match="received an empty list of sequences"):
        pad_sequence([])
    with pytest.raises(RuntimeError, match="Expected padding_side to be one of left or right"):
        pad_sequence([fastnn.zeros(2, 3)], padding_side="middle")
    with pytest.raises(RuntimeError, match="trailing shape"):
        pad_sequence([fastnn.zeros(2, 3), fastnn.zeros(2, 4)])


PACKED_CASES = [("LSTM", {"num_layers": 2, "bidirectional": True}), ("LSTM", {"proj_size": 2, "bidirectional": True}),
                ("GRU", {"bidirectional": True}), ("GRU", {"num_layers": 3}), ("RNN", {"bidirectional": True}),
                ("RNN", {"nonlinearity": "relu"})]


@pytest.mark.parametrize("kind,kwargs", PACKED_CASES)
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_layers_on_packed_input_match_torch(torch, rng, kind, kwargs, enforce_sorted):
    from torch.nn.utils import rnn as trnn
    tm = getattr(torch.nn, kind)(3, 4, **kwargs)
    fm = getattr(nn, kind)(3, 4, **kwargs)
    fm.load_state_dict({k: fastnn.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    lengths = [6, 4, 4, 1] if enforce_sorted else [4, 6, 1, 4]
    T, B = 6, 4
    x = rng.standard_normal((T, B, 3)).astype(np.float32)
    D = 2 if fm.bidirectional else 1
    P = fm.proj_size or 4
    h0 = rng.standard_normal((fm.num_layers * D, B, P)).astype(np.float32)
    c0 = rng.standard_normal((fm.num_layers * D, B, 4)).astype(np.float32)
    tx, fx = torch.tensor(x, requires_grad=True), fastnn.tensor(x, requires_grad=True)
    th, fh = torch.tensor(h0, requires_grad=True), fastnn.tensor(h0, requires_grad=True)
    tc, fc = torch.tensor(c0, requires_grad=True), fastnn.tensor(c0, requires_grad=True)
    t_out, t_hn = tm(trnn.pack_padded_sequence(tx, torch.tensor(lengths), enforce_sorted=enforce_sorted),
                     (th, tc) if kind == "LSTM" else th)
    f_out, f_hn = fm(pack_padded_sequence(fx, lengths, enforce_sorted=enforce_sorted),
                     (fh, fc) if kind == "LSTM" else fh)
    assert isinstance(f_out, PackedSequence)
    np.testing.assert_array_equal(arr(f_out.batch_sizes), arr(t_out.batch_sizes))
    t_pad, _ = trnn.pad_packed_sequence(t_out)
    f_pad, _ = pad_packed_sequence(f_out)
    t_states = list(t_hn) if kind == "LSTM" else [t_hn]
    f_states = list(f_hn) if kind == "LSTM" else [f_hn]
    assert rel_err(arr(f_pad), arr(t_pad)) < 1e-4
    for a, b in zip(f_states, t_states):
        assert rel_err(arr(a), arr(b)) < 1e-4
    w = [rng.standard_normal(tuple(t.shape)).astype(np.float32) for t in [t_pad] + t_states]
    sum((t * torch.tensor(wi)).sum() for t, wi in zip([t_pad] + t_states, w)).backward()
    sum((f * fastnn.tensor(wi)).sum() for f, wi in zip([f_pad] + f_states, w)).backward()
    leaves = [(fx, tx), (fh, th)] + ([(fc, tc)] if kind == "LSTM" else [])
    for f, t in leaves:
        assert rel_err(f.grad.numpy(), t.grad.numpy()) < 1e-4
    for (name, tp), fp in zip(tm.named_parameters(), fm.parameters()):
        assert rel_err(fp.grad.numpy(), tp.grad.numpy()) < 1e-4, name


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_gradcheck_packed_bidirectional(rng, kind):
    m = getattr(nn, kind)(2, 3, bidirectional=True).double()
    x = fastnn.tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)
    w = fastnn.tensor(m.weight_hh_l0_reverse.detach().numpy(), requires_grad=True)

    def f(x, w):
        m._parameters["weight_hh_l0_reverse"] = w
        out, _ = m(pack_padded_sequence(x, [2, 4, 3], enforce_sorted=False))
        return pad_packed_sequence(out)[0]
    assert gradcheck(f, [x, w], eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kind,kwargs", [("LSTM", {"proj_size": 20, "bidirectional": True}), ("GRU", {}),
                                         ("RNN", {"bidirectional": True})])
def test_rows_shared_between_threads_match_torch(torch, rng, kind, kwargs):
    """A batch large enough for the CPU to give each thread its own rows (uneven packed lengths: the
    threads' ranges run out at different steps), at 1 and 2 threads."""
    from torch.nn.utils import rnn as trnn
    tm = getattr(torch.nn, kind)(6, 48, **kwargs)
    fm = getattr(nn, kind)(6, 48, **kwargs)
    fm.load_state_dict({k: fastnn.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    B, T = 40, 9
    lengths = rng.integers(1, T + 1, B).tolist()
    x = rng.standard_normal((B, T, 6)).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    t_out, _ = tm(trnn.pack_padded_sequence(tx, torch.tensor(lengths), True, False))
    t_pad = trnn.pad_packed_sequence(t_out, True)[0]
    t_pad.square().sum().backward()
    old = fastnn.get_num_threads()
    try:
        for threads in (1, 2):
            fastnn.set_num_threads(threads)
            fx = fastnn.tensor(x, requires_grad=True)
            f_out, _ = fm(pack_padded_sequence(fx, lengths, True, False))
            f_pad = pad_packed_sequence(f_out, True)[0]
            assert rel_err(arr(f_pad), arr(t_pad)) < 1e-4
            fm.zero_grad()
            f_pad.square().sum().backward()
            assert rel_err(fx.grad.numpy(), tx.grad.numpy()) < 1e-4
            for (name, tp), fp in zip(tm.named_parameters(), fm.parameters()):
                assert rel_err(fp.grad.numpy(), tp.grad.numpy()) < 1e-4, name
    finally:
        fastnn.set_num_threads(old)
