"""nn.MultiheadAttention and the nn.Transformer family against PyTorch: state dicts both ways, outputs
and gradients (inputs and parameters) with every mask kind, padding, norm_first, gelu, batch_first;
PyTorch's initialisation and errors."""
import math

import numpy as np
import pytest

import fastnn
import fastnn.nn as nn

TOL = dict(rtol=1e-4, atol=2e-5)


def _to_fastnn(tm, fm):
    tsd = tm.state_dict()
    assert set(tsd) == set(fm.state_dict())
    fm.load_state_dict({k: fastnn.tensor(v.detach().numpy()) for k, v in tsd.items()})


def _to_torch(torch, fm, tm):
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in fm.state_dict().items()})


def _t(torch, a, grad=False):
    return None if a is None else torch.tensor(a, requires_grad=grad and a.dtype.kind == "f")


def _f(a, grad=False):
    return None if a is None else fastnn.tensor(a, requires_grad=grad and a.dtype.kind == "f")


def _check_grads(tm, fm):
    tp = dict(tm.named_parameters())
    for name, p in fm.named_parameters():
        if tp[name].grad is None:
            assert p.grad is None or np.all(p.grad.numpy() == 0), name
            continue
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), err_msg=name, **TOL)


def _run_both(torch, tm, fm, arrays, kwargs, grad_inputs=3):
    """Call both modules on the same arrays (the first ``grad_inputs`` require grad), compare outputs,
    back-propagate the same random gradient, compare input and parameter gradients."""
    tin = [_t(torch, a, i < grad_inputs) for i, a in enumerate(arrays)]
    fin = [_f(a, i < grad_inputs) for i, a in enumerate(arrays)]
    tkw = {k: (_t(torch, v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    fkw = {k: (_f(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    to, fo = tm(*tin, **tkw), fm(*fin, **fkw)
    touts = to if isinstance(to, tuple) else (to,)
    fouts = fo if isinstance(fo, tuple) else (fo,)
    rng = np.random.default_rng(5)
    tl, fl = 0, 0
    for a, b in zip(touts, fouts):
        if a is None:
            assert b is None
            continue
        assert tuple(b.shape) == tuple(a.shape)
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), **TOL)
        g = rng.standard_normal(tuple(a.shape)).astype(np.float32)
        tl = tl + (a * torch.tensor(g)).sum()
        fl = fl + (b * fastnn.tensor(g)).sum()
    tl.backward()
    fl.backward()
    for a, b in zip(tin, fin):
        if a is not None and a.requires_grad and a.grad is not None:
            np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), **TOL)
    _check_grads(tm, fm)


MHA_CONFIGS = [
    {},
    {"batch_first": True},
    {"kdim": 6, "vdim": 5},
    {"bias": False},
    {"add_bias_kv": True},
    {"add_zero_attn": True},
    {"add_bias_kv": True, "add_zero_attn": True, "batch_first": True, "kdim": 3, "vdim": 7},
]
MHA_CALLS = ["plain", "no_weights", "per_head", "kpm_bool", "kpm_float", "mask2d_bool", "mask3d_float",
             "both_no_weights", "causal_hint"]


def _mha_call(call, rng, N, H, L, S):
    kpm = rng.random((N, S)) < 0.3
    kpm[:, 0] = False
    am = rng.random((L, S)) < 0.25
    am[:, 0] = False
    causal = np.triu(np.full((L, S), -np.inf, np.float32), 1)
    return {
        "plain": {},
        "no_weights": {"need_weights": False},
        "per_head": {"average_attn_weights": False},
        "kpm_bool": {"key_padding_mask": kpm},
        "kpm_float": {"key_padding_mask": np.where(kpm, -np.inf, 0).astype(np.float32)},
        "mask2d_bool": {"attn_mask": am},
        "mask3d_float": {"attn_mask": rng.standard_normal((N * H, L, S)).astype(np.float32)},
        "both_no_weights": {"attn_mask": am, "key_padding_mask": kpm, "need_weights": False},
        "causal_hint": {"attn_mask": causal, "is_causal": True, "need_weights": False},
    }[call]


@pytest.mark.parametrize("cfg", MHA_CONFIGS, ids=str)
@pytest.mark.parametrize("call", MHA_CALLS)
def test_mha_matches_torch(torch, rng, cfg, call):
    E, H, N, L, S = 8, 2, 3, 4, 5
    if call == "causal_hint":
        S = L
    tm = torch.nn.MultiheadAttention(E, H, **cfg)
    fm = nn.MultiheadAttention(E, H, **cfg)
    _to_fastnn(tm, fm)
    bf = cfg.get("batch_first", False)

    def shape(n, d):
        return (N, n, d) if bf else (n, N, d)
    q = rng.standard_normal(shape(L, E)).astype(np.float32)
    k = rng.standard_normal(shape(S, cfg.get("kdim", E))).astype(np.float32)
    v = rng.standard_normal(shape(S, cfg.get("vdim", E))).astype(np.float32)
    _run_both(torch, tm, fm, [q, k, v], _mha_call(call, rng, N, H, L, S))


def test_mha_self_attention_and_unbatched(torch, rng):
    tm, fm = torch.nn.MultiheadAttention(12, 3), nn.MultiheadAttention(12, 3)
    _to_fastnn(tm, fm)
    x = rng.standard_normal((6, 12)).astype(np.float32)       # unbatched (L, E)
    kpm = np.array([False, False, True, False, True, False])
    for kw in ({}, {"key_padding_mask": kpm}, {"attn_mask": rng.standard_normal((3, 6, 6)).astype(np.float32)},
               {"need_weights": False}):
        tm.zero_grad()
        fm.zero_grad()
        _run_both(torch, tm, fm, [x, x, x], kw)
    # one tensor for query, key and value (the packed projection)
    xs = rng.standard_normal((5, 2, 12)).astype(np.float32)
    tx, fx = torch.tensor(xs), fastnn.tensor(xs)
    np.testing.assert_allclose(fm(fx, fx, fx)[0].detach().numpy(), tm(tx, tx, tx)[0].detach().numpy(), **TOL)


def test_mha_state_dict_fastnn_to_torch(torch, rng):
    fm = nn.MultiheadAttention(8, 4, kdim=3, vdim=5, add_bias_kv=True, batch_first=True)
    tm = torch.nn.MultiheadAttention(8, 4, kdim=3, vdim=5, add_bias_kv=True, batch_first=True)
    _to_torch(torch, fm, tm)
    q, k, v = (rng.standard_normal(s).astype(np.float32) for s in ((2, 3, 8), (2, 4, 3), (2, 4, 5)))
    _run_both(torch, tm, fm, [q, k, v], {})


def test_mha_parameters_and_init():
    m = nn.MultiheadAttention(16, 4)
    names = dict(m.named_parameters())
    assert set(names) == {"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"}
    assert m.q_proj_weight is None and m.bias_k is None and m.head_dim == 4 and m._qkv_same_embed_dim
    bound = math.sqrt(6.0 / (16 + 48))
    w = m.in_proj_weight.detach().numpy()
    assert w.shape == (48, 16) and np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.all(m.in_proj_bias.detach().numpy() == 0) and np.all(m.out_proj.bias.detach().numpy() == 0)
    m2 = nn.MultiheadAttention(16, 4, kdim=5, vdim=6, bias=False, add_bias_kv=True)
    assert set(dict(m2.named_parameters())) == {"q_proj_weight", "k_proj_weight", "v_proj_weight", "bias_k",
                                                "bias_v", "out_proj.weight"}
    assert tuple(m2.k_proj_weight.shape) == (16, 5) and tuple(m2.bias_k.shape) == (1, 1, 16)


def test_mha_dropout_only_in_training(rng):
    m = nn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True)
    x = fastnn.tensor(rng.standard_normal((2, 5, 8)).astype(np.float32))
    m.eval()
    with fastnn.no_grad():
        a, wa = m(x, x, x)
        b, wb = m(x, x, x)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_allclose(wa.numpy().sum(-1), 1.0, rtol=1e-5)
        m.train()
        fastnn.manual_seed(4)
        c = m(x, x, x, need_weights=False)[0]
        fastnn.manual_seed(4)
        d, wd = m(x, x, x, average_attn_weights=False)
    assert not np.allclose(a.numpy(), c.numpy())
    # the fused path and the weights path draw the same mask for the same seed
    np.testing.assert_allclose(c.numpy(), d.numpy(), rtol=1e-5, atol=1e-6)
    assert np.isclose(np.mean(wd.numpy() == 0), 0.5, atol=0.15)


def test_mha_errors():
    with pytest.raises(AssertionError, match="divisible"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="greater than 0"):
        nn.MultiheadAttention(0, 2)
    m = nn.MultiheadAttention(8, 2)
    x = fastnn.randn(4, 2, 8)
    with pytest.raises(RuntimeError, match="2D attn_mask is \\(4, 5\\), but should be \\(4, 4\\)"):
        m(x, x, x, attn_mask=fastnn.zeros(4, 5))
    with pytest.raises(RuntimeError, match="3D attn_mask"):
        m(x, x, x, attn_mask=fastnn.zeros(2, 4, 4))
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        m(x, x, x, is_causal=True)
    with pytest.raises(AssertionError, match="key_padding_mask"):
        m(x, x, x, key_padding_mask=fastnn.zeros(2, 3).bool())
    with pytest.raises(AssertionError, match="embedding dimension of 8, but got 6"):
        m(fastnn.randn(4, 2, 6), x, x)
    with pytest.raises(AssertionError, match="only bool and floating"):
        m(x, x, x, attn_mask=fastnn.zeros(4, 4, dtype=fastnn.int64))
    with pytest.raises(AssertionError, match="3-D"):
        m(x, fastnn.randn(4, 8), x)


# ---------------------------------------------------------------------------- transformer layers

LAYER_CFGS = [{}, {"norm_first": True, "activation": "gelu", "batch_first": True}, {"bias": False}]


def _seq(rng, n, batch, d, bf):
    return rng.standard_normal((batch, n, d) if bf else (n, batch, d)).astype(np.float32)


def _masks(rng, N, L):
    kpm = rng.random((N, L)) < 0.3
    kpm[:, 0] = False
    return kpm


@pytest.mark.parametrize("cfg", LAYER_CFGS, ids=str)
def test_encoder_layer_and_encoder(torch, rng, cfg):
    E, H, N, L = 8, 2, 3, 5
    bf = cfg.get("batch_first", False)
    tl = torch.nn.TransformerEncoderLayer(E, H, 16, dropout=0.0, **cfg)
    fl = nn.TransformerEncoderLayer(E, H, 16, dropout=0.0, **cfg)
    _to_fastnn(tl, fl)
    x = _seq(rng, L, N, E, bf)
    causal = np.triu(np.full((L, L), -np.inf, np.float32), 1)
    kpm = _masks(rng, N, L)
    for kw in ({}, {"src_mask": causal, "is_causal": True}, {"src_key_padding_mask": kpm},
               {"src_mask": rng.random((L, L)) < 0.2, "src_key_padding_mask": kpm}):
        tl.zero_grad()
        fl.zero_grad()
        _run_both(torch, tl, fl, [x], kw, grad_inputs=1)
    te = torch.nn.TransformerEncoder(tl, 2, norm=torch.nn.LayerNorm(E), enable_nested_tensor=False)
    fe = nn.TransformerEncoder(fl, 2, norm=nn.LayerNorm(E))
    _to_fastnn(te, fe)
    for kw in ({"mask": causal}, {"src_key_padding_mask": kpm}):
        te.zero_grad()
        fe.zero_grad()
        _run_both(torch, te, fe, [x], kw, grad_inputs=1)


@pytest.mark.parametrize("cfg", LAYER_CFGS, ids=str)
def test_decoder_layer_and_decoder(torch, rng, cfg):
    E, H, N, L, S = 8, 2, 2, 4, 6
    bf = cfg.get("batch_first", False)
    tl = torch.nn.TransformerDecoderLayer(E, H, 16, dropout=0.0, **cfg)
    fl = nn.TransformerDecoderLayer(E, H, 16, dropout=0.0, **cfg)
    _to_fastnn(tl, fl)
    tgt, mem = _seq(rng, L, N, E, bf), _seq(rng, S, N, E, bf)
    causal = np.triu(np.full((L, L), -np.inf, np.float32), 1)
    kw = {"tgt_mask": causal, "tgt_key_padding_mask": _masks(rng, N, L),
          "memory_key_padding_mask": _masks(rng, N, S), "memory_mask": rng.random((L, S)) < 0.2}
    _run_both(torch, tl, fl, [tgt, mem], kw, grad_inputs=2)
    td = torch.nn.TransformerDecoder(tl, 2, norm=torch.nn.LayerNorm(E))
    fd = nn.TransformerDecoder(fl, 2, norm=nn.LayerNorm(E))
    _to_fastnn(td, fd)
    _run_both(torch, td, fd, [tgt, mem], {"tgt_mask": causal, "tgt_is_causal": True}, grad_inputs=2)


@pytest.mark.parametrize("cfg", [{}, {"batch_first": True, "norm_first": True, "activation": "gelu"}], ids=str)
def test_transformer_matches_torch(torch, rng, cfg):
    E, H, N, S, L = 8, 2, 2, 6, 5
    bf = cfg.get("batch_first", False)
    tm = torch.nn.Transformer(E, H, 2, 2, 16, dropout=0.0, **cfg)
    fm = nn.Transformer(E, H, 2, 2, 16, dropout=0.0, **cfg)
    _to_fastnn(tm, fm)
    src, tgt = _seq(rng, S, N, E, bf), _seq(rng, L, N, E, bf)
    kpm = _masks(rng, N, S)
    kw = {"tgt_mask": fm.generate_square_subsequent_mask(L).numpy(), "src_key_padding_mask": kpm,
          "memory_key_padding_mask": kpm, "tgt_key_padding_mask": _masks(rng, N, L)}
    _run_both(torch, tm, fm, [src, tgt], kw, grad_inputs=2)


def test_transformer_state_dict_fastnn_to_torch_and_init(torch, rng):
    fastnn.manual_seed(1)
    fm = nn.Transformer(8, 2, 1, 1, 16, dropout=0.0, activation=nn.functional.gelu)
    tm = torch.nn.Transformer(8, 2, 1, 1, 16, dropout=0.0, activation=torch.nn.functional.gelu)
    assert list(fm.state_dict()) == list(tm.state_dict())
    for name, p in fm.named_parameters():      # xavier_uniform_ over every matrix
        if p.dim() > 1:
            fan_out, fan_in = p.shape[0], p.shape[1]
            assert np.abs(p.detach().numpy()).max() <= math.sqrt(6.0 / (fan_in + fan_out)) + 1e-7, name
    _to_torch(torch, fm, tm)
    src, tgt = _seq(rng, 5, 2, 8, False), _seq(rng, 3, 2, 8, False)
    _run_both(torch, tm, fm, [src, tgt], {}, grad_inputs=2)


def test_generate_square_subsequent_mask(torch):
    m = nn.Transformer.generate_square_subsequent_mask(5)
    np.testing.assert_array_equal(m.numpy(), torch.nn.Transformer.generate_square_subsequent_mask(5).numpy())
    assert m.dtype == fastnn.float32
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype=fastnn.float64).dtype == fastnn.float64


