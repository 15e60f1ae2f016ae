"""Sequence 3: look at the data, prepare it, store it.

1. ``describe`` a real image set (Fashion-MNIST's test split, or scikit-learn's digits when the
   Debian package is absent): class counts, per-channel mean/std/median/min/max, image sizes;
   a PNG with the class counts and sample images per class.
2. The preparation steps of the course on a real colour photograph (scikit-learn's sample image):
   resize, grayscale, exposure (gamma), contrast, brightness, histogram equalisation, and the
   augmentations (small rotation, shift/zoom, flip, blur, padded crop), saved as one PNG grid.
3. The same augmentations on a batch of real small images (one call, per-image randomness).
4. The prepared set stored in HDF5 as float16 and as float32: file sizes and the round-trip error.
"""
import os
import tempfile

import _common

import numpy as np

import fastnn
from fastnn.data import H5Dataset, describe, save_h5, transforms as T


def small_images():
    try:
        from fastnn.datasets import FASHION_MNIST_CLASSES, fashion_mnist
        x, y = fashion_mnist("test")
        return "Fashion-MNIST test split", x, y, FASHION_MNIST_CLASSES
    except FileNotFoundError as exc:
        print(f"({exc}; using scikit-learn's digits instead)")
        from fastnn.datasets import digits_images
        x, y = digits_images()
        return "scikit-learn digits", x, y, [str(i) for i in range(10)]


def photo():
    from sklearn.datasets import load_sample_image
    return load_sample_image("china.jpg").transpose(2, 0, 1)  # (3, 427, 640) uint8


def save_grid(panels, path, columns=4):
    from fastnn import plot
    if not plot.available():
        print("(matplotlib is not installed: skipping the picture grid)")
        return
    rows = -(-len(panels) // columns)
    fig = plot.new_figure(figsize=(3.2 * columns, 2.6 * rows))
    for i, (title, img) in enumerate(panels):
        ax = fig.add_subplot(rows, columns, i + 1)
        a = np.asarray(img)
        a = a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)
        ax.imshow(a, cmap="gray", vmin=0, vmax=255 if a.dtype == np.uint8 else 1, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    plot.save_figure(fig, path)
    print(f"saved {os.path.relpath(path)}")


def main():
    fastnn.manual_seed(0)
    name, x, y, classes = small_images()
    print(f"== {name} ==")
    report = describe(x, y, class_names=classes)
    print(report)
    try:
        path = _common.output_path("14_describe.png")
        report.plot(path, samples_per_class=10)
        print(f"saved {os.path.relpath(path)}")
    except ImportError as exc:
        print(f"({exc})")

    img = photo()
    small = T.Resize(160)(img)  # the smaller edge to 160 pixels, aspect ratio kept
    print(f"\nphotograph {img.shape} uint8 resized to {small.shape}")
    rot = T.RandomRotation(15, interpolation="bilinear")
    panels = [
        ("original (resized to 160)", small),
        ("grayscale", T.Grayscale()(small)),
        ("exposure: gamma 0.5", T.adjust_exposure(small, 0.5)),
        ("exposure: gamma 2", T.adjust_exposure(small, 2.0)),
        ("contrast x0.5", T.adjust_contrast(small, 0.5)),
        ("contrast x1.8", T.adjust_contrast(small, 1.8)),
        ("brightness x1.5", T.adjust_brightness(small, 1.5)),
        ("histogram equalisation", T.equalize(small)),
        ("saturation x2 (colour extremes)", T.adjust_saturation(small, 2.0)),
        ("random rotation ±15°", rot(small)),
        ("random shift/zoom", T.RandomAffine(0, translate=(0.1, 0.1), scale=(0.8, 1.2))(small)),
        ("horizontal flip", T.hflip(small)),
        ("Gaussian blur k=9 σ=3", T.GaussianBlur(9, sigma=3.0)(small)),
        ("random crop 128 (padding 16)", T.RandomCrop(128, padding=16)(small)),
        ("resize to 32x48", T.Resize((32, 48))(small)),
        ("colour jitter", T.ColorJitter(0.4, 0.4, 0.4)(small)),
    ]
    save_grid(panels, _common.output_path("14_transforms_photo.png"))

    batch = x[:8]
    augment = T.Compose([T.RandomHorizontalFlip(), T.RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1),
                                                                  interpolation="bilinear"),
                         T.RandomApply([T.GaussianBlur(3, (0.5, 1.0))], p=0.3), T.RandomBrightness(0.3)])
    out = augment(batch)  # one vectorised call, different random parameters per image
    panels = [(f"{classes[int(c)]}", im) for c, im in zip(y[:8], batch)]
    panels += [(f"{classes[int(c)]}, augmented", im) for c, im in zip(y[:8], out)]
    save_grid(panels, _common.output_path("14_augmented_batch.png"), columns=8)

    prepared = x.astype(np.float32) / (255 if x.dtype == np.uint8 else 1)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"\nHDF5 store of the prepared {name} ({prepared.shape}, "
              f"{prepared.nbytes / 1e6:.1f} MB as float32 in memory):")
        for dtype in ("float16", "float32"):
            path = save_h5(os.path.join(tmp, f"set_{dtype}.h5"), dtype=dtype, x=prepared, y=y)
            with H5Dataset(path) as ds:
                back = ds[:][0].numpy()
            err = np.abs(back - prepared).max()
            print(f"  {dtype}: {os.path.getsize(path) / 1e6:6.2f} MB on disk (gzip), max round-trip error {err:.2e}")


if __name__ == "__main__":
    import argparse
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    main()
