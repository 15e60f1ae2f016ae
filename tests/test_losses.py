"""Losses and functional ops of fastnn.nn against PyTorch: values and gradients, every reduction."""
import numpy as np
import pytest

import fastnn
import fastnn.nn as nn
import fastnn.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(1234)
REDUCTIONS = ["mean", "sum", "none"]


def pair(arr, requires_grad=True):
    """The same float64 data as a fastnn and a torch tensor."""
    a = np.array(arr, dtype=np.float64)
    return (fastnn.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


def check(out_f, out_t, inputs, rtol=1e-7, atol=1e-9):
    """Compare values, then backprop the same random cotangent and compare gradients of all inputs."""
    np.testing.assert_allclose(out_f.detach().numpy(), out_t.detach().numpy(), rtol=rtol, atol=atol)
    g = RNG.standard_normal(tuple(out_t.shape))
    out_f.backward(fastnn.tensor(g))
    out_t.backward(torch.tensor(g))
    for k, (a, b) in enumerate(inputs):
        if b.grad is None:
            assert a.grad is None or np.all(a.grad.numpy() == 0), f"input {k}"
            continue
        assert a.grad is not None, f"input {k} has no gradient"
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"input {k}")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_pointwise_losses(name, reduction):
    x = pair(RNG.standard_normal((7, 3)))
    y = pair(RNG.standard_normal((7, 3)))
    check(getattr(F, name)(x[0], y[0], reduction=reduction), getattr(TF, name)(x[1], y[1], reduction=reduction),
          [x, y])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.3, 2.5])
def test_huber_and_smooth_l1(reduction, delta):
    x = pair(RNG.standard_normal((5, 11)) * 2)
    y = pair(RNG.standard_normal((5, 11)))
    check(F.huber_loss(x[0], y[0], reduction=reduction, delta=delta),
          TF.huber_loss(x[1], y[1], reduction=reduction, delta=delta), [x, y])
    x = pair(RNG.standard_normal((5, 11)) * 2)
    y = pair(RNG.standard_normal((5, 11)))
    check(nn.SmoothL1Loss(reduction=reduction, beta=delta)(x[0], y[0]),
          torch.nn.SmoothL1Loss(reduction=reduction, beta=delta)(x[1], y[1]), [x, y])


def test_smooth_l1_beta_zero_is_l1():
    x = pair(RNG.standard_normal((4, 3)))
    y = pair(RNG.standard_normal((4, 3)))
    check(F.smooth_l1_loss(x[0], y[0], beta=0.0), TF.smooth_l1_loss(x[1], y[1], beta=0.0), [x, y])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce(reduction, weighted):
    p = RNG.uniform(0.02, 0.98, (6, 4))
    p[0, 0], p[0, 1] = 0.0, 1.0     # exact 0/1 probabilities: the log is clamped at -100
    x = pair(p)
    y = pair(RNG.uniform(0, 1, (6, 4)))
    w = pair(RNG.uniform(0.5, 2, (4,)), requires_grad=False) if weighted else (None, None)
    out_f = nn.BCELoss(weight=w[0], reduction=reduction)(x[0], y[0])
    out_t = torch.nn.BCELoss(weight=w[1], reduction=reduction)(x[1], y[1])
    check(out_f, out_t, [x, y], rtol=1e-6)


