"""fastnn.data: datasets, DataLoader, splits and scalers (against scikit-learn where it has the concept)."""
import collections

import numpy as np
import pytest

import fastnn
from fastnn.data import (ConcatDataset, DataLoader, Dataset, KFold, MinMaxScaler, StandardScaler, StratifiedKFold,
                         Subset, TensorDataset, default_collate, random_split, train_test_split, train_val_test_split)

sk_ms = pytest.importorskip("sklearn.model_selection")
sk_pp = pytest.importorskip("sklearn.preprocessing")


def _t(a):
    return fastnn.from_numpy(np.asarray(a))


# ---------------------------------------------------------------- datasets

def test_tensor_dataset_items_and_errors():
    X = _t(np.arange(12, dtype=np.float32).reshape(6, 2))
    y = _t(np.arange(6))
    ds = TensorDataset(X, y)
    assert len(ds) == 6
    x3, y3 = ds[3]
    assert x3.tolist() == [6.0, 7.0] and y3.item() == 3
    with pytest.raises(ValueError, match=r"size mismatch.*\[6, 5\]"):
        TensorDataset(X, _t(np.arange(5)))
    with pytest.raises(TypeError, match="argument 1"):
        TensorDataset(X, [1, 2, 3])
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    # numpy arrays are wrapped without copying
    a = np.zeros((3, 2), np.float32)
    assert TensorDataset(a).tensors[0]._data is a


def test_subset_concat_and_add():
    ds = TensorDataset(np.arange(10))
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3 and sub[0][0].item() == 7 and sub[-1][0].item() == 5
    cat = ds + TensorDataset(np.arange(100, 103))
    assert isinstance(cat, ConcatDataset) and len(cat) == 13
    assert cat[10][0].item() == 100 and cat[-1][0].item() == 102 and cat[9][0].item() == 9
    with pytest.raises(IndexError):
        cat[13]
    with pytest.raises(TypeError, match="indices"):
        Subset(ds, [0.5, 1.5])


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.5, 0.25, 0.25], [10]])
def test_random_split_partitions(lengths):
    ds = TensorDataset(np.arange(10))
    fastnn.manual_seed(3)
    parts = random_split(ds, lengths)
    got = [p[i][0].item() for p in parts for i in range(len(p))]
    assert sorted(got) == list(range(10))
    assert sum(len(p) for p in parts) == 10
    if lengths == [0.3, 0.7]:
        assert [len(p) for p in parts] == [3, 7]
    fastnn.manual_seed(3)
    again = random_split(ds, lengths)
    assert [list(p.indices) for p in parts] == [list(p.indices) for p in again]


def test_random_split_bad_lengths():
    ds = TensorDataset(np.arange(10))
    with pytest.raises(ValueError, match="does not equal"):
        random_split(ds, [3, 3])
    with pytest.raises(ValueError):
        random_split(ds, [-1, 11])


def test_random_split_fraction_rounding_like_pytorch():
    torch = pytest.importorskip("torch")
    for n, fr in [(10, [0.33, 0.33, 0.34]), (7, [0.5, 0.5]), (11, [0.1, 0.2, 0.7])]:
        ds = TensorDataset(np.arange(n))
        ours = [len(p) for p in random_split(ds, fr, generator=0)]
        ref = [len(p) for p in torch.utils.data.random_split(range(n), fr)]
        assert ours == ref


# ---------------------------------------------------------------- collate

def test_default_collate_kinds():
    b = default_collate([(np.ones(3, np.float32), 1, 2.5, "a"), (np.zeros(3, np.float32), 0, 1.5, "b")])
    assert isinstance(b, list) and len(b) == 4
    assert b[0].shape == (2, 3) and b[0].dtype == fastnn.float32
    assert b[1].tolist() == [1, 0] and b[1].dtype == fastnn.int64
    assert b[2].dtype == fastnn.float64 and b[2].tolist() == [2.5, 1.5]
    assert b[3] == ["a", "b"]
    d = default_collate([{"x": _t(np.ones(2)), "y": True}, {"x": _t(np.zeros(2)), "y": False}])
    assert d["x"].shape == (2, 2) and d["y"].dtype == fastnn.bool
    P = collections.namedtuple("P", "a b")
    p = default_collate([P(1, np.float32(2)), P(3, np.float32(4))])
    assert isinstance(p, P) and p.a.tolist() == [1, 3] and p.b.dtype == fastnn.float32


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match="same shape"):
        default_collate([np.ones(3), np.ones(4)])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([(1, 2), (1, 2, 3)])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object(), object()])
    with pytest.raises(ValueError, match="empty"):
        default_collate([])


# ---------------------------------------------------------------- DataLoader