def test_layer_attributes_and_activation():
    layer = nn.TransformerEncoderLayer(8, 2)
    assert layer.self_attn.dropout == 0.1 and layer.linear1.out_features == 2048
    assert layer.activation is nn.functional.relu and layer.activation_relu_or_gelu == 1
    assert nn.TransformerEncoderLayer(8, 2, activation="gelu").activation_relu_or_gelu == 2
    relu6 = nn.ReLU6()
    assert nn.TransformerDecoderLayer(8, 2, activation=relu6).activation is relu6
    with pytest.raises(RuntimeError, match="relu/gelu"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    enc = nn.TransformerEncoder(layer, 3)
    assert [n for n, _ in enc.named_children()] == ["layers"] and len(enc.layers) == 3
    assert enc.layers[0] is not enc.layers[1]


def test_transformer_errors():
    m = nn.Transformer(8, 2, 1, 1, 16)
    with pytest.raises(RuntimeError, match="batch number"):
        m(fastnn.randn(4, 2, 8), fastnn.randn(3, 3, 8))
    with pytest.raises(RuntimeError, match="d_model"):
        m(fastnn.randn(4, 2, 6), fastnn.randn(3, 2, 6))


def test_encoder_trains_in_training_mode(rng):
    """Dropout on: a few Adam steps on a tiny copy task lower the loss (the whole stack is differentiable)."""
    fastnn.manual_seed(0)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 4, 32, dropout=0.1, batch_first=True), 2)
    head = nn.Linear(16, 16)
    opt = fastnn.optim.Adam(list(enc.parameters()) + list(head.parameters()), lr=1e-2)
    x = fastnn.tensor(rng.standard_normal((8, 6, 16)).astype(np.float32))
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = ((head(enc(x, mask=nn.Transformer.generate_square_subsequent_mask(6))) - x) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