def test_bce_rejects_out_of_range_input():
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(fastnn.tensor([0.5, 1.5]), fastnn.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="target size"):
        F.binary_cross_entropy(fastnn.tensor([0.5, 0.5]), fastnn.tensor([0.0, 1.0, 1.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_with_logits(reduction, pos_weight, weighted):
    logits = RNG.standard_normal((5, 3)) * 4
    logits[0, 0] = 0.0
    logits[1, 0], logits[1, 1] = 60.0, -60.0   # far into both tails: must stay finite
    x = pair(logits)
    y = pair(RNG.uniform(0, 1, (5, 3)))
    pw = pair(RNG.uniform(0.5, 3, (3,)), requires_grad=False) if pos_weight else (None, None)
    w = pair(RNG.uniform(0.5, 2, (5, 1)), requires_grad=False) if weighted else (None, None)
    out_f = nn.BCEWithLogitsLoss(weight=w[0], pos_weight=pw[0], reduction=reduction)(x[0], y[0])
    out_t = torch.nn.BCEWithLogitsLoss(weight=w[1], pos_weight=pw[1], reduction=reduction)(x[1], y[1])
    check(out_f, out_t, [x, y])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.35])
@pytest.mark.parametrize("ignore", [False, True])
def test_cross_entropy_indices(reduction, weighted, smoothing, ignore):
    N, C = 9, 5
    x = pair(RNG.standard_normal((N, C)) * 3)
    t = RNG.integers(0, C, N)
    ignore_index = -100
    if ignore:
        ignore_index = 2
        t[:3] = 2
    w = pair(RNG.uniform(0.2, 3, C), requires_grad=False) if weighted else (None, None)
    kw = dict(reduction=reduction, label_smoothing=smoothing, ignore_index=ignore_index)
    out_f = nn.CrossEntropyLoss(weight=w[0], **kw)(x[0], fastnn.tensor(t))
    out_t = torch.nn.CrossEntropyLoss(weight=w[1], **kw)(x[1], torch.tensor(t))
    check(out_f, out_t, [x])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_spatial(reduction, smoothing):
    # (N, C, d1, d2) logits, (N, d1, d2) targets, weights and an ignored class
    x = pair(RNG.standard_normal((2, 4, 3, 5)))
    t = RNG.integers(0, 4, (2, 3, 5))
    t[0, 0, :2] = -1
    w = pair(RNG.uniform(0.5, 2, 4), requires_grad=False)
    kw = dict(reduction=reduction, label_smoothing=smoothing, ignore_index=-1)
    check(F.cross_entropy(x[0], fastnn.tensor(t), weight=w[0], **kw),
          TF.cross_entropy(x[1], torch.tensor(t), weight=w[1], **kw), [x])


def test_cross_entropy_unbatched():
    x = pair(RNG.standard_normal(6))
    for reduction in REDUCTIONS:
        x[0].grad = None
        x[1].grad = None
        check(F.cross_entropy(x[0], fastnn.tensor(3), reduction=reduction),
              TF.cross_entropy(x[1], torch.tensor(3), reduction=reduction), [x])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_probabilities(reduction, weighted, smoothing):
    N, C = 6, 4
    x = pair(RNG.standard_normal((N, C)))
    p = RNG.uniform(0, 1, (N, C))
    y = pair(p / p.sum(1, keepdims=True))      # the target gets a gradient too
    w = pair(RNG.uniform(0.5, 2, C), requires_grad=False) if weighted else (None, None)
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    check(F.cross_entropy(x[0], y[0], weight=w[0], **kw), TF.cross_entropy(x[1], y[1], weight=w[1], **kw), [x, y])


def test_cross_entropy_all_ignored_is_nan_like_torch():
    x = fastnn.randn(3, 4, dtype=fastnn.float64)
    t = fastnn.tensor([-100, -100, -100])
    assert np.isnan(F.cross_entropy(x, t).item())
    assert np.isnan(TF.cross_entropy(torch.tensor(x.numpy()), torch.tensor(t.numpy())).item())


def test_cross_entropy_bad_inputs():
    x = fastnn.randn(4, 3)
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(x, fastnn.tensor([0, 1, 3, 0]))
    with pytest.raises(ValueError, match="shape"):
        F.cross_entropy(x, fastnn.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, fastnn.tensor([0, 1, 2, 0]), reduction="avg")
    with pytest.raises(ValueError, match="weight"):
        F.cross_entropy(x, fastnn.tensor([0, 1, 2, 0]), weight=fastnn.ones(4))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, fastnn.tensor([0, 1, 2, 0]), label_smoothing=1.5)


