"""The recurrent family's CUDA kernels (fastnn._C_cuda.rnn_forward / rnn_backward) against the CPU module on
the same inputs, and the layers on the GPU against the CPU. Marked ``gpu``: skipped without a GPU and cupy
(tests/cuda_emu/run_gpu_tests_emulated.sh runs them on the CPU with the kernels emulated)."""
import numpy as np
import pytest

import fastnn
from fastnn import _C, nn

from gpu_family import TOL, K, cp, dev, host, pytestmark, rel_err  # noqa: F401


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("mode", ["rnn_tanh", "rnn_relu", "lstm", "gru", "lstm_proj"])
@pytest.mark.parametrize("batch_sizes,reverse", [([3, 3, 2, 1], False), ([3, 3, 2, 1], True), ([1], False)])
def test_rnn_forward_backward_match_cpu(mode, dtype, batch_sizes, reverse):
    rng = np.random.default_rng(7)
    proj = mode == "lstm_proj"
    mode = "lstm" if proj else mode
    G = {"lstm": 4, "gru": 3}.get(mode, 1)
    H, B, N = 5, 3, sum(batch_sizes)
    P = 3 if proj else H

    def r(*shape):
        return (rng.standard_normal(shape) * 0.5).astype(dtype)
    xg, w_hh, b_ih, b_hh = r(N, G * H), r(G * H, P), r(G * H), r(G * H)
    w_hr = r(P, H) if proj else None
    h0, c0 = r(B, P), r(B, H) if mode == "lstm" else None
    args = (mode, xg, w_hh, b_ih, b_hh, w_hr, h0, c0, batch_sizes, reverse, True)
    ref = _C.rnn_forward(*args)
    got = K.rnn_forward(*[dev(a) if isinstance(a, np.ndarray) else a for a in args])
    for g, e in zip(got, ref):
        assert (g is None) == (e is None)
        if e is not None:
            assert rel_err(host(g), e) < TOL[dtype]
    out, _, _, saved = ref
    dy, dhn = r(N, P), r(B, P)
    dcn = r(B, H) if mode == "lstm" else None
    bargs = (mode, w_hh, w_hr, h0, c0, batch_sizes, reverse, out, saved, dy, dhn, dcn)
    ref = _C.rnn_backward(*bargs)
    got = K.rnn_backward(*[dev(a) if isinstance(a, np.ndarray) else a for a in bargs])
    for g, e in zip(got, ref):
        assert (g is None) == (e is None)
        if e is not None:
            assert rel_err(host(g), e) < TOL[dtype]


def test_lstm_layer_on_gpu_matches_cpu():
    rng = np.random.default_rng(3)
    m = nn.LSTM(4, 6, num_layers=2, bidirectional=True)
    x = rng.standard_normal((5, 2, 4)).astype(np.float32)
    out_c, (h_c, _) = m(fastnn.tensor(x))
    m.to("cuda")
    xg = fastnn.tensor(x, device="cuda", requires_grad=True)
    out_g, (h_g, _) = m(xg)
    assert rel_err(out_g.cpu().detach().numpy(), out_c.detach().numpy()) < 1e-5
    assert rel_err(h_g.cpu().detach().numpy(), h_c.detach().numpy()) < 1e-5
    out_g.sum().backward()
    assert xg.grad is not None and xg.grad.shape == xg.shape


def test_rnn_errors_on_gpu():
    with pytest.raises(TypeError, match="host memory"):
        K.rnn_forward("lstm", np.zeros((2, 8), np.float32), cp.zeros((8, 2), cp.float32), None, None, None, None,
                      None, [2])
