// The binding of the segment-reduction family, compiled into both modules: the same functions and
// arguments on fastnn._C and fastnn._C_cuda (contract: segment.h). Index lists are checked against
// their range here, before any kernel runs (an IndexError naming the argument, the value, its
// position and the range); tables and row blocks must be C-contiguous.
#include <pybind11/stl.h>

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

// f(I{}) with I the element type of index list `v`.
template <class F>
decltype(auto) with_index_type(const ArrayView& v, F&& f) {
  if (v.dtype == kInt64) return f(int64_t{});
  return f(int32_t{});
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
  if (x < lowest || x >= rows)
    throw py::index_error(call.fn + ": argument '" + v.name + "' holds " + std::to_string(x) + " at position " +
                          std::to_string(bad) + ", outside the range [" + std::to_string(lowest) + ", " +
                          std::to_string(rows) +
                          ") of the table's rows (index out of range)");
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
  fail_value(fn, "argument 'mode' must be 'sum', 'mean' or 'max', got '" + name + "'");
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

py::tuple segment_reduce_impl(const char* fn, bool reference, py::handle src_obj, py::handle index_obj,
                              py::handle offsets_obj, const std::string& mode_name, py::handle weights_obj,
                              int64_t skip) {
  Call call(fn);
  const ArrayView src = float_table(call, "src", src_obj, 2);
  const ArrayView index = index_list(call, "index", index_obj);
  const ArrayView offsets = index_list(call, "offsets", offsets_obj, true);
  const Mode mode = mode_named(call.fn, mode_name);
  const int64_t n = index.numel(), d = src.shape[1];
  ArrayView weights;
  const bool weighted = !weights_obj.is_none();
  if (weighted) {
    if (mode != Mode::sum)
      fail_value(call.fn, "argument 'weights' is supported with mode 'sum' only, got mode '" + mode_name + "'");
    weights = float_table(call, "weights", weights_obj, 1);
    require_same_dtype(call.fn, src, weights);
    if (weights.numel() != n)
      fail_value(call.fn, "argument 'weights' has shape " + weights.shape_str() + " but 'index' has " +
                              index.shape_str() + ": one weight per position");
  }
  require_in_range(call, index, src.shape[0]);
  checked_offsets(call, offsets, n);
  const int64_t segs = offsets.numel() - 1;
  ArrayView out = call.empty("out", {segs, d}, src.dtype);
  py::object argmax_obj = py::none();
  int64_t* argmax = nullptr;
  if (mode == Mode::max) {
    ArrayView a = call.empty("argmax", {segs, d}, kInt64);
    argmax = a.ptr<int64_t>();
    argmax_obj = a.object;
  }
  if (segs * d > 0) {
    with_float_type(src, [&](auto zt) {
      using T = decltype(zt);
      const T* w = weighted ? weights.ptr<const T>() : nullptr;
      with_index_type(index, [&](auto zi) {
        using I = decltype(zi);
        const I* ix = index.ptr<const I>();
        const int64_t* off = offsets.ptr<const int64_t>();
#if FASTNN_CUDA_MODULE
        (void)reference;
        cudaStream_t stream = call.stream();
        py::gil_scoped_release release;
        cuda::segment::segment_reduce<T, I>(segs, d, src.ptr<const T>(), ix, off, w, mode, skip, out.ptr<T>(),
                                            argmax, stream);
#else
        py::gil_scoped_release release;
        if (reference)
          segment::segment_reduce_reference<T, I>(segs, d, src.ptr<const T>(), ix, off, w, mode, skip, out.ptr<T>(),
                                                  argmax);
        else
          segment::segment_reduce_cpu<T, I>(segs, d, src.ptr<const T>(), ix, off, w, mode, skip, out.ptr<T>(),
                                            argmax);
#endif
      });
    });
  }
  return py::make_tuple(out.object, argmax_obj);
}

py::object segment_max_backward_py(py::handle grad_obj, py::handle argmax_obj, int64_t num_rows) {
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
                                             dst.ptr<T>(), stream);
#else
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
         int64_t skip) {
        return segment_reduce_impl("segment_reduce", false, src, index, offsets, mode, weights, skip);
      },
      py::arg("src"), py::arg("index"), py::arg("offsets"), py::arg("mode"), py::arg("weights") = py::none(),
      py::arg("skip") = -1,
      "(out, argmax): out[s] = the sum / mean / column-wise max of the rows src[index[k]] (times weights[k] in "
      "mode 'sum') for k in [offsets[s], offsets[s+1]) whose index is not `skip`; empty segments give 0; argmax "
      "(mode 'max' only, else None) holds the row each maximum came from, -1 for an empty segment.");
  m.def("segment_max_backward", &segment_max_backward_py, py::arg("grad"), py::arg("argmax"), py::arg("num_rows"),
        "A new (num_rows, d) table: zeros plus grad[s, j] at row argmax[s, j] of column j (rows -1 skipped).");
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
         int64_t skip) {
        return segment_reduce_impl("segment_reduce_reference", true, src, index, offsets, mode, weights, skip);
      },
      py::arg("src"), py::arg("index"), py::arg("offsets"), py::arg("mode"), py::arg("weights") = py::none(),
      py::arg("skip") = -1, "segment_reduce's plain reference: one element at a time, in position order.");
#endif
}

}  // namespace fastnn
