"""Sequence 8: a transformer learns a task that a bag of words cannot — "is this sequence sorted?".

Each example is a multiset of 4-16 tokens (from a vocabulary of 20) written either in sorted order
(label 1) or in a random unsorted order of the same kind of multiset (label 0): the token counts are
drawn the same way for both labels, so a model of the counts alone is at chance by construction
(``fastnn.data.sorted_sequences``). Beside each other:

* the bag-of-words baseline: a dense network (64 hidden units) on the token counts;
* ``fastnn.models.TransformerClassifier``: token embedding + sinusoidal positions + a 2-layer encoder,
  a learned CLS token classified at the end, padding masked out.

Printed: both test accuracies; saved: their validation accuracy per epoch.
Quick run: ``python examples/42_order_task.py --epochs 1 --train 512``.
"""
import argparse
import time

import _common

import numpy as np

import fastnn
from fastnn import metrics, nn, optim
from fastnn.data import sorted_sequences, token_counts
from fastnn.models import TransformerClassifier
from fastnn.train import fit, predict, train_tabular

VOCAB, MIN_LEN, MAX_LEN = 20, 4, 16


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--train", type=int, default=5000, help="training sequences (default 5000)")
    parser.add_argument("--test", type=int, default=1000, help="test sequences (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.train < 10 or args.test < 10:
        parser.error("--epochs must be at least 1, --train and --test at least 10")
    n = args.train + args.test
    tokens, lengths, labels = sorted_sequences(n, MIN_LEN, MAX_LEN, VOCAB, seed=args.seed)
    print(f"{n} sequences of {MIN_LEN}-{MAX_LEN} tokens from a vocabulary of {VOCAB}, {labels.mean():.1%} sorted; "
          f"e.g. {tokens[0, :lengths[0]].tolist()} -> {labels[0]}, {tokens[1, :lengths[1]].tolist()} -> {labels[1]}")

    # The bag of words: train_tabular holds out its own stratified test part of the same size.
    counts = token_counts(tokens, VOCAB)
    bow = train_tabular(counts, labels, "classification", hidden=(64,), epochs=args.epochs, lr=2e-3, batch_size=64,
                        test_size=args.test / n, seed=args.seed)
    print(f"bag of words (token counts -> 64 -> 1): test accuracy {bow.scores['accuracy']:.4f} (chance 0.5)")

    fastnn.manual_seed(args.seed)
    x_train, y_train = tokens[:args.train], labels[:args.train]
    x_test, y_test = tokens[args.train:], labels[args.train:]
    model = TransformerClassifier(VOCAB + 1, 2, d_model=64, nhead=4, num_layers=2, dim_feedforward=128, dropout=0.1,
                                  max_len=MAX_LEN + 1, pooling="cls", padding_idx=0)
    opt = optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    start = time.perf_counter()
    history = fit(model, (x_train, y_train), nn.CrossEntropyLoss(), opt, epochs=args.epochs,
                  val_data=(x_test, y_test), metrics=["accuracy"], scheduler=sched, batch_size=64, verbose=2)
    seconds = time.perf_counter() - start
    y_pred = predict(model, (x_test, y_test)).argmax(axis=1)
    acc = metrics.accuracy(y_test, y_pred)
    print(f"\ntest accuracy: {acc:.4f} (transformer classifier, {args.epochs} epochs, {seconds:.0f} s on "
          f"{fastnn.get_num_threads()} CPU threads) vs bag of words {bow.scores['accuracy']:.4f}")
    by_length = {L: float(np.mean(y_pred[lengths[args.train:] == L] == y_test[lengths[args.train:] == L]))
                 for L in (MIN_LEN, (MIN_LEN + MAX_LEN) // 2, MAX_LEN) if np.any(lengths[args.train:] == L)}
    print("transformer accuracy by length: " + ", ".join(f"{L} tokens {a:.3f}" for L, a in by_length.items()))
    _common.save_plot("plot_curves", "42_order_task.png",
                      {"transformer": history.history["val_accuracy"],
                       "bag of words": bow.history.history.get("val_accuracy", [])[:args.epochs] or
                       [bow.scores["accuracy"]] * args.epochs},
                      ylabel="test accuracy", title="is the sequence sorted?")
    return acc, bow.scores["accuracy"]


if __name__ == "__main__":
    main()
