"""fastnn.data.text: tokenizer and vocabulary."""
import pytest

import fastnn
from fastnn.data.text import Vocab, tokenize


def test_tokenize_lowercases_and_keeps_inner_apostrophes():
    assert tokenize("Don't PANIC: 42 towels, l'été_x!") == ["don't", "panic", "42", "towels", "l'été", "x"]
    assert tokenize("Mixed Case", lower=False) == ["Mixed", "Case"]
    assert tokenize("") == []
    with pytest.raises(TypeError, match="text"):
        tokenize(["a"])


def test_vocab_orders_by_frequency_then_first_appearance():
    docs = [["b", "a", "c", "a"], ["c", "d", "a", "e", "e"]]
    v = Vocab.build(docs)
    assert v.itos == ["<pad>", "<unk>", "a", "c", "e", "b", "d"]
    assert v.counts == [0, 0, 3, 2, 2, 1, 1]
    assert v["a"] == 2 and v["zzz"] == v.unk_index == 1 and v.pad_index == 0
    assert v.lookup_tokens(v.lookup_indices(["e", "q"])) == ["e", "<unk>"]
    assert len(Vocab.build(docs, min_freq=2)) == 5
    assert Vocab.build(docs, max_size=2).itos == ["<pad>", "<unk>", "a", "c"]


def test_vocab_errors():
    with pytest.raises(ValueError, match="min_freq"):
        Vocab.build([["a"]], min_freq=0)
    with pytest.raises(TypeError, match="document 0"):
        Vocab.build(["a b"])
    with pytest.raises(IndexError, match="index 9"):
        Vocab.build([["a"]]).lookup_token(9)
    with pytest.raises(KeyError, match="'q'"):
        Vocab(["a"], specials=(), unk_token=None)["q"]


def test_vocab_saved_with_a_model(tmp_path):
    v = Vocab.build([["x", "y", "x"]], min_freq=1)
    model = fastnn.nn.Linear(2, 2)
    fastnn.save({"model": model.state_dict(), "vocab": v.state_dict()}, tmp_path / "m.fnn")
    back = Vocab.from_state_dict(fastnn.load(tmp_path / "m.fnn")["vocab"])
    assert back.itos == v.itos and back.counts == v.counts and back["y"] == v["y"]


def test_char_ngrams():
    from fastnn.data.text import char_ngrams
    assert char_ngrams(["abc"], 3, 4) == ["abc", "<ab", "abc", "bc>", "<abc", "abc>"]
    assert char_ngrams(["a", "bc"], 4, 4, keep_words=False) == ["<bc>"]
    assert char_ngrams([]) == []
    with pytest.raises(ValueError, match="n_min"):
        char_ngrams(["a"], 3, 2)
    with pytest.raises(TypeError, match="tokens"):
        char_ngrams("word")
