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


# ----------------------------------------------------------------------------- loaders
def test_text_loaders():
    docs = fastnn.datasets.lee_background()
    assert len(docs) == 300 and docs[0][:3] == ["hundreds", "of", "people"]
    assert len(fastnn.datasets.lee_background(tokenized=False)[0]) > 100
    pairs, scores = fastnn.datasets.wordsim353()
    assert len(pairs) == 353 == len(scores) and pairs[1] == ("tiger", "cat") and scores[1] == 7.35
    q = fastnn.datasets.analogy_questions()
    assert list(q)[0] == "capital-common-countries" and len(q) == 14
    assert q["capital-common-countries"][0] == ("athens", "greece", "baghdad", "iraq")


def test_text_loaders_name_the_package_when_it_is_missing(monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gensim" else real(name, *a))
    with pytest.raises(ImportError, match="pip install gensim"):
        fastnn.datasets.lee_background()


# ----------------------------------------------------------------------------- the model
TOPICS = [["cat", "dog", "pet", "fur", "paw"], ["car", "road", "wheel", "engine", "fuel"]]


def topic_corpus(n=150, seed=0):
    """Sentences drawn from one of two topics each: words of a topic share contexts."""
    rng = np.random.default_rng(seed)
    return [list(rng.choice(TOPICS[i % 2], size=12)) for i in range(n)]


def topic_gap(wv):
    same = np.mean([wv.similarity(a, b) for t in TOPICS for a in t for b in t if a < b])
    cross = np.mean([wv.similarity(a, b) for a in TOPICS[0] for b in TOPICS[1]])
    return same - cross


@pytest.mark.parametrize("sg", [0, 1])
@pytest.mark.parametrize("loss", ["negative", "softmax"])
def test_related_words_end_up_closer(sg, loss):
    docs = topic_corpus()
    m = fastnn.models.Word2Vec(docs, vector_size=16, window=3, min_count=1, sample=0, sg=sg, epochs=10, workers=1,
                               loss=loss, alpha=0.05 if loss == "negative" else 0.5, batch_size=64,
                               compute_loss=True)
    untrained = fastnn.models.Word2Vec(docs, vector_size=16, min_count=1, epochs=0)
    assert topic_gap(m.wv) > 0.3 + topic_gap(untrained.wv)
    assert m.get_latest_training_loss() > 0
    assert m.wv.most_similar("cat", topn=4)[0][0] in TOPICS[0]


def test_spearman_on_the_real_corpus_well_above_an_untrained_model():
    """Reduced settings (CBOW, 50 dimensions, 40 epochs on the Lee corpus): the Spearman correlation with the
    WordSim-353 pairs in the vocabulary is clearly positive (gensim gets 0.2-0.3 here too)."""
    docs = fastnn.datasets.lee_background()
    pairs = fastnn.datasets.wordsim353()
    kw = dict(vector_size=50, min_count=2, alpha=0.05, workers=2, seed=1)
    m = fastnn.models.Word2Vec(docs, epochs=40, **kw)
    untrained = fastnn.models.Word2Vec(docs, epochs=0, **kw)
    _, rho, oov = m.wv.evaluate_word_pairs(pairs)
    _, rho0, _ = untrained.wv.evaluate_word_pairs(pairs)
    assert oov < 70 and rho.statistic > 0.15 and rho.statistic > rho0.statistic + 0.1, (rho, rho0)
    # related pairs (human score >= 6) closer than unrelated ones (< 3)
    wv, (ps, sc) = m.wv, pairs
    sims = {p: wv.similarity(*p) for p in ps if p[0] in wv and p[1] in wv}
    high = [sims[p] for p, s in zip(ps, sc) if p in sims and s >= 6]
    low = [sims[p] for p, s in zip(ps, sc) if p in sims and s < 3]
    assert np.mean(high) > np.mean(low) + 0.05


def test_one_worker_is_reproducible_and_the_seed_matters():
    docs = topic_corpus(40)
    kw = dict(vector_size=8, min_count=1, epochs=2, workers=1)
    a = fastnn.models.Word2Vec(docs, seed=3, **kw).wv.vectors
    b = fastnn.models.Word2Vec(docs, seed=3, **kw).wv.vectors
    c = fastnn.models.Word2Vec(docs, seed=4, **kw).wv.vectors
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_keyed_vectors_interface_and_save_load(tmp_path):
    docs = topic_corpus(60)
    m = fastnn.models.Word2Vec(docs, vector_size=12, min_count=1, epochs=3, workers=1)
    wv = m.wv
    assert wv.index_to_key[wv.key_to_index["car"]] == "car" and len(wv) == 10
    assert wv.vectors.shape == (10, 12) and wv.vectors.dtype == np.float32
    np.testing.assert_array_equal(wv["car"], wv.vectors[wv.key_to_index["car"]])
    assert wv[["car", "cat"]].shape == (2, 12)
    v, u = wv["car"], wv["cat"]
    assert wv.similarity("car", "cat") == pytest.approx(float(v @ u / np.linalg.norm(v) / np.linalg.norm(u)), rel=1e-5)
    top = wv.most_similar(positive=["car", "cat"], negative=["dog"], topn=3)
    assert len(top) == 3 and not {"car", "cat", "dog"} & {w for w, _ in top}
    assert top[0][1] >= top[1][1] >= top[2][1]
    with pytest.raises(KeyError, match="'zebra' not present"):
        wv["zebra"]
    path = tmp_path / "w2v.fnn"
    m.save(path)
    back = fastnn.models.Word2Vec.load(path)
    np.testing.assert_array_equal(back.wv.vectors, wv.vectors)
    np.testing.assert_array_equal(back.syn1neg, m.syn1neg)
    assert back.wv.index_to_key == wv.index_to_key and back.window == m.window
    wv.save(tmp_path / "kv.fnn")
    np.testing.assert_array_equal(fastnn.models.KeyedVectors.load(tmp_path / "kv.fnn").vectors, wv.vectors)
    # the table initialises an embedding (a tensor of the same values)
    np.testing.assert_array_equal(fastnn.from_numpy(wv.vectors).numpy(), wv.vectors)


def test_evaluations_against_known_answers_and_scipy():
    words = ["king", "queen", "man", "woman", "apple", "paris", "france", "rome", "italy"]
    vecs = np.eye(9, dtype=np.float32)
    vecs[1] = vecs[0] - vecs[2] + vecs[3]          # queen = king - man + woman
    vecs[8] = vecs[7] - vecs[5] + vecs[6] + 0.01   # italy = rome - paris + france
    wv = fastnn.models.KeyedVectors(9, words, vecs)
    score, sections = wv.evaluate_word_analogies({"family": [("man", "woman", "king", "queen"),
                                                              ("Man", "Woman", "King", "Queen"),
                                                              ("man", "king", "woman", "apple"),
                                                              ("man", "woman", "king", "unknownword")],
                                                   "capitals": [("paris", "france", "rome", "italy")]})
    assert [len(s["correct"]) for s in sections] == [2, 1, 3]
    assert [len(s["incorrect"]) for s in sections] == [1, 0, 1]  # the unknown word's question is not asked
    assert score == pytest.approx(3 / 4)
    rng = np.random.default_rng(0)
    wv = fastnn.models.KeyedVectors(5, words, rng.standard_normal((9, 5)).astype(np.float32))
    triples = [(words[i], words[j], float(rng.integers(0, 4))) for i in range(9) for j in range(i + 1, 9)]
    triples.append(("king", "nowhere", 3.0))
    pearson, spearman, oov = wv.evaluate_word_pairs(triples)
    assert oov == pytest.approx(100 / len(triples))
    sims = [wv.similarity(a, b) for a, b, _ in triples[:-1]]
    gold = [s for _, _, s in triples[:-1]]
    stats = pytest.importorskip("scipy.stats")
    assert spearman.statistic == pytest.approx(stats.spearmanr(gold, sims).statistic, abs=1e-6)
    assert spearman.pvalue == pytest.approx(stats.spearmanr(gold, sims).pvalue, rel=1e-5)
    assert pearson.statistic == pytest.approx(stats.pearsonr(gold, sims).statistic, abs=1e-6)


def test_model_arguments_are_checked():
    docs = topic_corpus(5)
    with pytest.raises(NotImplementedError, match="hierarchical softmax"):
        fastnn.models.Word2Vec(docs, hs=1, min_count=1)
    with pytest.raises(ValueError, match="'window' must be an int >= 1"):
        fastnn.models.Word2Vec(docs, window=0)
    with pytest.raises(ValueError, match="'loss' must be"):
        fastnn.models.Word2Vec(docs, loss="nce")
    with pytest.raises(TypeError, match="iterator"):
        fastnn.models.Word2Vec(iter(docs), min_count=1)
    with pytest.raises(TypeError, match="sentence 0 is a str"):
        fastnn.models.Word2Vec(["a sentence as a string"], min_count=1)
    with pytest.raises(RuntimeError, match="min_count=50"):
        fastnn.models.Word2Vec(docs, min_count=50)
    m = fastnn.models.Word2Vec(vector_size=4, min_count=1)
    with pytest.raises(RuntimeError, match="build_vocab"):
        m.train(docs)