def test_cross_entropy_float32_matches():
    x = RNG.standard_normal((128, 10)).astype(np.float32)
    t = RNG.integers(0, 10, 128)
    xf = fastnn.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    lf = F.cross_entropy(xf, fastnn.tensor(t))
    lt = TF.cross_entropy(xt, torch.tensor(t))
    assert lf.dtype == fastnn.float32
    np.testing.assert_allclose(lf.item(), lt.item(), rtol=1e-6)
    lf.backward()
    lt.backward()
    np.testing.assert_allclose(xf.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss(reduction, weighted):
    x = pair(RNG.standard_normal((7, 5)))
    t = RNG.integers(0, 5, 7)
    t[1] = -100
    w = pair(RNG.uniform(0.5, 2, 5), requires_grad=False) if weighted else (None, None)
    check(nn.NLLLoss(weight=w[0], reduction=reduction)(x[0], fastnn.tensor(t)),
          torch.nn.NLLLoss(weight=w[1], reduction=reduction)(x[1], torch.tensor(t)), [x])


def test_log_softmax_then_nll_equals_cross_entropy():
    x = fastnn.randn(5, 7, dtype=fastnn.float64)
    t = fastnn.randint(0, 7, (5,))
    a = F.nll_loss(F.log_softmax(x, dim=1), t)
    b = F.cross_entropy(x, t)
    np.testing.assert_allclose(a.item(), b.item(), rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    x = pair(np.log(RNG.dirichlet(np.ones(5), 4)))
    tp = RNG.dirichlet(np.ones(5), 4)
    tp[0, 1] = 0.0      # a zero probability contributes 0 (xlogy), not nan
    y = pair(np.log(tp + 1e-300) if log_target else tp)
    kw = dict(reduction=reduction, log_target=log_target)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out_f = nn.KLDivLoss(**kw)(x[0], y[0])
        out_t = torch.nn.KLDivLoss(**kw)(x[1], y[1])
    check(out_f, out_t, [x])


def test_one_hot():
    t = fastnn.tensor([[0, 3], [1, 2]])
    out = F.one_hot(t)
    ref = TF.one_hot(torch.tensor(t.numpy()))
    assert out.dtype == fastnn.int64
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    np.testing.assert_array_equal(F.one_hot(t, num_classes=6).numpy(),
                                  TF.one_hot(torch.tensor(t.numpy()), num_classes=6).numpy())
    with pytest.raises(RuntimeError):
        F.one_hot(fastnn.tensor([0, 5]), num_classes=3)
    with pytest.raises(TypeError):
        F.one_hot(fastnn.tensor([0.0, 1.0]))


ACTIVATIONS = [
    ("relu", {}), ("leaky_relu", {"negative_slope": 0.2}), ("elu", {"alpha": 1.3}), ("selu", {}),
    ("celu", {"alpha": 0.7}), ("gelu", {}), ("gelu", {"approximate": "tanh"}), ("silu", {}), ("mish", {}),
    ("sigmoid", {}), ("tanh", {}), ("hardtanh", {"min_val": -0.5, "max_val": 0.8}), ("relu6", {}),
    ("hardsigmoid", {}), ("hardswish", {}), ("softplus", {}), ("softplus", {"beta": 2.0, "threshold": 3.0}),
    ("softsign", {}), ("tanhshrink", {}), ("logsigmoid", {}), ("softmax", {"dim": 1}), ("softmin", {"dim": 0}),
    ("log_softmax", {"dim": 1}), ("hardshrink", {"lambd": 0.3}), ("softshrink", {"lambd": 0.3}),
]


@pytest.mark.parametrize("name,kw", ACTIVATIONS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ACTIVATIONS)])
def test_activations_vs_torch(name, kw):
    data = RNG.standard_normal((6, 7)) * 3
    data[0, :3] = [50.0, -50.0, 700.0]      # large magnitudes must not overflow
    x = pair(data)
    check(getattr(F, name)(x[0], **kw), getattr(TF, name)(x[1], **kw), [x], rtol=1e-6, atol=1e-9)


