"""Writes tests/cuda_emu/fake_cupy/cupy_api.json: the API surface of a real cupy installation, which the
host-memory stand-in (tests/cuda_emu/fake_cupy/cupy) enforces so that a call real cupy cannot run fails
under emulation too, instead of falling through to numpy.

Real cupy imports without a GPU or a driver, so the names come from introspection, not from guesses:

    pip install --no-deps --target /tmp/realcupy cupy-cuda12x==14.2.0 cuda-pathfinder
    python3 tests/cuda_emu/list_cupy_api.py --cupy-path /tmp/realcupy

Recorded per module (cupy, cupy.linalg, cupy.random, cupy.fft, cupy.lib.stride_tricks, cupy.cuda): every
public name with its kind and, for functions, the parameters it accepts (from ``inspect.signature`` or, for
Cython functions, the signature cupy embeds in the docstring). Per ufunc: nin, nout, loop types, the keyword
arguments ``__call__`` accepts and the methods (at/reduce/accumulate/reduceat/outer) that work. Per
``cupy.ndarray`` attribute: whether it is a method and its parameters. Everything is probed without device
memory: cupy's ufunc methods dispatch on the ufunc before touching their array argument, so a stand-in
array object tells which ones are implemented.
"""
import argparse
import inspect
import json
import os
import re
import sys

MODULES = ("cupy", "cupy.linalg", "cupy.random", "cupy.fft", "cupy.lib.stride_tricks", "cupy.cuda")

# numpy ufunc keywords; each is offered to cupy's ufunc.__call__, which rejects unknown ones before it
# looks at its (here absent) operands.
UFUNC_CALL_KWARGS = ("out", "where", "dtype", "casting", "order", "subok", "signature", "axes", "axis",
                     "keepdims")

# Dtypes cupy's scatter kernels accept for ``ufunc.at`` (cupy/_core/_routines_indexing.pyx,
# _scatter_op_single). These checks sit behind device allocations, so they are read from the source
# of the version named in the output, not probed.
SCATTER_DTYPES = {
    "add": ["int32", "int64", "float16", "float32", "float64", "uint32", "uint64"],
    "sub": ["int32", "uint32"],
    "max": ["int32", "int64", "float32", "float64", "uint32", "uint64"],
    "min": ["int32", "int64", "float32", "float64", "uint32", "uint64"],
    "and": ["int32", "int64", "uint32", "uint64"],
    "or": ["int32", "int64", "uint32", "uint64"],
    "xor": ["int32", "int64", "uint32", "uint64"],
}


def _split_params(text):
    depth, cur, out = 0, "", []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return [p.strip() for p in out]


def _sig_from_doc(doc, name):
    """Parameters from a Cython-embedded signature line such as
    ``_ndarray_base.sort(self, int axis=-1, kind=None)`` (None when the docstring has none)."""
    if not doc:
        return None
    m = re.match(r"\s*(?:[\w.]+\.)?" + re.escape(name) + r"\((.*?)\)\s*(?:->.*)?$", doc.strip().split("\n")[0])
    if m is None:
        return None
    params, kind = [], "pk"
    for p in _split_params(m.group(1)):
        if p == "self":
            continue
        if p == "/":
            for q in params:
                q["kind"] = "p"
            continue
        if p == "*":
            kind = "k"
            continue
        default = "=" in p
        left = p.split("=", 1)[0].split(":", 1)[0].strip()
        pname = left.split()[-1] if left else left
        if pname.startswith("**"):
            params.append({"name": pname[2:], "kind": "varkw"})
            continue
        if pname.startswith("*"):
            params.append({"name": pname[1:], "kind": "varpos"})
            kind = "k"
            continue
        params.append({"name": pname, "kind": kind, "default": default})
    return params


_KINDS = {inspect.Parameter.POSITIONAL_ONLY: "p", inspect.Parameter.POSITIONAL_OR_KEYWORD: "pk",
          inspect.Parameter.KEYWORD_ONLY: "k", inspect.Parameter.VAR_POSITIONAL: "varpos",
          inspect.Parameter.VAR_KEYWORD: "varkw"}


