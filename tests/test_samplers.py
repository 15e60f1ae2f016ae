"""Samplers and DataLoader's sampler=/batch_sampler= (torch.utils.data's rules; PyTorch as the reference)."""
import numpy as np
import pytest

import fastnn
from fastnn.data import (BatchSampler, DataLoader, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                         TensorDataset, WeightedRandomSampler)


def test_sequential_sampler():
    assert list(SequentialSampler(range(5))) == [0, 1, 2, 3, 4] and len(SequentialSampler([1, 2])) == 2
    assert list(SequentialSampler([])) == []
    assert all(type(i) is int for i in SequentialSampler(range(3)))


@pytest.mark.parametrize("n", [1, 2, 17])
def test_random_sampler_is_a_reproducible_permutation(n):
    fastnn.manual_seed(3)
    a = list(RandomSampler(range(n)))
    fastnn.manual_seed(3)
    s = RandomSampler(range(n))
    b, c = list(s), list(s)
    assert a == b and sorted(a) == list(range(n)) and len(s) == n
    assert all(type(i) is int for i in a)
    if n > 5:
        assert b != c  # a new order every pass


def test_random_sampler_generators():
    g = fastnn.Generator().manual_seed(11)
    a = list(RandomSampler(range(50), generator=g))
    g.manual_seed(11)
    b = list(RandomSampler(range(50), generator=g))
    c = list(RandomSampler(range(50), generator=np.random.default_rng(11)))
    assert a == b == c
    seeded = RandomSampler(range(50), generator=11)
    first, second = list(seeded), list(seeded)
    assert first == a and second != first  # an int seed starts one stream that moves on
    with pytest.raises(TypeError, match="generator"):
        RandomSampler(range(3), generator="x")


def test_random_sampler_num_samples_and_replacement():
    s = RandomSampler(range(4), num_samples=10)
    idx = list(s)
    assert len(idx) == len(s) == 10
    # without replacement: whole permutations, then part of one
    assert sorted(idx[:4]) == sorted(idx[4:8]) == [0, 1, 2, 3] and len(set(idx[8:])) == 2
    r = list(RandomSampler(range(3), replacement=True, num_samples=3000))
    counts = np.bincount(r, minlength=3)
    assert len(r) == 3000 and counts.min() > 850  # about 1000 each
    assert len(RandomSampler(range(7), replacement=True)) == 7


@pytest.mark.parametrize("kwargs,error", [(dict(replacement=1), TypeError), (dict(num_samples=0), ValueError),
                                          (dict(num_samples=2.0), ValueError), (dict(num_samples=-1), ValueError)])
def test_random_sampler_errors_match_pytorch(kwargs, error, torch):
    with pytest.raises(error, match="replacement|num_samples"):
        RandomSampler(range(3), **kwargs)
    with pytest.raises(error):
        torch.utils.data.RandomSampler(range(3), **kwargs)


def test_random_sampler_on_empty_data_matches_pytorch(torch):
    with pytest.raises(ValueError, match="num_samples=0"):
        RandomSampler([])
    with pytest.raises(ValueError):
        torch.utils.data.RandomSampler([])
    with pytest.raises(ValueError, match="num_samples=0"):
        DataLoader(TensorDataset(np.zeros((0, 2))), shuffle=True)


def test_subset_random_sampler():
    idx = [10, 3, 7, 42]
    fastnn.manual_seed(0)
    s = SubsetRandomSampler(idx)
    out = list(s)
    assert sorted(out) == sorted(idx) and len(s) == 4 and all(type(i) is int for i in out)
    fastnn.manual_seed(0)
    assert list(SubsetRandomSampler(np.array(idx))) == out
    assert list(SubsetRandomSampler([])) == []


