"""Positional layers: the sinusoidal table and RoPE against numpy formulas, the learned table's
parameter and gradient, offsets for incremental decoding, errors."""
import math

import numpy as np
import pytest

import fastnn
import fastnn.nn as nn
from fastnn.autograd import gradcheck


def _table(max_len, d):
    pe = np.zeros((max_len, d))
    for pos in range(max_len):
        for i in range(0, d, 2):
            angle = pos / 10000 ** (i / d)
            pe[pos, i] = math.sin(angle)
            if i + 1 < d:
                pe[pos, i + 1] = math.cos(angle)
    return pe


@pytest.mark.parametrize("d", [8, 7, 1])
def test_sinusoidal_table_and_forward(rng, d):
    m = nn.SinusoidalPositionalEncoding(d, max_len=20)
    np.testing.assert_allclose(m.pe.numpy(), _table(20, d), rtol=1e-5, atol=1e-6)
    assert "pe" not in m.state_dict() and "pe" in dict(m.named_buffers())
    x = rng.standard_normal((3, 6, d)).astype(np.float32)
    np.testing.assert_allclose(m(fastnn.tensor(x)).numpy(), x + _table(20, d)[:6], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m(fastnn.tensor(x), offset=4).numpy(), x + _table(20, d)[4:10], rtol=1e-5,
                               atol=1e-6)


def test_sinusoidal_dropout_train_and_eval(rng):
    m = nn.SinusoidalPositionalEncoding(16, max_len=50, dropout=0.5)
    x = fastnn.tensor(rng.standard_normal((4, 10, 16)).astype(np.float32))
    m.eval()
    np.testing.assert_allclose(m(x).numpy(), x.numpy() + m.pe.numpy()[:10], rtol=1e-6)
    m.train()
    y = m(x).numpy()
    assert 0.35 < np.mean(y == 0) < 0.65
    x64 = fastnn.tensor(rng.standard_normal((2, 3, 16)))
    assert m.eval()(x64).dtype == fastnn.float64


def test_sinusoidal_errors():
    m = nn.SinusoidalPositionalEncoding(8, max_len=10)
    with pytest.raises(ValueError, match="max_len=10"):
        m(fastnn.randn(2, 8, 8), offset=3)
    with pytest.raises(ValueError, match="\\(N, L, 8\\)"):
        m(fastnn.randn(2, 5, 6))
    with pytest.raises(ValueError, match="d_model"):
        nn.SinusoidalPositionalEncoding(0)


def test_learned_positional_embedding(rng):
    fastnn.manual_seed(0)
    m = nn.LearnedPositionalEmbedding(12, 6)
    assert list(m.state_dict()) == ["weight"] and tuple(m.weight.shape) == (12, 6)
    w = m.weight.detach().numpy()
    assert 0.5 < w.std() < 1.5                       # N(0, 1) like nn.Embedding
    x = fastnn.tensor(rng.standard_normal((2, 5, 6)).astype(np.float32), requires_grad=True)
    y = m(x, offset=3)
    np.testing.assert_allclose(y.detach().numpy(), x.detach().numpy() + w[3:8], rtol=1e-6)
    y.sum().backward()
    g = m.weight.grad.numpy()
    np.testing.assert_allclose(g[3:8], 2.0)
    assert np.all(g[:3] == 0) and np.all(g[8:] == 0)
    np.testing.assert_allclose(x.grad.numpy(), 1.0)
    with pytest.raises(ValueError, match="max_len=12"):
        m(fastnn.randn(1, 10, 6), offset=5)


def _rope_numpy(x, base, offset):
    d = x.shape[-1]
    L = x.shape[-2]
    half = d // 2
    theta = np.arange(offset, offset + L)[:, None] * base ** (-2.0 * np.arange(half) / d)[None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * np.cos(theta) - x2 * np.sin(theta), x2 * np.cos(theta) + x1 * np.sin(theta)], -1)


def test_rotary_matches_formula_and_offsets(rng):
    rope = nn.RotaryEmbedding(8, base=100.0)
    assert "inv_freq" not in rope.state_dict()
    q = rng.standard_normal((2, 3, 5, 8)).astype(np.float32)
    k = rng.standard_normal((2, 3, 7, 8)).astype(np.float32)
    qr, kr = rope(fastnn.tensor(q), fastnn.tensor(k), offset=2)
    np.testing.assert_allclose(qr.numpy(), _rope_numpy(q, 100.0, 2), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(kr.numpy(), _rope_numpy(k, 100.0, 2), rtol=1e-5, atol=1e-5)
    # a suffix rotated with its offset equals the suffix of the whole rotation (the KV-cache use)
    whole = rope.rotate(fastnn.tensor(k)).numpy()
    np.testing.assert_allclose(rope.rotate(fastnn.tensor(k[:, :, 4:]), offset=4).numpy(), whole[:, :, 4:],
                               rtol=1e-5, atol=1e-6)
    # a rotation: norms kept, and scores depend only on the distance between positions
    np.testing.assert_allclose(np.linalg.norm(whole, axis=-1), np.linalg.norm(k, axis=-1), rtol=1e-5)
    a, b = rng.standard_normal(8), rng.standard_normal(8)
    one = nn.RotaryEmbedding(8)

    def score(m, n):
        qa = one.rotate(fastnn.tensor(a[None, :]), offset=m).numpy()[0]
        kb = one.rotate(fastnn.tensor(b[None, :]), offset=n).numpy()[0]
        return qa @ kb
    assert np.isclose(score(3, 1), score(10, 8)) and np.isclose(score(0, 5), score(7, 12))


def test_rotary_gradcheck_and_errors(rng):
    rope = nn.RotaryEmbedding(4)
    x = fastnn.tensor(rng.standard_normal((1, 2, 3, 4)), requires_grad=True)
    assert gradcheck(lambda t: rope.rotate(t, offset=1), (x,))
    with pytest.raises(ValueError, match="even"):
        nn.RotaryEmbedding(5)
    with pytest.raises(ValueError, match="\\(N, L, 4\\)"):
        rope(fastnn.randn(1, 2, 3, 6), fastnn.randn(1, 2, 3, 4))
    with pytest.raises(ValueError, match="offset"):
        rope.rotate(fastnn.randn(1, 2, 3, 4), offset=-1)
