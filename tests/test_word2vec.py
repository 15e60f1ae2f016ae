"""word2vec: the native training kernel against a plain numpy replay of its contract
(csrc/ops/word2vec/word2vec.h, the same Philox draws) on every CPU path, its argument checks, the data
loaders, fastnn.models.Word2Vec on the real corpus (related words closer than unrelated ones) beside
gensim's, and the full-softmax form."""
import os

import numpy as np
import pytest

import fastnn
from fastnn import _C, kernels

U64 = 1 << 64


# ----------------------------------------------------------------------------- the numpy reference
def philox_block(key, offset, p, j):
    """Block j of token position p (word2vec.h): counter offset + p as 128 bits, word 3 += j."""
    q = offset + p
    lo, carry = q % U64, int(q >= U64)
    return _C.philox4x32_10([lo & 0xFFFFFFFF, lo >> 32, carry, j], [key & 0xFFFFFFFF, key >> 32])


def reference_train(syn0, syn1, tokens, offsets, keep_prob, cum, window, negative, sg, cbow_mean, alpha,
                    min_alpha, word_start, total_words, key, offset, compute_loss=True):
    """The contract, word by word in numpy (one thread); returns (words kept, loss)."""
    T = syn0.dtype.type
    kept_words, loss = 0, 0.0

    def negatives(p):
        k = 0
        while True:
            yield philox_block(key, offset, p, 1 + k // 4)[k % 4]
            k += 1

    def draw_word(u):
        r = (int(u) * int(cum[-1])) >> 32
        return int(np.searchsorted(cum, r, side="right"))

    def targets(h, w, neg, e):
        nonlocal loss
        e[:] = 0
        for d in range(negative + 1):
            t, label = w, T(1)
            if d:
                t, label = draw_word(next(neg)), T(0)
                if t == w:
                    continue
            x = T(np.dot(h, syn1[t]))
            sig = T(1) / (T(1) + np.exp(-x))
            g = T((label - sig) * lr)
            if compute_loss:
                loss += float(np.logaddexp(0, -(x if d == 0 else -x)))
            e += g * syn1[t]
            syn1[t] += g * h

    for s in range(len(offsets) - 1):
        kept = [p for p in range(offsets[s], offsets[s + 1])
                if keep_prob is None or float(philox_block(key, offset, p, 0)[0]) < keep_prob[tokens[p]] * 2.0 ** 32]
        kept_words += len(kept)
        n = len(kept)
        for i, p in enumerate(kept):
            w = int(tokens[p])
            win = window - ((philox_block(key, offset, p, 0)[1] * window) >> 32)
            lo, hi = max(0, i - win), min(n - 1, i + win)
            lr = alpha if total_words == 0 else max(min_alpha, alpha - (alpha - min_alpha) * (word_start + p)
                                                    / total_words)
            lr = T(lr)
            neg = negatives(p)
            e = np.zeros(syn0.shape[1], syn0.dtype)
            ctx = [int(tokens[kept[j]]) for j in range(lo, hi + 1) if j != i]
            if sg:
                for c in ctx:
                    h = syn0[c]
                    targets(h, w, neg, e)
                    syn0[c] += e
            elif ctx:
                h = syn0[ctx].sum(0, dtype=syn0.dtype)
                if cbow_mean:
                    h = h * (T(1) / T(len(ctx)))
                targets(h, w, neg, e)
                share = T(1) if cbow_mean else T(1) / T(len(ctx))
                for c in ctx:
                    syn0[c] += share * e
    return kept_words, loss


def corpus(rng, V, lengths):
    tokens = rng.integers(0, V, size=sum(lengths)).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return tokens, offsets


def tables(rng, V, D, dtype):
    return ((rng.random((V, D)) - 0.5).astype(dtype), (rng.standard_normal((V, D)) * 0.3).astype(dtype))


def cum_table(counts, power=0.75):
    w = np.asarray(counts, np.float64) ** power
    return np.round(np.cumsum(w) / w.sum() * 2.0 ** 32).astype(np.int64)


CASES = [  # V, D, lengths, window, negative, sg, cbow_mean, subsample
    (13, 8, [9, 1, 0, 14], 3, 3, True, True, True),
    (13, 8, [9, 1, 0, 14], 3, 3, False, True, True),
    (7, 5, [12, 6], 2, 2, False, False, False),
    (29, 33, [20], 5, 5, True, True, False),
    (1, 4, [5], 2, 3, True, True, False),     # every negative is the positive word: skipped
    (11, 1, [7, 7], 1, 0, True, True, True),  # no negatives: positives only
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_kernel_equals_the_numpy_reference_on_one_thread(cpu_path, case, dtype):
    V, D, lengths, window, negative, sg, cbow_mean, subsample = CASES[case]
    rng = np.random.default_rng(case)
    tokens, offsets = corpus(rng, V, lengths)
    keep = rng.uniform(0.3, 1.0, V) if subsample else None
    cum = cum_table(rng.integers(1, 50, V)) if negative else None
    syn0, syn1 = tables(rng, V, D, dtype)
    r0, r1 = syn0.copy(), syn1.copy()
    key, offset = int(rng.integers(0, 2 ** 63)) * 2 + 1, U64 - 5  # the offset wraps past 2^64 inside the draw
    args = (window, negative, sg, cbow_mean, 0.05, 0.001, 3, 40, key, offset)
    used, kept, loss = kernels.word2vec_train(syn0, syn1, tokens, offsets, keep, cum, *args, threads=1,
                                              compute_loss=True)
    want_kept, want_loss = reference_train(r0, r1, tokens, offsets, keep, cum, *args)
    assert used == len(tokens) and kept == want_kept
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(syn0, r0, rtol=tol, atol=tol)
    np.testing.assert_allclose(syn1, r1, rtol=tol, atol=tol)
    assert loss == pytest.approx(want_loss, rel=1e-4 if dtype == np.float32 else 1e-10)


def test_strided_inputs_and_tokens_outside_sentences(cpu_path):
    rng = np.random.default_rng(3)
    V, D = 17, 12
    tokens, _ = corpus(rng, V, [30])
    offsets = np.array([2, 10, 10, 25], np.int64)  # tokens 0-1 and 25-29 belong to no sentence
    keep, cum = rng.uniform(0.5, 1, V), cum_table(rng.integers(1, 9, V))
    syn0, syn1 = tables(rng, V, D, np.float64)
    r0, r1 = syn0.copy(), syn1.copy()
    args = (4, 2, True, True, 0.025, 1e-4, 0, 0, 99, 0)

    def strided(a):
        b = np.zeros((len(a), 3), a.dtype)
        b[:, 1] = a
        return b[:, 1]
    kernels.word2vec_train(syn0, syn1, strided(tokens), strided(offsets), strided(keep), strided(cum)[::-1][::-1],
                           *args, threads=1)
    reference_train(r0, r1, tokens, offsets, keep, cum, *args)
    np.testing.assert_allclose(syn0, r0, rtol=1e-12)
    np.testing.assert_allclose(syn1, r1, rtol=1e-12)
    # words of no sentence and the rows of unseen words are untouched
    unseen = np.setdiff1d(np.arange(V), tokens[2:25])
    assert all(np.array_equal(syn0[u], r0[u]) for u in unseen)


def test_empty_inputs_and_draws_independent_of_the_thread_count():
    syn0, syn1 = np.ones((3, 4), np.float32), np.ones((3, 4), np.float32)
    assert kernels.word2vec_train(syn0, syn1, np.zeros(0, np.int64), np.zeros(1, np.int64), None, None, 2, 0, True,
                                  True, 0.1, 0.0, 0, 0, 1, 0) == (0, 0, 0.0)
    assert (syn0 == 1).all() and (syn1 == 1).all()
    # each sentence alone on a thread: one sentence touching disjoint rows makes the result exact at any count
    rng = np.random.default_rng(5)
    V, D = 40, 16
    tokens = np.arange(40, dtype=np.int64)
    offsets = np.arange(0, 41, 10, dtype=np.int64)
    keep = np.full(V, 0.7)
    for threads in (1, 2, 4):
        syn0, syn1 = tables(np.random.default_rng(0), V, D, np.float32)
        _, kept, _ = kernels.word2vec_train(syn0, syn1, tokens, offsets, keep, None, 3, 0, True, True, 0.1, 0.0, 0,
                                            0, 7, 11, threads=threads)
        if threads == 1:
            first, first_kept = syn0.copy(), kept
        assert kept == first_kept
        np.testing.assert_array_equal(syn0, first)


def _args(**kw):
    rng = np.random.default_rng(0)
    V, D = 6, 4
    a = dict(syn0=np.zeros((V, D), np.float32), syn1neg=np.zeros((V, D), np.float32),
             tokens=rng.integers(0, V, 10).astype(np.int64), offsets=np.array([0, 4, 10], np.int64),
             keep_prob=np.ones(V), cum_table=cum_table(np.ones(V)), window=2, negative=2, sg=True,
             cbow_mean=True, alpha=0.025, min_alpha=1e-4, word_start=0, total_words=10, key=1, offset=0)
    a.update(kw)
    return a


@pytest.mark.parametrize("kw, err, match", [
    (dict(tokens=np.array([0, 6], np.int64), offsets=np.array([0, 2], np.int64)), ValueError,
     r"'tokens' holds word ids outside \[0, 6\)"),
    (dict(tokens=np.array([-1], np.int64), offsets=np.array([0, 1], np.int64)), ValueError, "'tokens'"),
    (dict(tokens=np.array([1, 2], np.int32)), TypeError, "'tokens' must have dtype int64"),
    (dict(window=0), ValueError, r"'window' must be in \[1,"),
    (dict(negative=-1), ValueError, r"'negative' must be in \[0,"),
    (dict(offsets=np.array([0, 5, 3], np.int64)), ValueError, "'offsets' .* non-decreasing"),
    (dict(offsets=np.array([0, 11], np.int64)), ValueError, "'offsets'"),
    (dict(offsets=np.zeros(0, np.int64)), ValueError, "'offsets' must hold at least one value"),
    (dict(keep_prob=np.full(6, 1.5)), ValueError, "'keep_prob' must hold probabilities"),
    (dict(keep_prob=np.ones(5)), ValueError, "'keep_prob' must have shape"),
    (dict(cum_table=np.array([1, 2, 3, 2, 5, 6], np.int64)), ValueError, "'cum_table' must be non-negative"),
    (dict(cum_table=np.zeros(6, np.int64)), ValueError, "'cum_table' must end with a total"),
    (dict(cum_table=None), TypeError, "'cum_table' must be an array when negative > 0"),
    (dict(syn1neg=np.zeros((6, 5), np.float32)), ValueError, "'syn1neg' must have shape"),
    (dict(syn1neg=np.zeros((6, 4), np.float64)), TypeError, "same dtype"),
    (dict(syn0=np.zeros((6, 8), np.float32)[:, ::2]), ValueError, "'syn0' .* contiguous"),
    (dict(alpha=float("nan")), ValueError, "'alpha' must be finite"),
    (dict(key=-1), ValueError, "'key' must be in"),
    (dict(word_start=-3), ValueError, "'word_start'"),
])
def test_bad_arguments_raise_naming_them(kw, err, match):
    with pytest.raises(err, match=match):
        _C.word2vec_train(**_args(**kw))


def test_read_only_and_aliased_tables_are_refused():
    a = _args()
    a["syn0"].flags.writeable = False
    with pytest.raises(ValueError, match="'syn0' is read-only"):
        _C.word2vec_train(**a)
    both = np.zeros((12, 4), np.float32)
    with pytest.raises(ValueError, match="overlaps"):
        _C.word2vec_train(**_args(syn0=both[:6], syn1neg=both[3:9]))