def test_weighted_random_sampler_frequencies():
    w = [0.0, 1.0, 3.0, 6.0]
    s = WeightedRandomSampler(w, 20000)
    counts = np.bincount(list(s), minlength=4)
    assert len(s) == 20000 and counts[0] == 0
    np.testing.assert_allclose(counts[1:] / 20000, [0.1, 0.3, 0.6], atol=0.02)
    no_rep = list(WeightedRandomSampler(fastnn.tensor([1.0, 2.0, 3.0, 4.0, 5.0]), 5, replacement=False))
    assert sorted(no_rep) == [0, 1, 2, 3, 4]
    g1, g2 = fastnn.Generator().manual_seed(4), fastnn.Generator().manual_seed(4)
    assert list(WeightedRandomSampler(w, 50, generator=g1)) == list(WeightedRandomSampler(w, 50, generator=g2))


def test_weighted_random_sampler_balances_classes_in_a_loader():
    y = np.array([0] * 90 + [1] * 10)
    weights = 1.0 / np.bincount(y)[y]
    fastnn.manual_seed(1)
    loader = DataLoader(TensorDataset(np.arange(100), y), batch_size=100,
                        sampler=WeightedRandomSampler(weights, 4000))
    labels = np.concatenate([yb.numpy() for _, yb in loader])
    assert len(loader) == 40 and abs(labels.mean() - 0.5) < 0.05


@pytest.mark.parametrize("args,error", [(([1.0, 2.0], 0), ValueError), (([1.0, 2.0], True), ValueError),
                                        (([1.0, 2.0], 2, 1), ValueError), (([[1.0, 2.0]], 2), ValueError)])
def test_weighted_random_sampler_argument_errors_match_pytorch(args, error, torch):
    with pytest.raises(error, match="num_samples|replacement|weights"):
        WeightedRandomSampler(*args)
    with pytest.raises(error):
        torch.utils.data.WeightedRandomSampler(*args)


@pytest.mark.parametrize("weights,n,replacement", [([-1.0, 2.0], 2, True), ([0.0, 0.0], 1, True),
                                                   ([1.0, 0.0, 1.0], 4, False), ([float("nan"), 1.0], 1, True)])
def test_weighted_random_sampler_bad_weights_raise_when_drawing(weights, n, replacement, torch):
    s = WeightedRandomSampler(weights, n, replacement=replacement)  # as in PyTorch, only drawing checks them
    with pytest.raises(RuntimeError, match="multinomial"):
        list(s)
    with pytest.raises(RuntimeError):
        list(torch.utils.data.WeightedRandomSampler(weights, n, replacement=replacement))


@pytest.mark.parametrize("n,bs,drop", [(0, 3, False), (1, 3, True), (1, 3, False), (10, 3, False), (10, 3, True),
                                       (9, 3, True), (5, 1, False), (4, 9, False)])
def test_batch_sampler_matches_pytorch(n, bs, drop, torch):
    for sampler in (SequentialSampler(range(n)), list(range(n))[::-1], iter_only(n)):
        ours = BatchSampler(sampler, bs, drop)
        ref = torch.utils.data.BatchSampler(list(sampler), bs, drop)
        assert list(ours) == list(ref)
        assert len(ours) == len(ref)


