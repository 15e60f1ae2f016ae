"""word2vec on a real corpus: skip-gram and CBOW with negative sampling on gensim's Lee background
corpus (300 news stories, 60k words), trained by fastnn's native kernel.

Prints the nearest neighbours of a few words, the analogy accuracy (3CosAdd on Mikolov's questions
whose words are in the vocabulary), the Spearman correlation with the WordSim-353 human scores of the
pairs in the vocabulary, and the training speed; saves a 2-D PCA projection of chosen words. With
--softmax the full-softmax form (small vocabulary: min count 20) is trained too. The corpus is small,
so the scores vary from seed to seed: bench/bench_word2vec.py compares them with gensim's over seeds.

    python examples/20_word2vec_lee.py [--epochs 40] [--vector-size 50] [--softmax]
"""
from __future__ import annotations

import argparse

import numpy as np

from _common import fastnn, save_plot

WORDS = ["fire", "police", "australia", "government", "israeli"]
PLOT_WORDS = {
    "fire": ["fire", "fires", "firefighters", "bushfires", "blaze", "crews", "weather", "wind"],
    "security": ["police", "arrested", "court", "security", "attack", "killed", "soldiers", "troops"],
    "politics": ["government", "minister", "election", "party", "labor", "prime", "leader", "howard"],
    "places": ["sydney", "australia", "afghanistan", "israel", "palestinian", "united", "states", "pakistan"],
}


def pca_2d(x):
    x = x - x.mean(0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return x @ vt[:2].T


def report(name, model, pairs, questions):
    wv = model.wv
    words = model.corpus_total_words * model.epochs
    print(f"{name}: vocabulary {len(wv)}, {model.epochs} epochs in {model.train_seconds:.2f} s "
          f"({words / model.train_seconds:,.0f} words/s)")
    for w in WORDS:
        if w in wv:
            near = ", ".join(f"{k} {s:.2f}" for k, s in wv.most_similar(w, topn=5))
            print(f"  {w:>11}: {near}")
    _, rho, oov = wv.evaluate_word_pairs(pairs)
    asked = sum(len(s["correct"]) + len(s["incorrect"]) for s in wv.evaluate_word_analogies(questions)[1][:-1])
    acc, _ = wv.evaluate_word_analogies(questions)
    print(f"  Spearman (WordSim-353, {100 - oov:.0f}% of pairs in vocabulary): {rho.statistic:.3f}"
          f" (p = {rho.pvalue:.2g})")
    print(f"  analogy accuracy: {acc:.4f} on {asked} questions in vocabulary")
    return rho.statistic


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--vector-size", type=int, default=50)
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--min-count", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--softmax", action="store_true", help="also train the full-softmax form (min count 20)")
    args = ap.parse_args()

    docs = fastnn.datasets.lee_background()
    pairs = fastnn.datasets.wordsim353()
    questions = fastnn.datasets.analogy_questions()
    print(f"Lee background corpus: {len(docs)} documents, {sum(map(len, docs)):,} words")
    common = dict(vector_size=args.vector_size, window=args.window, min_count=args.min_count, workers=args.workers,
                  seed=args.seed, epochs=args.epochs, alpha=0.05, negative=5, sample=1e-3)
    untrained = fastnn.models.Word2Vec(docs, **dict(common, epochs=0))
    _, rho0, _ = untrained.wv.evaluate_word_pairs(pairs)
    print(f"untrained vectors: Spearman {rho0.statistic:.3f}")
    models = {}
    for name, sg in (("skip-gram", 1), ("CBOW", 0)):
        models[name] = fastnn.models.Word2Vec(docs, sg=sg, **common)
        report(name, models[name], pairs, questions)
    if args.softmax:
        sm = fastnn.models.Word2Vec(docs, **dict(common, min_count=20, loss="softmax", alpha=0.5,
                                                 epochs=max(1, args.epochs // 8), batch_size=512))
        report("full softmax (CBOW)", sm, pairs, questions)

    wv = models["skip-gram"].wv
    chosen = [(w, g) for g, ws in PLOT_WORDS.items() for w in ws if w in wv]
    points = pca_2d(wv[[w for w, _ in chosen]])
    save_plot("plot_embedding", "20_word2vec_pca.png", points, [w for w, _ in chosen],
              groups=[g for _, g in chosen], title="skip-gram vectors of the Lee corpus, PCA")


if __name__ == "__main__":
    main()
