"""Word vectors with gensim's ``KeyedVectors`` interface: lookup, cosine neighbours, analogies and the
word-similarity / analogy evaluations (numpy only)."""
from __future__ import annotations

import os

import numpy as np

from .. import metrics

__all__ = ["KeyedVectors"]


class KeyedVectors:
    """``vectors`` (V, vector_size) float32, row i the vector of ``index_to_key[i]``.

    ``vectors`` initialises an embedding layer directly:
    ``nn.Embedding.from_pretrained(fastnn.from_numpy(wv.vectors))``, with ``wv.key_to_index`` as the vocabulary.
    """

    def __init__(self, vector_size, index_to_key=(), vectors=None, counts=None):
        self.vector_size = int(vector_size)
        self.index_to_key = list(index_to_key)
        self.key_to_index = {k: i for i, k in enumerate(self.index_to_key)}
        if len(self.key_to_index) != len(self.index_to_key):
            raise ValueError("KeyedVectors: argument 'index_to_key' holds a key twice")
        self.vectors = (np.zeros((len(self.index_to_key), self.vector_size), np.float32) if vectors is None
                        else np.asarray(vectors))
        if self.vectors.shape != (len(self.index_to_key), self.vector_size):
            raise ValueError(f"KeyedVectors: 'vectors' has shape {self.vectors.shape}, expected "
                             f"({len(self.index_to_key)}, {self.vector_size})")
        self.counts = np.zeros(len(self.index_to_key), np.int64) if counts is None else np.asarray(counts, np.int64)
        self._normed = None

    # ------------------------------------------------------------------ lookup
    def __len__(self):
        return len(self.index_to_key)

    def __contains__(self, key):
        return key in self.key_to_index

    def has_index_for(self, key):
        return key in self.key_to_index

    def get_index(self, key, default=None):
        i = self.key_to_index.get(key)
        if i is not None:
            return i
        if isinstance(key, (int, np.integer)) and 0 <= key < len(self):
            return int(key)
        if default is not None:
            return default
        raise KeyError(f"Key {key!r} not present in vocabulary")

    def get_vector(self, key, norm=False):
        i = self.get_index(key)
        return self.get_normed_vectors()[i] if norm else self.vectors[i]

    def __getitem__(self, keys):
        if isinstance(keys, (str, int, np.integer)):
            return self.get_vector(keys)
        return np.stack([self.get_vector(k) for k in keys])

    def get_normed_vectors(self):
        """The vectors scaled to unit length (zero rows stay zero); recomputed after ``vectors`` changes."""
        if self._normed is None or self._normed[0] is not self.vectors or self._normed[1].shape != self.vectors.shape:
            v = np.asarray(self.vectors, np.float32)
            n = np.linalg.norm(v, axis=1, keepdims=True)
            self._normed = (self.vectors, v / np.where(n > 0, n, 1))
        return self._normed[1]

    def fill_norms(self, force=False):
        if force:
            self._normed = None
        self.get_normed_vectors()

    # ------------------------------------------------------------------ similarity
    def similarity(self, w1, w2):
        """Cosine similarity of two keys."""
        return float(self.get_vector(w1, norm=True) @ self.get_vector(w2, norm=True))

    def distance(self, w1, w2):
        return 1.0 - self.similarity(w1, w2)

    def _query(self, positive, negative, fn):
        if isinstance(positive, (str, int, np.integer)):
            positive = [positive]
        if isinstance(negative, (str, int, np.integer)):
            negative = [negative]
        positive, negative = list(positive or []), list(negative or [])
        if not positive and not negative:
            raise ValueError(f"{fn}: give at least one key in 'positive' or 'negative'")
        keys, weights = [], []
        for k, w in [(k, 1.0) for k in positive] + [(k, -1.0) for k in negative]:
            if isinstance(k, np.ndarray):
                v = k / max(np.linalg.norm(k), 1e-30)
            else:
                v = self.get_vector(k, norm=True)
                keys.append(self.get_index(k))
            weights.append(w * v)
        mean = np.mean(weights, axis=0)
        return mean / max(np.linalg.norm(mean), 1e-30), keys

    def most_similar(self, positive=None, negative=None, topn=10, restrict_vocab=None):
        """The ``topn`` keys nearest (cosine) to the mean of the unit vectors of ``positive`` minus those of
        ``negative`` (vectors accepted as keys), the query keys excluded, as ``[(key, similarity), ...]``;
        ``topn=None`` gives all similarities as an array. ``restrict_vocab`` limits the search to the first
        (most frequent) keys."""
        query, exclude = self._query(positive, negative, "most_similar")
        normed = self.get_normed_vectors()
        limit = len(self) if restrict_vocab is None else min(int(restrict_vocab), len(self))
        sims = normed[:limit] @ query
        if topn is None:
            return sims
        order = np.argsort(-sims, kind="stable")
        out = []
        for i in order:
            if int(i) in exclude:
                continue
            out.append((self.index_to_key[i], float(sims[i])))
            if len(out) >= topn:
                break
        return out

    def similar_by_word(self, word, topn=10, restrict_vocab=None):
        return self.most_similar(positive=[word], topn=topn, restrict_vocab=restrict_vocab)

    # ------------------------------------------------------------------ evaluation
    def evaluate_word_pairs(self, pairs, delimiter="\t", restrict_vocab=300000, case_insensitive=True,
                            dummy4unknown=False):
        """Correlation of the cosine similarities with human scores, as gensim's: ``pairs`` is a path to a
        file of ``word1<TAB>word2<TAB>score`` lines (``#`` comments; WordSim-353's format), a
        ``(pairs, scores)`` tuple as ``fastnn.datasets.wordsim353()`` returns, or ``[(w1, w2, score), ...]``.
        Pairs with a word outside the first ``restrict_vocab`` keys are left out (or scored 0 with
        ``dummy4unknown``). Returns ``(pearson, spearman, oov_ratio)``: two ``(statistic, pvalue)`` results
        and the percentage of pairs left out."""
        triples = _word_pairs(pairs, delimiter)
        index = self._restricted_index(restrict_vocab, case_insensitive)
        sims, gold, oov = [], [], 0
        for a, b, score in triples:
            if case_insensitive:
                a, b = a.lower(), b.lower()
            if a not in index or b not in index:
                oov += 1
                if dummy4unknown:
                    sims.append(0.0)
                    gold.append(score)
                continue
            normed = self.get_normed_vectors()
            sims.append(float(normed[index[a]] @ normed[index[b]]))
            gold.append(score)
        oov_ratio = 100.0 * oov / max(len(triples), 1)
        if len(sims) < 2:
            nan = metrics.CorrelationResult(float("nan"), float("nan"))
            return nan, nan, oov_ratio
        return metrics.pearsonr(gold, sims), metrics.spearmanr(gold, sims), oov_ratio

    def evaluate_word_analogies(self, analogies, restrict_vocab=300000, case_insensitive=True, dummy4unknown=False):
        """Analogy accuracy by 3CosAdd, as gensim's: for "a is to b as c is to d", the answer is the key nearest
        to b - a + c (unit vectors) among the first ``restrict_vocab`` keys other than a, b, c. ``analogies`` is
        a path to questions-words.txt (``: section`` lines, then ``a b c d``) or the dict of
        ``fastnn.datasets.analogy_questions()``. Questions with a word outside those keys are skipped (counted
        wrong with ``dummy4unknown``). Returns ``(score, sections)``: the accuracy over the questions asked, and
        one ``{"section", "correct", "incorrect"}`` dict per section, then ``"Total accuracy"``."""
        sections = _analogy_sections(analogies)
        index = self._restricted_index(restrict_vocab, case_insensitive)
        limit = len(self) if restrict_vocab is None else min(int(restrict_vocab), len(self))
        normed = self.get_normed_vectors()[:limit]
        results, all_correct, all_incorrect = [], [], []
        for name, questions in sections.items():
            correct, incorrect, asked = [], [], []
            for q in questions:
                q = tuple(w.lower() for w in q) if case_insensitive else tuple(q)
                if all(w in index for w in q):
                    asked.append(q)
                elif dummy4unknown:
                    incorrect.append(q)
            if asked:
                ids = np.array([[index[w] for w in q] for q in asked])
                query = normed[ids[:, 1]] - normed[ids[:, 0]] + normed[ids[:, 2]]
                sims = query @ normed.T
                rows = np.arange(len(asked))[:, None]
                sims[rows, ids[:, :3]] = -np.inf
                guess = sims.argmax(1)
                for q, g, want in zip(asked, guess, ids[:, 3]):
                    (correct if g == want else incorrect).append(q)
            results.append({"section": name, "correct": correct, "incorrect": incorrect})
            all_correct += correct
            all_incorrect += incorrect
        results.append({"section": "Total accuracy", "correct": all_correct, "incorrect": all_incorrect})
        total = len(all_correct) + len(all_incorrect)
        return (len(all_correct) / total if total else 0.0), results

    def _restricted_index(self, restrict_vocab, case_insensitive):
        limit = len(self) if restrict_vocab is None else min(int(restrict_vocab), len(self))
        index = {}
        for i, k in enumerate(self.index_to_key[:limit]):
            key = k.lower() if case_insensitive and isinstance(k, str) else k
            index.setdefault(key, i)  # the most frequent spelling wins, as gensim's
        return index

    # ------------------------------------------------------------------ persistence
    def state_dict(self):
        return {"vector_size": self.vector_size, "index_to_key": list(self.index_to_key),
                "vectors": np.ascontiguousarray(self.vectors), "counts": np.asarray(self.counts)}

    @classmethod
    def from_state_dict(cls, state):
        return cls(state["vector_size"], state["index_to_key"], np.asarray(state["vectors"]), state.get("counts"))

    def save(self, path):
        """Written atomically with ``fastnn.save`` (a crash never leaves half a file)."""
        from ..serialization import save
        save({"keyed_vectors": self.state_dict()}, path)

    @classmethod
    def load(cls, path):
        from ..serialization import load
        return cls.from_state_dict(load(path)["keyed_vectors"])


