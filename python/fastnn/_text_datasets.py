"""Real text classification sets that ship in packages: gensim's Pang & Lee polarity sentences and the
quotations of Debian's ``fortunes`` package by category. Each loader returns ``(texts, labels,
class_names)``: a list of str, an int64 array of class indices and the list of class names.
Tokenize with ``fastnn.data.text.tokenize``; split with ``fastnn.data.train_test_split(...,
stratify=labels)``.
"""
from __future__ import annotations

import importlib.util
import os
import re

import numpy as np

FORTUNES_DIR = "/usr/share/games/fortunes"
# Five categories with their own vocabulary and 150-340 quotations each (about 1100 in all, the
# largest class 30 %), so a classifier has something to learn and a majority guess does poorly.
FORTUNES_CATEGORIES = ("food", "law", "linux", "love", "startrek")
_OVERSTRIKE = re.compile("[^\x08\n]\x08")  # "_\bX" underlines and "X\bX" bolds X on a terminal
_SEPARATOR = re.compile(r"^%[ \t]*$", re.M)


def _gensim_test_data(name, who):
    """The path of one of gensim's bundled test-data files, found without importing gensim."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"fastnn.datasets.{who} needs gensim, which ships this data set: pip install gensim")
    path = os.path.join(list(spec.submodule_search_locations)[0], "test", "test_data", name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"fastnn.datasets.{who}: {path} not found in the installed gensim; reinstall it "
                                "with pip install --force-reinstall gensim")
    return path


def pang_lee_polarity():
    """Pang & Lee's movie-review sentences as bundled with gensim (``pang_lee_polarity.cor``): 200
    sentences, lower-cased and tokenized with spaces, 100 negative (label 0) then 100 positive (1).

    The file is in fastText's format, one ``__label__neg`` / ``__label__pos`` and a sentence per
    line, encoded in Windows-1252. Returns ``(texts, labels, ["neg", "pos"])``.
    """
    path = _gensim_test_data("pang_lee_polarity.cor", "pang_lee_polarity")
    names = ["neg", "pos"]
    texts, labels = [], []
    with open(path, encoding="cp1252") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            tag, _, text = line.partition(" ")
            name = tag[len("__label__"):] if tag.startswith("__label__") else None
            if name not in names:
                raise ValueError(f"pang_lee_polarity: line {number} of {path} does not start with __label__neg or "
                                 f"__label__pos: {line[:40]!r}")
            texts.append(text.strip())
            labels.append(names.index(name))
    return texts, np.asarray(labels, dtype=np.int64), names


def _read_fortunes(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        raw = f.read()
    while True:  # "___\b\b\bBODY" needs one pass per backspace
        plain = _OVERSTRIKE.sub("", raw)
        if plain == raw:
            break
        raw = plain
    return [q.strip() for q in _SEPARATOR.split(raw) if q.strip()]


def fortune_categories(root=None):
    """The categories installed in ``root`` (default ``/usr/share/games/fortunes``)."""
    root = FORTUNES_DIR if root is None else os.fspath(root)
    if not os.path.isdir(root):
        return []
    return sorted(n for n in os.listdir(root)
                  if "." not in n and os.path.isfile(os.path.join(root, n + ".dat")))


def fortunes(categories=None, root=None):
    """Quotations of Debian's ``fortunes`` package labelled by category (the file they come from).

    ``categories`` default: ``FORTUNES_CATEGORIES`` (food, law, linux, love, startrek: 1117
    quotations). Files are read from ``root``, default ``/usr/share/games/fortunes`` where
    ``apt-get install fortunes`` puts them; quotations are separated by lines holding ``%``.
    Returns ``(texts, labels, categories)`` with labels indexing ``categories``.
    """
    root = FORTUNES_DIR if root is None else os.fspath(root)
    categories = list(FORTUNES_CATEGORIES if categories is None else
                      ([categories] if isinstance(categories, str) else categories))
    if not categories:
        raise ValueError("fortunes: 'categories' must name at least one category")
    if len(set(categories)) != len(categories):
        raise ValueError(f"fortunes: 'categories' holds a name twice: {categories}")
    if not os.path.isdir(root):
        raise FileNotFoundError(f"fortunes: {root} not found. Install the quotations with `apt-get install fortunes` "
                                "(Debian/Ubuntu), or pass root= pointing to a folder of fortune files.")
    texts, labels = [], []
    for label, name in enumerate(categories):
        path = os.path.join(root, str(name))
        if not isinstance(name, str) or os.sep in name or not os.path.isfile(path):
            raise ValueError(f"fortunes: no category {name!r} in {root}; installed: "
                             f"{', '.join(fortune_categories(root)) or 'none'}")
        quotes = _read_fortunes(path)
        texts += quotes
        labels += [label] * len(quotes)
    return texts, np.asarray(labels, dtype=np.int64), categories
