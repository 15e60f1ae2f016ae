"""fastnn.data.describe: statistics checked against numpy on real and synthetic sets."""
import numpy as np
import pytest

from fastnn.data import _arrays
from fastnn.data.describe import describe


def test_statistics_match_numpy_on_digits():
    sk = pytest.importorskip("sklearn.datasets")
    d = sk.load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    r = describe(x, d.target, class_names=[f"digit {i}" for i in range(10)])
    assert r.n_samples == 1797 and r.sizes == {(8, 8): 1797} and r.channels == {1: 1797}
    s = r.channel_stats[0]
    assert s["mean"] == pytest.approx(x.mean(dtype=np.float64), rel=1e-9)
    assert s["std"] == pytest.approx(x.std(dtype=np.float64), rel=1e-9)
    assert s["median"] == pytest.approx(np.median(x))
    assert (s["min"], s["max"]) == (0.0, 1.0)
    assert r.class_counts == {k: int(c) for k, c in zip(*np.unique(d.target, return_counts=True))}
    assert r.class_names[3] == "digit 3"
    for k in (0, 7):
        sel = x[d.target == k]
        assert r.class_stats[k]["mean"] == pytest.approx(sel.mean(dtype=np.float64), rel=1e-9)
        assert r.class_stats[k]["std"] == pytest.approx(sel.std(dtype=np.float64), rel=1e-6)
    assert 1.0 <= r.imbalance < 1.1 and not r.warnings
    text = str(r)
    assert "digit 9" in text and "median" in text and "8x8 (1797)" in text


def test_rgb_channels_uint8_median_and_tensor_input():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(50, 3, 6, 5), dtype=np.uint8)
    x[:, 2] //= 4
    r = describe(_arrays.wrap(x))
    assert len(r.channel_stats) == 3 and r.class_counts == {}
    for c in range(3):
        v = x[:, c]
        s = r.channel_stats[c]
        assert s["median"] == np.median(v)  # histogram median equals numpy's
        assert s["mean"] == pytest.approx(v.mean()) and s["max"] == v.max()
    odd = rng.integers(0, 256, size=(7, 1, 3, 3), dtype=np.uint8)  # odd count of values
    assert describe(odd).channel_stats[0]["median"] == np.median(odd)
    hwc = x.transpose(0, 2, 3, 1)
    assert describe(hwc, channels_last=True).channel_stats[1]["mean"] == r.channel_stats[1]["mean"]


def test_mixed_sizes_imbalance_and_nan_warnings():
    imgs = [np.zeros((8, 8)), np.ones((3, 8, 8)), np.full((10, 12), 0.5), np.zeros((8, 8))]
    imgs[3][0, 0] = np.nan
    r = describe(imgs, y=[0, 0, 0, 1])
    assert r.sizes == {(8, 8): 3, (10, 12): 1}
    assert r.channels == {1: 3, 3: 1}
    assert r.nonfinite == 1
    joined = " ".join(r.warnings)
    assert "different sizes" in joined and "channel counts" in joined and "NaN" in joined
    assert "imbalanced" in joined and r.imbalance == 3.0
    assert "warning:" in str(r)


def test_flat_and_grayscale_layouts_and_errors():
    r = describe(np.arange(12, dtype=np.float64).reshape(3, 4), y=np.array(["a", "b", "a"]))
    assert r.sizes == {(1, 4): 3} and r.class_counts == {"a": 2, "b": 1}
    assert describe(np.zeros((2, 5, 5))).sizes == {(5, 5): 2}
    assert any("constant" in w for w in describe(np.zeros((2, 5, 5))).warnings)
    with pytest.raises(ValueError, match="'y'.*one label per sample"):
        describe(np.zeros((3, 1, 2, 2)), y=[1, 2])
    with pytest.raises(ValueError, match="'x'"):
        describe(np.zeros(5))
    with pytest.raises(TypeError, match="'x'"):
        describe(np.array([["a"]]))


def test_plot_saves_png(tmp_path):
    pytest.importorskip("matplotlib")
    x = np.random.default_rng(1).random((30, 1, 8, 8))
    y = np.repeat(np.arange(3), 10)
    r = describe(x, y, class_names=["a", "b", "c"])
    fig = r.plot(tmp_path / "report.png", samples_per_class=4)
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fig.axes) == 1 + 3 * 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.png"]