class _Squares(Dataset):
    """A map-style dataset returning dict samples, to exercise the per-sample path."""

    def __len__(self):
        return 11

    def __getitem__(self, i):
        return {"x": np.array([i, i * i], dtype=np.float32), "y": i}


@pytest.mark.parametrize("n,bs,drop", [(0, 4, False), (1, 4, False), (10, 3, False), (10, 3, True), (12, 4, True),
                                       (7, 7, False), (13, 1, False), (5, 8, True)])
def test_dataloader_batching(n, bs, drop):
    X = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    loader = DataLoader(TensorDataset(X, np.arange(n)), batch_size=bs, drop_last=drop)
    batches = list(loader)
    assert len(batches) == len(loader) == (n // bs if drop else -(-n // bs))
    seen = [int(v) for _, yb in batches for v in yb.tolist()]
    assert seen == list(range(len(batches) * bs if drop else n))
    for xb, yb in batches:
        assert xb.shape[1:] == (2,) and xb.shape[0] == yb.shape[0]
        np.testing.assert_array_equal(xb.numpy(), X[yb.numpy()])


def test_dataloader_shuffle_seeding_and_fast_path_agree_with_per_sample_path():
    n = 23
    X = np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)
    y = np.arange(n)
    ds = TensorDataset(X, y)
    fastnn.manual_seed(7)
    fast = [(xb.numpy(), yb.numpy()) for xb, yb in DataLoader(ds, batch_size=5, shuffle=True)]
    fastnn.manual_seed(7)  # same order through the generic collate path
    slow = [(xb.numpy(), yb.numpy()) for xb, yb in DataLoader(ds, batch_size=5, shuffle=True,
                                                              collate_fn=default_collate)]
    for (a, b), (c, d) in zip(fast, slow):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    order = np.concatenate([b for _, b in fast])
    assert sorted(order.tolist()) == list(range(n)) and order.tolist() != list(range(n))
    # a second pass draws a new order from the generator
    fastnn.manual_seed(7)
    loader = DataLoader(ds, batch_size=5, shuffle=True)
    e1 = np.concatenate([b.numpy() for _, b in loader])
    e2 = np.concatenate([b.numpy() for _, b in loader])
    assert e1.tolist() != e2.tolist()
    np.testing.assert_array_equal(e1, order)


def test_dataloader_explicit_generators():
    ds = TensorDataset(np.arange(30))
    a = [b[0].tolist() for b in DataLoader(ds, batch_size=30, shuffle=True, generator=5)]
    b = [b[0].tolist() for b in DataLoader(ds, batch_size=30, shuffle=True, generator=np.random.default_rng(5))]
    g = fastnn.Generator().manual_seed(5)
    c = [b[0].tolist() for b in DataLoader(ds, batch_size=30, shuffle=True, generator=g)]
    assert a == b == c
    with pytest.raises(TypeError, match="generator"):
        DataLoader(ds, shuffle=True, generator="seed")


def test_dataloader_generic_dataset_and_unbatched():
    batches = list(DataLoader(_Squares(), batch_size=4))
    assert len(batches) == 3
    assert batches[0]["x"].shape == (4, 2) and batches[2]["y"].tolist() == [8, 9, 10]
    samples = list(DataLoader(_Squares(), batch_size=None))
    assert len(samples) == 11 and samples[3]["x"].tolist() == [3.0, 9.0] and samples[3]["y"] == 3
    # a tensor or array as the dataset: rows are samples
    rows = list(DataLoader(np.arange(10, dtype=np.float32).reshape(5, 2), batch_size=2))
    assert [r.shape[0] for r in rows] == [2, 2, 1]
    custom = list(DataLoader(_Squares(), batch_size=5, collate_fn=lambda s: len(s)))
    assert custom == [5, 5, 1]


def test_dataloader_bad_arguments():
    ds = TensorDataset(np.arange(4))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(TypeError, match="dataset"):
        DataLoader(5)
    with pytest.raises(TypeError, match="collate_fn"):
        DataLoader(ds, collate_fn=3)


def test_dataloader_matches_pytorch_batch_structure():
    torch = pytest.importorskip("torch")
    samples = [(np.full(2, i, np.float32), i, float(i) / 2) for i in range(5)]
    ours = list(DataLoader(samples, batch_size=2))
    ref = list(torch.utils.data.DataLoader(samples, batch_size=2))
    assert len(ours) == len(ref)
    for o, r in zip(ours, ref):
        assert type(o) is type(r) and len(o) == len(r)
        for a, b in zip(o, r):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
            assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]


# ---------------------------------------------------------------- splits

