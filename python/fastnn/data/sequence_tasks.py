"""Generated sequence tasks where the order of the tokens is the whole signal.

``sorted_sequences`` asks "is this sequence sorted?". Every example starts as a multiset of tokens;
with probability one half it is written in non-decreasing order (label 1), otherwise in a random
order that is not sorted (label 0). The multiset, hence the bag of words, is drawn the same way for
both labels, so a model that sees only the token counts (``token_counts``) is at chance by
construction; a model of the order (a transformer with positions, an RNN) can learn the task.

Tokens are ``1 .. vocab_size`` and ``0`` pads the shorter sequences (lengths vary between ``min_len``
and ``max_len``), so the padding mask matters too.
"""
from __future__ import annotations

import numpy as np

__all__ = ["PAD_TOKEN", "sorted_sequences", "token_counts"]

PAD_TOKEN = 0


def sorted_sequences(n: int, min_len: int = 4, max_len: int = 16, vocab_size: int = 20, seed=None):
    """``n`` examples of the sortedness task: ``(tokens, lengths, labels)``.

    ``tokens`` int64 (n, max_len), each row ``lengths[i]`` tokens in ``1 .. vocab_size`` followed by
    ``PAD_TOKEN``; ``labels`` int64 (n,): 1 when the tokens are in non-decreasing order. The negatives are
    random orders of the same kind of multiset that are not sorted (a multiset whose tokens are all equal
    is always sorted, so such draws are redrawn).
    """
    for name, value, least in (("n", n, 0), ("min_len", min_len, 2), ("max_len", max_len, 2),
                               ("vocab_size", vocab_size, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"sorted_sequences: '{name}' must be an int >= {least}, got {value!r}")
    if min_len > max_len:
        raise ValueError(f"sorted_sequences: 'min_len' ({min_len}) must not exceed 'max_len' ({max_len})")
    rng = np.random.default_rng(seed)
    tokens = np.full((n, max_len), PAD_TOKEN, dtype=np.int64)
    lengths = rng.integers(min_len, max_len + 1, size=n).astype(np.int64)
    labels = rng.integers(0, 2, size=n).astype(np.int64)
    for i in range(n):
        length = int(lengths[i])
        while True:
            bag = rng.integers(1, vocab_size + 1, size=length)
            if bag.min() != bag.max():  # a constant sequence could not be a negative
                break
        seq = np.sort(bag)
        if labels[i] == 0:
            while np.all(seq[1:] >= seq[:-1]):
                seq = rng.permutation(bag)
        tokens[i, :length] = seq
    return tokens, lengths, labels


def token_counts(tokens, vocab_size: int, pad: int | None = PAD_TOKEN):
    """The bag of words of each row of ``tokens`` (n, L): float32 (n, vocab_size + 1) counts of each token
    index, the ``pad`` column (padding) left at zero."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 2 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"token_counts: 'tokens' must be a 2-D integer array, got {tokens.dtype} {tokens.shape}")
    if tokens.size and (tokens.min() < 0 or tokens.max() > vocab_size):
        raise ValueError(f"token_counts: tokens must lie in 0..{vocab_size}, got {tokens.min()}..{tokens.max()}")
    counts = np.zeros((tokens.shape[0], vocab_size + 1), dtype=np.float32)
    np.add.at(counts, (np.repeat(np.arange(tokens.shape[0]), tokens.shape[1]), tokens.ravel()), 1.0)
    if pad is not None:
        counts[:, pad] = 0.0
    return counts
