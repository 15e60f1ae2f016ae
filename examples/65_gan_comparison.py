"""Sequence 13: DCGAN, WGAN (weight clipping) and WGAN-GP side by side on the same digits.

The three recipes of examples/63 and 64 train the same DCGAN generator for the same number of epochs;
one evaluation classifier trained here on the real images (`fastnn.train.generative.ImageEvaluator`)
scores 1000 samples of each: mean confidence (a constant grey image can be confidently one class, so
also:) the inception-style score exp E[KL(p(y|x) || p(y))], high only for confident and varied samples,
and the Frechet distance between the classifier's penultimate features of the samples and of real
images it kept aside — each beside the untrained generator's, with real training images as the floor.
Saved: the three recipes' final samples side by side, their sample grids every few epochs, the loss
curves, and the Frechet distance and inception score per recipe as a bar chart.
Quick run: ``python examples/65_gan_comparison.py --epochs 1 --subset 512``.
"""
import numpy as np

import _gan_common
from _common import fastnn, output_path, save_plot

if __name__ == "__main__":
    args, ev, results, scores = _gan_common.run(__doc__, "65", ["dcgan", "wgan", "wgan-gp"], epochs=10)
    # one picture: 64 samples of each recipe (same latents), left to right in the order trained
    grids = [fastnn.utils.make_grid(fastnn.from_numpy(r.sample(64, seed=args.seed + 1)), nrow=8, normalize=True,
                                    value_range=(-1, 1), pad_value=1.0).numpy() for r in results.values()]
    gap = np.ones((grids[0].shape[0], grids[0].shape[1], 8), np.float32)
    side = np.concatenate([g if i == 0 else np.concatenate([gap, g], axis=2) for i, g in enumerate(grids)], axis=2)
    path = output_path("65_side_by_side.png")
    fastnn.utils.save_image(fastnn.from_numpy(side), path)
    print(f"saved {path} (left to right: {', '.join(_gan_common.NAMES[v] for v in results)})")
    names = [_gan_common.NAMES[v] for v in scores]
    save_plot("plot_curves", "65_scores.png", {"Frechet distance": [s["frechet_distance"] for s in scores.values()],
                                               "inception score x 10": [10 * s["inception_score"]
                                                                        for s in scores.values()]},
              x=np.arange(len(names)), xlabel=" | ".join(names), title="scores per recipe (lower FD is better)")
