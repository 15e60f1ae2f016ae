"""A smoothed character n-gram language model: interpolated Kneser-Ney, the baseline a character-level
neural language model has to beat.

Every order interpolates with the order below it (Chen & Goodman's interpolated Kneser-Ney). For a
context ``h`` of ``k`` characters and its suffix ``h'`` (``h`` without its first character)::

    P(c | h) = max(a(h c) - D_k, 0) / A(h)  +  D_k * T(h) / A(h) * P(c | h')

where ``A(h) = sum_c a(h c)`` and ``T(h)`` is the number of characters with ``a(h c) > 0``. At the
highest order ``a`` is the raw count of the n-gram; at the lower orders it is the continuation count,
the number of distinct characters seen before it (a character that follows many different contexts is
a likelier guess after an unseen one than one frequent after a single context). A context never seen
in training (``A(h) = 0``) uses ``P(c | h')`` alone. Below the unigrams lies the uniform distribution
over the vocabulary, so every character has a probability above zero. The discount of each order is
Ney's estimate ``D = n1 / (n1 + 2 n2)`` (``n1``, ``n2``: how many n-grams of that order have the count
1 and 2), kept within [0.05, 0.95], unless ``discount`` fixes one value for all orders.

Unknown characters: the vocabulary is the set of characters of the training text plus one
unknown symbol (``UNK``, index 0). A character not seen in training is read as ``UNK``; ``UNK`` has no
count of its own, so its probability is the share the uniform distribution gives it
(``1 / len(vocab)`` of the mass left to the uniform level), the same for every context.

The text is one stream of characters: the first ``order - 1`` characters of a text are predicted from
the shorter contexts available.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np

UNK = "\uFFFD"  # the replacement character stands for every character not seen in training


def _check_text(text, who):
    if not isinstance(text, str):
        raise TypeError(f"CharNGramModel.{who}: argument 'text' must be a str, got {type(text).__name__}")


class CharNGramModel:
    """Interpolated Kneser-Ney character language model of order ``order`` (5: four characters of context).

    ``fit(text)`` counts the n-grams of a training text; ``log_prob(text)`` is the natural log-probability
    of a text (each character given the ``order - 1`` before it), ``perplexity(text)`` its
    ``exp(-log_prob / len(text))``, ``probs(context)`` the distribution of the next character over
    ``vocab`` and ``sample(length, context, temperature, seed)`` draws a continuation.
    """

    def __init__(self, order: int = 5, discount: float | None = None):
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise ValueError(f"CharNGramModel: 'order' must be an int >= 1, got {order!r}")
        if discount is not None and not 0.0 < float(discount) < 1.0:
            raise ValueError(f"CharNGramModel: 'discount' must be in (0, 1) or None, got {discount!r}")
        self.order = order
        self.discount = None if discount is None else float(discount)
        self.vocab: list[str] = []
        self.stoi: dict[str, int] = {}
        self.discounts: list[float] = []
        self._tables: list[dict] = []

    # ------------------------------------------------------------------ fitting
    def fit(self, text: str) -> "CharNGramModel":
        _check_text(text, "fit")
        if len(text) < 1:
            raise ValueError("CharNGramModel.fit: the training text is empty")
        if UNK in text:
            raise ValueError(f"CharNGramModel.fit: the training text holds the unknown symbol {UNK!r}")
        self.vocab = [UNK] + sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.vocab)}
        n = self.order
        # The distinct n-grams of each length m = 1..n, with their counts.
        counts = [None] + [Counter(text[i:i + m] for i in range(len(text) - m + 1)) for m in range(1, n + 1)]
        self._tables, self.discounts = [], []
        for m in range(1, n + 1):
            if m == n:
                a = counts[m]
            else:  # continuation counts: distinct characters seen before the m-gram
                a = Counter(g[1:] for g in counts[m + 1])
                # n-grams at the very start of the text have no left character: count their own occurrence
                # so that the first characters of the text do not vanish from the lower orders
                a.setdefault(text[:m], 1)
            self.discounts.append(self._discount(a))
            self._tables.append(self._table(a))
        return self

    def _discount(self, a):
        if self.discount is not None:
            return self.discount
        n1 = sum(1 for v in a.values() if v == 1)
        n2 = sum(1 for v in a.values() if v == 2)
        d = n1 / (n1 + 2 * n2) if n1 + n2 else 0.5
        return min(max(d, 0.05), 0.95)

    def _table(self, a):
        """Per context: the indices of the characters that follow it, their counts, A(h) and T(h)."""
        by_context = defaultdict(dict)
        for gram, v in a.items():
            by_context[gram[:-1]][self.stoi[gram[-1]]] = v
        table = {}
        for h, following in by_context.items():
            idx = np.fromiter(following.keys(), dtype=np.int64, count=len(following))
            cnt = np.fromiter(following.values(), dtype=np.float64, count=len(following))
            table[h] = (idx, cnt, float(cnt.sum()), len(following), dict(following))
        return table

    def _require_fit(self, who):
        if not self._tables:
            raise RuntimeError(f"CharNGramModel.{who}: call fit(text) first")

    # ------------------------------------------------------------------ probabilities
    def _known(self, context):
        """The context mapped onto the vocabulary (unknown characters become UNK), its last order-1 chars."""
        context = context[len(context) - (self.order - 1):] if self.order > 1 else ""
        return "".join(c if c in self.stoi else UNK for c in context)

    def probs(self, context: str = "") -> np.ndarray:
        """The distribution of the character after ``context`` over ``vocab`` (float64, sums to 1)."""
        _check_text(context, "probs")
        self._require_fit("probs")
        context = self._known(context)
        p = np.full(len(self.vocab), 1.0 / len(self.vocab))
        for k in range(0, len(context) + 1):  # from the unigrams (k = 0) up to the longest context
            entry = self._tables[k].get(context[len(context) - k:] if k else "")
            if entry is None:
                break  # a context unseen in training: so are all the longer ones ending in it
            idx, cnt, total, types, _ = entry
            d = self.discounts[k]
            q = p * (d * types / total)
            q[idx] += np.maximum(cnt - d, 0.0) / total
            p = q
        return p

    def prob(self, char: str, context: str = "") -> float:
        """P(char | context); a character not in ``vocab`` is read as the unknown symbol."""
        _check_text(char, "prob")
        if len(char) != 1:
            raise ValueError(f"CharNGramModel.prob: 'char' must be one character, got {char!r}")
        self._require_fit("prob")
        context = self._known(context)
        c = self.stoi.get(char, 0)
        p = 1.0 / len(self.vocab)
        for k in range(0, len(context) + 1):
            entry = self._tables[k].get(context[len(context) - k:] if k else "")
            if entry is None:
                break
            _, _, total, types, following = entry
            d = self.discounts[k]
            p = max(following.get(c, 0.0) - d, 0.0) / total + d * types / total * p
        return p

    def log_prob(self, text: str) -> float:
        """Natural log-probability of ``text``, each character given the ``order - 1`` characters before it."""
        _check_text(text, "log_prob")
        self._require_fit("log_prob")
        n = self.order
        return float(sum(math.log(self.prob(text[i], text[max(0, i - n + 1):i])) for i in range(len(text))))

    def perplexity(self, text: str) -> float:
        """``exp(-log_prob(text) / len(text))``: the per-character perplexity."""
        _check_text(text, "perplexity")
        if not text:
            raise ValueError("CharNGramModel.perplexity: the text is empty")
        return math.exp(-self.log_prob(text) / len(text))

    def sample(self, length: int, context: str = "", temperature: float = 1.0, seed=None) -> str:
        """``length`` characters drawn one by one after ``context`` (probabilities raised to ``1/temperature``);
        the unknown symbol is never drawn."""
        _check_text(context, "sample")
        self._require_fit("sample")
        if length < 0:
            raise ValueError(f"CharNGramModel.sample: 'length' must be >= 0, got {length}")
        if not temperature > 0:
            raise ValueError(f"CharNGramModel.sample: 'temperature' must be > 0, got {temperature}")
        rng = np.random.default_rng(seed)
        out = context
        for _ in range(length):
            p = self.probs(out)
            p[0] = 0.0
            p = p ** (1.0 / temperature)
            out += self.vocab[rng.choice(len(p), p=p / p.sum())]
        return out[len(context):]

    def __repr__(self):
        return f"CharNGramModel(order={self.order}, discount={self.discount})"