MODULE_ACTIVATIONS = [
    ("ReLU", ()), ("LeakyReLU", (0.1,)), ("ELU", ()), ("GELU", ()), ("SiLU", ()), ("Sigmoid", ()), ("Tanh", ()),
    ("Softmax", (1,)), ("LogSoftmax", (1,)), ("Softplus", ()), ("Hardtanh", ()), ("Mish", ()), ("Softmin", (1,)),
    ("ReLU6", ()), ("SELU", ()), ("CELU", ()), ("Hardswish", ()), ("Hardsigmoid", ()), ("LogSigmoid", ()),
    ("Softsign", ()), ("Tanhshrink", ()), ("Threshold", (0.1, -2.0)), ("GLU", ()),
]


@pytest.mark.parametrize("name,args", MODULE_ACTIVATIONS, ids=[m for m, _ in MODULE_ACTIVATIONS])
def test_activation_modules_vs_torch(name, args):
    x = pair(RNG.standard_normal((4, 6)))
    mf = getattr(nn, name)(*args)
    mt = getattr(torch.nn, name)(*args)
    assert repr(mf) == repr(mt)
    check(mf(x[0]), mt(x[1]), [x], rtol=1e-6)


def test_prelu_vs_torch():
    x = pair(RNG.standard_normal((3, 4, 5)))
    mf = nn.PReLU(4, dtype=fastnn.float64)
    mt = torch.nn.PReLU(4).double()
    mf.weight.data = fastnn.tensor(RNG.uniform(0, 0.5, 4))
    with torch.no_grad():
        mt.weight.copy_(torch.tensor(mf.weight.detach().numpy()))
    check(mf(x[0]), mt(x[1]), [x])
    np.testing.assert_allclose(mf.weight.grad.numpy(), mt.weight.grad.numpy(), rtol=1e-7)


def test_activation_gradgrad():
    # second derivatives through the activations used by critics (WGAN-GP)
    for name, kw in [("leaky_relu", {"negative_slope": 0.2}), ("gelu", {}), ("softplus", {}), ("elu", {}),
                     ("silu", {}), ("tanh", {}), ("sigmoid", {})]:
        x = fastnn.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
        fn = (lambda t, name=name, kw=kw: getattr(F, name)(t, **kw))
        assert fastnn.autograd.gradgradcheck(fn, (x,)), name


def test_linear_functional_and_gradgrad():
    x = pair(RNG.standard_normal((5, 3, 4)))
    w = pair(RNG.standard_normal((6, 4)))
    b = pair(RNG.standard_normal(6))
    check(F.linear(x[0], w[0], b[0]), TF.linear(x[1], w[1], b[1]), [x, w, b])
    xs = [fastnn.tensor(RNG.standard_normal((3, 4)), requires_grad=True),
          fastnn.tensor(RNG.standard_normal((2, 4)), requires_grad=True),
          fastnn.tensor(RNG.standard_normal(2), requires_grad=True)]
    assert fastnn.autograd.gradcheck(F.linear, tuple(xs))
    assert fastnn.autograd.gradgradcheck(F.linear, tuple(xs))


