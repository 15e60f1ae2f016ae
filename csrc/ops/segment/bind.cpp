// The binding of the segment-reduction family, compiled into both modules: the same functions and
// arguments on fastnn._C and fastnn._C_cuda (contract: segment.h). Index lists are checked against
// their range here, before any kernel runs (an IndexError naming the argument, the value, its
// position and the range); tables and row blocks must be C-contiguous.
#include <pybind11/stl.h>

#include <climits>
#include <cmath>
#include <string>
#include <vector>

#include "core/device.h"
#include "ops/segment/group.h"

#if FASTNN_CUDA_MODULE
#include "ops/segment/cuda.h"
#else
#include "ops/segment/cpu.h"
#endif

namespace fastnn {
namespace {

using segment::Mode;
using segment::SparseAdamScalars;

// A C-contiguous float32/float64 array of `ndim` dimensions.
ArrayView float_table(Call& call, const char* name, py::handle obj, int ndim) {
  ArrayView v = call.float_array(name, obj, ndim);
  require_contiguous(call.fn, v);
  require_aligned(call.fn, v);
  return v;
}

// A C-contiguous 1-D int32/int64 array (int64 only when `wide`).
ArrayView index_list(Call& call, const char* name, py::handle obj, bool wide = false) {
  ArrayView v = call.array(name, obj, 1);
  const bool ok = v.dtype == kInt64 || (!wide && v.dtype == DType{'i', 4, true});
  if (!ok)
    fail_type(call.fn, "argument '" + v.name + "' must hold " + (wide ? "int64" : "int32 or int64") +
                           " indices, got " + v.dtype.name());
  require_contiguous(call.fn, v);
  require_aligned(call.fn, v);
  return v;
}

// f(I{}) with I the index type `dt` (int32 or int64).
template <class F>
decltype(auto) with_index_dtype(DType dt, F&& f) {
  if (dt == kInt64) return f(int64_t{});
  return f(int32_t{});
}
// f(I{}) with I the element type of index list `v`.
template <class F>
decltype(auto) with_index_type(const ArrayView& v, F&& f) {
  return with_index_dtype(v.dtype, std::forward<F>(f));
}

// Element k of index list `v` (on either device), as an int64.
int64_t index_at(Call& call, const ArrayView& v, int64_t k) {
  int64_t x = 0;
  const char* p = static_cast<const char*>(v.data) + k * v.dtype.itemsize;
#if FASTNN_CUDA_MODULE
  int32_t x32 = 0;
  void* dst = v.dtype == kInt64 ? (void*)&x : (void*)&x32;
  cuda::segment::copy_to_host(dst, p, (size_t)v.dtype.itemsize, call.stream());
  if (v.dtype != kInt64) x = x32;
#else
  (void)call;
  x = v.dtype == kInt64 ? *reinterpret_cast<const int64_t*>(p) : *reinterpret_cast<const int32_t*>(p);
#endif
  return x;
}

// The IndexError for position `bad` of index list `v`, whose value lies outside [lowest, rows).
[[noreturn]] void raise_out_of_range(Call& call, const ArrayView& v, int64_t bad, int64_t rows, int64_t lowest = 0) {
  throw py::index_error(call.fn + ": argument '" + v.name + "' holds " + std::to_string(index_at(call, v, bad)) +
                        " at position " + std::to_string(bad) + ", outside the range [" + std::to_string(lowest) +
                        ", " + std::to_string(rows) + ") of the table's rows (index out of range)");
}

// IndexError unless every value of `v` lies in [lowest, rows); with `increasing`, ValueError unless
// they also rise strictly (a coalesced id list).
void require_in_range(Call& call, const ArrayView& v, int64_t rows, bool increasing = false, int64_t lowest = 0) {
  const int64_t n = v.numel();
  if (n == 0) return;
  const int64_t bad = with_index_type(v, [&](auto zero) -> int64_t {
    using I = decltype(zero);
#if FASTNN_CUDA_MODULE
    return cuda::segment::first_bad_index<I>(n, v.ptr<const I>(), rows, increasing, lowest, call.stream());
#else
    return segment::first_bad_index<I>(n, v.ptr<const I>(), rows, increasing, lowest);
#endif
  });
  if (bad < 0) return;
  const int64_t x = index_at(call, v, bad);
  if (x < lowest || x >= rows) raise_out_of_range(call, v, bad, rows, lowest);
  fail_value(call.fn, "argument '" + v.name + "' must be strictly increasing (unique sorted row ids): position " +
                          std::to_string(bad) + " holds " + std::to_string(x) + " after " +
                          std::to_string(index_at(call, v, bad - 1)));
}

int64_t row_count(const std::string& fn, const char* name, int64_t rows) {
  if (rows < 0 || rows > (int64_t(1) << 40))
    fail_value(fn, std::string("argument '") + name + "' must be in [0, 2^40], got " + std::to_string(rows));
  return rows;
}

Mode mode_named(const std::string& fn, const std::string& name) {
  if (name == "sum") return Mode::sum;
  if (name == "mean") return Mode::mean;
  if (name == "max") return Mode::max;
  if (name == "min") return Mode::min;
  fail_value(fn, "argument 'mode' must be 'sum', 'mean', 'max' or 'min', got '" + name + "'");
}

// The offsets of `segs` segments over a list of n positions: int64, non-decreasing, within [0, n].
std::vector<int64_t> checked_offsets(Call& call, const ArrayView& off, int64_t n) {
  const int64_t m = off.numel();
  if (m < 1) fail_value(call.fn, "argument 'offsets' must hold at least one value (segments + 1), got none");
  std::vector<int64_t> h((size_t)m);
#if FASTNN_CUDA_MODULE
  cuda::segment::copy_to_host(h.data(), off.data, (size_t)m * sizeof(int64_t), call.stream());
#else
  std::copy(off.ptr<const int64_t>(), off.ptr<const int64_t>() + m, h.begin());
#endif
  for (int64_t s = 0; s < m; ++s) {
    if (h[s] < 0 || h[s] > n)
      fail_value(call.fn, "argument 'offsets' holds " + std::to_string(h[s]) + " at position " + std::to_string(s) +
                              ", outside [0, " + std::to_string(n) + "] (the length of 'index')");
    if (s > 0 && h[s] < h[s - 1])
      fail_value(call.fn, "argument 'offsets' must be non-decreasing: position " + std::to_string(s) + " holds " +
                              std::to_string(h[s]) + " after " + std::to_string(h[s - 1]));
  }
  return h;
}

py::object gather_rows_py(py::handle src_obj, py::handle index_obj) {
  Call call("gather_rows");
  const ArrayView src = float_table(call, "src", src_obj, 2);
  const ArrayView index = index_list(call, "index", index_obj);
  require_in_range(call, index, src.shape[0]);
  const int64_t n = index.numel(), d = src.shape[1];
  ArrayView out = call.empty("out", {n, d}, src.dtype);
  if (n * d > 0) {
    with_float_type(src, [&](auto zt) {
      using T = decltype(zt);
      with_index_type(index, [&](auto zi) {
        using I = decltype(zi);
#if FASTNN_CUDA_MODULE
        cudaStream_t stream = call.stream();
        py::gil_scoped_release release;
        cuda::segment::gather_rows<T, I>(n, d, src.ptr<const T>(), index.ptr<const I>(), out.ptr<T>(), stream);
#else
        py::gil_scoped_release release;
        segment::gather_rows_cpu<T, I>(n, d, src.ptr<const T>(), index.ptr<const I>(), out.ptr<T>());
#endif
      });
    });
  }
  return out.object;
}

// An index list argument that may be None (`given` false: the kernels read position k as k).
struct OptionalIndex {
  bool given = false;
  ArrayView v;
  const void* ptr() const { return given ? v.data : nullptr; }
};

OptionalIndex optional_index(Call& call, const char* name, py::handle obj) {
  OptionalIndex r;
  if (obj.is_none()) return r;
  r.given = true;
  r.v = index_list(call, name, obj);
  return r;
}

// `b` must hold the index type of `a` (when both are given): one kernel instantiation reads both.
void require_same_index_type(Call& call, const OptionalIndex& a, const OptionalIndex& b) {
  if (a.given && b.given && a.v.dtype != b.v.dtype)
    fail_type(call.fn, "argument '" + b.v.name + "' holds " + b.v.dtype.name() + " indices but '" + a.v.name +
                           "' holds " + a.v.dtype.name() + ": both must have one index dtype");
}

// The index type of the first given list (int64 when none is).
DType index_dtype(const OptionalIndex& a, const OptionalIndex& b) {
  return a.given ? a.v.dtype : b.given ? b.v.dtype : kInt64;
}

// `n` positions as the length of `index`, or of `src` when index is None.
void require_positions(Call& call, const OptionalIndex& wi, int64_t n) {
  if (wi.given && wi.v.numel() != n)
    fail_value(call.fn, "argument '" + wi.v.name + "' has shape " + wi.v.shape_str() + " but there are " +
                            std::to_string(n) + " positions (the length of 'index', or of 'src' when index is None)");
}

py::tuple segment_reduce_impl(const char* fn, bool reference, py::handle src_obj, py::handle index_obj,
                              py::handle offsets_obj, const std::string& mode_name, py::handle weights_obj,
                              int64_t skip, py::handle weight_index_obj, bool deterministic) {
  Call call(fn);
  const ArrayView src = float_table(call, "src", src_obj, 2);
  const OptionalIndex index = optional_index(call, "index", index_obj);
  const ArrayView offsets = index_list(call, "offsets", offsets_obj, true);
  const Mode mode = mode_named(call.fn, mode_name);
  const OptionalIndex weight_index = optional_index(call, "weight_index", weight_index_obj);
  require_same_index_type(call, index, weight_index);
  const int64_t n = index.given ? index.v.numel() : src.shape[0], d = src.shape[1];
  ArrayView weights;
  int64_t heads = 1;
  const bool weighted = !weights_obj.is_none();
  if (weighted) {
    if (mode != Mode::sum && mode != Mode::mean)
      fail_value(call.fn, "argument 'weights' is supported with modes 'sum' and 'mean' only, got mode '" +
                              mode_name + "'");
    weights = call.array("weights", weights_obj);
    require_float(call.fn, weights);
    if (weights.ndim() != 1 && weights.ndim() != 2)
      fail_value(call.fn, "argument 'weights' must be 1-D (one weight per position) or 2-D (one per position and "
                          "head), got shape " + weights.shape_str());
    require_contiguous(call.fn, weights);
    require_aligned(call.fn, weights);
    require_same_dtype(call.fn, src, weights);
    heads = weights.ndim() == 2 ? weights.shape[1] : 1;
    if (heads < 1 || d % heads != 0)
      fail_value(call.fn, "argument 'weights' has shape " + weights.shape_str() + " but 'src' has " +
                              src.shape_str() + ": the number of heads (weights' columns) must divide src's columns");
    if (!weight_index.given && weights.shape[0] != n)
      fail_value(call.fn, "argument 'weights' has shape " + weights.shape_str() + " but there are " +
                              std::to_string(n) + " positions (the length of 'index'): one weight row per position");
  }
  if (weight_index.given) {
    if (!weighted) fail_value(call.fn, "argument 'weight_index' is given without 'weights'");
    require_positions(call, weight_index, n);
    require_in_range(call, weight_index.v, weights.shape[0]);
  }
  if (index.given) require_in_range(call, index.v, src.shape[0]);
  checked_offsets(call, offsets, n);
  const int64_t segs = offsets.numel() - 1;
  ArrayView out = call.empty("out", {segs, d}, src.dtype);
  py::object argmax_obj = py::none();
  int64_t* argmax = nullptr;
  if (mode == Mode::max || mode == Mode::min) {
    ArrayView a = call.empty("argmax", {segs, d}, kInt64);
    argmax = a.ptr<int64_t>();
    argmax_obj = a.object;
  }
  if (segs * d > 0) {
    with_float_type(src, [&](auto zt) {
      using T = decltype(zt);
      const T* w = weighted ? weights.ptr<const T>() : nullptr;
      with_index_dtype(index_dtype(index, weight_index), [&](auto zi) {
        using I = decltype(zi);
        const I* ix = static_cast<const I*>(index.ptr());
        const I* wix = static_cast<const I*>(weight_index.ptr());
        const int64_t* off = offsets.ptr<const int64_t>();
#if FASTNN_CUDA_MODULE
        (void)reference;
        cudaStream_t stream = call.stream();
        py::gil_scoped_release release;
        cuda::segment::segment_reduce<T, I>(segs, d, src.ptr<const T>(), ix, off, w, heads, wix, mode, skip,
                                            out.ptr<T>(), argmax, deterministic, stream);
#else
        (void)deterministic;  // every CPU kernel is deterministic
        py::gil_scoped_release release;
        if (reference)
          segment::segment_reduce_reference<T, I>(segs, d, src.ptr<const T>(), ix, off, w, heads, wix, mode, skip,
                                                  out.ptr<T>(), argmax);
        else
          segment::segment_reduce_cpu<T, I>(segs, d, src.ptr<const T>(), ix, off, w, heads, wix, mode, skip,
                                            out.ptr<T>(), argmax);
#endif
      });
    });
  }
  return py::make_tuple(out.object, argmax_obj);
}

py::object segment_dot_py(py::handle a_obj, py::handle src_obj, py::handle index_obj, py::handle offsets_obj,
                          int64_t heads, py::handle weight_index_obj, int64_t num_out) {
  Call call("segment_dot");
  const ArrayView a = float_table(call, "a", a_obj, 2);
  const ArrayView src = float_table(call, "src", src_obj, 2);
  require_same_dtype(call.fn, a, src);
  const OptionalIndex index = optional_index(call, "index", index_obj);
  const ArrayView offsets = index_list(call, "offsets", offsets_obj, true);
  const OptionalIndex weight_index = optional_index(call, "weight_index", weight_index_obj);
  require_same_index_type(call, index, weight_index);
  const int64_t n = index.given ? index.v.numel() : src.shape[0], d = src.shape[1];
  const int64_t segs = offsets.numel() - 1;
  if (a.shape[1] != d || (segs >= 0 && a.shape[0] != segs))
    fail_value(call.fn, "argument 'a' has shape " + a.shape_str() + " but 'src' has " + src.shape_str() + " and '" +
                            "offsets' " + offsets.shape_str() + ": a must be (segments, src's columns)");
  if (heads < 1 || d % heads != 0)
    fail_value(call.fn, "argument 'heads' must be >= 1 and divide src's " + std::to_string(d) + " columns, got " +
                            std::to_string(heads));
  require_positions(call, weight_index, n);
  if (num_out != -1) row_count(call.fn, "num_out", num_out);
  if (!weight_index.given && num_out != -1 && num_out < n)
    fail_value(call.fn, "argument 'num_out' is " + std::to_string(num_out) + " but without 'weight_index' position " +
                            "k writes row k of the output: it must be -1 or at least " + std::to_string(n));
  const int64_t rows_out = num_out == -1 ? n : num_out;
  require_product_fits(call.fn, "the output (num_out x heads)", {rows_out, heads});
  if (index.given) require_in_range(call, index.v, src.shape[0]);
  if (weight_index.given) require_in_range(call, weight_index.v, rows_out);
  checked_offsets(call, offsets, n);
  ArrayView out = call.empty("out", {rows_out, heads}, src.dtype);
  with_float_type(src, [&](auto zt) {
    using T = decltype(zt);
    with_index_dtype(index_dtype(index, weight_index), [&](auto zi) {
      using I = decltype(zi);
      const I* ix = static_cast<const I*>(index.ptr());
      const I* wix = static_cast<const I*>(weight_index.ptr());
#if FASTNN_CUDA_MODULE
      cudaStream_t stream = call.stream();
      py::gil_scoped_release release;
      cuda::segment::segment_dot<T, I>(segs, d, heads, a.ptr<const T>(), src.ptr<const T>(), ix,
                                       offsets.ptr<const int64_t>(), wix, rows_out, out.ptr<T>(), stream);
#else
      py::gil_scoped_release release;
      // Positions naming one output row twice sum into it: on one thread, in position order.
      const bool serial = wix && segment::index_cover<I>(n, wix, rows_out).repeats;
      segment::segment_dot_cpu<T, I>(segs, d, heads, a.ptr<const T>(), src.ptr<const T>(), ix,
                                     offsets.ptr<const int64_t>(), wix, rows_out, serial, out.ptr<T>());
#endif
    });
  });
  return out.object;
}

py::tuple csr_from_index_py(py::handle index_obj, int64_t num_rows) {
  Call call("csr_from_index");
  const ArrayView index = index_list(call, "index", index_obj);
  const int64_t rows = row_count(call.fn, "num_rows", num_rows);
  const int64_t n = index.numel();
  if (index.dtype != kInt64 && n > INT32_MAX)
    fail_value(call.fn, "argument 'index' holds " + std::to_string(n) + " int32 indices: positions past 2^31 - 1 "
                        "need int64 indices");
  ArrayView offsets = call.empty("offsets", {rows + 1}, kInt64);
  ArrayView perm = call.empty("perm", {n}, index.dtype);
  with_index_type(index, [&](auto zi) {
    using I = decltype(zi);
#if FASTNN_CUDA_MODULE
    require_in_range(call, index, rows);
    cudaStream_t stream = call.stream();
    py::gil_scoped_release release;
    cuda::segment::csr_from_index<I>(n, index.ptr<const I>(), rows, offsets.ptr<int64_t>(), perm.ptr<I>(), stream);
#else
    int64_t bad;
    {
      py::gil_scoped_release release;
      bad = segment::csr_from_index_cpu<I>(n, index.ptr<const I>(), rows, offsets.ptr<int64_t>(), perm.ptr<I>());
    }
    if (bad >= 0) raise_out_of_range(call, index, bad, rows);
#endif
  });
  return py::make_tuple(offsets.object, perm.object);
}

// The arguments of segment_softmax and its backward: (E, H) tables in edge order and the CSR grouping.
struct SoftmaxArgs {
  int64_t rows, h, segs;
  ArrayView offsets, perm;
  bool zero_first = true, serial = true;  // what the CPU kernels need to know of perm
};

SoftmaxArgs softmax_args(Call& call, const ArrayView& table, py::handle offsets_obj, py::handle perm_obj) {
  SoftmaxArgs r{table.shape[0], table.shape[1], 0, index_list(call, "offsets", offsets_obj, true),
                index_list(call, "perm", perm_obj)};
  const int64_t n = r.perm.numel();
  require_in_range(call, r.perm, r.rows);
  const std::vector<int64_t> off = checked_offsets(call, r.offsets, n);
  r.segs = r.offsets.numel() - 1;
#if !FASTNN_CUDA_MODULE
  with_index_type(r.perm, [&](auto zi) {
    using I = decltype(zi);
    const segment::IndexCover c =
        segment::index_cover<I>(off.back() - off.front(), r.perm.ptr<const I>() + off.front(), r.rows);
    r.zero_first = !c.covers_all;
    r.serial = c.repeats;
  });
#endif
  return r;
}

py::object segment_softmax_py(py::handle src_obj, py::handle offsets_obj, py::handle perm_obj) {
  Call call("segment_softmax");
  const ArrayView src = float_table(call, "src", src_obj, 2);
  const SoftmaxArgs p = softmax_args(call, src, offsets_obj, perm_obj);
  ArrayView out = call.empty("out", {p.rows, p.h}, src.dtype);
  if (p.rows * p.h == 0) return out.object;
  with_float_type(src, [&](auto zt) {
    using T = decltype(zt);
    with_index_type(p.perm, [&](auto zi) {
      using I = decltype(zi);
#if FASTNN_CUDA_MODULE
      cudaStream_t stream = call.stream();
      py::gil_scoped_release release;
      cuda::segment::segment_softmax<T, I>(p.segs, p.h, src.ptr<const T>(), p.offsets.ptr<const int64_t>(),
                                           p.perm.ptr<const I>(), p.rows, out.ptr<T>(), stream);
#else
      py::gil_scoped_release release;
      segment::segment_softmax_cpu<T, I>(p.segs, p.h, src.ptr<const T>(), p.offsets.ptr<const int64_t>(),
                                         p.perm.ptr<const I>(), p.rows, p.zero_first, p.serial, out.ptr<T>());
#endif
    });
  });
  return out.object;
}

py::object segment_softmax_backward_py(py::handle grad_obj, py::handle out_obj, py::handle offsets_obj,
                                       py::handle perm_obj) {
  Call call("segment_softmax_backward");
  const ArrayView grad = float_table(call, "grad", grad_obj, 2);
  const ArrayView out = float_table(call, "out", out_obj, 2);
  require_same_dtype(call.fn, grad, out);
  if (grad.shape != out.shape)
    fail_value(call.fn, "argument 'out' has shape " + out.shape_str() + " but 'grad' has " + grad.shape_str());
  const SoftmaxArgs p = softmax_args(call, out, offsets_obj, perm_obj);
  ArrayView dsrc = call.empty("dsrc", {p.rows, p.h}, out.dtype);
  if (p.rows * p.h == 0) return dsrc.object;
  with_float_type(out, [&](auto zt) {
    using T = decltype(zt);
    with_index_type(p.perm, [&](auto zi) {
      using I = decltype(zi);
#if FASTNN_CUDA_MODULE
      cudaStream_t stream = call.stream();
      py::gil_scoped_release release;
      cuda::segment::segment_softmax_backward<T, I>(p.segs, p.h, grad.ptr<const T>(), out.ptr<const T>(),
                                                    p.offsets.ptr<const int64_t>(), p.perm.ptr<const I>(), p.rows,
                                                    dsrc.ptr<T>(), stream);
#else
      py::gil_scoped_release release;
      segment::segment_softmax_backward_cpu<T, I>(p.segs, p.h, grad.ptr<const T>(), out.ptr<const T>(),
                                                  p.offsets.ptr<const int64_t>(), p.perm.ptr<const I>(), p.rows,
                                                  p.zero_first, p.serial, dsrc.ptr<T>());
#endif
    });
  });
  return dsrc.object;
}

py::object segment_max_backward_py(py::handle grad_obj, py::handle argmax_obj, int64_t num_rows, bool deterministic) {
  Call call("segment_max_backward");
  const ArrayView grad = float_table(call, "grad", grad_obj, 2);
  const ArrayView argmax = call.array("argmax", argmax_obj, 2);
  require_dtype(call.fn, argmax, kInt64);
  require_contiguous(call.fn, argmax);
  require_aligned(call.fn, argmax);
  if (argmax.shape != grad.shape)
    fail_value(call.fn, "argument 'argmax' has shape " + argmax.shape_str() + " but 'grad' has " + grad.shape_str());
  const int64_t rows = row_count(call.fn, "num_rows", num_rows);
  const int64_t segs = grad.shape[0], d = grad.shape[1];
  require_product_fits(call.fn, "the output (num_rows x d)", {rows, d});
  require_in_range(call, argmax, rows, false, -1);  // -1 marks an empty segment
  ArrayView dst = call.empty("out", {rows, d}, grad.dtype);
  if (rows * d > 0) {
    with_float_type(grad, [&](auto zt) {
      using T = decltype(zt);
#if FASTNN_CUDA_MODULE
      cudaStream_t stream = call.stream();
      py::gil_scoped_release release;
      cuda::segment::segment_max_backward<T>(segs, d, grad.ptr<const T>(), argmax.ptr<const int64_t>(), rows,
                                             dst.ptr<T>(), deterministic, stream);
#else
      (void)deterministic;
      py::gil_scoped_release release;
      segment::segment_max_backward_cpu<T>(segs, d, grad.ptr<const T>(), argmax.ptr<const int64_t>(), rows,
                                           dst.ptr<T>());
#endif
    });
  }
  return dst.object;
}

// A host vector as a new int64 array on the call's device.
py::object int64_array(Call& call, const char* name, const std::vector<int64_t>& h) {
  ArrayView a = call.empty(name, {(int64_t)h.size()}, kInt64);
  if (!h.empty()) {
#if FASTNN_CUDA_MODULE
    cuda::segment::copy_to_device(a.data, h.data(), h.size() * sizeof(int64_t), call.stream());
#else
    std::copy(h.begin(), h.end(), a.ptr<int64_t>());
#endif
  }
  return a.object;
}

py::tuple index_coalesce_py(py::handle index_obj, int64_t num_rows, int64_t skip) {
  Call call("index_coalesce");
  const ArrayView index = index_list(call, "index", index_obj);
  const int64_t rows = row_count(call.fn, "num_rows", num_rows);
  require_in_range(call, index, rows);
  const int64_t n = index.numel();
  std::vector<int64_t> ids, offsets, order;
  with_index_type(index, [&](auto zi) {
    using I = decltype(zi);
#if FASTNN_CUDA_MODULE
    std::vector<I> host((size_t)n);
    if (n) cuda::segment::copy_to_host(host.data(), index.data, (size_t)n * sizeof(I), call.stream());
    const I* ix = host.data();
#else
    const I* ix = index.ptr<const I>();
#endif
    py::gil_scoped_release release;
    segment::index_coalesce<I>(n, ix, skip, ids, offsets, order);
  });
  return py::make_tuple(int64_array(call, "ids", ids), int64_array(call, "offsets", offsets),
                        int64_array(call, "order", order));
}

// The table written in place and a block of rows for its unique row ids: (dst, ids, rows).
struct RowUpdate {
  ArrayView dst, ids;
  int64_t u, d;
};

RowUpdate row_update(Call& call, py::handle dst_obj, py::handle ids_obj) {
  RowUpdate r{float_table(call, "dst", dst_obj, 2), index_list(call, "ids", ids_obj, true), 0, 0};
  require_writeable(call.fn, r.dst);
  r.u = r.ids.numel();
  r.d = r.dst.shape[1];
  require_in_range(call, r.ids, r.dst.shape[0], true);
  return r;
}

ArrayView row_block(Call& call, const RowUpdate& r, const char* name, py::handle obj) {
  ArrayView v = float_table(call, name, obj, 2);
  require_same_dtype(call.fn, r.dst, v);
  if (v.shape != std::vector<int64_t>{r.u, r.d})
    fail_value(call.fn, "argument '" + v.name + "' has shape " + v.shape_str() + " but 'ids' has " +
                            r.ids.shape_str() + " and 'dst' has " + r.dst.shape_str() + ": one row per id");
  require_no_overlap(call.fn, r.dst, v);
  return v;
}

void index_add_rows_py(py::handle dst_obj, py::handle ids_obj, py::handle rows_obj, double alpha) {
  Call call("index_add_rows");
  const RowUpdate r = row_update(call, dst_obj, ids_obj);
  const ArrayView rows = row_block(call, r, "rows", rows_obj);
  if (r.u * r.d == 0) return;
  with_float_type(r.dst, [&](auto zt) {
    using T = decltype(zt);
#if FASTNN_CUDA_MODULE
    cudaStream_t stream = call.stream();
    py::gil_scoped_release release;
    cuda::segment::index_add_rows<T>(r.u, r.d, r.ids.ptr<const int64_t>(), rows.ptr<const T>(), (T)alpha,
                                     r.dst.ptr<T>(), stream);
#else
    py::gil_scoped_release release;
    segment::index_add_rows_cpu<T>(r.u, r.d, r.ids.ptr<const int64_t>(), rows.ptr<const T>(), (T)alpha,
                                   r.dst.ptr<T>());
#endif
  });
}

void rows_renorm_py(py::handle dst_obj, py::handle ids_obj, double max_norm, double norm_type) {
  Call call("rows_renorm");
  const RowUpdate r = row_update(call, dst_obj, ids_obj);
  if (std::isnan(max_norm) || max_norm < 0)
    fail_value(call.fn, "argument 'max_norm' must be >= 0, got " + std::to_string(max_norm));
  if (std::isnan(norm_type)) fail_value(call.fn, "argument 'norm_type' must be a number, got nan");
  if (r.u * r.d == 0) return;
  with_float_type(r.dst, [&](auto zt) {
    using T = decltype(zt);
#if FASTNN_CUDA_MODULE
    cudaStream_t stream = call.stream();
    py::gil_scoped_release release;
    cuda::segment::rows_renorm<T>(r.u, r.d, r.ids.ptr<const int64_t>(), r.dst.ptr<T>(), max_norm, norm_type, stream);
#else
    py::gil_scoped_release release;
    segment::rows_renorm_cpu<T>(r.u, r.d, r.ids.ptr<const int64_t>(), r.dst.ptr<T>(), max_norm, norm_type);
#endif
  });
}

void sparse_adam_step_py(py::handle param_obj, py::handle exp_avg_obj, py::handle exp_avg_sq_obj, py::handle ids_obj,
                         py::handle grad_obj, const py::dict& scalars) {
  Call call("sparse_adam_step");
  const RowUpdate r = row_update(call, param_obj, ids_obj);
  const ArrayView grad = row_block(call, r, "grad", grad_obj);
  std::vector<ArrayView> state;
  const std::pair<const char*, py::handle> moments[] = {{"exp_avg", exp_avg_obj}, {"exp_avg_sq", exp_avg_sq_obj}};
  for (const auto& [name, obj] : moments) {
    ArrayView v = float_table(call, name, obj, 2);
    require_same_dtype(call.fn, r.dst, v);
    if (v.shape != r.dst.shape)
      fail_value(call.fn, "argument '" + v.name + "' has shape " + v.shape_str() + " but 'dst' has " +
                              r.dst.shape_str());
    require_writeable(call.fn, v);
    require_no_overlap(call.fn, v, r.dst);
    require_no_overlap(call.fn, v, grad);
    state.push_back(v);
  }
  require_no_overlap(call.fn, state[0], state[1]);
  const std::string& fn = call.fn;
  const bool maximize = scalars_flag(fn, scalars, "maximize");
  with_float_type(r.dst, [&](auto zt) {
    using T = decltype(zt);
    auto f = [&](const char* k) { return (T)scalars_number(fn, scalars, k); };
    const SparseAdamScalars<T> s{f("one_minus_beta1"), f("one_minus_beta2"), f("eps"), f("neg_step_size"), maximize};
    if (r.u * r.d == 0) return;
#if FASTNN_CUDA_MODULE
    cudaStream_t stream = call.stream();
    py::gil_scoped_release release;
    cuda::segment::sparse_adam_step<T>(r.u, r.d, r.ids.ptr<const int64_t>(), grad.ptr<const T>(), r.dst.ptr<T>(),
                                       state[0].ptr<T>(), state[1].ptr<T>(), s, stream);
#else
    py::gil_scoped_release release;
    segment::sparse_adam_step_cpu<T>(r.u, r.d, r.ids.ptr<const int64_t>(), grad.ptr<const T>(), r.dst.ptr<T>(),
                                     state[0].ptr<T>(), state[1].ptr<T>(), s);
#endif
  });
}

}  // namespace

void bind_segment(py::module_& m) {
  m.def("gather_rows", &gather_rows_py, py::arg("src"), py::arg("index"),
        "out[i] = src[index[i]]: rows of a contiguous 2-D float table picked by a 1-D int32/int64 index list "
        "(IndexError for an index outside the table).");
  m.def(
      "segment_reduce",
      [](py::handle src, py::handle index, py::handle offsets, const std::string& mode, py::handle weights,
         int64_t skip, py::handle weight_index, bool deterministic) {
        return segment_reduce_impl("segment_reduce", false, src, index, offsets, mode, weights, skip, weight_index,
                                   deterministic);
      },
      py::arg("src"), py::arg("index"), py::arg("offsets"), py::arg("mode"), py::arg("weights") = py::none(),
      py::arg("skip") = -1, py::arg("weight_index") = py::none(), py::arg("deterministic") = false,
      "(out, arg): out[s] = the sum / mean / column-wise max / min of the rows src[index[k]] (index None: row k) for "
      "k in [offsets[s], offsets[s+1]) whose index is not `skip`, in modes 'sum' and 'mean' times the weight of "
      "position k: weights[k] (or weights[weight_index[k]]), a scalar, or with 2-D weights (n, H) one per block of "
      "d / H columns; mean divides by the rows kept. Empty segments give 0; arg (modes 'max' and 'min', else None) "
      "holds the row each extreme came from, -1 for an empty segment. `deterministic`: a fixed summation order on "
      "CUDA (the CPU's is always fixed).");
  m.def("segment_max_backward", &segment_max_backward_py, py::arg("grad"), py::arg("argmax"), py::arg("num_rows"),
        py::arg("deterministic") = false,
        "A new (num_rows, d) table: zeros plus grad[s, j] at row argmax[s, j] of column j (rows -1 skipped); also "
        "the backward of mode 'min' through its arg.");
  m.def("segment_dot", &segment_dot_py, py::arg("a"), py::arg("src"), py::arg("index"), py::arg("offsets"),
        py::arg("heads") = 1, py::arg("weight_index") = py::none(), py::arg("num_out") = -1,
        "out (num_out, or the number of positions, x heads): out[wi(k), h] = the dot product of column block h "
        "(width d / heads) of a[s] and of src[index[k]] (index None: row k) for each position k of segment s; "
        "wi(k) = weight_index[k] (positions naming one row add up) or k; rows no position names are 0. The "
        "gradient of the weights of a weighted segment sum (SDDMM).");
  m.def("csr_from_index", &csr_from_index_py, py::arg("index"), py::arg("num_rows"),
        "(offsets, perm): the positions of an unsorted index list grouped by value, ascending and stable in "
        "position (a counting sort); value v's positions are perm[offsets[v]:offsets[v+1]]. offsets int64 "
        "(num_rows + 1), perm of index's dtype. IndexError for a value outside [0, num_rows).");
  m.def("segment_softmax", &segment_softmax_py, py::arg("src"), py::arg("offsets"), py::arg("perm"),
        "out (E, H): the softmax of each column of src (E, H, rows in edge order) over each segment's rows "
        "perm[offsets[s]:offsets[s+1]] (max-subtracted); rows no position names are 0.");
  m.def("segment_softmax_backward", &segment_softmax_backward_py, py::arg("grad"), py::arg("out"), py::arg("offsets"),
        py::arg("perm"),
        "dsrc (E, H) = out * (grad - the sum over the segment of grad * out), per column: the gradient of "
        "segment_softmax given its output; rows no position names are 0.");
  m.def("index_coalesce", &index_coalesce_py, py::arg("index"), py::arg("num_rows"), py::arg("skip") = -1,
        "(ids, offsets, order): the positions of `index` whose value is not `skip`, grouped by value: `order` "
        "sorted by (value, position), `ids` the distinct values ascending, group g at order[offsets[g]:offsets[g+1]].");
  m.def("index_add_rows", &index_add_rows_py, py::arg("dst"), py::arg("ids"), py::arg("rows"), py::arg("alpha") = 1.0,
        "dst[ids[u]] += alpha * rows[u] in place; ids strictly increasing (unique sorted row ids).");
  m.def("rows_renorm", &rows_renorm_py, py::arg("dst"), py::arg("ids"), py::arg("max_norm"), py::arg("norm_type"),
        "In place, each row ids[u] of dst whose norm_type-norm exceeds max_norm is scaled by "
        "max_norm / (norm + 1e-7) (PyTorch's embedding_renorm_); ids strictly increasing.");
  m.def("sparse_adam_step", &sparse_adam_step_py, py::arg("param"), py::arg("exp_avg"), py::arg("exp_avg_sq"),
        py::arg("ids"), py::arg("grad"), py::arg("scalars"),
        "PyTorch's SparseAdam update in place of the rows ids (strictly increasing) of param, exp_avg and "
        "exp_avg_sq from the coalesced gradient rows `grad`; scalars: one_minus_beta1, one_minus_beta2, eps, "
        "neg_step_size, maximize.");
#if !FASTNN_CUDA_MODULE
  m.def(
      "segment_reduce_reference",
      [](py::handle src, py::handle index, py::handle offsets, const std::string& mode, py::handle weights,
         int64_t skip, py::handle weight_index, bool deterministic) {
        return segment_reduce_impl("segment_reduce_reference", true, src, index, offsets, mode, weights, skip,
                                   weight_index, deterministic);
      },
      py::arg("src"), py::arg("index"), py::arg("offsets"), py::arg("mode"), py::arg("weights") = py::none(),
      py::arg("skip") = -1, py::arg("weight_index") = py::none(), py::arg("deterministic") = false,
      "segment_reduce's plain reference: one element at a time, in position order.");
#endif
}

}  // namespace fastnn
