"""fastnn.data.text: bag-of-words and TF-IDF encoders (against scikit-learn) and pad_collate (against PyTorch)."""
import functools
import os

import numpy as np
import pytest

import fastnn
from fastnn.data import BatchSampler, DataLoader, SequentialSampler
from fastnn.data.text import BagOfWords, TfidfEncoder, Vocab, pad_collate, tokenize

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="module")
def sklearn_text():
    try:
        import sklearn.feature_extraction.text as skt
    except ImportError:
        if IN_CI:
            pytest.fail("scikit-learn (the TF-IDF reference) must be installed under CI=true")
        pytest.skip("needs scikit-learn")
    return skt


def _corpus(rng, n_docs, n_words, max_len):
    words = [f"w{i}" for i in range(n_words)]
    p = 1.0 / np.arange(1, n_words + 1)  # Zipf-like, so frequencies differ
    p /= p.sum()
    return [list(rng.choice(words, size=int(rng.integers(0, max_len + 1)), p=p)) for _ in range(n_docs)]


def _reference(skt, cls, vocab, **kw):
    # the vocabulary fixed to ours without the specials; documents are already token lists
    return cls(analyzer=lambda doc: doc, vocabulary=vocab.itos[len(vocab.specials):], **kw)


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("n_docs", [1, 7, 40])
def test_bag_of_words_matches_sklearn(binary, n_docs, rng, sklearn_text):
    train = _corpus(rng, n_docs, 30, 12)
    vocab = Vocab.build(train)
    test = _corpus(rng, 5, 40, 12)  # holds words outside the vocabulary
    enc = BagOfWords(vocab, binary=binary).fit(train)
    ours = enc.transform(test)
    ref = _reference(sklearn_text, sklearn_text.CountVectorizer, vocab, binary=binary).fit(train).transform(test)
    assert ours.dtype == np.float32 and ours.shape == (5, len(vocab))
    np.testing.assert_array_equal(ours[:, 2:], ref.toarray())
    assert not ours[:, :2].any()
    np.testing.assert_array_equal(enc.fit_transform(train), BagOfWords(vocab, binary).transform(train))


@pytest.mark.parametrize("norm", ["l2", "l1", None])
@pytest.mark.parametrize("smooth_idf,sublinear_tf,use_idf,binary", [
    (True, False, True, False), (False, False, True, False), (True, True, True, False), (False, True, True, False),
    (True, False, False, False), (True, False, True, True)])
def test_tfidf_matches_sklearn(norm, smooth_idf, sublinear_tf, use_idf, binary, rng, sklearn_text):
    train = _corpus(rng, 25, 30, 15)
    vocab = Vocab.build(train)
    test = _corpus(rng, 6, 30, 15) + [[]]
    kw = dict(norm=norm, smooth_idf=smooth_idf, sublinear_tf=sublinear_tf, use_idf=use_idf, binary=binary)
    enc = TfidfEncoder(vocab, **kw).fit(train)
    ref = _reference(sklearn_text, sklearn_text.TfidfVectorizer, vocab, **kw).fit(train)
    for docs in (train, test):
        ours = enc.transform(docs)
        assert ours.dtype == np.float32 and ours.shape == (len(docs), len(vocab))
        np.testing.assert_allclose(ours[:, 2:], ref.transform(docs).toarray(), rtol=1e-6, atol=1e-7)
        assert not ours[:, :2].any()
    if use_idf:
        np.testing.assert_allclose(enc.idf_[2:], ref.idf_, rtol=1e-12)
    np.testing.assert_array_equal(enc.transform([[]]), np.zeros((1, len(vocab)), np.float32))


def test_tfidf_on_real_sentences_matches_sklearn(sklearn_text):
    texts = ["The cat sat on the mat.", "The dog ate my homework!", "A cat and a dog: friends?", "mat mat mat"]
    docs = [tokenize(t) for t in texts]
    vocab = Vocab.build(docs)
    ours = TfidfEncoder(vocab).fit_transform(docs)
    ref = _reference(sklearn_text, sklearn_text.TfidfVectorizer, vocab).fit_transform(docs).toarray()
    np.testing.assert_allclose(ours[:, 2:], ref, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-6)


def test_tfidf_unseen_token_without_smoothing_is_finite():
    vocab = Vocab(["a", "b", "c"])
    enc = TfidfEncoder(vocab, smooth_idf=False).fit([["a", "b"], ["a"]])
    x = enc.transform([["c", "a"]])
    assert np.isfinite(x).all() and x[0, vocab["c"]] > x[0, vocab["a"]] > 0


def test_tfidf_state_dict_round_trip(tmp_path):
    docs = [["x", "y"], ["y", "z", "z"]]
    vocab = Vocab.build(docs)
    enc = TfidfEncoder(vocab, sublinear_tf=True).fit(docs)
    fastnn.save({"tfidf": enc.state_dict(), "vocab": vocab.state_dict()}, tmp_path / "enc.fnn")
    state = fastnn.load(tmp_path / "enc.fnn")
    back = TfidfEncoder(Vocab.from_state_dict(state["vocab"]), sublinear_tf=True).load_state_dict(state["tfidf"])
    np.testing.assert_array_equal(back.transform(docs), enc.transform(docs))


