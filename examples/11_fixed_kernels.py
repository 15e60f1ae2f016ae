"""Sequence 4: classic fixed convolution kernels applied with ``conv2d`` to a real photograph.

The image is scikit-learn's sample photograph ``china.jpg`` (shipped with the package), turned to
grey levels. One ``conv2d`` call with a (5, 1, 3, 3) weight applies five hand-written kernels at
once: Sobel vertical edges (∂/∂x), Sobel horizontal edges (∂/∂y), the Laplacian, a 3×3 box blur and
a sharpening kernel; the gradient magnitude sqrt(Gx² + Gy²) follows. Nothing is learned here:
these are the filters that a CNN's first layer discovers on its own. Saves a PNG grid.
"""
import _common  # noqa: F401  (sets up paths)
import numpy as np

import fastnn
import fastnn.nn.functional as F

KERNELS = {
    "vertical edges (Sobel x)": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "horizontal edges (Sobel y)": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "Laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "box blur": [[1 / 9] * 3] * 3,
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
}


def load_image():
    try:
        from sklearn.datasets import load_sample_image
    except ImportError as exc:
        raise SystemExit("this example needs scikit-learn (and pillow) for its sample photograph: "
                         "pip install scikit-learn pillow") from exc
    rgb = load_sample_image("china.jpg").astype(np.float32) / 255.0
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601 luma


def main():
    grey = load_image()
    x = fastnn.from_numpy(grey[None, None])                        # (1, 1, H, W)
    w = fastnn.tensor(np.array(list(KERNELS.values()), dtype=np.float32)[:, None])  # (5, 1, 3, 3)
    out = F.conv2d(x, w, padding="same")                            # (1, 5, H, W): all kernels at once
    maps = dict(zip(KERNELS, out[0].numpy()))
    gx, gy = maps["vertical edges (Sobel x)"], maps["horizontal edges (Sobel y)"]
    maps["gradient magnitude"] = np.sqrt(gx ** 2 + gy ** 2)
    print(f"image {grey.shape[1]}x{grey.shape[0]} grey levels; conv2d output {tuple(out.shape)}")
    for name, m in maps.items():
        print(f"  {name:<28} min {m.min():+.3f}  max {m.max():+.3f}  mean |.| {np.abs(m).mean():.4f}")
    # A constant region has no edges: every derivative kernel sums to zero.
    flat = F.conv2d(fastnn.ones(1, 1, 5, 5), w[:3]).numpy()
    assert np.allclose(flat, 0.0, atol=1e-6)

    from fastnn import plot
    if not plot.available():
        print("(matplotlib is not installed: skipping the picture; pip install matplotlib)")
        return maps
    fig = plot.new_figure(figsize=(12, 5.5))
    panels = [("original (grey)", grey)] + list(maps.items())
    for i, (name, m) in enumerate(panels):
        ax = fig.add_subplot(2, 4, i + 1)
        signed = name in ("vertical edges (Sobel x)", "horizontal edges (Sobel y)", "Laplacian")
        if signed:
            lim = np.percentile(np.abs(m), 99)
            ax.imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim)
        else:
            ax.imshow(m, cmap="gray", vmin=0, vmax=np.percentile(m, 99.5) if name == "gradient magnitude" else 1)
        ax.set_title(name, fontsize=9)
        ax.set_axis_off()
    fig.suptitle("Fixed 3x3 kernels applied with fastnn.nn.functional.conv2d")
    print(f"saved {plot.save_figure(fig, _common.output_path('11_fixed_kernels.png'))}")
    return maps


if __name__ == "__main__":
    import argparse
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    main()