def _word_pairs(pairs, delimiter):
    if isinstance(pairs, (str, os.PathLike)):
        out = []
        with open(pairs, encoding="utf-8") as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                a, b, s = line.rstrip("\n").split(delimiter)[:3]
                out.append((a, b, float(s)))
        return out
    if isinstance(pairs, tuple) and len(pairs) == 2 and len(pairs[0]) == len(pairs[1]) and \
            all(isinstance(p, (tuple, list)) and len(p) == 2 for p in pairs[0]):
        return [(a, b, float(s)) for (a, b), s in zip(pairs[0], pairs[1])]
    out = []
    for i, t in enumerate(pairs):
        if len(t) != 3:
            raise ValueError(f"evaluate_word_pairs: pair {i} must be (word1, word2, score), got {t!r}")
        out.append((t[0], t[1], float(t[2])))
    return out


def _analogy_sections(analogies):
    if isinstance(analogies, dict):
        return analogies
    if isinstance(analogies, (str, os.PathLike)):
        sections, current = {}, None
        with open(analogies, encoding="utf-8") as f:
            for line in f:
                if line.startswith(":"):
                    current = line[1:].strip()
                    sections[current] = []
                elif line.strip():
                    if current is None:
                        raise ValueError(f"evaluate_word_analogies: {analogies} has a question before any ': section'")
                    words = line.split()
                    if len(words) == 4:
                        sections[current].append(tuple(words))
        return sections
    raise TypeError("evaluate_word_analogies: argument 'analogies' must be a path or a dict of sections, got "
                    f"{type(analogies).__name__}")
