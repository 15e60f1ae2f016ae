"""CharNGramModel: interpolated Kneser-Ney over characters (the char-LM baseline)."""
import math
import os

import numpy as np
import pytest

from fastnn.models import CharNGramModel
from fastnn.models.char_ngram import UNK

TEXT = "the cat sat on the mat. the dog sat on the log. a cat and a dog met on a mat."


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_each_context_is_a_distribution(order):
    m = CharNGramModel(order).fit(TEXT)
    assert m.vocab[0] == UNK and len(m.vocab) == len(set(TEXT)) + 1
    for context in ["", "t", "th", "the ", "zzzz", "q the", " a c", "og. a"]:
        p = m.probs(context)
        assert p.shape == (len(m.vocab),) and np.all(p > 0)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        # prob() (one character, dict look-ups) and probs() (the whole vector) agree
        for c in ["t", "a", " ", UNK]:
            assert m.prob(c, context) == pytest.approx(p[m.stoi[c]], rel=1e-12)


def test_unigram_perplexity_by_hand():
    # order 1, discount 0.5, text "aab": counts a=2, b=1 (N=3, T=2), vocabulary {UNK, a, b} (V=3):
    # P(c) = max(n_c - 0.5, 0) / 3 + 0.5 * 2 / 3 * 1/3
    m = CharNGramModel(order=1, discount=0.5).fit("aab")
    pa, pb, punk = 1.5 / 3 + 1 / 9, 0.5 / 3 + 1 / 9, 1 / 9
    assert m.prob("a") == pytest.approx(pa) and m.prob("b") == pytest.approx(pb)
    assert m.prob("z") == pytest.approx(punk)  # unseen characters read as UNK
    assert pa + pb + punk == pytest.approx(1.0)
    assert m.perplexity("abz") == pytest.approx(math.exp(-(math.log(pa) + math.log(pb) + math.log(punk)) / 3))


def test_bigram_probability_by_hand():
    # order 2, discount 0.5, text "abab": bigrams ab x2, ba x1. Unigram level, continuation counts (distinct
    # characters seen before): a: 1 (from "ba"), b: 1 (from "ab"); the text's first character "a" already has a
    # count, so the start rule adds nothing. A = 2, T = 2, V = 3 (UNK, a, b).
    m = CharNGramModel(order=2, discount=0.5).fit("abab")
    V = 3
    uni_a = (1 - 0.5) / 2 + 0.5 * 2 / 2 / V
    uni_b = (1 - 0.5) / 2 + 0.5 * 2 / 2 / V
    assert m.prob("a") == pytest.approx(uni_a) and m.prob("b") == pytest.approx(uni_b)
    # after "a": seen "ab" twice (A=2, T=1)
    assert m.prob("b", "a") == pytest.approx((2 - 0.5) / 2 + 0.5 * 1 / 2 * uni_b)
    assert m.prob("a", "a") == pytest.approx(0.5 * 1 / 2 * uni_a)
    # an unseen context falls back to the unigrams
    assert m.prob("a", "z") == pytest.approx(uni_a)
    # the first character is predicted with no context, the second after "a"
    assert m.log_prob("ab") == pytest.approx(math.log(uni_a) + math.log(m.prob("b", "a")))


def test_higher_order_beats_lower_order_on_english():
    from fastnn.datasets import fortunes
    root = "/usr/share/games/fortunes"
    if not os.path.exists(os.path.join(root, "startrek")):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("fortunes must be installed under CI=true")
        pytest.skip("Debian's fortunes not installed (apt-get install fortunes)")
    texts, _, _ = fortunes(["startrek", "linux"])
    train, val = "\n".join(texts[20:]), "\n".join(texts[:20])
    ppl = [CharNGramModel(order).fit(train).perplexity(val) for order in (1, 2, 3, 5)]
    assert all(a > b for a, b in zip(ppl, ppl[1:])), ppl
    assert ppl[-1] < 8.0, ppl


def test_sample_is_reproducible_and_uses_the_vocabulary():
    m = CharNGramModel(3).fit(TEXT)
    s = m.sample(50, context="the ", seed=1)
    assert len(s) == 50 and set(s) <= set(TEXT)
    assert s == m.sample(50, context="the ", seed=1)
    assert m.sample(0) == ""


def test_bad_input():
    with pytest.raises(ValueError, match="order"):
        CharNGramModel(0)
    with pytest.raises(ValueError, match="discount"):
        CharNGramModel(3, discount=1.0)
    with pytest.raises(RuntimeError, match="fit"):
        CharNGramModel(3).perplexity("abc")
    with pytest.raises(TypeError, match="text"):
        CharNGramModel(3).fit(["abc"])
    with pytest.raises(ValueError, match="empty"):
        CharNGramModel(3).fit("")
    m = CharNGramModel(2).fit("abc")
    with pytest.raises(ValueError, match="empty"):
        m.perplexity("")
    with pytest.raises(ValueError, match="temperature"):
        m.sample(3, temperature=0)
