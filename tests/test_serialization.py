"""fastnn.save / fastnn.load: round trips, dtypes, the documented format, atomic writes, refusals."""
import io
import json
import os
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import fastnn
import fastnn.nn as nn


def _roundtrip(obj, tmp_path):
    path = tmp_path / "obj.fnn"
    fastnn.save(obj, path)
    return fastnn.load(path)


def test_nested_containers_round_trip(tmp_path):
    t32 = fastnn.randn(3, 4)
    obj = {
        "tensor": t32,
        "half": fastnn.tensor(np.arange(6, dtype=np.float16).reshape(2, 3)),
        "f64": fastnn.tensor([[1.0, 2.0]], dtype=fastnn.float64),
        "ints": fastnn.tensor([1, 2, 3]),
        "bools": fastnn.tensor([True, False]),
        "scalar_t": fastnn.tensor(3.5),
        "array": np.arange(5, dtype=np.int32),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "nums": [1, 2.5, -0.0, float("inf"), float("nan"), 10 ** 30, True, None, "text"],
        "tuple": (1, ("a", fastnn.ones(2))),
        "od": OrderedDict([("b", 1), ("a", 2)]),
        7: "int key",
        (1, 2): "tuple key",
        "np_scalar": np.float32(1.25),
        "dtype": fastnn.float16,
    }
    out = _roundtrip(obj, tmp_path)
    assert isinstance(out["tensor"], fastnn.Tensor) and not out["tensor"].requires_grad
    np.testing.assert_array_equal(out["tensor"].numpy(), t32.numpy())
    for k in ("half", "f64", "ints", "bools", "scalar_t"):
        assert out[k].dtype == obj[k].dtype, k
        assert tuple(out[k].shape) == tuple(obj[k].shape), k
        np.testing.assert_array_equal(out[k].numpy(), obj[k].numpy())
    assert isinstance(out["array"], np.ndarray) and out["array"].dtype == np.int32
    assert out["empty"].shape == (0, 3)
    nums = out["nums"]
    assert nums[:4] == [1, 2.5, -0.0, float("inf")] and np.isnan(nums[4])
    assert nums[5] == 10 ** 30 and nums[6] is True and nums[7] is None and nums[8] == "text"
    assert isinstance(nums[0], int) and isinstance(nums[1], float)
    assert out["tuple"][0] == 1 and isinstance(out["tuple"], tuple) and isinstance(out["tuple"][1][1], fastnn.Tensor)
    assert isinstance(out["od"], OrderedDict) and list(out["od"]) == ["b", "a"]
    assert out[7] == "int key" and out[(1, 2)] == "tuple key"
    assert out["np_scalar"] == np.float32(1.25) and out["np_scalar"].dtype == np.float32
    assert out["dtype"] == fastnn.float16


def test_model_state_dict_round_trip(tmp_path):
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    path = tmp_path / "model.fnn"
    fastnn.save(model.state_dict(), path)
    other = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    other.load_state_dict(fastnn.load(path))
    x = fastnn.randn(3, 4)
    np.testing.assert_array_equal(model(x).detach().numpy(), other(x).detach().numpy())
    sd = fastnn.load(str(path), map_location="cpu")
    assert isinstance(sd, OrderedDict) and list(sd) == list(model.state_dict())


