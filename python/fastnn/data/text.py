"""Text preparation: a tokenizer, a vocabulary (token <-> index), bag-of-words and TF-IDF
encoders (``text_features.py``) and a collate function padding variable-length batches
(``pad_collate.py``).

``tokenize`` lower-cases and keeps runs of letters and digits (with an inner apostrophe, so
"don't" stays one word). ``Vocab`` numbers the tokens of a corpus by decreasing frequency after the
special tokens; unknown tokens map to ``<unk>``. A vocabulary is saved with the model it belongs
to through ``state_dict()`` (plain lists, so ``fastnn.save`` stores it beside the weights)::

    fastnn.save({"model": model.state_dict(), "vocab": vocab.state_dict()}, "model.fnn")
    vocab = Vocab.from_state_dict(fastnn.load("model.fnn")["vocab"])
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from .pad_collate import pad_collate  # noqa: F401  (part of this module's API)
from .text_features import BagOfWords, TfidfEncoder  # noqa: F401

__all__ = ["tokenize", "char_ngrams", "Vocab", "PAD", "UNK", "BagOfWords", "TfidfEncoder", "pad_collate"]

PAD = "<pad>"
UNK = "<unk>"
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def tokenize(text: str, lower: bool = True) -> list[str]:
    """Words of ``text``: runs of letters/digits (any script), inner apostrophes kept, lower-cased."""
    if not isinstance(text, str):
        raise TypeError(f"tokenize: argument 'text' must be a str, got {type(text).__name__}")
    return _WORD.findall(text.lower() if lower else text)


def char_ngrams(tokens: Iterable[str], n_min: int = 3, n_max: int = 5, keep_words: bool = True) -> list[str]:
    """The tokens (with ``keep_words``) followed by the character n-grams of each, ``n_min`` to ``n_max``
    long, of the word framed as ``<word>`` (fastText's subwords): words never seen in training still
    share pieces ("<unfunny>" has "<un" and "fun") with words that were, which helps on small corpora."""
    if not 1 <= n_min <= n_max:
        raise ValueError(f"char_ngrams: need 1 <= n_min <= n_max, got n_min={n_min}, n_max={n_max}")
    if isinstance(tokens, str):
        raise TypeError("char_ngrams: 'tokens' must be a list of tokens, got a str (see tokenize)")
    tokens = list(tokens)
    out = list(tokens) if keep_words else []
    for word in tokens:
        framed = f"<{word}>"
        out += [framed[i:i + n] for n in range(n_min, n_max + 1) for i in range(len(framed) - n + 1)]
    return out


class Vocab:
    """Token <-> index mapping. Index 0 is ``<pad>`` and 1 is ``<unk>`` unless ``specials`` says otherwise.

    Build one from tokenized documents with ``Vocab.build(docs, min_freq=1, max_size=None)``: tokens
    seen fewer than ``min_freq`` times are left out, the ``max_size`` most frequent kept (specials not
    counted), ties broken by first appearance so the numbering is reproducible.
    """

    def __init__(self, tokens: Iterable[str], counts: Iterable[int] | None = None, specials=(PAD, UNK),
                 unk_token: str | None = UNK):
        specials = list(specials)
        tokens = list(tokens)
        self.itos: list[str] = specials + [t for t in tokens if t not in set(specials)]
        self.stoi: dict[str, int] = {}
        for i, t in enumerate(self.itos):
            if not isinstance(t, str):
                raise TypeError(f"Vocab: tokens must be str, got {type(t).__name__} at index {i}")
            if t in self.stoi:
                raise ValueError(f"Vocab: token {t!r} appears twice (indices {self.stoi[t]} and {i})")
            self.stoi[t] = i
        if unk_token is not None and unk_token not in self.stoi:
            raise ValueError(f"Vocab: unk_token {unk_token!r} is not among the tokens or specials {specials}")
        self.unk_token = unk_token
        self.specials = specials
        counts = [0] * len(tokens) if counts is None else list(counts)
        if len(counts) != len(tokens):
            raise ValueError(f"Vocab: got {len(counts)} counts for {len(tokens)} tokens")
        cmap = dict(zip(tokens, counts))
        self.counts: list[int] = [int(cmap.get(t, 0)) for t in self.itos]

    @classmethod
    def build(cls, docs: Iterable[Iterable[str]], min_freq: int = 1, max_size: int | None = None,
              specials=(PAD, UNK), unk_token: str | None = UNK) -> "Vocab":
        if min_freq < 1:
            raise ValueError(f"Vocab.build: min_freq must be at least 1, got {min_freq}")
        if max_size is not None and max_size < 0:
            raise ValueError(f"Vocab.build: max_size must be >= 0 or None, got {max_size}")
        counter: Counter = Counter()
        for i, doc in enumerate(docs):
            if isinstance(doc, str):
                raise TypeError(f"Vocab.build: document {i} is a str; pass lists of tokens (see tokenize)")
            counter.update(doc)
        skip = set(specials)
        # Counter keeps first-appearance order among equal counts (stable sort).
        ranked = [(t, c) for t, c in sorted(counter.items(), key=lambda tc: -tc[1]) if c >= min_freq and t not in skip]
        if max_size is not None:
            ranked = ranked[:max_size]
        return cls([t for t, _ in ranked], [c for _, c in ranked], specials=specials, unk_token=unk_token)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        i = self.stoi.get(token)
        if i is not None:
            return i
        if self.unk_token is None:
            raise KeyError(f"Vocab: token {token!r} is not in the vocabulary and there is no unk_token")
        return self.stoi[self.unk_token]

    @property
    def pad_index(self) -> int | None:
        return self.stoi.get(PAD)

    @property
    def unk_index(self) -> int | None:
        return None if self.unk_token is None else self.stoi[self.unk_token]

    def lookup_indices(self, tokens: Iterable[str]) -> list[int]:
        return [self[t] for t in tokens]

    def lookup_token(self, index: int) -> str:
        if not 0 <= index < len(self.itos):
            raise IndexError(f"Vocab: index {index} out of range for a vocabulary of {len(self.itos)} tokens")
        return self.itos[index]

    def lookup_tokens(self, indices: Iterable[int]) -> list[str]:
        return [self.lookup_token(int(i)) for i in indices]

    encode = lookup_indices
    decode = lookup_tokens

    def state_dict(self) -> dict:
        n = len(self.specials)
        return {"tokens": self.itos[n:], "counts": self.counts[n:], "specials": list(self.specials),
                "unk_token": self.unk_token}

    @classmethod
    def from_state_dict(cls, state: dict) -> "Vocab":
        missing = {"tokens", "counts", "specials", "unk_token"} - set(state)
        if missing:
            raise KeyError(f"Vocab.from_state_dict: missing keys {sorted(missing)}")
        return cls(state["tokens"], state["counts"], specials=state["specials"], unk_token=state["unk_token"])

    def __repr__(self) -> str:
        head = ", ".join(self.itos[:8])
        return f"Vocab({len(self)} tokens: {head}{', ...' if len(self) > 8 else ''})"
