"""fastnn.distributions against torch.distributions: values and gradients on random shapes (float32 and
float64), sampling statistics, seeded reproducibility, validation errors and sample shapes."""
import numpy as np
import pytest

import fastnn
from fastnn import distributions as D

SHAPES = [(), (1,), (5,), (3, 4), (2, 1, 3)]
DTYPES = [np.float32, np.float64]


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)


def _pair(torch, a):
    """The same leaf array as a fastnn tensor and a torch tensor, both requiring grad."""
    return fastnn.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _check(torch, out_f, out_t, leaves, dtype):
    tol = _tol(dtype)
    np.testing.assert_allclose(out_f.detach().numpy(), out_t.detach().numpy(), **tol)
    g = np.random.default_rng(7).standard_normal(tuple(out_t.shape)).astype(dtype)
    # retained: a lazily derived probs/logits is shared by the outputs checked one after another
    (out_f * fastnn.tensor(g)).sum().backward(retain_graph=True)
    (out_t * torch.tensor(g)).sum().backward(retain_graph=True)
    for lf, lt in leaves:
        # a leaf the output does not depend on keeps grad None in both libraries
        assert (lf.grad is None) == (lt.grad is None)
        if lt.grad is not None:
            np.testing.assert_allclose(lf.grad.numpy(), lt.grad.numpy(), **tol)
        lf.grad = None
        lt.grad = None


# ------------------------------------------------------------------ Normal

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_matches_torch(torch, rng, shape, dtype):
    loc_f, loc_t = _pair(torch, rng.standard_normal(shape).astype(dtype))
    scale_f, scale_t = _pair(torch, rng.uniform(0.3, 2.0, shape).astype(dtype))
    x = rng.standard_normal(shape).astype(dtype) * 2
    p = rng.uniform(0.01, 0.99, shape).astype(dtype)
    f, t = D.Normal(loc_f, scale_f), torch.distributions.Normal(loc_t, scale_t)
    assert tuple(f.batch_shape) == tuple(t.batch_shape) and tuple(f.event_shape) == tuple(t.event_shape)
    leaves = [(loc_f, loc_t), (scale_f, scale_t)]
    _check(torch, f.log_prob(fastnn.tensor(x)), t.log_prob(torch.tensor(x)), leaves, dtype)
    _check(torch, f.entropy(), t.entropy(), leaves, dtype)
    _check(torch, f.cdf(fastnn.tensor(x)), t.cdf(torch.tensor(x)), leaves, dtype)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-9)
    out_f, out_t = f.icdf(fastnn.tensor(p)), t.icdf(torch.tensor(p))
    np.testing.assert_allclose(out_f.detach().numpy(), out_t.detach().numpy(), **tol)
    for a, b in [(f.mean, t.mean), (f.mode, t.mode), (f.stddev, t.stddev), (f.variance, t.variance)]:
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **_tol(dtype))


def test_normal_broadcasts_numbers_and_tensors(torch):
    f = D.Normal(0.5, fastnn.tensor([[1.0, 2.0, 3.0]]))
    t = torch.distributions.Normal(0.5, torch.tensor([[1.0, 2.0, 3.0]]))
    assert tuple(f.batch_shape) == tuple(t.batch_shape) == (1, 3)
    x = np.array([[0.1], [-1.0]], dtype=np.float32)
    np.testing.assert_allclose(f.log_prob(fastnn.tensor(x)).numpy(), t.log_prob(torch.tensor(x)).numpy(), rtol=1e-6)
    assert tuple(D.Normal(0.0, 1.0).batch_shape) == ()
    assert D.Normal(0.0, 1.0).sample().shape == ()


def test_normal_rsample_reparameterised_and_seeded():
    loc = fastnn.tensor([0.5, -1.0], dtype=fastnn.float64, requires_grad=True)
    scale = fastnn.tensor([2.0, 0.5], dtype=fastnn.float64, requires_grad=True)
    fastnn.manual_seed(3)
    z = D.Normal(loc, scale).rsample((4,))
    fastnn.manual_seed(3)
    eps = fastnn.randn(4, 2, dtype=fastnn.float64)
    np.testing.assert_allclose(z.detach().numpy(), loc.detach().numpy() + eps.numpy() * scale.detach().numpy(),
                               rtol=1e-12)
    z.sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [4.0, 4.0])
    np.testing.assert_allclose(scale.grad.numpy(), eps.numpy().sum(0), rtol=1e-12)
    fastnn.manual_seed(11)
    a = D.Normal(loc, scale).sample((3,))
    fastnn.manual_seed(11)
    b = D.Normal(loc, scale).sample((3,))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not a.requires_grad