def test_wgan_gp_penalty_through_linear_matches_torch():
    # penalty = (||d critic / d x|| - 1)^2, back-propagated into the critic's weights
    xs = RNG.standard_normal((4, 3))
    w1, b1 = RNG.standard_normal((5, 3)), RNG.standard_normal(5)
    w2, b2 = RNG.standard_normal((1, 5)), RNG.standard_normal(1)
    grads = []
    for lib, Fn in ((fastnn, F), (torch, TF)):
        x = lib.tensor(xs, requires_grad=True)
        params = [lib.tensor(a, requires_grad=True) for a in (w1, b1, w2, b2)]
        out = Fn.linear(Fn.leaky_relu(Fn.linear(x, params[0], params[1]), 0.2), params[2], params[3])
        (gx,) = lib.autograd.grad(out.sum(), x, create_graph=True)
        penalty = ((gx.norm(2, dim=1) - 1) ** 2).mean()
        penalty.backward()
        # the biases only move the kinks: their gradient is zero (or absent) in both
        grads.append([params[0].grad.detach().numpy(), params[2].grad.detach().numpy()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_vs_torch(mode):
    x = pair(RNG.standard_normal((2, 3, 5, 6)))
    pads = (2, 1, 1, 3) if mode != "constant" else (2, -1, 0, 3)
    kw = {"value": 1.5} if mode == "constant" else {}
    check(F.pad(x[0], pads, mode=mode, **kw), TF.pad(x[1], pads, mode=mode, **kw), [x])


def test_normalize_and_cosine_similarity():
    x = pair(RNG.standard_normal((4, 6)))
    check(F.normalize(x[0], dim=1), TF.normalize(x[1], dim=1), [x])
    x = pair(RNG.standard_normal((4, 6)))
    check(F.normalize(x[0], p=1.0, dim=0), TF.normalize(x[1], p=1.0, dim=0), [x])
    a = pair(RNG.standard_normal((5, 7)))
    b = pair(RNG.standard_normal((5, 7)))
    check(F.cosine_similarity(a[0], b[0]), TF.cosine_similarity(a[1], b[1]), [a, b])


def test_dropout_statistics_and_modes():
    fastnn.manual_seed(0)
    x = fastnn.ones(200, 500, requires_grad=True)
    y = F.dropout(x, p=0.3, training=True)
    kept = y.detach().numpy() != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy() != 0, kept)
    assert F.dropout(x, 0.3, training=False) is x
    assert np.all(F.dropout(x, 1.0).detach().numpy() == 0)
    with pytest.raises(ValueError, match="probability"):
        F.dropout(x, 1.5)
    m = nn.Dropout(0.5)
    m.eval()
    assert m(x) is x
    m.train()
    fastnn.manual_seed(3)
    a = m(x).detach().numpy()
    fastnn.manual_seed(3)
    b = m(x).detach().numpy()
    np.testing.assert_array_equal(a, b)     # seeded by fastnn.manual_seed


def test_loss_module_reprs_and_buffers():
    w = fastnn.ones(3)
    ce = nn.CrossEntropyLoss(weight=w, label_smoothing=0.1)
    assert ce.weight is w
    assert "weight" in dict(ce.named_buffers())
    assert repr(ce) == "CrossEntropyLoss()"
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="bad")(fastnn.ones(2), fastnn.ones(2))