@pytest.mark.parametrize("n,test_size,train_size", [(20, None, None), (21, 0.3, None), (10, 3, None),
                                                    (17, None, 0.6), (30, 0.2, 0.5), (9, 0.34, 5)])
def test_train_test_split_equals_sklearn(n, test_size, train_size):
    X = np.arange(n * 2).reshape(n, 2)
    y = np.arange(n)
    kw = dict(test_size=test_size, train_size=train_size)
    for shuffle, seed in [(False, None), (True, 0), (True, 42)]:
        ours = train_test_split(X, y, shuffle=shuffle, seed=seed, **kw)
        ref = sk_ms.train_test_split(X, y, shuffle=shuffle, random_state=seed, **kw)
        assert len(ours) == 4
        for a, b in zip(ours, ref):
            np.testing.assert_array_equal(a, b)


def test_train_test_split_stratified_equals_sklearn_and_keeps_proportions():
    rng = np.random.default_rng(1)
    y = rng.choice(3, size=97, p=[0.6, 0.3, 0.1])
    X = rng.normal(size=(97, 4))
    for ts in (0.2, 0.25, 31):
        ours = train_test_split(X, y, test_size=ts, stratify=y, seed=5)
        ref = sk_ms.train_test_split(X, y, test_size=ts, stratify=y, random_state=5)
        for a, b in zip(ours, ref):
            np.testing.assert_array_equal(a, b)
    fastnn.manual_seed(0)
    _, _, ytr, yte = train_test_split(X, y, test_size=0.2, stratify=y)  # global generator
    for c in range(3):
        assert abs(np.mean(yte == c) - np.mean(y == c)) < 0.06
    assert len(yte) == 20 and len(ytr) == 77


def test_train_test_split_kinds_and_errors():
    X = fastnn.from_numpy(np.arange(10, dtype=np.float32))
    lst = list(range(10))
    a, b, c, d = train_test_split(X, lst, test_size=0.3, seed=0)
    assert isinstance(a, fastnn.Tensor) and isinstance(c, list) and a.shape == (7,) and len(d) == 3
    assert a.tolist() == [float(v) for v in c]
    with pytest.raises(ValueError, match="inconsistent"):
        train_test_split(np.arange(4), np.arange(5))
    with pytest.raises(ValueError, match="test_size=1.5"):
        train_test_split(np.arange(4), test_size=1.5)
    with pytest.raises(ValueError, match="1 member"):
        train_test_split(np.arange(4), stratify=[0, 0, 0, 1])


def test_train_val_test_split_70_15_15():
    y = np.repeat(np.arange(4), 50)
    X = np.arange(200)
    Xtr, Xva, Xte, ytr, yva, yte = train_val_test_split(X, y, seed=0, stratify=y)
    assert (len(Xtr), len(Xva), len(Xte)) == (140, 30, 30)
    assert sorted(np.concatenate([Xtr, Xva, Xte]).tolist()) == list(range(200))
    np.testing.assert_array_equal(y[Xva], yva)
    for part in (ytr, yva, yte):
        counts = np.bincount(part, minlength=4)
        assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize("n,k", [(10, 2), (11, 3), (7, 7), (23, 5)])
def test_kfold_equals_sklearn(n, k):
    for shuffle, seed in [(False, None), (True, 0), (True, 3)]:
        ours = list(KFold(k, shuffle=shuffle, seed=seed).split(n))
        ref = list(sk_ms.KFold(k, shuffle=shuffle, random_state=seed).split(np.zeros(n)))
        assert len(ours) == k
        for (a, b), (c, d) in zip(ours, ref):
            np.testing.assert_array_equal(a, c)
            np.testing.assert_array_equal(b, d)
    tests = np.concatenate([te for _, te in KFold(k, shuffle=True).split(n)])
    assert sorted(tests.tolist()) == list(range(n))


def test_kfold_errors():
    with pytest.raises(ValueError, match="n_splits"):
        KFold(1)
    with pytest.raises(ValueError, match="greater than the number of samples"):
        list(KFold(5).split(3))
    with pytest.raises(ValueError, match="shuffle is False"):
        KFold(3, seed=0)


