"""Sequence 8: a vision transformer on Fashion-MNIST (28x28 clothing images, 10 classes).

The image is cut into 7x7 patches (16 tokens) embedded by a Conv2d with stride 7, a CLS token and learned
positions go with them, a 4-layer pre-norm encoder runs over the 17 tokens (``fastnn.train.train_vit``:
standardised pixels, AdamW, warm-up then cosine decay, label smoothing; random horizontal flips of the
training batches). Compare with the CNN of ``12_fashion_mnist_cnn.py``: a ViT has no built-in notion of
locality and needs more data or epochs for the same accuracy.

Aim: >= 0.85 test accuracy on the 10000 test images. Saved: training curves, the confusion matrix and the
CLS attention over the 4x4 patch grid for a few test images.
Needs the Debian package ``dataset-fashion-mnist``.
Quick run: ``python examples/41_vit_fashion_mnist.py --epochs 1 --subset 2000``.
"""
import argparse

import _common

import numpy as np

import fastnn
from fastnn import metrics
from fastnn.data import transforms as T
from fastnn.datasets import FASHION_MNIST_CLASSES, fashion_mnist
from fastnn.train import train_vit

CONFIG = dict(patch_size=7, num_layers=4, num_heads=4, hidden_dim=64, mlp_dim=128, lr=2e-3, batch_size=128)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--subset", type=int, default=0, help="train on this many images, test on a quarter as many "
                        "(0: all 60000 / 10000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.subset < 0:
        parser.error("--epochs must be at least 1, --subset at least 0")
    x_train, y_train = fashion_mnist("train")
    x_test, y_test = fashion_mnist("test")
    if args.subset:
        pick = np.random.default_rng(args.seed).permutation(len(x_train))[:args.subset]
        x_train, y_train = x_train[pick], y_train[pick]
        x_test, y_test = x_test[:max(args.subset // 4, 100)], y_test[:max(args.subset // 4, 100)]
    x_train, x_test = (x.astype(np.float32) / 255 for x in (x_train, x_test))
    print(f"vision transformer on {len(x_train)} training / {len(x_test)} test images of Fashion-MNIST: {CONFIG}")
    r = train_vit(x_train, y_train, x_test, y_test, image_size=28, epochs=args.epochs, seed=args.seed,
                  train_transform=T.RandomHorizontalFlip(), verbose=2, **CONFIG)
    params = sum(p.numel() for p in r.model.parameters())
    print(f"\ntest accuracy: {r.accuracy:.4f} ({len(y_test)} images) after {args.epochs} epochs, {r.seconds:.0f} s of "
          f"training on {fastnn.get_num_threads()} CPU threads; {params} parameters (target >= 0.85)")
    print(metrics.classification_report(y_test, r.y_pred, target_names=list(FASHION_MNIST_CLASSES), digits=3))
    _common.save_plot("plot_history", "41_vit_fashion_mnist_history.png", r.history, title="ViT on Fashion-MNIST")
    _common.save_plot("plot_confusion_matrix", "41_vit_fashion_mnist_confusion.png",
                      metrics.confusion_matrix(y_test, r.y_pred, num_classes=10),
                      class_names=list(FASHION_MNIST_CLASSES))
    from importlib import import_module
    vit_digits = import_module("40_vit_digits")  # the attention figure is drawn the same way as for digits
    pick = np.array([np.flatnonzero(y_test == c)[0] for c in range(0, 10, 2) if np.any(y_test == c)])
    vit_digits.save_attention_figure(x_test[pick], vit_digits.cls_attention(r, x_test[pick]), y_test[pick],
                                     r.y_pred[pick], "41_vit_fashion_mnist_attention.png",
                                     "ViT on Fashion-MNIST: attention of the CLS token over the 4x4 patches")
    return r.accuracy


if __name__ == "__main__":
    main()