def _signs(shape):
    return np.where(RNG.uniform(size=shape) > 0.5, 1.0, -1.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_other_losses_vs_torch(reduction):
    x = pair(RNG.standard_normal((6, 4)))
    s = pair(_signs((6, 4)), requires_grad=False)
    check(nn.SoftMarginLoss(reduction=reduction)(x[0], s[0]),
          torch.nn.SoftMarginLoss(reduction=reduction)(x[1], s[1]), [x])
    a, b = pair(RNG.standard_normal(7)), pair(RNG.standard_normal(7))
    s = pair(_signs(7), requires_grad=False)
    check(nn.MarginRankingLoss(margin=0.3, reduction=reduction)(a[0], b[0], s[0]),
          torch.nn.MarginRankingLoss(margin=0.3, reduction=reduction)(a[1], b[1], s[1]), [a, b])
    x = pair(RNG.standard_normal((5, 3)))
    s = pair(_signs((5, 3)), requires_grad=False)
    check(nn.HingeEmbeddingLoss(margin=0.7, reduction=reduction)(x[0], s[0]),
          torch.nn.HingeEmbeddingLoss(margin=0.7, reduction=reduction)(x[1], s[1]), [x])
    a, b = pair(RNG.standard_normal((5, 6))), pair(RNG.standard_normal((5, 6)))
    s = pair(_signs(5), requires_grad=False)
    check(nn.CosineEmbeddingLoss(margin=0.1, reduction=reduction)(a[0], b[0], s[0]),
          torch.nn.CosineEmbeddingLoss(margin=0.1, reduction=reduction)(a[1], b[1], s[1]), [a, b])
    x = pair(RNG.standard_normal((4, 3)))
    y = pair(RNG.poisson(2.0, (4, 3)).astype(np.float64), requires_grad=False)
    for log_input, full in [(True, False), (True, True), (False, False)]:
        xi = pair(np.abs(RNG.standard_normal((4, 3))) + 0.1) if not log_input else pair(RNG.standard_normal((4, 3)))
        check(nn.PoissonNLLLoss(log_input=log_input, full=full, reduction=reduction)(xi[0], y[0]),
              torch.nn.PoissonNLLLoss(log_input=log_input, full=full, reduction=reduction)(xi[1], y[1]), [xi])
    mu, tgt = pair(RNG.standard_normal((5, 2))), pair(RNG.standard_normal((5, 2)), requires_grad=False)
    var = pair(RNG.uniform(0.1, 2.0, (5, 2)))
    check(nn.GaussianNLLLoss(full=True, reduction=reduction)(mu[0], tgt[0], var[0]),
          torch.nn.GaussianNLLLoss(full=True, reduction=reduction)(mu[1], tgt[1], var[1]), [mu, var])
    an, po, ne = (pair(RNG.standard_normal((4, 5))) for _ in range(3))
    check(nn.TripletMarginLoss(margin=0.5, reduction=reduction)(an[0], po[0], ne[0]),
          torch.nn.TripletMarginLoss(margin=0.5, reduction=reduction)(an[1], po[1], ne[1]), [an, po, ne])


def test_feature_dropout_shares_mask_over_space():
    fastnn.manual_seed(1)
    x = fastnn.ones(4, 6, 5, 5)
    y = nn.Dropout2d(0.5)(x).numpy()
    per_channel = y.reshape(4, 6, -1)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))       # whole channels kept or dropped
    assert set(np.unique(y)) <= {0.0, 2.0}
    with pytest.raises(ValueError):
        F.dropout2d(fastnn.ones(3, 3), 0.5)
    m = nn.AlphaDropout(0.2)
    m.eval()
    assert m(x) is x


def test_loss_gradgrad():
    # losses recorded with create_graph=True stay differentiable (their backward is in Tensor ops then)
    x = fastnn.tensor(RNG.standard_normal((4, 3)), requires_grad=True)
    t = fastnn.tensor(RNG.integers(0, 3, 4))
    w = fastnn.tensor(RNG.uniform(0.5, 2, 3))
    p = RNG.uniform(0, 1, (4, 3))
    probs = fastnn.tensor(p / p.sum(1, keepdims=True))
    y01 = fastnn.tensor(RNG.uniform(0, 1, (4, 3)))
    cases = [
        lambda a: F.cross_entropy(a, t, weight=w, label_smoothing=0.1),
        lambda a: F.cross_entropy(a, t, reduction="none"),
        lambda a: F.cross_entropy(a, probs),
        lambda a: F.nll_loss(F.log_softmax(a, 1), t),
        lambda a: F.binary_cross_entropy(a.sigmoid(), y01),
        lambda a: F.binary_cross_entropy_with_logits(a, y01, pos_weight=fastnn.tensor([1.0, 2.0, 0.5],
                                                                                     dtype=fastnn.float64)),
    ]
    for k, fn in enumerate(cases):
        assert fastnn.autograd.gradgradcheck(fn, (x,)), k


def test_empty_batch_like_torch():
    for reduction in REDUCTIONS:
        x = fastnn.randn(0, 4, requires_grad=True)
        t = fastnn.tensor(np.zeros(0, dtype=np.int64))
        for fn, tfn in ((F.cross_entropy, TF.cross_entropy), (F.nll_loss, TF.nll_loss)):
            a = fn(x, t, reduction=reduction)
            b = tfn(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), reduction=reduction)
            assert tuple(a.shape) == tuple(b.shape)
            np.testing.assert_array_equal(a.detach().numpy(), b.numpy())
        a = F.cross_entropy(x, fastnn.zeros(0, 4), reduction=reduction)
        b = TF.cross_entropy(torch.zeros(0, 4), torch.zeros(0, 4), reduction=reduction)
        np.testing.assert_array_equal(a.detach().numpy(), b.numpy())
