"""fastnn.data.save_h5 / H5Dataset: float16 round trip, lazy reading, atomic writes, DataLoader use."""
import os
import pickle
import sys

import numpy as np
import pytest

pytest.importorskip("h5py")

from fastnn.data import DataLoader, _arrays  # noqa: E402
from fastnn.data.hdf5 import H5Dataset, save_h5  # noqa: E402
from fastnn.data import transforms as T  # noqa: E402


def digits_arrays():
    sk = pytest.importorskip("sklearn.datasets")
    d = sk.load_digits()
    return (d.images / 16.0).astype(np.float32)[:, None], d.target.astype(np.int64)


def test_float16_round_trip_within_float16_precision(tmp_path):
    x, y = digits_arrays()  # a real data set, values in [0, 1]
    path = save_h5(tmp_path / "digits.h5", x=x, y=y)
    ds = H5Dataset(path)
    assert len(ds) == len(x) and ds.stored_dtype == np.float16 and ds.sample_shape == (1, 8, 8)
    xb, yb = ds[:]
    xr, yr = xb.numpy(), yb.numpy()
    assert xr.dtype == np.float32 and yr.dtype == np.int64
    np.testing.assert_array_equal(yr, y)
    # float16 keeps 11 significant bits: relative error at most 2**-11 (absolute 2**-25 for tiny values)
    err = np.abs(xr - x)
    assert np.all(err <= np.maximum(np.abs(x) * 2.0 ** -11, 2.0 ** -25))
    np.testing.assert_array_equal(xr, x.astype(np.float16).astype(np.float32))
    ds.close()


def test_random_values_and_other_dtypes(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 100, size=(37, 3, 5, 4))  # float64, signed, beyond [0, 1]
    labels = rng.integers(0, 7, size=37).astype(np.int32)
    mask = rng.random(37) > 0.5
    save_h5(tmp_path / "a.h5", x=x, y=labels, mask=mask)
    ds = H5Dataset(tmp_path / "a.h5", dtype=np.float64)
    xr, yr = ds[np.arange(37)]
    rel = np.abs(xr.numpy() - x) / np.maximum(np.abs(x), 2.0 ** -14)
    assert rel.max() <= 2.0 ** -11
    assert yr.numpy().dtype == np.int32  # integer arrays are stored as they are
    np.testing.assert_array_equal(yr.numpy(), labels)
    m = H5Dataset(tmp_path / "a.h5", x_key="mask", y_key=None)[:]
    np.testing.assert_array_equal(m.numpy(), mask)
    # float32 storage and no compression are exact
    save_h5(tmp_path / "b.h5", dtype="float32", compression=None, x=x.astype(np.float32), y=labels)
    np.testing.assert_array_equal(H5Dataset(tmp_path / "b.h5")[:][0].numpy(), x.astype(np.float32))
    save_h5(tmp_path / "c.h5", dtype=None, compression="lzf", x=x, y=labels)
    np.testing.assert_array_equal(H5Dataset(tmp_path / "c.h5", dtype=None)[:][0].numpy(), x)
    # tensors are accepted as arrays
    save_h5(tmp_path / "d.h5", x=_arrays.wrap(x.astype(np.float32)), y=labels)
    assert len(H5Dataset(tmp_path / "d.h5")) == 37


def test_chunks_hold_whole_samples_and_compress(tmp_path):
    import h5py
    x = np.tile(np.linspace(0, 1, 28 * 28, dtype=np.float32).reshape(1, 1, 28, 28), (500, 1, 1, 1))
    save_h5(tmp_path / "x.h5", x=x, y=np.zeros(500, np.int64))
    with h5py.File(tmp_path / "x.h5", "r") as f:
        assert f["x"].dtype == np.float16
        assert f["x"].chunks[1:] == (1, 28, 28) and 1 <= f["x"].chunks[0] <= 500
        assert f["x"].compression == "gzip"
    assert os.path.getsize(tmp_path / "x.h5") < x.nbytes / 4
    save_h5(tmp_path / "y.h5", chunks=(10, 1, 28, 28), compression=None, x=x)
    with h5py.File(tmp_path / "y.h5", "r") as f:
        assert f["x"].chunks == (10, 1, 28, 28)
    save_h5(tmp_path / "z.h5", chunks=None, compression=None, x=x)
    with h5py.File(tmp_path / "z.h5", "r") as f:
        assert f["x"].chunks is None