def test_format_is_zip_with_json_manifest_and_npy(tmp_path):
    path = tmp_path / "f.fnn"
    fastnn.save({"w": fastnn.ones(2, 3), "n": 3}, path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert "fastnn.json" in names and "arrays/0.npy" in names
        manifest = json.loads(zf.read("fastnn.json"))
        assert manifest["format"] == "fastnn" and manifest["version"] == 1
        assert manifest["root"]["t"] == "dict"
        arr = np.load(io.BytesIO(zf.read("arrays/0.npy")), allow_pickle=False)
        np.testing.assert_array_equal(arr, np.ones((2, 3), dtype=np.float32))


def test_file_objects(tmp_path):
    buf = io.BytesIO()
    fastnn.save([fastnn.zeros(2)], buf)
    buf.seek(0)
    out = fastnn.load(buf)
    assert isinstance(out, list) and out[0].shape == (2,)


def test_unsupported_object_names_its_path_and_keeps_old_file(tmp_path):
    path = tmp_path / "ckpt.fnn"
    fastnn.save({"ok": 1}, path)
    before = path.read_bytes()

    class Weird:
        pass

    # the bad object comes after an array has already been written: the write fails midway
    with pytest.raises(TypeError, match=r"Weird at obj\['model'\]\['layers'\]\[1\]"):
        fastnn.save({"model": {"layers": [fastnn.ones(1000), Weird()]}}, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ckpt.fnn"]      # no temporary left behind
    assert fastnn.load(path) == {"ok": 1}
    with pytest.raises(TypeError, match="object"):
        fastnn.save({"a": np.array([object()], dtype=object)}, tmp_path / "x.fnn")
    assert sorted(os.listdir(tmp_path)) == ["ckpt.fnn"]


def test_refuses_files_that_are_not_fastnn(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x80\x04this is a pickle, or anything else")
    with pytest.raises(ValueError, match="not a fastnn file"):
        fastnn.load(bad)
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("data.pkl", b"\x80\x04")
    with pytest.raises(ValueError, match="not a fastnn file"):
        fastnn.load(other_zip)
    wrong = tmp_path / "wrong.zip"
    with zipfile.ZipFile(wrong, "w") as zf:
        zf.writestr("fastnn.json", json.dumps({"format": "other", "version": 1, "root": {"t": "none"}}))
    with pytest.raises(ValueError, match="not a fastnn file"):
        fastnn.load(wrong)
    with pytest.raises(FileNotFoundError):
        fastnn.load(tmp_path / "missing.fnn")
    with pytest.raises(TypeError, match="map_location"):
        fastnn.load(bad, map_location=lambda s, l: s)


def test_pickled_npy_is_never_loaded(tmp_path):
    # an archive that passes the manifest check but carries an object array (would need pickle)
    path = tmp_path / "evil.fnn"
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("fastnn.json", json.dumps({"format": "fastnn", "version": 1, "root": {"t": "ndarray", "k": 0}}))
        zf.writestr("arrays/0.npy", buf.getvalue())
    with pytest.raises(ValueError, match="pickle"):
        fastnn.load(path)


def _rewrite_manifest(path, edit):
    """The archive at ``path`` with its manifest passed through ``edit`` (arrays kept)."""
    with zipfile.ZipFile(path) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(files["fastnn.json"])
    edit(manifest)
    files["fastnn.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in files.items():
            zf.writestr(n, data)


def test_tensors_remember_their_device_and_map_location_moves_them(tmp_path):
    """A tensor saved on a GPU loads back on it (torch.load's rule); without a GPU that is a clear
    error naming map_location, and map_location='cpu' or {'cuda:0': 'cpu'} loads it on the CPU."""
    path = tmp_path / "gpu.fnn"
    fastnn.save({"w": fastnn.arange(4.0), "n": 1}, path)
    with zipfile.ZipFile(path) as zf:
        assert "dev" not in json.loads(zf.read("fastnn.json"))["root"]["v"][0][1]   # CPU tensors: no device tag

    def tag_as_gpu(m):
        m["root"]["v"][0][1]["dev"] = "cuda:0"
    _rewrite_manifest(path, tag_as_gpu)
    for loc in ("cpu", fastnn.device("cpu"), {"cuda:0": "cpu"}, {fastnn.device("cuda"): fastnn.device("cpu")}):
        out = fastnn.load(path, map_location=loc)
        assert out["w"].device == fastnn.device("cpu"), loc
        np.testing.assert_array_equal(out["w"].numpy(), np.arange(4.0, dtype=np.float32))
    if not fastnn.cuda.is_available():
        with pytest.raises(RuntimeError, match=r"saved on cuda:0.*map_location='cpu'"):
            fastnn.load(path)
        with pytest.raises(RuntimeError, match="map_location"):
            fastnn.load(path, map_location={"cuda:1": "cpu"})    # cuda:0 is not mapped: stays cuda:0
    with pytest.raises(TypeError, match="map_location"):
        fastnn.load(path, map_location={"cuda:0": 3})
    with pytest.raises(TypeError, match="map_location"):
        fastnn.load(path, map_location={"gpu": "cpu"})
