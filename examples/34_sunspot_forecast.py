"""Sequence 6: an LSTM forecasting the yearly sunspot number one year ahead (statsmodels' sunspots, 1700-2008).

Each year is predicted from the 12 years before it. The years are split in time order: training,
validation (early stopping) and the last 20 % as the test part; the scaler is fitted on the training
years only. The test RMSE of the LSTM is printed beside the naive last-value forecast and beside
statsmodels' ARIMA(9, 0, 0), fitted on the years before the test and applied to the test years without
refitting (also one step ahead). p = 9 has the lowest AIC of AR(1)..AR(10) on those years:
--search-arima repeats that search (about ten times slower). The forecast plot is saved.
"""
import _common  # noqa: F401  (sets up paths)

import numpy as np

from fastnn.datasets import sunspots
from fastnn.demos import FORECAST
from fastnn.metrics import rmse
from fastnn.train import train_forecaster


def arima_one_step(series, n_fit, test_index, orders=(9,)):
    """One-step-ahead ARIMA(p, 0, 0) forecasts of ``series[test_index]`` from a model fitted on
    ``series[:n_fit]``, p the order of lowest AIC among ``orders``; returns (forecasts, p), or None
    without statsmodels."""
    try:
        from statsmodels.tsa.arima.model import ARIMA
    except ImportError:
        return None
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter of the order search
        fits = [ARIMA(series[:n_fit], order=(p, 0, 0)).fit() for p in orders]
        best = min(fits, key=lambda f: f.aic)
        # the fitted parameters run over the whole series; fitted values are one-step-ahead predictions
        full = best.apply(series)
    return np.asarray(full.fittedvalues)[test_index], best.model.order[0]


def main(epochs=150, seeds=(0,), cell="lstm", search_arima=False, verbose=0):
    year, activity = sunspots()
    cfg = dict(FORECAST, cell=cell)
    print(f"{len(year)} years {year[0]}-{year[-1]}; {cell.upper()} with {cfg['hidden_size']} hidden units on windows "
          f"of {cfg['sequence_length']} years, up to {epochs} epochs, early stopping on the validation years")
    results = []
    for seed in seeds:
        r = train_forecaster(activity, epochs=epochs, seed=seed, verbose=verbose, **cfg)
        results.append(r)
        print(f"seed {seed}: {cell.upper()} test RMSE {r.rmse:.2f} after {len(r.history.epoch)} epochs")
    r = results[0]
    train, val, test = (year[s] for s in r.splits)
    print(f"split: training {train[0]}-{train[-1]} ({len(train)} years), validation {val[0]}-{val[-1]} "
          f"({len(val)}), test {test[0]}-{test[-1]} ({len(test)})")
    scores = [x.rmse for x in results]
    print(f"\ntest RMSE, one year ahead, over the {len(test)} test years:")
    print(f"  {cell.upper():<28} {np.mean(scores):6.2f}" + (f" (mean of {len(scores)} seeds, std {np.std(scores):.2f})"
                                                           if len(scores) > 1 else ""))
    print(f"  {'naive last-value forecast':<28} {r.naive_rmse:6.2f}")
    arima = arima_one_step(activity.astype(np.float64), r.splits[1].stop, r.test_index,
                           orders=range(1, 11) if search_arima else (9,))
    if arima is None:
        print("  ARIMA: skipped (statsmodels' ARIMA is not installed: pip install statsmodels)")
    else:
        y_arima, p = arima
        print(f"  {f'ARIMA({p},0,0) (statsmodels)':<28} {rmse(r.y_test, y_arima):6.2f}")
    verdict = "beats" if np.mean(scores) < r.naive_rmse else "does NOT beat"
    print(f"the {cell.upper()} {verdict} the naive forecast ({np.mean(scores):.2f} vs {r.naive_rmse:.2f})")

    curves = {"observed": r.y_test, f"{cell.upper()} (seed {seeds[0]})": r.y_pred, "naive (last year)": r.y_naive}
    if arima is not None:
        curves["ARIMA"] = arima[0]
    _common.save_plot("plot_curves", "34_sunspot_forecast.png", curves, x=year[r.test_index], xlabel="year",
                      ylabel="sunspot number", title="One-year-ahead forecasts on the test years")
    _common.save_plot("plot_history", "34_sunspot_forecast_history.png", r.history, title=f"{cell.upper()} training")
    return results


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=150, help="most training epochs (default 150)")
    parser.add_argument("--seeds", type=int, default=1, help="number of seeds to train and average (default 1)")
    parser.add_argument("--cell", choices=("lstm", "gru"), default="lstm", help="recurrent layer (default lstm)")
    parser.add_argument("--search-arima", action="store_true", help="choose the ARIMA order by AIC among AR(1)..AR(10)")
    args = parser.parse_args()
    if args.epochs < 1 or args.seeds < 1:
        parser.error("--epochs and --seeds must be at least 1")
    main(epochs=args.epochs, seeds=tuple(range(args.seeds)), cell=args.cell, search_arima=args.search_arima)
