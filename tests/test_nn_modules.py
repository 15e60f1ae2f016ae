"""Module mechanics, containers, layers, init, clip_grad, summary, and a small end-to-end training."""
import math
from collections import OrderedDict

import numpy as np
import pytest

import fastnn
import fastnn.nn as nn
import fastnn.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.act = nn.ReLU()
        self.block = nn.Sequential(nn.Linear(8, 8), nn.Tanh())
        self.head = nn.Linear(8, 3)
        self.scale = nn.Parameter(fastnn.ones(3))
        self.register_buffer("running", fastnn.zeros(3))
        self.register_buffer("scratch", fastnn.zeros(2), persistent=False)

    def forward(self, x):
        return self.head(self.block(self.act(self.fc1(x)))) * self.scale


# ------------------------------------------------------------------ registration

def test_registration_and_iteration_order():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "fc1.weight", "fc1.bias", "block.0.weight", "block.0.bias", "head.weight",
                     "head.bias"]
    assert [n for n, _ in net.named_buffers()] == ["running", "scratch"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "block", "head"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "act", "block", "block.0", "block.1", "head"]
    assert len(list(net.parameters(recurse=False))) == 1
    assert sum(p.numel() for p in net.parameters()) == 4 * 8 + 8 + 8 * 8 + 8 + 8 * 3 + 3 + 3
    assert isinstance(net.fc1.weight, nn.Parameter) and net.fc1.weight.requires_grad
    assert all(p.is_leaf for p in net.parameters())
    # prefixes
    assert [n for n, _ in net.block.named_parameters(prefix="b")] == ["b.0.weight", "b.0.bias"]


def test_setattr_rules():
    m = nn.Module()
    m.w = nn.Parameter(fastnn.ones(2))
    assert "w" in m._parameters
    with pytest.raises(TypeError):
        m.w = fastnn.ones(2)            # a plain tensor cannot replace a parameter
    m.w = None
    assert m._parameters["w"] is None and m.w is None
    m.sub = nn.Linear(2, 2)
    with pytest.raises(TypeError):
        m.sub = 3
    m.register_buffer("b", fastnn.ones(1))
    m.b = fastnn.zeros(1)               # buffers can be reassigned with tensors
    assert m._buffers["b"].item() == 0
    with pytest.raises(KeyError):
        m.register_buffer("sub", fastnn.ones(1))
    with pytest.raises(KeyError):
        m.register_parameter("a.b", nn.Parameter(fastnn.ones(1)))
    with pytest.raises(TypeError):
        m.register_parameter("q", fastnn.ones(1))
    del m.sub
    assert "sub" not in m._modules
    with pytest.raises(AttributeError, match="nope"):
        m.nope
    m.add_module("child", nn.Identity())
    m.register_module("child2", nn.Identity())
    assert [n for n, _ in m.named_children()] == ["child", "child2"]
    with pytest.raises(ValueError, match="non-leaf"):
        m.register_parameter("nl", nn.Parameter(fastnn.ones(1)) * 2 if False else _nonleaf_param())


def _nonleaf_param():
    p = nn.Parameter(fastnn.ones(2))
    q = nn.Parameter(p)
    q.grad_fn = (p * 2).grad_fn
    return q


def test_shared_parameters_are_listed_once():
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4
    assert len(list(seq.modules())) == 3
    # tied weights across different modules
    a, b = nn.Linear(4, 4), nn.Linear(4, 4)
    b.weight = a.weight
    model = nn.ModuleList([a, b])
    assert len(list(model.parameters())) == 3
    assert list(model.state_dict().keys()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_train_eval_and_apply():
    net = Net()
    assert net.training and net.block[0].training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError):
        net.train("yes")
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "Tanh", "Sequential", "Linear", "Net"]

    def init_zero(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)
    net.apply(init_zero)
    assert np.all(net.fc1.weight.detach().numpy() == 0)


