// Argument checks of the bindings, for both modules: each raises a Python exception (TypeError for
// a wrong kind of thing, ValueError for a wrong value) naming the function, the argument and the
// shapes or dtypes involved. Arrays are checked through their ArrayView (core/array_view.h).
#pragma once
#include <pybind11/pybind11.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/array_view.h"

namespace fastnn {

inline void require_ndim(const std::string& fn, const ArrayView& v, int ndim) {
  if (v.ndim() != ndim)
    fail_value(fn, "argument '" + v.name + "' must be " + std::to_string(ndim) + "-D, got shape " + v.shape_str());
}

inline void require_float(const std::string& fn, const ArrayView& v) {
  if (!v.dtype.is_float())
    fail_type(fn, "argument '" + v.name + "' must be float32 or float64, got " + v.dtype.name());
}

inline void require_dtype(const std::string& fn, const ArrayView& v, DType dtype) {
  if (v.dtype != dtype)
    fail_type(fn, "argument '" + v.name + "' must have dtype " + dtype.name() + ", got " + v.dtype.name());
}

inline void require_same_dtype(const std::string& fn, const ArrayView& a, const ArrayView& b) {
  if (a.dtype != b.dtype)
    fail_type(fn, "arguments '" + a.name + "' (" + a.dtype.name() + ") and '" + b.name + "' (" + b.dtype.name() +
                      ") must have the same dtype");
}

// `why` says where the expected shape comes from ("the convolution's output size").
inline void require_shape(const std::string& fn, const ArrayView& v, const std::vector<int64_t>& shape,
                          const char* why = nullptr) {
  if (v.shape != shape)
    fail_value(fn, "argument '" + v.name + "' must have shape " + shape_str(shape) +
                       (why ? std::string(" (") + why + ")" : std::string()) + ", got " + v.shape_str());
}

inline void require_writeable(const std::string& fn, const ArrayView& v) {
  if (v.readonly) fail_value(fn, "argument '" + v.name + "' is read-only");
}

inline void require_aligned(const std::string& fn, const ArrayView& v) {
  if (v.numel() > 0 && !v.aligned())
    fail_value(fn, "argument '" + v.name + "' is not aligned to its item size (" + std::to_string(v.dtype.itemsize) +
                       " bytes)");
}

inline void require_contiguous(const std::string& fn, const ArrayView& v) {
  if (!v.c_contiguous())
    fail_value(fn, "argument '" + v.name + "' " + v.shape_str() + " must be contiguous (C order)");
}

// An output written in place must give each element its own address: no broadcast (zero-stride)
// dimension, and, sorted by |stride|, each dimension stepping over everything the smaller ones span.
inline void require_unaliased(const std::string& fn, const ArrayView& out) {
  if (out.numel() <= 1) return;
  std::pair<int64_t, int64_t> dims[64];  // |stride|, extent (views have at most 64 dimensions)
  int n_dims = 0;
  for (int i = 0; i < out.ndim(); ++i) {
    if (out.shape[i] <= 1) continue;
    if (out.strides[i] == 0)
      fail_value(fn, "output '" + out.name + "' of shape " + out.shape_str() + " has a zero stride in dimension " +
                         std::to_string(i) + " (a broadcast view cannot be written)");
    dims[n_dims++] = {out.strides[i] < 0 ? -out.strides[i] : out.strides[i], out.shape[i]};
  }
  std::sort(dims, dims + n_dims);
  int64_t span = 1;
  for (int i = 0; i < n_dims; ++i) {
    const auto [s, n] = dims[i];
    if (s < span)
      fail_value(fn, "output '" + out.name + "' of shape " + out.shape_str() +
                         " has strides under which elements overlap");
    span += s * (n - 1);
  }
}

inline void require_no_overlap(const std::string& fn, const ArrayView& out, const ArrayView& in) {
  if (out.numel() == 0 || in.numel() == 0) return;
  std::intptr_t lo1, hi1, lo2, hi2;
  out.byte_extent(lo1, hi1);
  in.byte_extent(lo2, hi2);
  if (lo1 < hi2 && lo2 < hi1) fail_value(fn, "output '" + out.name + "' overlaps input '" + in.name + "' in memory");
}

// Everything an array written in place must satisfy.
inline void require_output(const std::string& fn, const ArrayView& out,
                           std::initializer_list<const ArrayView*> inputs) {
  require_writeable(fn, out);
  require_aligned(fn, out);
  require_unaliased(fn, out);
  for (const ArrayView* in : inputs) require_no_overlap(fn, out, *in);
}

// ---------------------------------------------------------------- non-array arguments

// The largest size, stride, padding or dilation an argument may give: the shape maths of
// core/shape.h then never overflows 64 bits.
constexpr int64_t kMaxSizeArg = INT32_MAX;

// A sequence of ints (kernel sizes, strides, paddings), each in [min_value, kMaxSizeArg].
inline std::vector<int64_t> int_seq(const std::string& fn, const char* name, py::handle obj,
                                    int64_t min_value = INT64_MIN) {
  auto arg = [&] { return std::string("argument '") + name + "'"; };  // for messages only
  if (!PySequence_Check(obj.ptr()) || py::isinstance<py::str>(obj) || py::isinstance<py::bytes>(obj))
    fail_type(fn, arg() + " must be a sequence of ints, got " + detail::type_name(obj));
  std::vector<int64_t> v;
  for (py::handle e : py::reinterpret_borrow<py::sequence>(obj)) {
    if (py::isinstance<py::bool_>(e) || PyFloat_Check(e.ptr()) || !PyIndex_Check(e.ptr()))
      fail_type(fn, arg() + " must contain only ints, got " + detail::type_name(e));
    py::int_ i = py::reinterpret_steal<py::int_>(PyNumber_Index(e.ptr()));
    if (!i) throw py::error_already_set();
    int overflow = 0;
    const long long x = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
    if (overflow || x > kMaxSizeArg || x < -kMaxSizeArg)
      fail_value(fn, arg() + " holds a value out of range (|value| <= " + std::to_string(kMaxSizeArg) + ")");
    v.push_back(x);
  }
  for (int64_t x : v)
    if (x < min_value) fail_value(fn, arg() + " must be >= " + std::to_string(min_value) + ", got " + shape_str(v));
  return v;
}

// The same with exactly `n` values.
inline std::vector<int64_t> int_list(const std::string& fn, const char* name, py::handle obj, size_t n,
                                     int64_t min_value) {
  std::vector<int64_t> v = int_seq(fn, name, obj);
  if (v.size() != n)
    fail_value(fn, std::string("argument '") + name + "' must have " + std::to_string(n) + " values, got " +
                       shape_str(v));
  for (int64_t x : v)
    if (x < min_value)
      fail_value(fn, std::string("argument '") + name + "' must be >= " + std::to_string(min_value) + ", got " +
                         shape_str(v));
  return v;
}

// A Python integer in [0, 2^bits) (keys and offsets of the random streams).
inline uint64_t unsigned_arg(const std::string& fn, const char* name, const py::handle& v, int bits = 64) {
  if (py::isinstance<py::bool_>(v) || !py::hasattr(v, "__index__"))
    fail_type(fn, std::string("argument '") + name + "' must be an int, got " + detail::type_name(v));
  py::int_ i(v.attr("__index__")());
  const py::object limit = py::int_(1).attr("__lshift__")(bits);
  if (i < py::int_(0) || i >= limit)
    fail_value(fn, std::string("argument '") + name + "' must be in [0, 2^" + std::to_string(bits) + "), got " +
                       py::str(i).cast<std::string>());
  return i.cast<uint64_t>();
}

// One entry of a dict of hyper-parameters (the fused optimiser updates take theirs so): a number, or a
// flag read as Python's bool; a missing key is named.
inline double scalars_number(const std::string& fn, const py::dict& scalars, const char* key) {
  if (!scalars.contains(key)) fail_value(fn, std::string("argument 'scalars' has no '") + key + "'");
  py::object v = scalars[key];
  if (!PyNumber_Check(v.ptr()) || py::isinstance<py::str>(v))
    fail_type(fn, std::string("scalars['") + key + "'] must be a number, got " + detail::type_name(v));
  return py::float_(v);
}

inline bool scalars_flag(const std::string& fn, const py::dict& scalars, const char* key) {
  if (!scalars.contains(key)) fail_value(fn, std::string("argument 'scalars' has no '") + key + "'");
  return py::bool_(scalars[key]);
}

// The product of non-negative sizes, which must fit in 63 bits (the kernels index in 64).
inline int64_t checked_product(const std::string& fn, const std::string& what, std::initializer_list<int64_t> factors) {
  int64_t p = 1;
  for (int64_t f : factors)
    if (f < 0 || __builtin_mul_overflow(p, f, &p)) fail_value(fn, what + " is too large");
  return p;
}
inline void require_product_fits(const std::string& fn, const std::string& what,
                                 std::initializer_list<int64_t> factors) {
  checked_product(fn, what, factors);
}

}  // namespace fastnn
