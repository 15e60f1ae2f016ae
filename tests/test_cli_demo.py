"""``fastnn demo``: the registry of demos, ``--list``, the default (digits) and the sunspot forecaster."""
import os
import re

import pytest

from fastnn import cli, demos


def _need_statsmodels():
    if os.environ.get("CI", "").lower() != "true":
        pytest.importorskip("statsmodels")


def test_list_names_every_demo_with_one_line(capsys):
    assert cli.main(["demo", "--list"]) == 0
    out = capsys.readouterr().out
    assert set(demos.DEMOS) >= {"digits", "forecast"}
    lines = [line for line in out.splitlines() if line.strip()]
    for name, demo in demos.DEMOS.items():
        assert sum(line.split()[0] == name for line in lines) == 1
        assert demo.summary in out
        assert callable(demo.run)
    assert demos.DEFAULT == "digits"


def test_demo_alone_runs_digits(capsys):
    pytest.importorskip("sklearn")
    assert cli.main(["demo", "--epochs", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("fastnn demo: a dense network (64 -> 64 -> 10) on scikit-learn's handwritten digits")
    assert "trained 1 epochs" in out and "test accuracy: " in out and "confusion matrix" in out
    assert cli.main(["demo", "digits", "--epochs", "1", "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == out.splitlines()[0]


def test_unknown_demo_and_bad_epochs_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["demo", "nope"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unknown demo 'nope'" in err and "digits" in err and "forecast" in err
    with pytest.raises(SystemExit):
        cli.main(["demo", "forecast", "--epochs", "0"])
    assert "--epochs must be at least 1" in capsys.readouterr().err


def test_forecast_demo_prints_rmse_beside_naive(capsys):
    _need_statsmodels()
    assert cli.main(["demo", "forecast", "--epochs", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("fastnn demo forecast: an LSTM")
    m = re.search(r"test RMSE over 62 years \(1947-2008\): LSTM (\d+\.\d\d), naive last-value forecast (\d+\.\d\d)",
                  out)
    assert m, out
    assert float(m.group(2)) == pytest.approx(33.28, abs=0.01)  # the naive forecast does not depend on training
    assert "trained 3 epochs" in out


def test_vit_demo_prints_test_accuracy(capsys):
    pytest.importorskip("sklearn")
    assert cli.main(["demo", "vit", "--epochs", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("fastnn demo vit: a vision transformer (2 layers, 64 dims, 4 heads) on scikit-learn's")
    m = re.search(r"test accuracy: ([01]\.\d{4}) on 360 held-out images", out)
    assert m and float(m.group(1)) > 0.2, out  # two epochs: well above chance (0.1); the full demo reaches >= 0.90
    assert "trained 2 epochs" in out and "macro avg" in out


def test_graph_demo_prints_held_out_accuracy(capsys):
    pytest.importorskip("networkx")
    assert cli.main(["demo", "graph", "--epochs", "100", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("fastnn demo graph: a 2-layer GCN (34 -> 16 -> 2) on Zachary's karate club")
    m = re.search(r"held-out accuracy: ([01]\.\d{4}) \(mean of 5 draws, min ([01]\.\d{4}); chance 0\.5\)", out)
    assert m and float(m.group(1)) >= 0.85, out  # the full demo (200 epochs) reaches >= 0.90
    assert "trained 5 x 100 epochs" in out and "draw 0" not in out  # --quiet: no line per draw


def test_gan_demo_saves_a_grid_and_prints_scores_beside_the_untrained_generator(capsys, tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(demos, "GAN_EVALUATOR_EPOCHS", 1)  # the full demo trains its classifier 8 epochs
    assert cli.main(["demo", "gan", "--epochs", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("fastnn demo gan: a WGAN-GP on scikit-learn's handwritten digits (1797 images of 8x8")
    assert "trained 1 epochs" in out and "Epoch 1/1" not in out  # --quiet: no per-epoch line
    score = r"confidence ([01]\.\d{3})   inception score +(\d+\.\d\d)   Frechet distance +(\d+\.\d)"
    for name in ("WGAN-GP generator", "untrained generator", "real training digits"):
        assert re.search(name + " +" + score, out), out
    real = re.search("real training digits +" + score, out)
    assert 1 <= float(real.group(2)) <= 10
    png = tmp_path / "gan_digits_samples.png"
    assert png.stat().st_size > 500 and f"saved a grid of 64 generated digits to {png}" in out


def test_diffusion_demo_saves_a_grid_and_prints_scores_beside_the_untrained_model(capsys, tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(demos, "GAN_EVALUATOR_EPOCHS", 1)
    # reduced sampling: the full demo draws 500 digits in 50 DDIM steps
    monkeypatch.setitem(demos.DDPM_DIGITS, "samples", 64)
    monkeypatch.setitem(demos.DDPM_DIGITS, "inference_steps", 4)
    assert cli.main(["demo", "diffusion", "--epochs", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("fastnn demo diffusion: a denoising diffusion model (DDPM) on scikit-learn's handwritten "
                          "digits (1797 images of 8x8")
    assert "trained 1 epochs" in out and "Epoch 1/1" not in out
    score = r"confidence ([01]\.\d{3})   inception score +(\d+\.\d\d)   Frechet distance +(\d+\.\d)"
    for name in ("DDPM \\(EMA weights\\)", "untrained DDPM", "real training digits"):
        assert re.search(name + " +" + score, out), out
    png = tmp_path / "fastnn_demo_diffusion_samples.png"
    assert png.stat().st_size > 500 and f"saved a grid of 64 to {png}" in out