def test_zero_grad_and_requires_grad():
    net = Net()
    net(fastnn.randn(2, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    out = net(fastnn.randn(2, 4))
    assert not out.requires_grad


def test_to_dtype_keeps_parameter_objects():
    net = Net()
    w = net.fc1.weight
    assert net.double() is net
    assert net.fc1.weight is w and w.dtype == fastnn.float64
    assert net.running.dtype == fastnn.float64
    out = net(fastnn.randn(2, 4, dtype=fastnn.float64))
    assert out.dtype == fastnn.float64
    net.to(fastnn.float32)
    assert w.dtype == fastnn.float32
    net.to("cpu")
    net.float()
    assert net.fc1.weight.dtype == fastnn.float32
    with pytest.raises(TypeError):
        net.to(fastnn.int64)


# ------------------------------------------------------------------ state dict

def test_state_dict_keys_and_round_trip():
    fastnn.manual_seed(0)
    a = Net()
    sd = a.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd.keys()) == ["scale", "running", "fc1.weight", "fc1.bias", "block.0.weight", "block.0.bias",
                               "head.weight", "head.bias"]
    assert all(not v.requires_grad for v in sd.values())
    assert sd["fc1.weight"]._data is a.fc1.weight._data       # detached, same storage (like PyTorch)
    b = Net()
    res = b.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == []
    x = fastnn.randn(3, 4)
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    assert b.fc1.weight._data is not a.fc1.weight._data       # values copied, not aliased


def test_load_state_dict_strict_errors():
    net = Net()
    sd = net.state_dict()
    del sd["fc1.bias"]
    sd["extra.weight"] = fastnn.zeros(1)
    sd["fc1.unknown"] = fastnn.zeros(1)
    with pytest.raises(RuntimeError) as ei:
        Net().load_state_dict(sd)
    msg = str(ei.value)
    assert "Missing key(s) in state_dict: \"fc1.bias\"" in msg
    assert "\"extra.weight\"" in msg and "\"fc1.unknown\"" in msg and "Unexpected key(s)" in msg
    res = Net().load_state_dict(sd, strict=False)
    assert res.missing_keys == ["fc1.bias"]
    assert sorted(res.unexpected_keys) == ["extra.weight", "fc1.unknown"]
    bad = Net().state_dict()
    bad["head.weight"] = fastnn.zeros(5, 8)
    with pytest.raises(RuntimeError, match=r"size mismatch for head.weight.*\[5, 8\].*\[3, 8\]"):
        Net().load_state_dict(bad)
    with pytest.raises(RuntimeError, match="size mismatch"):
        Net().load_state_dict(bad, strict=False)


def test_state_dict_matches_torch_keys():
    torch = pytest.importorskip("torch")
    fm = nn.Sequential(OrderedDict([("fc", nn.Linear(3, 4)), ("act", nn.ReLU()), ("out", nn.Linear(4, 2))]))
    tm = torch.nn.Sequential(OrderedDict([("fc", torch.nn.Linear(3, 4)), ("act", torch.nn.ReLU()),
                                          ("out", torch.nn.Linear(4, 2))]))
    assert list(fm.state_dict().keys()) == list(tm.state_dict().keys())
    assert repr(fm) == repr(tm)
    # load torch weights into fastnn and compare outputs
    fm.load_state_dict({k: fastnn.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(fm(fastnn.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_repr_like_torch():
    torch = pytest.importorskip("torch")
    f = nn.Sequential(nn.Linear(2, 3, bias=False), nn.Dropout(0.2), nn.LeakyReLU(0.1),
                      nn.ModuleList([nn.Flatten(), nn.GELU(approximate="tanh")]), nn.Softmax(dim=1))
    t = torch.nn.Sequential(torch.nn.Linear(2, 3, bias=False), torch.nn.Dropout(0.2), torch.nn.LeakyReLU(0.1),
                            torch.nn.ModuleList([torch.nn.Flatten(), torch.nn.GELU(approximate="tanh")]),
                            torch.nn.Softmax(dim=1))
    assert repr(f) == repr(t)
    assert repr(nn.ModuleDict({"a": nn.Identity()})) == repr(torch.nn.ModuleDict({"a": torch.nn.Identity()}))


# ------------------------------------------------------------------ hooks

def test_forward_hooks():
    lin = nn.Linear(3, 2)
    calls = []

    def pre(mod, args):
        calls.append("pre")
        return (args[0] * 0,)

    def post(mod, args, out):
        calls.append("post")
        return out + 1

    h1 = lin.register_forward_pre_hook(pre)
    h2 = lin.register_forward_hook(post)
    out = lin(fastnn.randn(4, 3))
    assert calls == ["pre", "post"]
    np.testing.assert_allclose(out.detach().numpy(), (lin.bias.detach().numpy() + 1)[None].repeat(4, 0), rtol=1e-6)
    h1.remove()
    h2.remove()
    x = fastnn.randn(4, 3)
    np.testing.assert_array_equal(lin(x).detach().numpy(), F.linear(x, lin.weight, lin.bias).detach().numpy())
    order = []
    lin.register_forward_hook(lambda m, a, o: order.append(1))
    lin.register_forward_hook(lambda m, a, o: order.append(0), prepend=True)
    lin.register_forward_pre_hook(lambda m, a, kw: order.append("kw") or None, with_kwargs=True)
    lin(x)
    assert order == ["kw", 0, 1]


# ------------------------------------------------------------------ containers

def test_sequential_and_lists():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    sub = seq[:2]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2 and sub[0] is seq[0]
    seq.append(nn.Sigmoid())
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2", "3"]
    del seq[1]
    assert [type(m).__name__ for m in seq] == ["Linear", "Linear", "Sigmoid"]
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2"]
    seq.insert(1, nn.Tanh())
    assert [type(m).__name__ for m in seq] == ["Linear", "Tanh", "Linear", "Sigmoid"]
    with pytest.raises(IndexError):
        seq[10]
    named = nn.Sequential(OrderedDict(a=nn.Linear(2, 2), b=nn.ReLU()))
    assert named.a is named[0]
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh()])
    ml.insert(0, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Identity", "Linear", "Linear", "Linear", "ReLU", "Tanh"]
    assert len(list(ml.parameters())) == 6
    md = nn.ModuleDict({"x": nn.Linear(1, 2)})
    md["y"] = nn.ReLU()
    assert list(md.keys()) == ["x", "y"] and "y" in md
    assert md.pop("y").__class__ is nn.ReLU
    pl = nn.ParameterList([nn.Parameter(fastnn.ones(2)), fastnn.zeros(3)])
    assert len(list(pl.parameters())) == 2 and isinstance(pl[1], nn.Parameter)
    pd = nn.ParameterDict({"a": fastnn.ones(1)})
    assert [n for n, _ in pd.named_parameters()] == ["a"]


def test_flatten_unflatten_identity():
    x = fastnn.randn(2, 3, 4, 5)
    assert tuple(nn.Flatten()(x).shape) == (2, 60)
    assert tuple(nn.Flatten(0, 2)(x).shape) == (24, 5)
    assert tuple(nn.Unflatten(1, (3, 20))(nn.Flatten()(x)).shape) == (2, 3, 20)
    assert nn.Identity(54, unused="x")(x) is x


# ------------------------------------------------------------------ Linear

def test_linear_vs_torch_values_and_grads():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for shape in [(5, 7), (2, 3, 7), (7,), (0, 7)]:
        lf = nn.Linear(7, 4, dtype=fastnn.float64)
        lt = torch.nn.Linear(7, 4).double()
        with torch.no_grad():
            lt.weight.copy_(torch.tensor(lf.weight.detach().numpy()))
            lt.bias.copy_(torch.tensor(lf.bias.detach().numpy()))
        x = rng.standard_normal(shape)
        xf = fastnn.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        of, ot = lf(xf), lt(xt)
        np.testing.assert_allclose(of.detach().numpy(), ot.detach().numpy(), rtol=1e-12, atol=1e-12)
        g = rng.standard_normal(tuple(ot.shape))
        of.backward(fastnn.tensor(g))
        ot.backward(torch.tensor(g))
        np.testing.assert_allclose(xf.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(lf.weight.grad.numpy(), lt.weight.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(lf.bias.grad.numpy(), lt.bias.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_linear_non_contiguous_input_and_no_bias():
    lin = nn.Linear(5, 3, bias=False, dtype=fastnn.float64)
    base = fastnn.randn(5, 8, dtype=fastnn.float64)
    x = base.t()                        # (8, 5), not contiguous
    ref = x.numpy() @ lin.weight.detach().numpy().T
    np.testing.assert_allclose(lin(x).detach().numpy(), ref, rtol=1e-12)
    assert lin.bias is None and "bias=False" in repr(lin)


def test_linear_bad_input():
    lin = nn.Linear(4, 2)
    with pytest.raises(ValueError, match="in_features=4"):
        lin(fastnn.randn(3, 5))
    with pytest.raises(TypeError, match="dtype"):
        lin(fastnn.randn(3, 4, dtype=fastnn.float64))
    with pytest.raises(TypeError):
        lin(np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(ValueError):
        nn.Linear(-1, 3)


def test_linear_default_init_statistics():
    fastnn.manual_seed(0)
    lin = nn.Linear(400, 300)
    w = lin.weight.detach().numpy()
    b = lin.bias.detach().numpy()
    bound = 1 / math.sqrt(400)          # kaiming_uniform(a=sqrt(5)) gives the same bound as the bias
    assert w.min() >= -bound and w.max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert abs(w.mean()) < 0.01 * bound
    assert b.min() >= -bound and b.max() <= bound
    fastnn.manual_seed(0)
    again = nn.Linear(400, 300)
    np.testing.assert_array_equal(again.weight.detach().numpy(), w)   # reproducible from the seed


def test_bilinear_vs_torch():
    torch = pytest.importorskip("torch")
    bf = nn.Bilinear(3, 4, 5, dtype=fastnn.float64)
    bt = torch.nn.Bilinear(3, 4, 5).double()
    with torch.no_grad():
        bt.weight.copy_(torch.tensor(bf.weight.detach().numpy()))
        bt.bias.copy_(torch.tensor(bf.bias.detach().numpy()))
    rng = np.random.default_rng(1)
    x1, x2 = rng.standard_normal((6, 3)), rng.standard_normal((6, 4))
    np.testing.assert_allclose(bf(fastnn.tensor(x1), fastnn.tensor(x2)).detach().numpy(),
                               bt(torch.tensor(x1), torch.tensor(x2)).detach().numpy(), rtol=1e-10)


# ------------------------------------------------------------------ init

def test_init_statistics():
    fastnn.manual_seed(1)
    w = fastnn.empty(500, 400)
    nn.init.xavier_uniform_(w, gain=2.0)
    a = 2.0 * math.sqrt(6.0 / 900)
    assert w.numpy().max() <= a and w.numpy().min() >= -a
    assert abs(w.numpy().std() - a / math.sqrt(3)) < 0.01 * a
    nn.init.xavier_normal_(w)
    assert abs(w.numpy().std() - math.sqrt(2.0 / 900)) < 0.01 * math.sqrt(2.0 / 900)
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.numpy().std() - math.sqrt(2.0 / 500)) < 0.01 * math.sqrt(2.0 / 500)
    nn.init.kaiming_uniform_(w, a=0.1)
    bound = math.sqrt(2.0 / 1.01) * math.sqrt(3.0 / 400)
    assert w.numpy().max() <= bound and w.numpy().max() > 0.99 * bound
    nn.init.normal_(w, 2.0, 0.5)
    assert abs(w.numpy().mean() - 2.0) < 0.01 and abs(w.numpy().std() - 0.5) < 0.01
    nn.init.uniform_(w, -3, -1)
    assert w.numpy().min() >= -3 and w.numpy().max() <= -1
    nn.init.trunc_normal_(w, mean=0.0, std=1.0, a=-1.0, b=1.5)
    v = w.numpy()
    assert v.min() >= -1.0 and v.max() <= 1.5
    assert abs(v.mean() - 0.1452) < 0.005       # (pdf(-1) - pdf(1.5)) / (cdf(1.5) - cdf(-1))
    nn.init.constant_(w, 0.3)
    assert np.all(w.numpy() == np.float32(0.3))
    nn.init.ones_(w)
    nn.init.zeros_(w)
    assert np.all(w.numpy() == 0)
    e = fastnn.empty(3, 5)
    nn.init.eye_(e)
    np.testing.assert_array_equal(e.numpy(), np.eye(3, 5))
    nn.init.orthogonal_(e)
    np.testing.assert_allclose(e.numpy() @ e.numpy().T, np.eye(3), atol=1e-5)


def test_init_fans_for_conv_weights():
    conv_w = fastnn.empty(16, 6, 5, 5)
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(conv_w)
    assert (fan_in, fan_out) == (150, 400)
    fastnn.manual_seed(2)
    nn.init.kaiming_uniform_(conv_w, nonlinearity="relu")
    bound = math.sqrt(2.0) * math.sqrt(3.0 / 150)
    assert conv_w.numpy().max() <= bound and conv_w.numpy().max() > 0.98 * bound
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(fastnn.empty(5))
    with pytest.raises(ValueError, match="Mode"):
        nn.init.kaiming_uniform_(conv_w, mode="fan_avg")


def test_calculate_gain_matches_torch():
    torch = pytest.importorskip("torch")
    for nl, p in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                  ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)]:
        assert nn.init.calculate_gain(nl, p) == pytest.approx(torch.nn.init.calculate_gain(nl, p))
    with pytest.raises(ValueError):
        nn.init.calculate_gain("swishy")


def test_init_uses_global_generator():
    fastnn.manual_seed(5)
    a = nn.init.normal_(fastnn.empty(10)).numpy().copy()
    fastnn.manual_seed(5)
    b = nn.init.normal_(fastnn.empty(10)).numpy().copy()
    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ clip_grad

def test_clip_grad_norm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    grads = [rng.standard_normal(s) * 3 for s in [(4, 5), (5,), (2, 2)]]
    for norm_type, max_norm in [(2.0, 1.0), (1.0, 2.0), (float("inf"), 0.5), (3.0, 100.0)]:
        pf = [fastnn.zeros(*g.shape, dtype=fastnn.float64, requires_grad=True) for g in grads]
        pt = [torch.zeros(*g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
        for a, b, g in zip(pf, pt, grads):
            a.grad = fastnn.tensor(g.copy())
            b.grad = torch.tensor(g.copy())
        nf = nn.utils.clip_grad_norm_(pf, max_norm, norm_type=norm_type)
        nt = torch.nn.utils.clip_grad_norm_(pt, max_norm, norm_type=norm_type)
        assert nf.item() == pytest.approx(nt.item(), rel=1e-10)
        for a, b in zip(pf, pt):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10)
    p = fastnn.zeros(3, requires_grad=True)
    p.grad = fastnn.tensor([float("nan"), 1.0, 2.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)


def test_clip_grad_value_and_vector_conversion():
    p = fastnn.zeros(4, requires_grad=True)
    p.grad = fastnn.tensor([-3.0, -0.5, 0.2, 9.0])
    nn.utils.clip_grad_value_([p], 1.0)
    np.testing.assert_array_equal(p.grad.numpy(), np.float32([-1.0, -0.5, 0.2, 1.0]))
    lin = nn.Linear(3, 2)
    v = nn.utils.parameters_to_vector(lin.parameters())
    assert tuple(v.shape) == (8,)
    nn.utils.vector_to_parameters(fastnn.arange(8, dtype=fastnn.float32), lin.parameters())
    np.testing.assert_array_equal(lin.bias.detach().numpy(), [6.0, 7.0])


# ------------------------------------------------------------------ summary

def test_summary_table():
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    text = fastnn.summary(model, (1, 28, 28), print_fn=None)
    assert "Linear-2" in text and "[-1, 256]" in text and "200,960" in text
    assert "Total params: 203,530" in text and "Trainable params: 203,530" in text
    model[1].requires_grad_(False)
    text = fastnn.summary(model, (1, 28, 28), print_fn=None, batch_size=32)
    assert "Non-trainable params: 200,960" in text and "[32, 10]" in text
    assert model.training          # mode restored
    assert not model[1]._forward_hooks
    with pytest.raises(ValueError):
        fastnn.summary(model, "28x28")


# ------------------------------------------------------------------ end to end

def test_mlp_learns_digits():
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(X))
    tr, te = idx[:1200], idx[1200:]
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10))
    opt = fastnn.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    Xtr, ytr = fastnn.tensor(X[tr]), fastnn.tensor(y[tr])
    for epoch in range(10):
        perm = rng.permutation(len(tr))
        for s in range(0, len(tr), 32):
            b = perm[s:s + 32]
            opt.zero_grad()
            loss = loss_fn(model(Xtr[b]), ytr[b])
            loss.backward()
            opt.step()
    model.eval()
    with fastnn.no_grad():
        pred = model(fastnn.tensor(X[te])).argmax(1).numpy()
    acc = (pred == y[te]).mean()
    print(f"digits MLP test accuracy {acc:.3f}")
    assert acc >= 0.95, acc        # the course's target for an MLP on digits


def test_hook_variants_and_state_dict_hooks():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    seen = []
    m = Boom()
    m.register_forward_hook(lambda mod, args, out: seen.append(("always", out)), always_call=True)
    m.register_forward_hook(lambda mod, args, out: seen.append(("normal", out)))
    with pytest.raises(ValueError, match="boom"):
        m(fastnn.ones(1))
    assert seen == [("always", None)]
    lin = nn.Linear(2, 2)
    lin.register_forward_hook(lambda mod, args, kwargs, out: seen.append(sorted(kwargs)), with_kwargs=True)
    lin(input=fastnn.ones(1, 2))
    assert seen[-1] == ["input"]
    calls = []
    lin.register_state_dict_pre_hook(lambda mod, prefix, keep_vars: calls.append(prefix))
    h = lin.register_state_dict_post_hook(lambda mod, sd, prefix, meta: calls.append(len(sd)))
    seq = nn.Sequential(lin)
    seq.state_dict()
    assert calls == ["0.", 2]
    h.remove()
    lin.state_dict()
    assert calls == ["0.", 2, ""]


def test_full_backward_hooks_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal(2)
    results = []
    for lib in (fastnn, torch):
        m = lib.nn.Linear(4, 2).double()
        with lib.no_grad():
            m.weight.copy_(lib.tensor(w))
            m.bias.copy_(lib.tensor(b))
        seen = []
        m.register_full_backward_pre_hook(lambda mod, go: (go[0] * 3,))

        def hook(mod, gi, go, seen=seen):
            seen.append((gi[0].detach().numpy().copy(), go[0].detach().numpy().copy()))
            return (gi[0] * 2,)

        h = m.register_full_backward_hook(hook)
        xi = lib.tensor(x, requires_grad=True)
        out = m(xi)
        (out * out).sum().backward()
        h.remove()
        m(xi).sum().backward()          # removed: called no more
        results.append((seen, xi.grad.numpy().copy(), m.weight.grad.numpy().copy()))
    (seen_f, gx_f, gw_f), (seen_t, gx_t, gw_t) = results
    assert len(seen_f) == len(seen_t) == 1
    np.testing.assert_allclose(seen_f[0][0], seen_t[0][0], rtol=1e-12)
    np.testing.assert_allclose(seen_f[0][1], seen_t[0][1], rtol=1e-12)
    np.testing.assert_allclose(gx_f, gx_t, rtol=1e-12)
    np.testing.assert_allclose(gw_f, gw_t, rtol=1e-12)
    # inputs without grad: the hook still runs, with grad_input (None,)
    calls = []
    m = nn.Linear(4, 2)
    m.register_full_backward_hook(lambda mod, gi, go: calls.append((gi, tuple(go[0].shape))))
    m(fastnn.randn(3, 4)).sum().backward()
    assert calls == [((None,), (3, 2))]
