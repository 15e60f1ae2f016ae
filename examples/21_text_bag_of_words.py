"""Sequence 5b: bag-of-words text classification (TF-IDF → logistic regression or an MLP).

Two real text sets: gensim's Pang & Lee movie-review sentences (200, positive/negative) and five
categories of Debian's fortunes quotations (1117: food, law, linux, love, startrek). Each text
becomes a TF-IDF vector over a vocabulary built on the training folds (scikit-learn's formulas,
``fastnn.data.text.TfidfEncoder``); a linear layer (``--hidden 0``, logistic regression) or an MLP
is trained with AdamW. Stratified 5-fold cross-validation predicts every text once: the test
accuracy is printed beside the majority-class baseline, with the confusion matrix and the
per-class report. 200 short sentences are very little data for sentiment: expect a few points
above chance there, and far above the baseline on fortunes.

    python examples/21_text_bag_of_words.py                      # both sets, ~1-2 min
    python examples/21_text_bag_of_words.py --data fortunes --hidden 64 --seeds 3
"""
import argparse

import _common

import numpy as np

from fastnn import datasets
from fastnn.train.text import classify_texts

LOADERS = {"pang_lee": datasets.pang_lee_polarity, "fortunes": datasets.fortunes}


def run(name, args, model, **kw):
    texts, y, names = LOADERS[name]()
    print(f"\n=== {name}: {len(texts)} texts, classes {names} (counts {np.bincount(y).tolist()})")
    accs = []
    for seed in range(args.seeds):
        r = classify_texts(texts, y, names, model=model, subwords=args.subwords, folds=args.folds,
                           epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=seed, **kw)
        accs.append(r.accuracy)
        if seed == 0:
            first = r
        print(f"{name} seed {seed}: test accuracy: {r.accuracy:.4f}  majority baseline: {r.baseline_accuracy:.4f}  "
              f"chance: {1 / len(names):.4f}  ({args.folds}-fold CV, {r.n_tokens} tokens in the vocabulary)")
    if args.seeds > 1:
        print(f"{name}: mean test accuracy over {args.seeds} seeds {np.mean(accs):.4f} ± {np.std(accs):.4f}")
    print("confusion matrix (rows: true class, columns: predicted; seed 0, every text tested once):")
    print(first.confusion)
    print(first.report())
    tag = f"{args.prefix}_{model}_{name}"
    _common.save_plot("plot_history", f"{tag}_history.png", first.history, title=f"{model} on {name} (fold 1)")
    _common.save_plot("plot_confusion_matrix", f"{tag}_confusion.png", first.confusion, class_names=names,
                      title=f"{model} on {name}")
    return first


def parser(doc, defaults):
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--data", choices=("pang_lee", "fortunes", "both"), default="both")
    p.add_argument("--epochs", type=int, default=defaults["epochs"])
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    p.add_argument("--seeds", type=int, default=1, help="repeat the cross-validation over this many seeds")
    p.add_argument("--lr", type=float, default=defaults["lr"])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--subwords", action="store_true", default=defaults["subwords"],
                   help="add character 3-5-grams of each word as tokens")
    p.set_defaults(prefix=defaults["prefix"])
    return p


def main(argv=None):
    p = parser(__doc__, dict(epochs=20, lr=1e-2, subwords=False, prefix="21"))
    p.add_argument("--hidden", type=int, default=0, help="hidden units (0: logistic regression)")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.folds < 2 or args.seeds < 1:
        p.error("--epochs and --seeds must be at least 1, --folds at least 2")
    for name in (("pang_lee", "fortunes") if args.data == "both" else (args.data,)):
        run(name, args, "tfidf", hidden=args.hidden)


if __name__ == "__main__":
    main()
