"""Documents as fixed-size vectors over a vocabulary: bag of words (counts or multi-hot) and TF-IDF.

Column ``i`` is the token of index ``i`` in the ``Vocab`` (so the columns line up with an
embedding table over the same vocabulary); tokens outside the vocabulary are ignored, as
scikit-learn's vectorizers ignore them, and the special tokens' columns stay zero unless a
document holds them literally. The results are dense float32 arrays of shape
(n_documents, len(vocab)): fine for vocabularies of a few ten thousand words and batches of
documents; for larger ones use an ``nn.EmbeddingBag`` over the token ids instead.

``TfidfEncoder`` follows scikit-learn's ``TfidfVectorizer`` (with ``vocabulary=`` fixed):
``tf`` = raw count (``1 + ln(count)`` with ``sublinear_tf``), ``idf = ln((1 + n) / (1 + df)) + 1``
with ``smooth_idf`` (else ``ln(n / df) + 1``), then each row scaled to unit ``l2`` (or ``l1``) norm.
"""
from __future__ import annotations

import numpy as np

__all__ = ["BagOfWords", "TfidfEncoder"]


def _docs(docs, who):
    if isinstance(docs, str):
        raise TypeError(f"{who}: 'docs' must be a list of token lists, got a str")
    docs = list(docs)
    for i, d in enumerate(docs):
        if isinstance(d, str):
            raise TypeError(f"{who}: document {i} is a str; pass lists of tokens (see fastnn.data.text.tokenize)")
    return docs


def _check_vocab(vocab, who):
    if not (hasattr(vocab, "stoi") and hasattr(vocab, "itos")):
        raise TypeError(f"{who}: 'vocab' must be a fastnn.data.text.Vocab, got {type(vocab).__name__}")
    return vocab


def _counts(vocab, docs):
    """(n_docs, len(vocab)) float64 token counts; out-of-vocabulary tokens skipped."""
    stoi = vocab.stoi
    ids, lengths = [], []
    for doc in docs:
        row = [i for i in (stoi.get(t) for t in doc) if i is not None]
        ids.extend(row)
        lengths.append(len(row))
    n, v = len(docs), len(vocab)
    rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
    flat = rows * v + np.asarray(ids, dtype=np.int64)
    return np.bincount(flat, minlength=n * v).astype(np.float64).reshape(n, v)


class BagOfWords:
    """Token counts per document (``binary=True``: 1 where the token occurs, a multi-hot vector).

    ``fit`` learns nothing (the vocabulary is given) and is there for scikit-learn's
    ``fit``/``transform``/``fit_transform`` protocol.
    """

    def __init__(self, vocab, binary=False):
        self.vocab = _check_vocab(vocab, "BagOfWords")
        self.binary = bool(binary)

    def fit(self, docs, y=None):
        _docs(docs, "BagOfWords.fit")
        return self

    def transform(self, docs) -> np.ndarray:
        counts = _counts(self.vocab, _docs(docs, "BagOfWords.transform"))
        if self.binary:
            counts = (counts > 0).astype(np.float64)
        return counts.astype(np.float32)

    def fit_transform(self, docs, y=None) -> np.ndarray:
        return self.transform(docs)


class TfidfEncoder:
    """TF-IDF vectors with scikit-learn's ``TfidfVectorizer`` formulas (see the module docstring).

    ``fit(docs)`` learns ``idf_`` (float64, one per vocabulary index) from the training
    documents' document frequencies; ``transform`` applies it to any documents. A token never
    seen in training gets the idf of a token seen once (with ``smooth_idf=False`` scikit-learn
    would give infinity). ``state_dict()``/``load_state_dict`` store ``idf_`` with the model.
    """

    def __init__(self, vocab, norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=False, binary=False):
        if norm not in ("l2", "l1", None):
            raise ValueError(f"TfidfEncoder: 'norm' must be 'l2', 'l1' or None, got {norm!r}")
        self.vocab = _check_vocab(vocab, "TfidfEncoder")
        self.norm = norm
        self.use_idf = bool(use_idf)
        self.smooth_idf = bool(smooth_idf)
        self.sublinear_tf = bool(sublinear_tf)
        self.binary = bool(binary)
        self.idf_ = None

    def fit(self, docs, y=None):
        docs = _docs(docs, "TfidfEncoder.fit")
        if not docs:
            raise ValueError("TfidfEncoder.fit: 'docs' is empty")
        df = (_counts(self.vocab, docs) > 0).sum(axis=0).astype(np.float64)
        n = float(len(docs))
        if self.smooth_idf:
            df, n = df + 1.0, n + 1.0
        self.idf_ = np.log(n / np.maximum(df, 1.0)) + 1.0
        return self

    def transform(self, docs) -> np.ndarray:
        docs = _docs(docs, "TfidfEncoder.transform")
        if self.use_idf and self.idf_ is None:
            raise RuntimeError("This TfidfEncoder instance is not fitted yet: call fit() with the training "
                               "documents first")
        if self.use_idf and len(self.idf_) != len(self.vocab):
            raise ValueError(f"TfidfEncoder.transform: fitted on a vocabulary of {len(self.idf_)} tokens, the "
                             f"vocabulary now has {len(self.vocab)}")
        x = _counts(self.vocab, docs)
        if self.binary:
            x = (x > 0).astype(np.float64)
        elif self.sublinear_tf:
            seen = x > 0
            x[seen] = np.log(x[seen]) + 1.0
        if self.use_idf:
            x *= self.idf_
        if self.norm is not None:
            size = np.abs(x).sum(axis=1) if self.norm == "l1" else np.sqrt((x * x).sum(axis=1))
            x /= np.where(size > 0, size, 1.0)[:, None]
        return x.astype(np.float32)

    def fit_transform(self, docs, y=None) -> np.ndarray:
        docs = _docs(docs, "TfidfEncoder.fit_transform")
        return self.fit(docs).transform(docs)

    def state_dict(self) -> dict:
        if self.idf_ is None:
            raise RuntimeError("This TfidfEncoder instance is not fitted yet: call fit() first")
        return {"idf_": self.idf_.copy()}

    def load_state_dict(self, state):
        if "idf_" not in state:
            raise KeyError("TfidfEncoder.load_state_dict: missing key 'idf_'")
        from ._arrays import to_numpy
        idf = np.asarray(to_numpy(state["idf_"], "idf_"), dtype=np.float64)
        if idf.shape != (len(self.vocab),):
            raise ValueError(f"TfidfEncoder.load_state_dict: 'idf_' has shape {idf.shape}, the vocabulary has "
                             f"{len(self.vocab)} tokens")
        self.idf_ = idf
        return self
