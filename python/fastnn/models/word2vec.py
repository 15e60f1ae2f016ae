"""word2vec (Mikolov et al. 2013) with gensim's ``Word2Vec`` interface: CBOW and skip-gram.

``loss="negative"`` (the default) trains with negative sampling on fastnn's native kernel
(``fastnn.kernels.word2vec_train``, contract in csrc/ops/word2vec/word2vec.h): subsampling of frequent
words, reduced random windows, negatives from the unigram^0.75 table, the sparse SGD updates, the
learning rate decaying linearly from ``alpha`` to ``min_alpha`` over all epochs, ``workers`` threads
sharing the sentences without locks as word2vec.c and gensim do. With one worker the result is
bitwise reproducible for a ``seed``; with several it is not (threads race on shared rows, by design).

``loss="softmax"`` trains the full-softmax form of the course (every word of the vocabulary scored for
each prediction: a lookup of input vectors, a product with the output matrix, cross-entropy), written
with fastnn tensors and autograd: it costs O(V) per prediction, so it is for small vocabularies.
"""
from __future__ import annotations

import math
import time

import numpy as np

from .. import backend
from .. import random as _random
from ..data.text import Vocab
from .keyed_vectors import KeyedVectors

__all__ = ["Word2Vec"]

# gensim cuts sentences at 10,000 words; here longer ones are split into pieces of that size instead.
MAX_WORDS_IN_BATCH = 10000
# Words per native call: a chunk of whole sentences (the learning rate decays within the call).
_CHUNK_WORDS = 1 << 20