def _signature(obj, name, bound=False):
    params = None
    try:
        sig = inspect.signature(obj)
        params = [{"name": p.name, "kind": _KINDS[p.kind], "default": p.default is not p.empty}
                  for p in sig.parameters.values()]
        if bound and params and params[0]["name"] == "self":
            params = params[1:]
    except (TypeError, ValueError):
        pass
    if params is None:
        params = _sig_from_doc(getattr(obj, "__doc__", None), name)
    if params is not None and any(p["kind"] == "varkw" for p in params):
        # cupy documents the keywords a **kwargs function takes on its docstring's first line
        # (einsum(subscripts, *operands, dtype=None, optimize=False)); prefer that when present
        doc = _sig_from_doc(getattr(obj, "__doc__", None), name)
        if doc is not None and not any(p["kind"] == "varkw" for p in doc):
            params = doc
    return params


def _kind(obj, ufunc_type):
    if isinstance(obj, ufunc_type):
        return "ufunc"
    if inspect.ismodule(obj):
        return "module"
    if isinstance(obj, type):
        return "class"
    if callable(obj):
        return "function"
    return "value"


class _Probe:
    """Stands in for the array operand of a ufunc method: records which array method cupy forwards to."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def method(*args, **kwargs):
            self.calls.append(name)
            return None
        return method


def _ufunc_info(cp, u):
    info = {"nin": u.nin, "nout": u.nout, "types": list(u.types), "call_kwargs": [], "methods": ["__call__"]}
    for kw in UFUNC_CALL_KWARGS:
        try:
            u(**{kw: None})
        except TypeError as e:
            if "Wrong arguments" not in str(e):
                info["call_kwargs"].append(kw)
        except Exception:
            info["call_kwargs"].append(kw)
    if u.nin == 2:
        info["methods"].append("outer")     # cupy's outer reshapes and calls the ufunc itself
    for method, args in (("reduce", ()), ("accumulate", ()), ("reduceat", ([0],)), ("at", ([0], 1))):
        probe = _Probe()
        try:
            getattr(u, method)(probe, *args)
        except NotImplementedError:
            continue
        if probe.calls:
            info["methods"].append(method)
    scatter = getattr(u, "_scatter_op", None)
    if scatter is not None:
        info["at_dtypes"] = SCATTER_DTYPES[scatter]
    return info


def collect(cp):
    import importlib
    import numpy
    ufunc_type = type(cp.add)
    # numpy_version: "numpy_object" entries depend on the numpy cupy was imported with
    api = {"cupy_version": cp.__version__, "numpy_version": numpy.__version__, "modules": {}, "ufuncs": {},
           "ndarray": {}}
    for modname in MODULES:
        mod = importlib.import_module(modname)
        names = {}
        for name in sorted(dir(mod)):
            if name.startswith("_"):
                continue
            obj = getattr(mod, name)
            kind = _kind(obj, ufunc_type)
            entry = {"kind": kind}
            np_obj = getattr(numpy, name, None) if modname == "cupy" else None
            if kind in ("function", "class") and np_obj is obj:
                # numpy's own object re-exported: cupy's __array_function__ declines it (``cupy_func is func``)
                entry["numpy_object"] = True
            if kind == "function":
                entry["params"] = _signature(obj, name)
            elif kind == "ufunc":
                api["ufuncs"].setdefault(name, _ufunc_info(cp, obj))
            names[name] = entry
        api["modules"][modname] = names
    for name in sorted(dir(cp.ndarray)):
        if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
            continue
        obj = getattr(cp.ndarray, name)
        is_method = callable(obj) and not isinstance(obj, type)
        entry = {"kind": "method" if is_method else "attribute"}
        if is_method and not name.startswith("__"):
            entry["params"] = _signature(obj, name, bound=True)
        api["ndarray"][name] = entry
    return api


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cupy-path", help="directory holding the cupy package (pip install --target ...)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_cupy",
                                                  "cupy_api.json"))
    args = ap.parse_args()
    if args.cupy_path:
        sys.path.insert(0, args.cupy_path)
    import cupy
    if not hasattr(cupy, "_core"):
        sys.exit(f"{cupy.__file__} is not a real cupy (the stand-in is on sys.path?)")
    api = collect(cupy)
    with open(args.out, "w") as f:
        json.dump(api, f, indent=0, sort_keys=True)
        f.write("\n")
    print(f"cupy {api['cupy_version']}: {sum(map(len, api['modules'].values()))} names, "
          f"{len(api['ufuncs'])} ufuncs, {len(api['ndarray'])} ndarray attributes -> {args.out}")


if __name__ == "__main__":
    main()
