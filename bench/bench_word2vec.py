"""word2vec training (csrc/ops/word2vec/) on gensim's Lee background corpus: fastnn.models.Word2Vec beside
gensim's Word2Vec with the same settings (vector_size 50, window 5, negative 5, sample 1e-3, min_count 2,
alpha 0.025, the same thread count: workers = fastnn.get_num_threads()), skip-gram and CBOW.

Timed: ``train()`` alone (the vocabulary is built before), median of repeats after a warm-up; words/s
counts the corpus words in the vocabulary times the epochs, for both. gensim is a bench dependency
only. Standalone, ``--seeds N`` also trains N seeds of each with 40 epochs and prints the quality of both
(Spearman on the WordSim-353 pairs in vocabulary, analogy accuracy by 3CosAdd: mean ± sd), since one
score on a corpus this small says little:

    python bench/bench_word2vec.py [--seeds 5] [--threads 2] [--quick]
"""
from __future__ import annotations

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SETTINGS = dict(vector_size=50, window=5, negative=5, sample=1e-3, min_count=2, alpha=0.025)


def _gensim():
    try:
        import gensim.models
    except ImportError:
        return None
    return gensim.models


def _models(docs, sg, epochs, seed, workers):
    import fastnn
    kw = dict(SETTINGS, sg=sg, epochs=epochs, seed=seed, workers=workers)
    ours = fastnn.models.Word2Vec(**kw)
    ours.build_vocab(docs)
    gm = _gensim()
    ref = None
    if gm is not None:
        ref = gm.Word2Vec(**kw)
        ref.build_vocab(docs)
    return ours, ref


def _train_ms(model, docs, epochs):
    t0 = time.perf_counter()
    model.train(docs, total_examples=len(docs), epochs=epochs)
    return 1e3 * (time.perf_counter() - t0)


def run(device="cpu", quick=False):
    import fastnn
    if device != "cpu":
        return []  # gensim is CPU-only: nothing to compare the CUDA kernel with
    docs = fastnn.datasets.lee_background()
    workers = fastnn.get_num_threads()
    epochs = 2 if quick else 10
    rows = []
    for name, sg in (("skip-gram", 1), ("CBOW", 0)):
        ours, ref = _models(docs, sg, epochs, 1, workers)
        words = sum(1 for d in docs for w in d if w in ours.wv.key_to_index) * epochs
        a = harness.time_ms(lambda: _train_ms(ours, docs, epochs), warmup=1, repeats=3)
        r = None
        if ref is not None:
            harness.pause()
            r = harness.time_ms(lambda: _train_ms(ref, docs, epochs), warmup=1, repeats=3)
        note = f"fastnn {words / a * 1e3:,.0f} words/s" + (f", gensim {words / r * 1e3:,.0f}" if r else "")
        rows.append(harness.row(f"word2vec {name} train (Lee corpus)", f"d50 w5 n5, {epochs} epochs, {workers} thr",
                                a, "gensim" if r is not None else None, r, note))
    return rows


def quality(seeds, epochs, workers):
    """Per library and mode: (Spearman, analogy accuracy, words/s) for each seed."""
    import fastnn
    from fastnn.models import KeyedVectors
    docs = fastnn.datasets.lee_background()
    pairs, questions = fastnn.datasets.wordsim353(), fastnn.datasets.analogy_questions()
    out = {}
    for name, sg in (("skip-gram", 1), ("CBOW", 0)):
        for seed in range(1, seeds + 1):
            ours, ref = _models(docs, sg, epochs, seed, workers)
            words = sum(1 for d in docs for w in d if w in ours.wv.key_to_index) * epochs
            for lib, model in (("fastnn", ours), ("gensim", ref)):
                if model is None:
                    continue
                ms = _train_ms(model, docs, epochs)
                wv = model.wv if lib == "fastnn" else KeyedVectors(model.vector_size, model.wv.index_to_key,
                                                                   model.wv.vectors)
                rho = wv.evaluate_word_pairs(pairs)[1].statistic
                acc = wv.evaluate_word_analogies(questions)[0]
                out.setdefault((name, lib), []).append((rho, acc, words / ms * 1e3))
    return out


def _mean_sd(values):
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values) if len(values) > 1 else 0.0:.3f}"


if __name__ == "__main__":
    import fastnn
    harness.standalone(run)
    quick = "--quick" in sys.argv
    if "--seeds" in sys.argv:
        seeds = int(sys.argv[sys.argv.index("--seeds") + 1])
        epochs = 5 if quick else 40
        print(f"\nquality over {seeds} seeds, {epochs} epochs, {fastnn.get_num_threads()} threads "
              f"(Spearman on WordSim-353 pairs in vocabulary; analogy accuracy, 3CosAdd):")
        for (name, lib), vals in quality(seeds, epochs, fastnn.get_num_threads()).items():
            rho, acc, wps = zip(*vals)
            print(f"  {name:<10} {lib:<7} Spearman {_mean_sd(rho)}   analogies {_mean_sd(acc)}   "
                  f"words/s {statistics.mean(wps):,.0f}", flush=True)