class Word2Vec:
    """CBOW (``sg=0``) or skip-gram (``sg=1``) word vectors; gensim's arguments and defaults.

    ``sentences``: an iterable of token lists (it is read twice: vocabulary, then training), or
    ``corpus_file``: a text file with one sentence per line, tokens separated by spaces. Given either, the
    model is built and trained at once. ``min_count`` drops rarer words, ``max_final_vocab`` keeps the most
    frequent ones, ``sample`` sets the subsampling of frequent words (0: none), ``negative`` the negatives per
    prediction, ``ns_exponent`` the power of the counts they are drawn by, ``cbow_mean`` the mean (1) or
    sum (0) of the context vectors. ``hs=1`` (hierarchical softmax) is not implemented; ``loss="softmax"``
    selects the full softmax instead of negative sampling (mini-batches of ``batch_size`` predictions, ``alpha``
the step of their mean loss: about 0.5 suits it). ``device`` holds the tables ("cpu" or "cuda").
    The trained vectors are ``model.wv`` (a ``KeyedVectors``).
    """

    def __init__(self, sentences=None, corpus_file=None, vector_size=100, alpha=0.025, window=5, min_count=5,
                 max_vocab_size=None, sample=1e-3, seed=1, workers=3, min_alpha=0.0001, sg=0, hs=0, negative=5,
                 ns_exponent=0.75, cbow_mean=1, epochs=5, sorted_vocab=1, batch_words=MAX_WORDS_IN_BATCH,
                 compute_loss=False, max_final_vocab=None, loss="negative", batch_size=256, device="cpu"):
        def need(ok, msg, err=ValueError):
            if not ok:
                raise err(f"Word2Vec: {msg}")
        need(isinstance(vector_size, (int, np.integer)) and vector_size >= 1,
             f"argument 'vector_size' must be an int >= 1, got {vector_size!r}")
        need(isinstance(window, (int, np.integer)) and window >= 1, f"argument 'window' must be an int >= 1, got {window!r}")
        need(isinstance(min_count, (int, np.integer)) and min_count >= 1,
             f"argument 'min_count' must be an int >= 1, got {min_count!r}")
        need(isinstance(negative, (int, np.integer)) and negative >= 0,
             f"argument 'negative' must be an int >= 0, got {negative!r}")
        need(isinstance(epochs, (int, np.integer)) and epochs >= 0, f"argument 'epochs' must be an int >= 0, got {epochs!r}")
        need(isinstance(workers, (int, np.integer)) and workers >= 1, f"argument 'workers' must be an int >= 1, got {workers!r}")
        need(math.isfinite(alpha) and alpha > 0, f"argument 'alpha' must be positive, got {alpha!r}")
        need(math.isfinite(min_alpha) and 0 <= min_alpha <= alpha,
             f"argument 'min_alpha' must be in [0, alpha], got {min_alpha!r}")
        need(sample is not None and sample >= 0, f"argument 'sample' must be >= 0, got {sample!r}")
        need(loss in ("negative", "softmax"), f"argument 'loss' must be 'negative' or 'softmax', got {loss!r}")
        need(not hs, "hierarchical softmax (hs=1) is not implemented: use negative sampling (hs=0, negative > 0) "
                     "or the full softmax (loss='softmax')", NotImplementedError)
        need(loss == "softmax" or negative > 0, "negative sampling needs negative > 0 (or loss='softmax')")
        need(max_final_vocab is None or max_final_vocab >= 1, "argument 'max_final_vocab' must be None or >= 1")
        need(max_vocab_size is None, "argument 'max_vocab_size' (pruning while counting) is not supported; "
                                     "use max_final_vocab")
        need(sentences is None or corpus_file is None, "give 'sentences' or 'corpus_file', not both")
        self.vector_size, self.alpha, self.min_alpha = int(vector_size), float(alpha), float(min_alpha)
        self.window, self.min_count, self.sample = int(window), int(min_count), float(sample)
        self.seed, self.workers, self.sg, self.hs = int(seed), int(workers), int(bool(sg)), 0
        self.negative, self.ns_exponent, self.cbow_mean = int(negative), float(ns_exponent), int(bool(cbow_mean))
        self.epochs, self.sorted_vocab, self.batch_words = int(epochs), sorted_vocab, int(batch_words)
        self.compute_loss, self.max_final_vocab, self.loss = bool(compute_loss), max_final_vocab, loss
        self.batch_size = int(batch_size)
        self.device = backend.as_device(device)
        self.wv = KeyedVectors(self.vector_size)
        self.syn1neg = None
        self.running_training_loss = 0.0
        self.corpus_count = self.corpus_total_words = 0
        self.train_seconds = 0.0
        from ..creation import Generator
        self._generator = Generator().manual_seed(self.seed)
        if corpus_file is not None:
            sentences = _LineSentences(corpus_file)
        if sentences is not None:
            self.build_vocab(sentences)
            self.train(sentences, total_examples=self.corpus_count, epochs=self.epochs)

    # ------------------------------------------------------------------ vocabulary
    def build_vocab(self, corpus_iterable=None, corpus_file=None, update=False):
        """Count the words, keep those seen ``min_count`` times (the ``max_final_vocab`` most frequent), most
        frequent first; initialise the vectors (uniform in [-0.5, 0.5) / vector_size, seeded) and zero the
        output vectors."""
        if update:
            raise NotImplementedError("Word2Vec.build_vocab: update=True (growing a trained vocabulary) is not "
                                      "implemented")
        sentences = _sentences(corpus_iterable, corpus_file, "build_vocab")
        count = 0
        words = 0

        def counted():
            nonlocal count, words
            for i, s in enumerate(sentences):
                if isinstance(s, str):
                    raise TypeError(f"Word2Vec: sentence {i} is a str; pass lists of tokens "
                                    "(fastnn.data.text.tokenize)")
                count += 1
                words += len(s)
                yield s
        vocab = Vocab.build(counted(), min_freq=self.min_count, max_size=self.max_final_vocab, specials=(),
                            unk_token=None)
        if len(vocab) == 0:
            raise RuntimeError(f"Word2Vec: no word occurs at least min_count={self.min_count} times; nothing to "
                               "train (lower min_count or give more text)")
        self.corpus_count, self.corpus_total_words = count, words
        rng = np.random.default_rng(self.seed)
        vectors = ((rng.random((len(vocab), self.vector_size)) - 0.5) / self.vector_size).astype(np.float32)
        self.wv = KeyedVectors(self.vector_size, vocab.itos, vectors, vocab.counts)
        self.syn1neg = np.zeros_like(vectors)
        self._corpus_cache = None

    def _keep_prob(self):
        """gensim's subsampling: a word of count c is kept with probability (sqrt(c / t) + 1) t / c, at most 1,
        t = sample x (words in the vocabulary)."""
        counts = self.wv.counts.astype(np.float64)
        if not self.sample:
            return None
        total = counts.sum()
        t = self.sample * total if self.sample < 1.0 else self.sample
        return np.minimum(1.0, (np.sqrt(counts / t) + 1.0) * t / counts)

    def _cum_table(self):
        """The cumulative unigram^ns_exponent weights on a scale of 2^32 (word2vec.h's negatives)."""
        w = self.wv.counts.astype(np.float64) ** self.ns_exponent
        cum = np.round(np.cumsum(w) / w.sum() * 2.0 ** 32).astype(np.int64)
        cum[-1] = 1 << 32
        return cum

    def _encode(self, sentences):
        """The sentences as word ids (words outside the vocabulary dropped, as gensim does), split into pieces of
        at most MAX_WORDS_IN_BATCH: (tokens int64, offsets int64)."""
        index = self.wv.key_to_index
        pieces, lengths = [], []
        for s in sentences:
            ids = [index[w] for w in s if w in index]
            for start in range(0, len(ids), MAX_WORDS_IN_BATCH):
                piece = ids[start:start + MAX_WORDS_IN_BATCH]
                pieces.append(piece)
                lengths.append(len(piece))
        tokens = np.fromiter((i for p in pieces for i in p), np.int64, count=sum(lengths))
        offsets = np.zeros(len(lengths) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return tokens, offsets

    # ------------------------------------------------------------------ training
    def train(self, corpus_iterable=None, corpus_file=None, total_examples=None, total_words=None, epochs=None,
              start_alpha=None, end_alpha=None, compute_loss=None, callbacks=()):
        """Train for ``epochs`` passes (default: the constructor's); the learning rate decays linearly from
        ``start_alpha`` (alpha) to ``end_alpha`` (min_alpha) over them. Returns gensim's pair
        ``(words trained on after subsampling, words read)``. ``callbacks`` get ``on_epoch_end(model)``."""
        if self.syn1neg is None:
            raise RuntimeError("Word2Vec.train: build_vocab() first (or pass the sentences to the constructor)")
        sentences = _sentences(corpus_iterable, corpus_file, "train")
        epochs = self.epochs if epochs is None else int(epochs)
        alpha = self.alpha if start_alpha is None else float(start_alpha)
        min_alpha = self.min_alpha if end_alpha is None else float(end_alpha)
        if compute_loss is not None:
            self.compute_loss = bool(compute_loss)
        tokens, offsets = self._encode(sentences)
        self.running_training_loss = 0.0
        start = time.perf_counter()
        if self.loss == "softmax":
            from ._word2vec_softmax import train_softmax
            trained = train_softmax(self, tokens, offsets, epochs, alpha, min_alpha, callbacks)
        else:
            trained = self._train_negative(tokens, offsets, epochs, alpha, min_alpha, callbacks)
        self.train_seconds = time.perf_counter() - start
        self.wv._normed = None
        return trained, len(tokens) * epochs

    def _train_negative(self, tokens, offsets, epochs, alpha, min_alpha, callbacks):
        from ..kernels import word2vec_train
        xp = backend.array_module(self.device)
        on = (lambda a: a) if self.device.type == "cpu" else (lambda a: None if a is None else xp.asarray(a))
        syn0, syn1 = on(self.wv.vectors), on(self.syn1neg)
        keep, cum = on(self._keep_prob()), on(self._cum_table())
        n = len(tokens)
        total = n * epochs
        # chunks of whole sentences, about _CHUNK_WORDS tokens each
        bounds = np.searchsorted(offsets, np.arange(0, n, _CHUNK_WORDS), side="right") - 1
        bounds = np.unique(np.append(bounds, len(offsets) - 1))
        chunks = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        trained = 0
        for epoch in range(epochs):
            for s0, s1 in chunks:
                lo, hi = int(offsets[s0]), int(offsets[s1])
                chunk_tokens, chunk_offsets = on(tokens[lo:hi]), on(offsets[s0:s1 + 1] - lo)
                result = {}

                def run(key, offset):
                    result["r"] = word2vec_train(syn0, syn1, chunk_tokens, chunk_offsets, keep, cum, self.window,
                                                 self.negative, bool(self.sg), bool(self.cbow_mean), alpha,
                                                 min_alpha, epoch * n + lo, total, key, offset,
                                                 threads=self.workers, compute_loss=self.compute_loss)
                    return result["r"][0]
                _random.philox_draw(run, self._generator)
                trained += int(result["r"][1])
                self.running_training_loss += float(result["r"][2])
            for cb in callbacks:
                cb.on_epoch_end(self)
        if self.device.type != "cpu":
            self.wv.vectors = backend.to_device(syn0, "cpu")
            self.syn1neg = backend.to_device(syn1, "cpu")
        return trained

    def get_latest_training_loss(self):
        """The summed loss of the last ``train`` call (with ``compute_loss=True``; 0 otherwise)."""
        return self.running_training_loss

    # ------------------------------------------------------------------ persistence
    _CONFIG = ("vector_size", "alpha", "min_alpha", "window", "min_count", "sample", "seed", "workers", "sg",
               "negative", "ns_exponent", "cbow_mean", "epochs", "batch_words", "compute_loss", "max_final_vocab",
               "loss", "batch_size")

    def save(self, path):
        """The configuration, the vocabulary and both tables, written atomically with ``fastnn.save``."""
        from ..serialization import save
        save({"word2vec": {k: getattr(self, k) for k in self._CONFIG}, "keyed_vectors": self.wv.state_dict(),
              "syn1neg": self.syn1neg, "corpus": [self.corpus_count, self.corpus_total_words]}, path)

    @classmethod
    def load(cls, path):
        from ..serialization import load
        state = load(path)
        if not isinstance(state, dict) or "word2vec" not in state:
            raise ValueError(f"Word2Vec.load: {path!r} does not hold a Word2Vec model (saved by Word2Vec.save)")
        model = cls(**{k: v for k, v in state["word2vec"].items()})
        model.wv = KeyedVectors.from_state_dict(state["keyed_vectors"])
        model.syn1neg = None if state["syn1neg"] is None else np.asarray(state["syn1neg"])
        model.corpus_count, model.corpus_total_words = (int(v) for v in state["corpus"])
        return model

    def __repr__(self):
        return (f"Word2Vec<vocab={len(self.wv)}, vector_size={self.vector_size}, alpha={self.alpha}, "
                f"sg={self.sg}, loss={self.loss!r}>")


class _LineSentences:
    """A text file read as sentences: one per line, tokens split on whitespace (gensim's LineSentence)."""

    def __init__(self, path):
        self.path = path

    def __iter__(self):
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                yield line.split()


def _sentences(corpus_iterable, corpus_file, fn):
    if (corpus_iterable is None) == (corpus_file is None):
        raise TypeError(f"Word2Vec.{fn}: give exactly one of 'corpus_iterable' and 'corpus_file'")
    if corpus_file is not None:
        return _LineSentences(corpus_file)
    if iter(corpus_iterable) is corpus_iterable:
        raise TypeError(f"Word2Vec.{fn}: the sentences are an iterator, which can be read only once; pass a list "
                        "or a restartable iterable")
    return corpus_iterable
