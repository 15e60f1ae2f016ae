"""Sequence 8: a vision transformer on scikit-learn's handwritten digits (8x8 images).

Each image is cut into 2x2 patches (16 tokens) embedded by a Conv2d with stride 2, a learned CLS
token goes first, learned positions are added, a pre-norm transformer encoder runs over the 17
tokens, and the CLS output is classified. Training: pixels standardised, AdamW, warm-up then
cosine decay, label smoothing (``fastnn.train.train_vit``, the recipe and settings of ``fastnn demo vit``).

Aim: >= 0.90 test accuracy (stratified 80/20 split). Saved: the training curves and the attention
of the CLS token over the patches, per layer, for a few test digits.
Quick run: ``python examples/40_vit_digits.py --epochs 2``.
"""
import argparse

import _common

import numpy as np

import fastnn
from fastnn import metrics
from fastnn.data import train_test_split
from fastnn.datasets import digits
from fastnn.demos import VIT_DIGITS
from fastnn.train import train_vit


def cls_attention(result, images):
    """The CLS token's attention over the patches, averaged over the heads: (layers, N, grid, grid)."""
    model = result.model.eval()
    with fastnn.no_grad():
        maps = model.attention_maps(fastnn.tensor(result.prepare(images)))
    grid = model.image_size // model.patch_size
    return np.stack([m.numpy().mean(axis=1)[:, 0, 1:].reshape(-1, grid, grid) for m in maps])


def save_attention_figure(images, attention, labels, preds, name, title):
    """One row per image: the image, then the CLS attention of each layer over the patch grid."""
    from fastnn import plot
    if not plot.available():
        print(f"(matplotlib is not installed: skipping {name}; pip install matplotlib)")
        return
    n, layers = len(images), attention.shape[0]
    fig = plot.new_figure(figsize=(1.6 * (layers + 1), 1.6 * n))
    for i in range(n):
        ax = fig.add_subplot(n, layers + 1, i * (layers + 1) + 1)
        ax.imshow(images[i, 0], cmap="gray_r")
        ax.set_title(f"{labels[i]} -> {preds[i]}", fontsize=8)
        ax.axis("off")
        for layer in range(layers):
            ax = fig.add_subplot(n, layers + 1, i * (layers + 1) + layer + 2)
            ax.imshow(attention[layer, i], cmap="viridis")
            if i == 0:
                ax.set_title(f"layer {layer + 1}", fontsize=8)
            ax.axis("off")
    fig.suptitle(title, fontsize=9)
    print(f"saved {plot.save_figure(fig, _common.output_path(name))}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=VIT_DIGITS["epochs"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    X, y = digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, seed=args.seed)
    images = lambda a: a.reshape(-1, 1, 8, 8).astype(np.float32)  # noqa: E731
    config = {k: v for k, v in VIT_DIGITS.items() if k != "epochs"}
    print(f"vision transformer on {len(X_train)} training / {len(X_test)} test digits: {config}")
    r = train_vit(images(X_train), y_train, images(X_test), y_test, image_size=8, epochs=args.epochs, seed=args.seed,
                  verbose=2, **config)
    params = sum(p.numel() for p in r.model.parameters())
    print(f"\ntest accuracy: {r.accuracy:.4f} (target >= 0.90) after {args.epochs} epochs, {r.seconds:.0f} s of "
          f"training on {fastnn.get_num_threads()} CPU threads; {params} parameters")
    print(metrics.classification_report(y_test, r.y_pred, digits=3))
    _common.save_plot("plot_history", "40_vit_digits_history.png", r.history, title="ViT on digits")
    pick = np.array([np.flatnonzero(y_test == d)[0] for d in range(0, 10, 2)])
    save_attention_figure(images(X_test[pick]), cls_attention(r, images(X_test[pick])), y_test[pick],
                          r.y_pred[pick], "40_vit_digits_attention.png",
                          "ViT on digits: attention of the CLS token over the 4x4 patches")
    return r.accuracy


if __name__ == "__main__":
    main()
