"""End-to-end criteria of SCOPE.md sequences 1 and 5a, on real data, through the examples' code."""
import importlib.util
import os

import numpy as np
import pytest

import fastnn
import fastnn.plot

pytest.importorskip("sklearn")
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


@pytest.fixture
def example(monkeypatch, tmp_path):
    """Import an example script by file name, with its plots redirected to a temporary folder."""
    monkeypatch.syspath_prepend(EXAMPLES)
    import _common
    monkeypatch.setattr(_common, "OUTPUT", str(tmp_path))

    def load(name):
        spec = importlib.util.spec_from_file_location(f"example_{name}", os.path.join(EXAMPLES, f"{name}.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    load.output = tmp_path
    return load


def _pngs(folder):
    return sorted(p for p in os.listdir(folder) if p.endswith(".png"))


def _has_matplotlib():
    return fastnn.plot.available()


def test_linear_regression_by_gradient_descent_recovers_coefficients(example):
    ex = example("01_polynomial_regression")
    rng = np.random.default_rng(5)
    x = rng.uniform(-2, 2, 300).astype(np.float32)
    y = (-1.5 + 0.8 * x + rng.normal(0, 0.05, 300)).astype(np.float32)
    theta, losses = ex.gradient_descent(np.stack([np.ones_like(x), x], 1), y, lr=0.2, steps=400)
    np.testing.assert_allclose(theta, [-1.5, 0.8], atol=0.02)
    assert losses[-1] < 0.01 < losses[0]


def test_polynomial_example_shows_under_and_over_fitting(example, capsys):
    ex = example("01_polynomial_regression")
    ex.main()
    out = capsys.readouterr().out
    assert "θ = (1.99" in out
    rows = {int(line.split()[0]): line for line in out.splitlines() if line.strip().startswith(("1 ", "3 ", "15 "))}
    assert "under-fits" in rows[1] and "good fit" in rows[3] and "over-fits" in rows[15]
    assert "diverges" in out  # the largest learning rate
    if _has_matplotlib():
        assert _pngs(example.output) == ["01_learning_rates.png", "01_polynomial_fits.png"]


def test_logistic_regression_breast_cancer_at_least_95(example):
    acc = example("02_logistic_regression").main(verbose=0)
    assert acc >= 0.95
    if _has_matplotlib():
        assert _pngs(example.output) == ["02_logistic_confusion.png", "02_logistic_history.png"]


def test_mlp_digits_at_least_95_with_confusion_matrix(example):
    result = example("03_mlp_digits").main(verbose=0)
    assert result.scores["accuracy"] >= 0.95
    cm = result.confusion
    assert cm.shape == (10, 10) and cm.sum() == len(result.y_test) == 360
    assert np.trace(cm) / cm.sum() == pytest.approx(result.scores["accuracy"])
    np.testing.assert_array_equal(result.predict(fastnn.datasets.digits()[0][:5]), fastnn.datasets.digits()[1][:5])


def test_mlp_regression_diabetes_beats_least_squares(example, capsys):
    rows = example("04_mlp_regression_diabetes").main()
    assert rows["MLP"]["mse"] < rows["least squares"]["mse"]
    assert rows["MLP"]["r2"] > rows["least squares"]["r2"] > 0.3
    assert "RMSE" in capsys.readouterr().out


def test_kfold_cross_validation_reports_mean_and_std(example, capsys):
    result = example("05_cross_validation").main(k=3, epochs=15)
    out = capsys.readouterr().out
    assert "70/15/15 split sizes: [124, 27, 27]" in out
    assert len(result.folds) == 3 and "accuracy: " in out and " ± " in out
    assert result.mean["accuracy"] > 0.9 and 0 <= result.std["accuracy"] < 0.1


def test_fastnn_demo_prints_accuracy_confusion_and_report(capsys):
    from fastnn.cli import main
    assert main(["demo", "--epochs", "4", "--quiet"]) == 0
    out = capsys.readouterr().out
    acc = float(out.split("test accuracy: ")[1].split()[0])
    assert acc > 0.9
    assert "confusion matrix" in out and "macro avg" in out and "weighted avg" in out