class iter_only(Sampler):
    """A user sampler with only __iter__ and __len__ (the lazy path)."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


@pytest.mark.parametrize("bs,drop", [(0, False), (-2, False), (True, False), (2.0, False), (2, 1)])
def test_batch_sampler_errors_match_pytorch(bs, drop, torch):
    with pytest.raises(ValueError, match="batch_size|drop_last"):
        BatchSampler(range(4), bs, drop)
    with pytest.raises(ValueError):
        torch.utils.data.BatchSampler(range(4), bs, drop)


def _dataset(n):
    return TensorDataset(np.arange(n, dtype=np.float32).reshape(n, 1), np.arange(n))


@pytest.mark.parametrize("kwargs", [
    dict(sampler=[3, 1, 2]),
    dict(sampler=[3, 1, 2, 4, 0], batch_size=2, drop_last=True),
    dict(sampler=SequentialSampler(range(7)), batch_size=3),
    dict(batch_sampler=[[0, 1], [5], [2, 3, 4]]),
    dict(batch_sampler=BatchSampler(range(7), 4, False)),
    dict(batch_sampler=BatchSampler(range(7), 4, True)),
    dict(batch_size=None),
    dict(batch_size=None, sampler=[6, 0]),
])
def test_dataloader_with_samplers_matches_pytorch(kwargs, torch):
    ds = _dataset(7)
    ref_ds = torch.utils.data.TensorDataset(torch.arange(7, dtype=torch.float32).reshape(7, 1), torch.arange(7))
    ours, ref = DataLoader(ds, **kwargs), torch.utils.data.DataLoader(ref_ds, **kwargs)
    assert len(ours) == len(ref)
    got, want = list(ours), list(ref)
    assert len(got) == len(want) == len(ours)
    for (xa, ya), (xb, yb) in zip(got, want):
        assert ya.tolist() == yb.tolist() and xa.tolist() == xb.tolist()
    # the generic per-sample path gives the same batches
    if kwargs.get("batch_size", 1) is not None:
        slow = [yb.tolist() for _, yb in DataLoader(ds, collate_fn=fastnn.data.default_collate, **kwargs)]
        assert slow == [yb.tolist() for _, yb in want]


@pytest.mark.parametrize("kwargs", [dict(shuffle=True, sampler=[0]), dict(batch_sampler=[[0]], batch_size=2),
                                    dict(batch_sampler=[[0]], shuffle=True), dict(batch_sampler=[[0]], sampler=[0]),
                                    dict(batch_sampler=[[0]], drop_last=True), dict(batch_size=None, drop_last=True)])
def test_dataloader_mutually_exclusive_options_match_pytorch(kwargs, torch):
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(_dataset(3), **kwargs)
    with pytest.raises(ValueError, match="mutually exclusive"):
        torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.arange(3)), **kwargs)


def test_dataloader_attributes_like_pytorch():
    loader = DataLoader(_dataset(5), batch_size=2, shuffle=True)
    assert isinstance(loader.sampler, RandomSampler) and isinstance(loader.batch_sampler, BatchSampler)
    assert loader.batch_sampler.batch_size == 2 and loader.batch_size == 2 and len(loader) == 3
    custom = DataLoader(_dataset(5), batch_sampler=[[0, 1, 2, 3, 4]])
    assert custom.batch_size is None and custom.drop_last is False and len(custom) == 1
    unbatched = DataLoader(_dataset(5), batch_size=None)
    assert unbatched.batch_sampler is None and len(unbatched) == 5


def test_dataloader_positional_arguments_follow_pytorch():
    # dataset, batch_size, shuffle, sampler, batch_sampler, num_workers, collate_fn, pin_memory, drop_last
    loader = DataLoader(_dataset(5), 2, False, None, None, 0, lambda b: len(b), False, True)
    assert list(loader) == [2, 2]


def test_multinomial_without_replacement_uses_zero_weights_last_as_pytorch(torch):
    w = [0.0, 1.0, 2.0, 0.0]
    for seed in range(20):
        fastnn.manual_seed(seed)
        got = fastnn.multinomial(fastnn.tensor(w), 3).numpy()
        ref = torch.multinomial(torch.tensor(w), 3).numpy()
        assert sorted(got[:2]) == sorted(ref[:2]) == [1, 2] and got[2] in (0, 3) and ref[2] in (0, 3)
        assert len(set(got)) == 3
    with pytest.raises(RuntimeError, match="n_sample > prob_dist.size"):
        fastnn.multinomial(fastnn.tensor(w), 5)
    # drawing without replacement follows the weights: the heavier category comes first more often
    fastnn.manual_seed(0)
    firsts = [int(fastnn.multinomial(fastnn.tensor([1.0, 3.0]), 2).numpy()[0]) for _ in range(400)]
    assert 0.65 < np.mean(firsts) < 0.85