def test_lazy_reading_and_indexing(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.random((300, 1, 6, 6)).astype(np.float32)
    y = rng.integers(0, 10, 300)
    save_h5(tmp_path / "s.h5", chunks=(16, 1, 6, 6), x=x, y=y)
    ds = H5Dataset(tmp_path / "s.h5")
    assert ds._file is None  # nothing open until a sample is asked for
    x16 = x.astype(np.float16).astype(np.float32)
    xi, yi = ds[5]
    assert ds._file is not None
    assert tuple(xi.shape) == (1, 6, 6) and tuple(yi.shape) == () and int(yi.item()) == y[5]
    np.testing.assert_array_equal(xi.numpy(), x16[5])
    np.testing.assert_array_equal(ds[-1][0].numpy(), x16[-1])
    idx = np.array([299, 3, 3, 150, 0, -2, 17])  # unsorted, repeated, negative
    xb, yb = ds[idx]
    np.testing.assert_array_equal(xb.numpy(), x16[idx])
    np.testing.assert_array_equal(yb.numpy(), y[idx])
    np.testing.assert_array_equal(ds[10:40:3][0].numpy(), x16[10:40:3])
    np.testing.assert_array_equal(ds[40:10:-3][1].numpy(), y[40:10:-3])
    np.testing.assert_array_equal(ds[[4, 2]][1].numpy(), y[[4, 2]])
    assert tuple(ds[np.array([], dtype=np.int64)][0].shape) == (0, 1, 6, 6)
    # only the chunks a batch touches are read
    ds.close()
    ds[np.array([0, 1, 20])]
    assert {k[1] for k in ds._cache if k[0] == "x"} == {0, 1}
    with pytest.raises(IndexError, match="out of range"):
        ds[300]
    with pytest.raises(IndexError, match="indices"):
        ds[np.array([0, 300])]
    with pytest.raises(IndexError, match="1-D array of ints"):
        ds[np.array([0.5])]
    with ds:
        ds[0]
    assert ds._file is None
    # a small cache still gives the right data
    small = H5Dataset(tmp_path / "s.h5", cache_bytes=1)
    perm = rng.permutation(300)
    np.testing.assert_array_equal(small[perm][0].numpy(), x16[perm])


def test_transform_applies_to_samples_and_batches(tmp_path):
    x = np.random.default_rng(2).random((20, 1, 8, 8)).astype(np.float32)
    save_h5(tmp_path / "t.h5", x=x, y=np.arange(20))
    ds = H5Dataset(tmp_path / "t.h5", transform=T.Normalize(0.5, 0.25), target_transform=lambda v: v * 2)
    x16 = x.astype(np.float16).astype(np.float32)
    np.testing.assert_allclose(ds[3][0].numpy(), (x16[3] - 0.5) / 0.25, rtol=1e-6)
    xb, yb = ds[np.array([1, 2])]
    np.testing.assert_allclose(xb.numpy(), (x16[[1, 2]] - 0.5) / 0.25, rtol=1e-6)
    np.testing.assert_array_equal(yb.numpy(), [2, 4])


def test_dataloader_over_h5dataset(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.random((103, 1, 5, 5)).astype(np.float32)
    y = np.arange(103)  # labels identify the samples
    save_h5(tmp_path / "l.h5", x=x, y=y)
    ds = H5Dataset(tmp_path / "l.h5")
    loader = DataLoader(ds, batch_size=16, shuffle=True, generator=0)
    seen = []
    x16 = x.astype(np.float16).astype(np.float32)
    for xb, yb in loader:
        assert tuple(xb.shape)[1:] == (1, 5, 5) and xb.shape[0] == yb.shape[0] <= 16
        np.testing.assert_array_equal(xb.numpy(), x16[yb.numpy()])
        seen.extend(yb.numpy().tolist())
    assert sorted(seen) == list(range(103)) and seen != list(range(103))
    # the per-sample path (a custom collate_fn) gives the same samples
    batches = list(DataLoader(ds, batch_size=10, collate_fn=lambda b: b))
    assert len(batches) == 11 and int(batches[3][2][1].item()) == 32


def test_pickled_dataset_reopens(tmp_path):
    x = np.ones((4, 2, 2), np.float32)
    save_h5(tmp_path / "p.h5", x=x, y=np.arange(4))
    ds = H5Dataset(tmp_path / "p.h5")
    ds[0]  # open
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._file is None
    np.testing.assert_array_equal(clone[2][0].numpy(), x[2])


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "store.h5"
    save_h5(path, x=np.zeros((3, 2), np.float32))
    before = path.read_bytes()
    with pytest.raises(ValueError):  # h5py rejects the second array's chunk shape, mid-write
        save_h5(path, chunks={"y": (100,)}, x=np.ones((5, 2), np.float32), y=np.arange(5))
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["store.h5"]  # no temporary file left behind
    save_h5(path, x=np.ones((5, 2), np.float32))
    assert sorted(os.listdir(tmp_path)) == ["store.h5"]
    assert len(H5Dataset(path, y_key=None)) == 5


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="float16"):
        save_h5(tmp_path / "o.h5", x=np.array([1e6, 2.0]))
    assert not os.listdir(tmp_path)
    with pytest.raises(TypeError, match="'dtype'"):
        save_h5(tmp_path / "o.h5", dtype="int8", x=np.zeros(3))
    with pytest.raises(ValueError, match="compression"):
        save_h5(tmp_path / "o.h5", compression="zip", x=np.zeros(3))
    with pytest.raises(ValueError, match="at least one array"):
        save_h5(tmp_path / "o.h5")
    save_h5(tmp_path / "k.h5", x=np.zeros((3, 2)), y=np.zeros(4, np.int64))
    with pytest.raises(KeyError, match="'x_key'.*images"):
        H5Dataset(tmp_path / "k.h5", x_key="images")
    with pytest.raises(ValueError, match="3 samples.*4"):
        H5Dataset(tmp_path / "k.h5")
    with pytest.raises(FileNotFoundError):
        H5Dataset(tmp_path / "missing.h5")


def test_missing_h5py_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)  # makes `import h5py` raise ImportError
    with pytest.raises(ImportError, match=r"pip install h5py.*fastnn\[data\]"):
        save_h5(tmp_path / "n.h5", x=np.zeros(3))
    with pytest.raises(ImportError, match="pip install h5py"):
        H5Dataset(tmp_path / "n.h5")
