"""fastnn.datasets' text sets: gensim's Pang & Lee polarity sentences and Debian's fortunes by category.

Each real-data test skips when its source is missing, except under CI=true (where .ci/run installs
gensim through the test extra and the Debian package fortunes), where a missing source fails.
"""
import importlib.util
import os

import numpy as np
import pytest

from fastnn import datasets
from fastnn._text_datasets import FORTUNES_DIR

IN_CI = os.environ.get("CI", "").lower() == "true"


def _need(ok, why):
    if not ok:
        if IN_CI:
            pytest.fail(f"{why}; CI=true must have it")
        pytest.skip(why)


@pytest.fixture
def gensim_data():
    _need(importlib.util.find_spec("gensim") is not None, "gensim not installed (pip install gensim)")


@pytest.fixture
def fortunes_data():
    _need(os.path.isfile(os.path.join(FORTUNES_DIR, "startrek")),
          f"fortunes not installed in {FORTUNES_DIR} (apt-get install fortunes)")


def test_pang_lee_polarity(gensim_data):
    texts, y, names = datasets.pang_lee_polarity()
    assert names == ["neg", "pos"] and len(texts) == 200 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [100, 100] and y[:100].max() == 0 and y[100:].min() == 1
    assert texts[0] == "simplistic , silly and tedious ."
    assert not any("__label__" in t for t in texts) and all(t for t in texts)
    assert any("clichés" in t for t in texts)  # Windows-1252 decoded


def test_pang_lee_missing_gensim_names_the_package(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gensim" else real(name, *a))
    with pytest.raises(ImportError, match="pip install gensim"):
        datasets.pang_lee_polarity()


def test_fortunes_default_categories(fortunes_data):
    texts, y, names = datasets.fortunes()
    assert names == list(datasets.FORTUNES_CATEGORIES) and y.dtype == np.int64 and len(texts) == len(y)
    counts = np.bincount(y, minlength=len(names))
    assert counts.min() >= 100 and counts.max() / counts.sum() < 0.35  # no class dominates
    assert all(t and t == t.strip() and "\x08" not in t for t in texts)
    assert not any(line.strip() == "%" for t in texts for line in t.splitlines())
    trek = [t for t, label in zip(texts, y) if names[label] == "startrek"]
    assert sum("Kirk" in t or "Spock" in t for t in trek) > 20


def test_fortunes_chosen_categories(fortunes_data):
    texts, y, names = datasets.fortunes("linux")
    assert names == ["linux"] and set(y.tolist()) == {0} and len(texts) > 100
    texts2, y2, names2 = datasets.fortunes(["startrek", "linux"])
    assert names2 == ["startrek", "linux"] and (np.bincount(y2)[1] == len(texts))
    assert "startrek" in datasets.fortune_categories() and "startrek.dat" not in datasets.fortune_categories()
    with pytest.raises(ValueError, match="no category 'nope'.*installed: .*startrek"):
        datasets.fortunes(["startrek", "nope"])


def test_fortunes_file_format(tmp_path):
    (tmp_path / "a").write_text("first\nquote\n%\n_\b_\b_\bBIG word\n%\n\n%\nX\bXbold  \n%\n", encoding="utf-8")
    (tmp_path / "a.dat").write_bytes(b"")
    (tmp_path / "b").write_text("only one", encoding="utf-8")
    (tmp_path / "b.dat").write_bytes(b"")
    texts, y, names = datasets.fortunes(["a", "b"], root=tmp_path)
    assert texts == ["first\nquote", "BIG word", "Xbold", "only one"] and y.tolist() == [0, 0, 0, 1]
    assert datasets.fortune_categories(tmp_path) == ["a", "b"]
    with pytest.raises(ValueError, match="twice"):
        datasets.fortunes(["a", "a"], root=tmp_path)
    with pytest.raises(ValueError, match="at least one"):
        datasets.fortunes([], root=tmp_path)
    with pytest.raises(ValueError, match="no category '../a'"):
        datasets.fortunes(["../a"], root=tmp_path)


def test_fortunes_missing_names_the_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install fortunes"):
        datasets.fortunes(root=tmp_path / "absent")
