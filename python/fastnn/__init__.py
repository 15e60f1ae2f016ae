"""fastnn: a deep-learning library with its own C++ and CUDA kernels and a PyTorch-style API."""
import builtins as _builtins

from . import _C
from . import backend, kernels

from .dtypes import (float16, half, float32, float, float64, double, int8, uint8, int16, short, int32, int,  # noqa: A004
                     int64, long, bool, get_default_dtype, set_default_dtype)
from .backend import Device as device
from .backend import get_default_device, set_default_device
from .backend import use_deterministic_algorithms, are_deterministic_algorithms_enabled, \
    is_deterministic_algorithms_warn_only_enabled
from ._autograd_engine import no_grad, enable_grad, set_grad_enabled, is_grad_enabled, inference_mode
from .tensor import Tensor, Size, is_tensor, is_floating_point, numel, clone, detach
from ._ops_arith import (add, sub, mul, div, true_divide, floor_divide, pow, neg, negative, rsub, remainder, fmod,
                         matmul, mm, bmm, mv, dot, eq, ne, lt, le, gt, ge, less, less_equal, greater, greater_equal,
                         not_equal, logical_and, logical_or, logical_xor, logical_not, bitwise_and, bitwise_or,
                         bitwise_xor, bitwise_not)
from ._ops_arith import sub as subtract, mul as multiply, div as divide
from ._ops_shape import (reshape, flatten, unflatten, ravel, permute, transpose, swapaxes, swapdims, t, movedim,
                         moveaxis, squeeze, unsqueeze, broadcast_to, broadcast_tensors, broadcast_shapes, tile, cat,
                         concat, concatenate, stack, hstack, vstack, split, tensor_split, chunk, unbind, narrow,
                         select, index_select, masked_select, gather, take_along_dim, scatter_add, scatter,
                         index_add, masked_fill, where, nonzero, argwhere, flip, fliplr, flipud, roll, tril, triu,
                         diagonal, diag, diag_embed, repeat_interleave)
from ._ops_math import (exp, exp2, expm1, log, log2, log10, log1p, sqrt, rsqrt, sin, cos, tan, asin, acos, atan,
                        sinh, cosh, tanh, asinh, acosh, atanh, arcsin, arccos, arctan, arcsinh, arccosh, arctanh,
                        reciprocal, square, sigmoid, logsigmoid, relu, relu6, selu, celu, erf, erfc, abs, absolute,
                        sign, sgn, signbit, floor, ceil, trunc, fix, round, frac, isnan, isinf, isposinf, isneginf,
                        isfinite, isreal, nan_to_num, clamp, clip, clamp_min, clamp_max, maximum, minimum, fmax,
                        fmin, atan2, arctan2, logaddexp, lerp, addcmul, addcdiv, addmm, outer, ger, isclose,
                        allclose, equal)
from ._ops_reduce import (sum, nansum, mean, nanmean, prod, amax, amin, argmax, argmin, max, min, aminmax, var, std,
                          var_mean, std_mean, norm, dist, logsumexp, softmax, log_softmax, cumsum, cumprod, cummax,
                          cummin, logcumsumexp, any, all, count_nonzero, sort, argsort, msort, topk, kthvalue,
                          median, quantile, unique, bincount, diff, trace, einsum)
from ._ops_extra import (logit, xlogy, sinc, hypot, cross, tensordot, kron, take, atleast_1d, atleast_2d,
                         column_stack, dstack, block_diag, searchsorted, bucketize, histc, baddbmm)
from .creation import (tensor, as_tensor, asarray, from_numpy, from_dlpack, zeros, ones, empty, full, eye, arange, linspace,
                       logspace, rand, randn, randint, randperm, normal, bernoulli, multinomial, poisson, zeros_like,
                       ones_like, empty_like, full_like, rand_like, randn_like, randint_like, meshgrid, tril_indices,
                       triu_indices, cdist, Generator)
from .random import manual_seed, seed, initial_seed, get_rng_state, set_rng_state
from . import random, autograd
from .sparse import layout, strided, sparse_coo  # noqa: F401
from . import nn, optim
from .serialization import save, load
from .summary import summary
from . import data, train, metrics, datasets
from . import cuda, backends, models, utils
from ._ops_math import erfinv
from . import distributions

__version__ = _C.__version__


def set_num_threads(n: int) -> None:
    """Number of threads the CPU kernels use."""
    if not isinstance(n, _builtins.int) or isinstance(n, _builtins.bool) or n < 1:
        raise ValueError(f"set_num_threads: argument 'n' must be a positive int, got {n!r}")
    _C.set_num_threads(n)


def get_num_threads() -> int:
    return _C.get_num_threads()


def __getattr__(name):
    # fastnn.graph (PyG's counterpart) and fastnn.diffusion (diffusers') load on first use: most programs
    # never touch them.
    if name in ("graph", "diffusion"):
        import importlib
        return importlib.import_module("." + name, __name__)
    raise AttributeError(f"module 'fastnn' has no attribute {name!r}")
