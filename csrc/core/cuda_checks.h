// Argument validation for fastnn._C_cuda. A device array arrives as a descriptor tuple
// (pointer: int, shape: tuple of ints, strides: tuple of ints in elements); every check raises a
// Python exception that names the function and the argument, before anything touches the GPU.
#pragma once
#include <cuda_runtime.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "core/cuda_arrays.h"

namespace fastnn::cuda::bind {
namespace py = pybind11;

[[noreturn]] inline void fail_value(const std::string& fn, const std::string& msg) { throw py::value_error(fn + ": " + msg); }
[[noreturn]] inline void fail_type(const std::string& fn, const std::string& msg) { throw py::type_error(fn + ": " + msg); }

struct Desc {
  std::uintptr_t ptr = 0;
  std::vector<long long> shape, strides;
  int itemsize = 4;
  std::string name;

  long long numel() const {
    long long n = 1;
    for (long long s : shape) n *= s;
    return n;
  }
  long long dim(int i) const { return shape[i]; }
  std::string shape_str() const {
    std::ostringstream s;
    s << "(";
    for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
    if (shape.size() == 1) s << ",";
    s << ")";
    return s.str();
  }
  // Byte range [lo, hi) the array may touch.
  void extent(long long& lo, long long& hi) const {
    lo = hi = (long long)ptr;
    if (numel() == 0) return;
    for (size_t i = 0; i < shape.size(); ++i) {
      const long long span = (shape[i] - 1) * strides[i] * itemsize;
      if (span < 0) lo += span;
      else hi += span;
    }
    hi += itemsize;
  }
  template <typename T>
  Arr4<T> arr4() const {
    return {reinterpret_cast<T*>(ptr), strides[0], strides[1], strides[2], strides[3]};
  }
};

inline int itemsize_of(const std::string& fn, const std::string& dtype) {
  if (dtype == "float32") return 4;
  if (dtype == "float64") return 8;
  fail_type(fn, "argument 'dtype' must be 'float32' or 'float64', got '" + dtype + "'");
}

inline std::vector<long long> int_seq(const std::string& fn, const std::string& what, const py::handle& h) {
  if (!py::isinstance<py::sequence>(h) || py::isinstance<py::str>(h))
    fail_type(fn, what + " must be a sequence of ints");
  std::vector<long long> v;
  for (auto item : py::reinterpret_borrow<py::sequence>(h)) {
    if (!py::isinstance<py::int_>(item) || py::isinstance<py::bool_>(item))
      fail_type(fn, what + " must contain only ints, got " + std::string(py::str(py::type::of(item))));
    v.push_back(item.cast<long long>());
  }
  return v;
}

// Parses (ptr, shape, strides) for an array of `ndim` dimensions and `itemsize` bytes per element.
inline Desc desc(const std::string& fn, const char* name, const py::object& obj, int ndim, int itemsize) {
  const std::string arg = std::string("argument '") + name + "'";
  if (!py::isinstance<py::tuple>(obj) || py::len(obj) != 3)
    fail_type(fn, arg + " must be a descriptor tuple (pointer, shape, strides)");
  py::tuple t = obj;
  if (!py::isinstance<py::int_>(t[0])) fail_type(fn, arg + ": the pointer must be an int");
  Desc d;
  d.name = name;
  d.itemsize = itemsize;
  const long long p = t[0].cast<long long>();
  if (p < 0) fail_value(fn, arg + ": negative pointer");
  d.ptr = (std::uintptr_t)p;
  d.shape = int_seq(fn, arg + " shape", t[1]);
  d.strides = int_seq(fn, arg + " strides", t[2]);
  if ((int)d.shape.size() != ndim)
    fail_value(fn, arg + " must be " + std::to_string(ndim) + "-D, got shape " + d.shape_str());
  if (d.strides.size() != d.shape.size())
    fail_value(fn, arg + " has " + std::to_string(d.strides.size()) + " strides for shape " + d.shape_str());
  for (long long s : d.shape)
    if (s < 0) fail_value(fn, arg + " has a negative dimension in shape " + d.shape_str());
  if (d.numel() > 0) {
    if (d.ptr == 0) fail_value(fn, arg + " is a null pointer");
    if (d.ptr % itemsize != 0) fail_value(fn, arg + " is not aligned to its item size");
  }
  return d;
}

// An output must not have two index tuples at one address: sorted by |stride|, each stride must
// step over everything the smaller ones span.
inline void require_unaliased(const std::string& fn, const Desc& d) {
  if (d.numel() <= 1) return;
  std::vector<std::pair<long long, long long>> dims;  // |stride|, extent
  for (size_t i = 0; i < d.shape.size(); ++i)
    if (d.shape[i] > 1) dims.push_back({d.strides[i] < 0 ? -d.strides[i] : d.strides[i], d.shape[i]});
  std::sort(dims.begin(), dims.end());
  long long span = 1;
  for (auto& [s, n] : dims) {
    if (s < span)
      fail_value(fn, "output '" + d.name + "' has overlapping elements (strides do not separate them; shape " +
                         d.shape_str() + ")");
    span += s * (n - 1);
  }
}

inline void require_no_overlap(const std::string& fn, const Desc& out, const Desc& in) {
  if (out.numel() == 0 || in.numel() == 0) return;
  long long lo1, hi1, lo2, hi2;
  out.extent(lo1, hi1);
  in.extent(lo2, hi2);
  if (lo1 < hi2 && lo2 < hi1) fail_value(fn, "output '" + out.name + "' overlaps input '" + in.name + "' in memory");
}

inline void require_shape(const std::string& fn, const Desc& d, const std::vector<long long>& expect,
                          const std::string& why) {
  if (d.shape != expect) {
    Desc e;
    e.shape = expect;
    fail_value(fn, "argument '" + d.name + "' must have shape " + e.shape_str() + " (" + why + "), got " + d.shape_str());
  }
}

inline std::pair<long long, long long> pair_arg(const std::string& fn, const char* name, const py::handle& h,
                                                long long min_value) {
  auto v = int_seq(fn, std::string("argument '") + name + "'", h);
  if (v.size() != 2) fail_value(fn, std::string("argument '") + name + "' must have 2 values, got " + std::to_string(v.size()));
  for (long long x : v)
    if (x < min_value)
      fail_value(fn, std::string("argument '") + name + "' must be >= " + std::to_string(min_value) + ", got " +
                         std::to_string(x));
  return {v[0], v[1]};
}

// The pointer must be device (or managed) memory of the current device: a host pointer or one
// from another GPU would fault inside the kernel instead of raising here.
inline void require_device_ptr(const std::string& fn, const Desc& d) {
  if (d.numel() == 0) return;
  cudaPointerAttributes attr;
  cudaError_t err = cudaPointerGetAttributes(&attr, reinterpret_cast<const void*>(d.ptr));
  if (err != cudaSuccess) {
    cudaGetLastError();
    throw std::runtime_error(fn + ": cannot inspect argument '" + d.name + "': " + cudaGetErrorString(err));
  }
  if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged)
    fail_value(fn, "argument '" + d.name + "' is not CUDA device memory");
  int cur = 0;
  if (cudaGetDevice(&cur) != cudaSuccess) {
    cudaGetLastError();
    throw std::runtime_error(fn + ": no current CUDA device");
  }
  if (attr.type == cudaMemoryTypeDevice && attr.device != cur)
    fail_value(fn, "argument '" + d.name + "' is on CUDA device " + std::to_string(attr.device) +
                       " but the current device is " + std::to_string(cur));
}

inline void require_gpu(const std::string& fn) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    cudaGetLastError();
    throw std::runtime_error(fn + ": no CUDA device is available");
  }
}

constexpr long long kInt32Limit = 2147483647LL - (1LL << 20);

inline void require_int32(const std::string& fn, const char* what, long long v) {
  if (v > kInt32Limit)
    fail_value(fn, std::string(what) + " = " + std::to_string(v) + " is too large for the 32-bit index arithmetic");
}

}  // namespace fastnn::cuda::bind
