// Argument validation shared by the CPU bindings: every check raises a Python
// exception that names the function, the argument and the shapes involved.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace fastnn {
namespace py = pybind11;

enum class DType { f32, f64, i64, other };

inline DType dtype_of(const py::array& a) {
  if (a.dtype().is(py::dtype::of<float>())) return DType::f32;
  if (a.dtype().is(py::dtype::of<double>())) return DType::f64;
  if (a.dtype().is(py::dtype::of<int64_t>())) return DType::i64;
  return DType::other;
}

inline std::string shape_str(const py::array& a) {
  std::ostringstream s;
  s << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s << (i ? ", " : "") << a.shape(i);
  if (a.ndim() == 1) s << ",";
  s << ")";
  return s.str();
}

inline std::string dtype_str(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

[[noreturn]] inline void fail_value(const std::string& fn, const std::string& msg) {
  throw py::value_error(fn + ": " + msg);
}
[[noreturn]] inline void fail_type(const std::string& fn, const std::string& msg) {
  throw py::type_error(fn + ": " + msg);
}

inline void require_float(const std::string& fn, const char* name, const py::array& a) {
  DType d = dtype_of(a);
  if (d != DType::f32 && d != DType::f64)
    fail_type(fn, std::string("argument '") + name + "' must be float32 or float64, got " + dtype_str(a));
}

inline void require_same_dtype(const std::string& fn, const char* na, const py::array& a, const char* nb,
                               const py::array& b) {
  if (!a.dtype().is(b.dtype()))
    fail_type(fn, std::string("arguments '") + na + "' (" + dtype_str(a) + ") and '" + nb + "' (" + dtype_str(b) +
                      ") must have the same dtype");
}

inline void require_ndim(const std::string& fn, const char* name, const py::array& a, int ndim) {
  if (a.ndim() != ndim)
    fail_value(fn, std::string("argument '") + name + "' must be " + std::to_string(ndim) + "-D, got shape " +
                       shape_str(a));
}

inline void require_shape(const std::string& fn, const char* name, const py::array& a,
                          const std::vector<py::ssize_t>& shape) {
  bool ok = a.ndim() == (py::ssize_t)shape.size();
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = a.shape(i) == shape[i];
  if (!ok) {
    std::ostringstream s;
    s << "(";
    for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
    if (shape.size() == 1) s << ",";
    s << ")";
    fail_value(fn, std::string("argument '") + name + "' must have shape " + s.str() + ", got " + shape_str(a));
  }
}

inline void require_writeable(const std::string& fn, const char* name, const py::array& a) {
  if (!a.writeable()) fail_value(fn, std::string("argument '") + name + "' is read-only");
}

// Strides in elements; numpy allows byte strides that are not a multiple of the item size.
inline std::vector<int64_t> elem_strides(const std::string& fn, const char* name, const py::array& a) {
  std::vector<int64_t> st(a.ndim());
  const py::ssize_t item = a.itemsize();
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    if (a.strides(i) % item != 0)
      fail_value(fn, std::string("argument '") + name + "' has a stride that is not a multiple of its item size");
    st[i] = a.strides(i) / item;
  }
  return st;
}

// Byte range [lo, hi) that an array may touch.
inline void byte_extent(const py::array& a, intptr_t& lo, intptr_t& hi) {
  lo = hi = reinterpret_cast<intptr_t>(a.data());
  if (a.size() == 0) return;
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    intptr_t span = (intptr_t)(a.shape(i) - 1) * a.strides(i);
    if (span < 0) lo += span; else hi += span;
  }
  hi += a.itemsize();
}

inline void require_no_overlap(const std::string& fn, const char* out_name, const py::array& out, const char* in_name,
                               const py::array& in) {
  if (out.size() == 0 || in.size() == 0) return;
  intptr_t lo1, hi1, lo2, hi2;
  byte_extent(out, lo1, hi1);
  byte_extent(in, lo2, hi2);
  if (lo1 < hi2 && lo2 < hi1)
    fail_value(fn, std::string("output '") + out_name + "' overlaps input '" + in_name + "' in memory");
}

}  // namespace fastnn
