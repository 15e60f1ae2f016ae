"""bench/bench_unet.py times the same computation in both libraries: from the same weights and inputs, one training
step gives the same loss in fastnn and diffusers and leaves the same parameters (up to Adam's sign of near-zero
gradients), and the forward rows give the same outputs."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import bench_unet  # noqa: E402

import fastnn  # noqa: E402


def test_the_training_step_is_the_same_in_both_libraries(diffusers, torch):
    config = bench_unet.CONFIGS["digits"]
    fm, tm = bench_unet.models("digits", torch)
    got, want = bench_unet.train_step(fastnn, fm, config)().item(), bench_unet.train_step(torch, tm, config)().item()
    assert abs(got - want) <= 1e-4 * abs(want)
    theirs = tm.state_dict()
    for k, v in fm.state_dict().items():
        d = np.abs(v.numpy() - theirs[k].detach().numpy())
        # Adam's first step moves each weight by about lr * sign(gradient); a gradient within rounding of 0
        # (the attention's key biases) may step either way
        assert d.max() <= 2.5e-4 and (d > 1e-6).mean() < 0.05, k


def test_the_forward_row_is_the_same_in_both_libraries(diffusers, torch):
    # the digits configuration: the 28x28 row runs the same function, four times longer
    config = bench_unet.CONFIGS["digits"]
    fm, tm = bench_unet.models("digits", torch)
    got = bench_unet.forward_only(fastnn, fm, config)().numpy()
    want = bench_unet.forward_only(torch, tm, config)().numpy()
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()