def test_encoder_errors():
    vocab = Vocab(["a"])
    with pytest.raises(TypeError, match="document 1 is a str"):
        BagOfWords(vocab).transform([["a"], "a b"])
    with pytest.raises(TypeError, match="'docs'"):
        TfidfEncoder(vocab).fit("a b")
    with pytest.raises(TypeError, match="vocab"):
        BagOfWords(["a", "b"])
    with pytest.raises(ValueError, match="norm"):
        TfidfEncoder(vocab, norm="max")
    with pytest.raises(RuntimeError, match="not fitted"):
        TfidfEncoder(vocab).transform([["a"]])
    with pytest.raises(ValueError, match="empty"):
        TfidfEncoder(vocab).fit([])
    with pytest.raises(ValueError, match="shape"):
        TfidfEncoder(vocab).load_state_dict({"idf_": np.ones(7)})
    assert BagOfWords(vocab).transform([]).shape == (0, 3)


# ---------------------------------------------------------------- pad_collate

def test_pad_collate_matches_pytorch_pad_sequence(rng, torch):
    seqs = [rng.integers(1, 50, size=n).tolist() for n in (3, 1, 5, 5, 2)]
    labels = [0, 1, 1, 0, 2]
    for batch_first in (False, True):
        padded, lengths, y = pad_collate(list(zip(seqs, labels)), batch_first=batch_first, padding_value=7)
        ref = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first=batch_first,
                                              padding_value=7)
        assert padded.dtype == fastnn.int64 and lengths.dtype == fastnn.int64 and y.dtype == fastnn.int64
        assert padded.device.type == lengths.device.type == "cpu"
        np.testing.assert_array_equal(padded.numpy(), ref.numpy())
        assert lengths.tolist() == [3, 1, 5, 5, 2] and y.tolist() == labels
        # what pack_padded_sequence takes
        packed = torch.nn.utils.rnn.pack_padded_sequence(torch.from_numpy(padded.numpy()),
                                                         torch.from_numpy(lengths.numpy()),
                                                         batch_first=batch_first, enforce_sorted=False)
        assert packed.data.shape == (16,)


def test_pad_collate_feature_sequences_tensors_and_bare_samples(rng, torch):
    base = rng.normal(size=(4, 9, 3)).astype(np.float32)
    seqs = [fastnn.tensor(base[0, :6]), fastnn.tensor(base[1, ::2]), fastnn.tensor(base[2, :1])]  # a strided one
    padded, lengths = pad_collate(seqs, batch_first=True, padding_value=-1.0)
    ref = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(s.numpy()) for s in seqs], batch_first=True,
                                          padding_value=-1.0)
    assert padded.dtype == fastnn.float32 and padded.shape == (3, 6, 3)
    np.testing.assert_array_equal(padded.numpy(), ref.numpy())
    assert lengths.tolist() == [6, 5, 1]
    # samples of three fields: the extra ones are collated as DataLoader would
    p, n, y, w = pad_collate([(np.array([1, 2]), 1, 0.5), ([4], 0, 1.5)])
    assert p.shape == (2, 2) and n.tolist() == [2, 1] and w.dtype == fastnn.float64
    # an empty sequence pads to zeros; one sample alone
    p, n = pad_collate([[], [3]], batch_first=True)
    assert p.tolist() == [[0], [3]] and n.tolist() == [0, 1]
    p, n = pad_collate([[]])
    assert p.shape == (0, 1) and p.dtype == fastnn.int64


@pytest.mark.parametrize("batch,error,match", [
    ([], ValueError, "non-empty"), ("abc", ValueError, "non-empty"),
    ([([1], 0), [2]], TypeError, "mixes"), ([([1], 0), ([2],)], ValueError, "same number"),
    ([np.zeros((2, 3)), np.zeros((2, 4))], ValueError, "trailing"), ([5, 6], TypeError, "sample 0"),
    ([np.float32(3.0)], TypeError, "sample 0"), ([np.array(["a", "b"])], TypeError, "dtype"),
    ([np.array(3)], ValueError, "scalar"), ([[[1, 2], [3]]], ValueError, "ragged"),
])
def test_pad_collate_errors(batch, error, match):
    with pytest.raises(error, match=match):
        pad_collate(batch)


def test_bucketing_by_length_with_a_batch_sampler(rng):
    """The documented recipe: sort by length, cut into batches, shuffle the batches."""
    lengths = rng.integers(1, 60, size=200)
    data = [(rng.integers(2, 100, size=n).tolist(), int(n % 2)) for n in lengths]
    order = np.argsort(lengths, kind="stable")
    buckets = [order[i:i + 16].tolist() for i in range(0, len(order), 16)]
    batch_order = rng.permutation(len(buckets))
    collate = functools.partial(pad_collate, batch_first=True, padding_value=0)
    bucketed = DataLoader(data, batch_sampler=[buckets[i] for i in batch_order], collate_fn=collate)
    plain = DataLoader(data, batch_size=16, shuffle=True, collate_fn=collate)
    assert len(bucketed) == len(plain) == 13

    def padding(loader):
        seen, pads = [], 0
        for padded, n, y in loader:
            assert padded.shape == (len(n), int(n.max()))
            assert all(padded.numpy()[i, k:].sum() == 0 for i, k in enumerate(n.tolist()))
            pads += padded.numel() - int(n.sum())
            seen += n.tolist()
        assert sorted(seen) == sorted(lengths.tolist())
        return pads

    assert padding(bucketed) < padding(plain) / 5
    # a BatchSampler over a custom order is the same thing
    again = DataLoader(data, batch_sampler=BatchSampler(order.tolist(), 16, False), collate_fn=collate)
    first = next(iter(again))
    assert first[1].tolist() == sorted(lengths.tolist())[:16]
    assert len(DataLoader(data, sampler=SequentialSampler(data), batch_size=16, collate_fn=collate)) == 13