def test_normal_sampling_statistics():
    d = D.Normal(fastnn.tensor([1.0, -2.0]), fastnn.tensor([0.5, 3.0]))
    s = d.sample((40000,)).numpy()
    np.testing.assert_allclose(s.mean(0), [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(s.std(0), [0.5, 3.0], rtol=0.03)


def test_normal_gradcheck():
    loc = fastnn.tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)
    scale = fastnn.tensor(np.random.default_rng(1).uniform(0.5, 2, (2, 3)), requires_grad=True)
    x = fastnn.tensor(np.random.default_rng(2).standard_normal((2, 3)))
    p = fastnn.tensor(np.random.default_rng(3).uniform(0.05, 0.95, (2, 3)), requires_grad=True)
    assert fastnn.autograd.gradcheck(lambda m, s: D.Normal(m, s).log_prob(x), (loc, scale))
    assert fastnn.autograd.gradgradcheck(lambda m, s: D.Normal(m, s).log_prob(x), (loc, scale))
    assert fastnn.autograd.gradcheck(lambda m, s, q: D.Normal(m, s).icdf(q), (loc, scale, p))
    assert fastnn.autograd.gradgradcheck(lambda m, s, q: D.Normal(m, s).icdf(q), (loc, scale, p))


def test_erfinv_matches_torch(torch):
    y = np.concatenate([np.linspace(-1, 1, 2001), [-0.999999, 0.999999, 1e-12]])
    for dtype, tol in [(np.float64, 1e-9), (np.float32, 2e-5)]:
        a = fastnn.erfinv(fastnn.tensor(y.astype(dtype))).numpy()
        b = torch.erfinv(torch.tensor(y.astype(dtype))).numpy()
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    assert np.isnan(fastnn.tensor([1.5, -2.0]).erfinv().numpy()).all()


# ------------------------------------------------------------------ Bernoulli

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("param", ["probs", "logits"])
def test_bernoulli_matches_torch(torch, rng, shape, dtype, param):
    a = rng.uniform(0.05, 0.95, shape) if param == "probs" else rng.standard_normal(shape) * 3
    pf, pt = _pair(torch, a.astype(dtype))
    f, t = D.Bernoulli(**{param: pf}), torch.distributions.Bernoulli(**{param: pt})
    assert tuple(f.batch_shape) == tuple(t.batch_shape)
    x = (rng.uniform(size=shape) < 0.5).astype(dtype)
    leaves = [(pf, pt)]
    _check(torch, f.log_prob(fastnn.tensor(x)), t.log_prob(torch.tensor(x)), leaves, dtype)
    _check(torch, f.entropy(), t.entropy(), leaves, dtype)
    _check(torch, f.probs * 1, t.probs * 1, leaves, dtype)
    _check(torch, f.logits * 1, t.logits * 1, leaves, dtype)
    for a_, b_ in [(f.mean, t.mean), (f.variance, t.variance), (f.mode, t.mode)]:
        np.testing.assert_allclose(a_.detach().numpy(), b_.detach().numpy(), **_tol(dtype))


def test_bernoulli_sampling():
    p = fastnn.tensor([0.1, 0.5, 0.9])
    s = D.Bernoulli(probs=p).sample((20000,))
    assert tuple(s.shape) == (20000, 3) and s.dtype == fastnn.float32
    np.testing.assert_allclose(s.numpy().mean(0), [0.1, 0.5, 0.9], atol=0.015)
    fastnn.manual_seed(5)
    a = D.Bernoulli(logits=fastnn.zeros(4)).sample((2,))
    fastnn.manual_seed(5)
    b = D.Bernoulli(logits=fastnn.zeros(4)).sample((2,))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert D.Bernoulli(0.3).sample().shape == ()


def test_bernoulli_needs_exactly_one_parameter():
    with pytest.raises(ValueError, match="probs.*logits"):
        D.Bernoulli()
    with pytest.raises(ValueError, match="probs.*logits"):
        D.Bernoulli(probs=0.5, logits=0.0)


# ------------------------------------------------------------------ Categorical

@pytest.mark.parametrize("shape", [(1,), (4,), (3, 5), (2, 3, 2)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("param", ["probs", "logits"])
def test_categorical_matches_torch(torch, rng, shape, dtype, param):
    a = rng.uniform(0.05, 2.0, shape) if param == "probs" else rng.standard_normal(shape) * 2
    pf, pt = _pair(torch, a.astype(dtype))
    f, t = D.Categorical(**{param: pf}), torch.distributions.Categorical(**{param: pt})
    assert tuple(f.batch_shape) == tuple(t.batch_shape) and tuple(f.event_shape) == ()
    x = rng.integers(0, shape[-1], (2,) + shape[:-1])
    leaves = [(pf, pt)]
    _check(torch, f.log_prob(fastnn.tensor(x)), t.log_prob(torch.tensor(x)), leaves, dtype)
    _check(torch, f.entropy(), t.entropy(), leaves, dtype)
    _check(torch, f.probs * 1, t.probs * 1, leaves, dtype)
    np.testing.assert_array_equal(f.mode.numpy(), t.mode.numpy())


def test_categorical_sampling_and_shapes():
    probs = fastnn.tensor([[0.2, 0.3, 0.5], [0.7, 0.0, 0.3]])
    d = D.Categorical(probs=probs * 4)  # normalised along the last dim
    np.testing.assert_allclose(d.probs.numpy(), probs.numpy(), rtol=1e-6)
    s = d.sample((30000,))
    assert tuple(s.shape) == (30000, 2) and s.dtype == fastnn.int64
    for row in range(2):
        freq = np.bincount(s.numpy()[:, row], minlength=3) / 30000
        np.testing.assert_allclose(freq, probs.numpy()[row], atol=0.015)
    assert tuple(d.sample().shape) == (2,)
    assert tuple(d.sample((2, 3)).shape) == (2, 3, 2)
    fastnn.manual_seed(2)
    a = d.sample((5,))
    fastnn.manual_seed(2)
    np.testing.assert_array_equal(a.numpy(), d.sample((5,)).numpy())


def test_categorical_errors():
    with pytest.raises(ValueError, match="one-dimensional"):
        D.Categorical(probs=fastnn.tensor(0.5))
    with pytest.raises(ValueError, match="probs.*Simplex"):
        D.Categorical(probs=fastnn.tensor([0.5, -0.1, 0.6]))
    with pytest.raises(ValueError, match="support"):
        D.Categorical(logits=fastnn.zeros(3)).log_prob(fastnn.tensor([3]))


# ------------------------------------------------------------------ Independent

def test_independent_matches_torch(torch, rng):
    loc_f, loc_t = _pair(torch, rng.standard_normal((2, 3, 4)))
    scale_f, scale_t = _pair(torch, rng.uniform(0.5, 2, (2, 3, 4)))
    x = rng.standard_normal((5, 2, 3, 4))
    for n in (0, 1, 2, 3):
        f = D.Independent(D.Normal(loc_f, scale_f), n)
        t = torch.distributions.Independent(torch.distributions.Normal(loc_t, scale_t), n)
        assert tuple(f.batch_shape) == tuple(t.batch_shape) and tuple(f.event_shape) == tuple(t.event_shape)
        leaves = [(loc_f, loc_t), (scale_f, scale_t)]
        _check(torch, f.log_prob(fastnn.tensor(x)), t.log_prob(torch.tensor(x)), leaves, np.float64)
        _check(torch, f.entropy(), t.entropy(), leaves, np.float64)
        assert tuple(f.rsample((6,)).shape) == (6, 2, 3, 4)
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims"):
        D.Independent(D.Normal(loc_f, scale_f), 4)


# ------------------------------------------------------------------ kl_divergence

def _kl_cases(torch, rng, dtype):
    shape = (3, 4)
    yield ("normal", lambda lib, p: lib.Normal(p[0], p[1]),
           [rng.standard_normal(shape), rng.uniform(0.3, 2, shape)],
           [rng.standard_normal(shape), rng.uniform(0.3, 2, shape)])
    yield ("bernoulli", lambda lib, p: lib.Bernoulli(probs=p[0]),
           [rng.uniform(0.05, 0.95, shape)], [rng.uniform(0.05, 0.95, shape)])
    yield ("bernoulli_logits", lambda lib, p: lib.Bernoulli(logits=p[0]),
           [rng.standard_normal(shape)], [rng.standard_normal(shape)])
    yield ("categorical", lambda lib, p: lib.Categorical(logits=p[0]),
           [rng.standard_normal(shape)], [rng.standard_normal(shape)])
    yield ("independent", lambda lib, p: lib.Independent(lib.Normal(p[0], p[1]), 1),
           [rng.standard_normal(shape), rng.uniform(0.3, 2, shape)],
           [rng.standard_normal(shape), rng.uniform(0.3, 2, shape)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_divergence_matches_torch(torch, rng, dtype):
    for name, make, pa, qa in _kl_cases(torch, rng, dtype):
        pairs = [_pair(torch, a.astype(dtype)) for a in pa + qa]
        pf = make(D, [f for f, _ in pairs[:len(pa)]])
        qf = make(D, [f for f, _ in pairs[len(pa):]])
        pt = make(torch.distributions, [t for _, t in pairs[:len(pa)]])
        qt = make(torch.distributions, [t for _, t in pairs[len(pa):]])
        _check(torch, D.kl_divergence(pf, qf), torch.distributions.kl_divergence(pt, qt), pairs, dtype)


def test_kl_edge_probabilities(torch):
    p = [0.0, 1.0, 0.3, 0.0]
    q = [0.5, 0.0, 1.0, 0.0]
    f = D.kl_divergence(D.Bernoulli(probs=fastnn.tensor(p)), D.Bernoulli(probs=fastnn.tensor(q)))
    t = torch.distributions.kl_divergence(torch.distributions.Bernoulli(probs=torch.tensor(p)),
                                          torch.distributions.Bernoulli(probs=torch.tensor(q)))
    np.testing.assert_allclose(f.numpy(), t.numpy(), rtol=1e-6)
    pc = [[0.0, 0.5, 0.5], [0.5, 0.5, 0.0]]
    qc = [[0.2, 0.8, 0.0], [0.3, 0.3, 0.4]]
    f = D.kl_divergence(D.Categorical(probs=fastnn.tensor(pc)), D.Categorical(probs=fastnn.tensor(qc)))
    t = torch.distributions.kl_divergence(torch.distributions.Categorical(probs=torch.tensor(pc)),
                                          torch.distributions.Categorical(probs=torch.tensor(qc)))
    np.testing.assert_allclose(f.numpy(), t.numpy(), rtol=1e-6)


def test_kl_dispatch_and_register():
    n = D.Normal(0.0, 1.0)
    with pytest.raises(NotImplementedError, match="Normal.*Bernoulli"):
        D.kl_divergence(n, D.Bernoulli(0.5))
    with pytest.raises(NotImplementedError):
        D.kl_divergence(D.Independent(D.Normal(fastnn.zeros(2, 2), 1.0), 1),
                        D.Independent(D.Normal(fastnn.zeros(2, 2), 1.0), 2))

    class MyNormal(D.Normal):
        pass
    assert float(D.kl_divergence(MyNormal(0.0, 1.0), D.Normal(1.0, 1.0))) == pytest.approx(0.5)

    @D.register_kl(MyNormal, D.Normal)
    def _kl(p, q):
        return fastnn.tensor(-1.0)
    try:
        assert float(D.kl_divergence(MyNormal(0.0, 1.0), D.Normal(1.0, 1.0))) == -1.0
        assert float(D.kl_divergence(D.Normal(0.0, 1.0), D.Normal(1.0, 1.0))) == pytest.approx(0.5)
    finally:
        from fastnn.distributions import kl as _klmod
        del _klmod._KL_REGISTRY[MyNormal, D.Normal]
        _klmod._KL_MEMOIZE.clear()
    with pytest.raises(TypeError):
        D.register_kl(int, D.Normal)


# ------------------------------------------------------------------ validation and shapes

def test_validation_errors_name_parameter_and_constraint():
    with pytest.raises(ValueError, match=r"parameter scale .*GreaterThan\(lower_bound=0.0\)"):
        D.Normal(fastnn.zeros(3), fastnn.tensor([1.0, -1.0, 2.0]))
    with pytest.raises(ValueError, match=r"parameter scale"):
        D.Normal(0.0, 0.0)
    with pytest.raises(ValueError, match=r"parameter probs .*Interval\(lower_bound=0.0, upper_bound=1.0\)"):
        D.Bernoulli(probs=fastnn.tensor([0.5, 1.5]))
    with pytest.raises(ValueError, match=r"parameter probs"):
        D.Bernoulli(probs=-0.1)
    with pytest.raises(ValueError, match=r"parameter loc .*Real"):
        D.Normal(float("nan"), 1.0)
    with pytest.raises(ValueError, match="support"):
        D.Bernoulli(probs=0.5).log_prob(fastnn.tensor(0.5))
    with pytest.raises(ValueError, match="broadcastable"):
        D.Normal(fastnn.zeros(3), 1.0).log_prob(fastnn.zeros(4))
    with pytest.raises(ValueError, match="must be a Tensor"):
        D.Normal(0.0, 1.0).log_prob(0.5)
    # validate_args=False skips every check
    D.Normal(0.0, -1.0, validate_args=False)
    assert float(D.Bernoulli(probs=1.5, validate_args=False).mean) == 1.5


def test_set_default_validate_args():
    D.Distribution.set_default_validate_args(False)
    try:
        D.Normal(0.0, -1.0)
        D.Bernoulli(probs=2.0)
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Normal(0.0, -1.0)


@pytest.mark.parametrize("sample_shape", [(), (1,), (4,), (2, 3), (0,)])
def test_sample_shapes(sample_shape):
    batch = (2, 3)
    dists = [D.Normal(fastnn.zeros(*batch), fastnn.ones(*batch)), D.Bernoulli(probs=fastnn.full(batch, 0.5)),
             D.Categorical(logits=fastnn.zeros(*batch, 4)), D.Independent(D.Normal(fastnn.zeros(*batch), 1.0), 1)]
    for d in dists:
        expected = tuple(sample_shape) + tuple(d.batch_shape) + tuple(d.event_shape)
        assert tuple(d.sample(sample_shape).shape) == expected
        if d.has_rsample:
            assert tuple(d.rsample(sample_shape).shape) == expected


def test_expand(torch):
    f = D.Normal(fastnn.tensor([0.0, 1.0]), fastnn.tensor([1.0, 2.0])).expand((3, 2))
    assert tuple(f.batch_shape) == (3, 2) and tuple(f.sample().shape) == (3, 2)
    c = D.Categorical(logits=fastnn.zeros(4)).expand((5,))
    assert tuple(c.batch_shape) == (5,) and tuple(c.sample((2,)).shape) == (2, 5)
    b = D.Bernoulli(probs=fastnn.tensor(0.3)).expand((2, 2))
    assert tuple(b.batch_shape) == (2, 2)
    i = D.Independent(D.Normal(fastnn.zeros(3), 1.0), 1).expand((4,))
    assert tuple(i.batch_shape) == (4,) and tuple(i.event_shape) == (3,)
    assert tuple(i.log_prob(fastnn.zeros(4, 3)).shape) == (4,)


def test_vae_style_gradients_flow(torch, rng):
    """A VAE's loss pieces: rsample, Bernoulli log_prob of the decoded sample and KL to a unit Normal."""
    mu_a, lv_a = rng.standard_normal((4, 2)), rng.standard_normal((4, 2)) * 0.3
    x = (rng.uniform(size=(4, 2)) < 0.5).astype(np.float64)
    mu_f, mu_t = _pair(torch, mu_a)
    lv_f, lv_t = _pair(torch, lv_a)
    qf = D.Normal(mu_f, (0.5 * lv_f).exp())
    qt = torch.distributions.Normal(mu_t, (0.5 * lv_t).exp())
    kl_f = D.kl_divergence(qf, D.Normal(fastnn.zeros_like(mu_f), fastnn.ones_like(mu_f))).sum()
    kl_t = torch.distributions.kl_divergence(qt, torch.distributions.Normal(torch.zeros(4, 2), torch.ones(4, 2))).sum()
    fastnn.manual_seed(0)
    z = qf.rsample()
    fastnn.manual_seed(0)
    eps = torch.tensor(fastnn.randn(4, 2, dtype=fastnn.float64).numpy())
    zt = mu_t + eps * (0.5 * lv_t).exp()
    rec_f = D.Bernoulli(logits=z).log_prob(fastnn.tensor(x)).sum()
    rec_t = torch.distributions.Bernoulli(logits=zt).log_prob(torch.tensor(x)).sum()
    _check(torch, kl_f - rec_f, kl_t - rec_t, [(mu_f, mu_t), (lv_f, lv_t)], np.float64)
