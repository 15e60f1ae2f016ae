"""word2vec training with negative sampling (skip-gram and CBOW), in place on the two tables.

Contract (arrays, the random draws, the update rule, threads): ``csrc/ops/word2vec/word2vec.h``.
``fastnn.models.Word2Vec`` drives it epoch by epoch."""
from __future__ import annotations

from .. import backend


def word2vec_train(syn0, syn1neg, tokens, offsets, keep_prob, cum_table, window, negative, sg, cbow_mean, alpha,
                   min_alpha, word_start, total_words, key, offset, threads=0, compute_loss=False):
    """Train ``syn0``/``syn1neg`` (V, D) on the sentences ``tokens[offsets[s]:offsets[s + 1]]`` (int64 word ids).

    ``keep_prob`` (V,) float64 subsamples frequent words (None keeps all); ``cum_table`` (V,) int64 is the
    cumulative negative-sampling weight. Draws come from Philox under (``key``, ``offset``); the learning rate
    decays linearly from ``alpha`` to ``min_alpha`` over ``total_words`` positions, this chunk starting at
    ``word_start``. ``threads`` (CPU; 0: ``fastnn.get_num_threads()``) share the sentences without locks, so the
    result is bitwise reproducible with one thread only. Returns (counters used, words kept, summed loss).
    """
    return backend.kernel("word2vec_train", syn0, syn1neg, tokens, offsets, keep_prob, cum_table)(
        syn0, syn1neg, tokens, offsets, keep_prob, cum_table, window, negative, sg, cbow_mean, alpha, min_alpha,
        word_start, total_words, key, offset, threads, compute_loss)