def test_stratified_kfold_equals_sklearn():
    rng = np.random.default_rng(2)
    for n, k in [(50, 5), (31, 3), (100, 10)]:
        y = rng.choice(["b", "a", "c"], size=n, p=[0.5, 0.35, 0.15])
        X = np.zeros((n, 1))
        for shuffle, seed in [(False, None), (True, 0), (True, 9)]:
            ours = list(StratifiedKFold(k, shuffle=shuffle, seed=seed).split(y))
            ref = list(sk_ms.StratifiedKFold(k, shuffle=shuffle, random_state=seed).split(X, y))
            for (a, b), (c, d) in zip(ours, ref):
                np.testing.assert_array_equal(a, c)
                np.testing.assert_array_equal(b, d)
            ours_xy = list(StratifiedKFold(k, shuffle=shuffle, seed=seed).split(X, y))
            assert all((a == c).all() for (a, _), (c, _) in zip(ours, ours_xy))
    with pytest.raises(ValueError, match="cannot be greater"):
        list(StratifiedKFold(5).split([0, 0, 0, 0, 1, 1, 1, 1]))
    with pytest.raises(ValueError, match="continuous"):
        list(StratifiedKFold(2).split(np.linspace(0, 1, 10)))


# ---------------------------------------------------------------- scalers

def test_standard_scaler_equals_sklearn():
    rng = np.random.default_rng(0)
    Xtr = rng.normal(3, 5, size=(40, 6))
    Xtr[:, 2] = 7.0  # constant feature
    Xte = rng.normal(3, 5, size=(9, 6))
    for kw in ({}, {"with_mean": False}, {"with_std": False}):
        ours = StandardScaler(**kw).fit(Xtr)
        ref = sk_pp.StandardScaler(**kw).fit(Xtr)
        np.testing.assert_allclose(ours.transform(Xte), ref.transform(Xte), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ours.fit_transform(Xtr), ref.transform(Xtr), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ours.inverse_transform(ours.transform(Xte)), Xte, rtol=1e-12)
        if kw.get("with_std", True):
            np.testing.assert_allclose(ours.scale_, ref.scale_)
    s = StandardScaler().fit(Xtr.astype(np.float32))
    out = s.transform(fastnn.from_numpy(Xte.astype(np.float32)))
    assert isinstance(out, fastnn.Tensor) and out.dtype == fastnn.float32
    np.testing.assert_allclose(out.numpy(), sk_pp.StandardScaler().fit(Xtr.astype(np.float32)).transform(
        Xte.astype(np.float32)), rtol=1e-5, atol=1e-5)


def test_minmax_scaler_equals_sklearn():
    rng = np.random.default_rng(1)
    Xtr = rng.uniform(-4, 9, size=(30, 5))
    Xtr[:, 4] = -1.0
    Xte = rng.uniform(-6, 12, size=(8, 5))
    for kw in ({}, {"feature_range": (-1, 1)}, {"feature_range": (2, 5), "clip": True}):
        ours = MinMaxScaler(**kw).fit(Xtr)
        ref = sk_pp.MinMaxScaler(**kw).fit(Xtr)
        np.testing.assert_allclose(ours.transform(Xte), ref.transform(Xte), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ours.inverse_transform(ours.transform(Xtr)), ref.inverse_transform(
            ref.transform(Xtr)), rtol=1e-12, atol=1e-12)
        for attr in ("data_min_", "data_max_", "data_range_", "scale_", "min_"):
            np.testing.assert_allclose(getattr(ours, attr), getattr(ref, attr))


def test_scaler_errors_and_state_dict():
    with pytest.raises(RuntimeError, match="not fitted"):
        StandardScaler().transform(np.ones((2, 2)))
    s = StandardScaler().fit(np.random.default_rng(0).normal(size=(10, 3)))
    with pytest.raises(ValueError, match=r"2 features \(shape \(4, 2\)\).*fitted on 3"):
        s.transform(np.ones((4, 2)))
    with pytest.raises(ValueError, match="2-D"):
        s.transform(np.ones(3))
    with pytest.raises(ValueError, match="feature range"):
        MinMaxScaler((1, 0))
    s2 = StandardScaler().load_state_dict(s.state_dict())
    x = np.ones((2, 3))
    np.testing.assert_array_equal(s2.transform(x), s.transform(x))
    m = MinMaxScaler().fit(np.arange(12.0).reshape(4, 3))
    m2 = MinMaxScaler().load_state_dict(m.state_dict())
    np.testing.assert_array_equal(m2.transform(x), m.transform(x))


def test_dataloader_over_subsets_uses_the_batched_path():
    X = np.arange(40, dtype=np.float32).reshape(20, 2)
    ds = TensorDataset(X, np.arange(20))
    train, test = random_split(ds, [15, 5], generator=1)
    assert hasattr(train, "_fetch_batch")
    loader = DataLoader(train, batch_size=4, shuffle=True, generator=2)
    rows = []
    for xb, yb in loader:
        np.testing.assert_array_equal(xb.numpy(), X[yb.numpy()])
        rows += yb.tolist()
    assert sorted(rows) == sorted(train.indices.tolist())
    assert not hasattr(Subset(_Squares(), [1, 2]), "_fetch_batch")
