"""The host-memory cupy stand-in (tests/cuda_emu/fake_cupy) runs only what real cupy runs: names, keyword
arguments, ufunc methods and ndarray methods real cupy lacks fail under emulation as they would on a GPU.
The API it enforces is tests/cuda_emu/fake_cupy/cupy_api.json, written from a real cupy by
tests/cuda_emu/list_cupy_api.py."""
import importlib.util
import operator
import os
import types

import numpy as np
import pytest

FAKE_CUPY = os.path.join(os.path.dirname(__file__), "cuda_emu", "fake_cupy", "cupy", "__init__.py")


@pytest.fixture(scope="module")
def cp():
    spec = importlib.util.spec_from_file_location("cupy", FAKE_CUPY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    if not mod._STRICT:
        pytest.skip("FAKE_CUPY_STRICT=0")
    return mod


@pytest.fixture
def dev(cp):
    return cp.asarray(np.arange(6, dtype=np.float32).reshape(2, 3))


def test_api_file_comes_from_real_cupy(cp):
    api = cp._API
    assert api["cupy_version"][0].isdigit()
    assert "ndarray" in api["modules"]["cupy"] and "scatter_add" in api["ndarray"]
    assert "at" in api["ufuncs"]["add"]["methods"] and "reduce" not in api["ufuncs"]["maximum"]["methods"]


def test_the_standins_own_names_are_real_cupy_names(cp):
    # whatever the stand-in defines itself (rather than taking from numpy) must exist in real cupy too
    names = cp._API["modules"]
    for name, obj in vars(cp).items():
        if not name.startswith("_") and not isinstance(obj, types.ModuleType) and name != "annotations":
            assert name in names["cupy"], name
    for sub, cls in (("cupy.linalg", cp.linalg), ("cupy.random", cp.random), ("cupy.cuda", cp.cuda)):
        for name in vars(cls):
            if not name.startswith("_"):
                assert name in names[sub], f"{sub}.{name}"
    for name in ("data", "device", "get"):
        assert name in cp._API["ndarray"], name


def test_missing_module_names(cp):
    assert cp.put_along_axis is not None and cp.searchsorted is not None
    for name in ("errstate", "busday_count", "matrix", "vecdot"):
        with pytest.raises(AttributeError, match="real cupy"):
            getattr(cp, name)


def test_numpy_functions_cupy_lacks_raise_typeerror(cp, dev):
    with pytest.raises(TypeError):
        np.insert(dev, 0, 1.0)
    with pytest.raises(TypeError):
        np.isnat(dev)


def test_keywords_cupy_lacks(cp, dev):
    with pytest.raises(TypeError, match="initial"):
        np.sum(dev, initial=0.0)
    with pytest.raises(TypeError, match="where"):
        np.add(dev, 1.0, where=dev > 1)
    with pytest.raises(TypeError, match="where"):
        dev.sum(where=dev > 1)
    with pytest.raises(TypeError, match="stable"):
        dev.argsort(stable=True)
    with pytest.raises(TypeError, match="positional"):
        dev.item(0)
    assert float(np.sum(dev, axis=(0, 1), keepdims=True).ravel()[0]) == 15.0


def test_ufunc_methods_cupy_lacks(cp, dev):
    with pytest.raises(NotImplementedError, match="maximum.reduce"):
        np.maximum.reduce(dev, axis=0)
    with pytest.raises(NotImplementedError, match="multiply.at"):
        np.multiply.at(dev, (np.array([0]),), 2.0)
    with pytest.raises(NotImplementedError, match="maximum.accumulate"):
        np.maximum.accumulate(dev, axis=1)
    with pytest.raises(NotImplementedError, match="multiply.reduceat"):
        np.multiply.reduceat(dev, [0, 1], axis=1)
    with pytest.raises(TypeError, match="add.at only supports"):
        np.add.at(cp.zeros(3, dtype=np.int8), [0, 0], 1)
    with pytest.raises(TypeError, match="subtract.at only supports"):
        np.subtract.at(dev, [0], 1.0)
    np.add.at(dev, ([0, 0], [1, 1]), 1.0)
    np.maximum.at(dev, ([1],), 10.0)
    assert dev[0, 1] == 3.0 and float(dev.max()) == 10.0
    s = np.add.reduce(dev, axis=None, keepdims=True)
    assert isinstance(s, cp.ndarray) and s.shape == (1, 1)
    assert isinstance(cp.add.reduce(dev, axis=1), cp.ndarray)
    with pytest.raises(NotImplementedError):
        cp.maximum.reduce(dev)


def test_array_methods_cupy_lacks(cp, dev):
    for name in ("resize", "ctypes", "to_device", "setflags"):
        with pytest.raises(AttributeError, match="real cupy"):
            getattr(dev, name)
    with pytest.raises(TypeError, match="interpreted as an integer"):
        operator.index(cp.asarray(np.int64(2)))
    # numpy's methods that reduce through ufunc methods cupy lacks (max -> maximum.reduce) still work,
    # as cupy's own methods do, and give 0-d device arrays
    for r in (dev.max(), dev.min(), dev.sum(), dev.mean(), dev.all(), dev.std(), dev.prod()):
        assert isinstance(r, cp.ndarray) and r.ndim == 0
    assert isinstance(dev.max(axis=1, keepdims=True), cp.ndarray)
    np.testing.assert_array_equal(dev.get(), np.arange(6, dtype=np.float32).reshape(2, 3))


def test_host_values_only_behind_an_advanced_index(cp, dev):
    with pytest.raises(ValueError, match="fill"):
        dev[0, :] = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="fill"):
        dev[:, 1] = [1.0, 2.0]
    dev[0, :] = 7.0
    dev[...] = np.float32(1.0)
    dev[0, :] = cp.asarray(np.zeros(3, np.float32))
    dev[np.array([1]), :] = np.full((1, 3), 5.0, np.float32)
    dev[[0, 1], 0] = [8.0, 9.0]
    np.testing.assert_array_equal(dev.get(), [[8, 0, 0], [9, 5, 5]])


def test_flags_hold_contiguity_and_ownership_only(cp, dev):
    f = dev.T.flags
    assert f.f_contiguous and not f.c_contiguous and f["F_CONTIGUOUS"] and f.fnc
    with pytest.raises(AttributeError):
        dev.flags.writeable
    with pytest.raises(KeyError):
        dev.flags["WRITEABLE"]


def test_results_cupy_gives_as_device_arrays(cp, dev):
    for r in (np.count_nonzero(dev), np.allclose(dev, dev), np.array_equal(dev, dev), np.sum(dev)):
        assert isinstance(r, cp.ndarray) and r.ndim == 0
    assert isinstance(np.count_nonzero(dev, axis=0), cp.ndarray)
    assert isinstance(np.ndim(dev), int)


def test_in_place_sort_needs_a_contiguous_array(cp, dev):
    with pytest.raises(NotImplementedError, match="non-contiguous"):
        dev.T.sort(axis=0)
    s = np.sort(dev.T, axis=0)        # cupy.sort copies first
    assert isinstance(s, cp.ndarray)
    dev.sort(axis=1)
