"""fastnn.train.text.classify_texts (cross-validated text classifiers) and `fastnn demo text`."""
import os
import re

import numpy as np
import pytest

from fastnn import cli
from fastnn.train.text import classify_texts

IN_CI = os.environ.get("CI", "").lower() == "true"


def _corpus(rng, n=120):
    """Three topics, each with its own cue words among shared filler words."""
    cues = [["goal", "match", "referee"], ["court", "judge", "lawyer"], ["kernel", "driver", "linux"]]
    filler = ["the", "a", "of", "and", "today", "very", "some"]
    y = np.arange(n) % 3
    texts = [" ".join(list(rng.choice(filler, 6)) + list(rng.choice(cues[c], 2))) for c in y]
    return texts, y


@pytest.mark.parametrize("kw", [dict(model="tfidf"), dict(model="tfidf", hidden=16), dict(model="embedding"),
                                dict(model="embedding", subwords=True)])
def test_classify_texts_learns_topics(kw, rng):
    texts, y = _corpus(rng)
    r = classify_texts(texts, y, ["sport", "law", "tech"], folds=3, epochs=15, lr=3e-2, batch_size=16,
                       **({"weight_decay": 0.0} if kw["model"] == "embedding" else {}), **kw)
    assert r.y_pred.shape == y.shape and r.accuracy > 0.9 and abs(r.baseline_accuracy - 1 / 3) < 0.01
    assert r.confusion.sum() == len(y) and np.trace(r.confusion) == round(r.accuracy * len(y))
    assert "tech" in r.report() and len(r.history.history["loss"]) == 15


def test_classify_texts_errors():
    with pytest.raises(ValueError, match="'model'"):
        classify_texts(["a"], [0], model="svm")
    with pytest.raises(ValueError, match="one label per text"):
        classify_texts(["a", "b"], [0])


def test_demo_text_prints_accuracy_beside_baseline(capsys):
    if not os.path.isfile("/usr/share/games/fortunes/startrek"):
        if IN_CI:
            pytest.fail("fortunes not installed; CI=true must have it")
        pytest.skip("fortunes not installed (apt-get install fortunes)")
    assert cli.main(["demo", "text", "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    found = re.search(r"test accuracy: (0\.\d{4})  \(majority-class baseline (0\.\d{4})", out)
    acc, base = float(found.group(1)), float(found.group(2))
    assert acc > base and "startrek" in out and "confusion matrix" in out
