"""Optional packages imported only by the functions that need them, with a clear error when missing."""
import importlib


def require(module, fn, package=None):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{fn} needs the '{package or module.split('.')[0]}' package: "
                          f"pip install {package or module.split('.')[0]}") from exc
