"""Sequence 1: gradient descent on θ by hand, with autograd.

Fit P(x) = θ0 + θ1·x + ... + θn·xⁿ to noisy samples of a smooth curve by plain gradient descent
on the MSE, θ ← θ − α ∂J/∂θ, with ∂J/∂θ from autograd. Shows:
  1. linear regression recovering known coefficients,
  2. under-fitting (degree 1) and over-fitting (degree 15 on 20 points) against a held-out test set,
  3. the effect of the learning rate α (too small: slow; too large: divergence).
"""
import _common  # noqa: F401  (sets up paths)
import numpy as np

import fastnn
from fastnn import metrics


def features(x, degree):
    """[1, x, x², ..., x^degree], each power column scaled to unit RMS on [-1, 1] so one α suits all."""
    cols = [x ** k for k in range(degree + 1)]
    scale = np.array([1.0] + [np.sqrt(2 * k + 1) for k in range(1, degree + 1)])  # 1 / RMS of x^k on [-1, 1]
    return (np.stack(cols, axis=1) * scale).astype(np.float32)


def gradient_descent(X, y, lr, steps, record_every=1):
    """Plain batch gradient descent on θ for J(θ) = mean((Xθ − y)²); returns θ and the loss curve."""
    Xt, yt = fastnn.from_numpy(X), fastnn.from_numpy(y)
    theta = fastnn.zeros(X.shape[1], requires_grad=True)
    losses = []
    for step in range(steps):
        with np.errstate(over="ignore", invalid="ignore"):  # a too-large α overflows on purpose
            loss = ((Xt @ theta - yt) ** 2).mean()
        if step % record_every == 0:
            losses.append(loss.item())
        if not np.isfinite(loss.item()):
            break
        loss.backward()
        with fastnn.no_grad():
            theta -= lr * theta.grad
        theta.grad = None
    return theta.detach().numpy(), losses


def main():
    rng = np.random.default_rng(0)

    # 1. Linear regression: y = 2 + 3x + noise, θ should come back as (2, 3).
    x = rng.uniform(-1, 1, 200).astype(np.float32)
    y = (2.0 + 3.0 * x + rng.normal(0, 0.1, 200)).astype(np.float32)
    X = np.stack([np.ones_like(x), x], axis=1)
    theta, _ = gradient_descent(X, y, lr=0.5, steps=300)
    print(f"linear regression: θ = ({theta[0]:.3f}, {theta[1]:.3f}), true (2, 3)")
    y_hat = X @ theta
    print(f"  MSE {metrics.mse(y, y_hat):.4f}  RMSE {metrics.rmse(y, y_hat):.4f}  MAE {metrics.mae(y, y_hat):.4f}")

    # 2. Under- and over-fitting: 20 noisy training points of sin(πx), a dense test set.
    def truth(v):
        return np.sin(np.pi * v)

    x_train = np.sort(rng.uniform(-1, 1, 20)).astype(np.float32)
    y_train = (truth(x_train) + rng.normal(0, 0.2, 20)).astype(np.float32)
    x_test = np.linspace(-1, 1, 200).astype(np.float32)
    y_test = truth(x_test).astype(np.float32)
    curves, print_rows = {}, []
    for degree in (1, 3, 15):
        Xtr = features(x_train, degree)
        lr = 0.5 / (degree + 1)
        theta, losses = gradient_descent(Xtr, y_train, lr=lr, steps=8000 if degree == 15 else 2000)
        train_mse = metrics.mse(y_train, Xtr @ theta)
        test_mse = metrics.mse(y_test, features(x_test, degree) @ theta)
        print_rows.append((degree, train_mse, test_mse))
        curves[f"degree {degree}"] = (x_test, features(x_test, degree) @ theta)
    print("degree  train MSE  test MSE")
    for degree, tr, te in print_rows:
        verdict = "under-fits" if degree == 1 else ("over-fits" if te > 1.5 * tr else "good fit")
        print(f"{degree:6d}  {tr:9.4f}  {te:8.4f}   {verdict}")
    curves["truth sin(πx)"] = (x_test, y_test)
    _common.save_plot("plot_scatter_fit", "01_polynomial_fits.png", x_train, y_train, curves,
                      title="Polynomial regression by gradient descent", ylim=(-2, 2))

    # 3. Learning-rate effect on the cubic fit.
    Xtr = features(x_train, 3)
    series = {}
    for lr in (0.005, 0.05, 0.2, 0.6):
        _, losses = gradient_descent(Xtr, y_train, lr=lr, steps=300)
        series[f"α = {lr}"] = np.minimum(losses, 1e3)
        status = "diverges" if not np.isfinite(losses[-1]) or losses[-1] > losses[0] else f"loss {losses[-1]:.4f}"
        print(f"learning rate {lr:<6}: after {len(losses)} steps {status}")
    _common.save_plot("plot_curves", "01_learning_rates.png", series, xlabel="step", ylabel="MSE (clipped at 1e3)",
                      title="Effect of the learning rate", logy=True)


if __name__ == "__main__":
    import argparse
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    main()
