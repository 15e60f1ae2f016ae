// The device side of a binding call, for the module being compiled: fastnn._C (host arrays,
// FASTNN_CUDA_MODULE=0) or fastnn._C_cuda (device arrays, FASTNN_CUDA_MODULE=1). Every family's
// bind.cpp is compiled once per module; a Call takes its array arguments (refusing those of the
// other device), allocates its outputs (the one place that does: numpy on the CPU, cupy's memory
// pool on CUDA, on the arrays' device) and gives the CUDA stream (cupy's current one there).
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/array_view.h"
#if !FASTNN_CUDA_MODULE
#include "core/host_pool.h"
#endif
#include "core/checks.h"

#ifndef FASTNN_CUDA_MODULE
#define FASTNN_CUDA_MODULE 0
#endif

#if FASTNN_CUDA_MODULE
#include <cuda_runtime.h>

#include "core/cuda_arrays.h"
#endif

namespace fastnn {

constexpr bool kCudaModule = FASTNN_CUDA_MODULE != 0;
constexpr DeviceKind kModuleDevice = kCudaModule ? DeviceKind::cuda : DeviceKind::cpu;
constexpr const char* kModuleName = kCudaModule ? "fastnn._C_cuda" : "fastnn._C";

#if FASTNN_CUDA_MODULE
// RuntimeError when no device can run a kernel (no driver, no GPU).
inline void require_gpu(const std::string& fn) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    cudaGetLastError();
    throw std::runtime_error(fn + ": no CUDA device is available");
  }
}

// A 4-D view as the CUDA kernels take it (T const for an input).
template <typename T>
cuda::Arr4<T> arr4(const ArrayView& v) {
  return {v.ptr<T>(), v.strides[0], v.strides[1], v.strides[2], v.strides[3]};
}
#endif

// numpy's dtype object for `d` (the common ones without parsing a name).
inline py::dtype numpy_dtype(DType d) {
  if (d == kFloat32) return py::dtype::of<float>();
  if (d == kFloat64) return py::dtype::of<double>();
  if (d == kInt64) return py::dtype::of<int64_t>();
  return py::dtype(d.name());
}

class Call {
 public:
  explicit Call(std::string fn) : fn(std::move(fn)) {}
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;
  ~Call() { leave_device(); }

  const std::string fn;

  // Array argument `name`: any object describing memory of this module's device.
  ArrayView array(const char* name, py::handle obj) {
    ArrayView v = view_of(fn, name, obj);
    if (v.device != kModuleDevice) {
      if (kCudaModule)
        fail_type(fn, "argument '" + v.name + "' (" + detail::type_name(obj) + ") is in host memory, but " +
                          kModuleName + " runs on CUDA arrays (cupy, or any object with __cuda_array_interface__); "
                          "move it to the GPU first");
      fail_type(fn, "argument '" + v.name + "' (" + detail::type_name(obj) + ") is a CUDA array, but " + kModuleName +
                        " runs on host arrays (numpy, or any object with the buffer protocol or __array_interface__); "
                        "use fastnn._C_cuda, or move it to the host first");
    }
#if FASTNN_CUDA_MODULE
    require_aligned(fn, v);
    if (v.numel() > 0) devices_.push_back({v.name, v.data});
#endif
    return v;
  }
  ArrayView array(const char* name, py::handle obj, int ndim) {
    ArrayView v = array(name, obj);
    require_ndim(fn, v, ndim);
    return v;
  }
  ArrayView float_array(const char* name, py::handle obj, int ndim) {
    ArrayView v = array(name, obj);
    require_float(fn, v);
    require_ndim(fn, v, ndim);
    return v;
  }

  // A new uninitialised output array on the call's device (the device of its array arguments);
  // the binding returns its `object`.
  ArrayView empty(const char* name, const std::vector<int64_t>& shape, DType dtype) {
#if FASTNN_CUDA_MODULE
    enter_device();
    py::tuple sh(shape.size());
    for (size_t i = 0; i < shape.size(); ++i) sh[i] = py::int_(shape[i]);
    py::object obj = cupy().attr("empty")(sh, py::arg("dtype") = dtype.name());
#else
    py::object obj = host_pool::empty_array(numpy_dtype(dtype), std::vector<py::ssize_t>(shape.begin(), shape.end()));
#endif
    return view_of(fn, name, obj);
  }

#if FASTNN_CUDA_MODULE
  // The stream to launch on: cupy's current stream on the arrays' device (entered here).
  cudaStream_t stream() {
    enter_device();
    return stream_;
  }

  // Every array argument must be device memory of one GPU; that GPU becomes the current one
  // (for cupy and for the launches) until the call ends. Done once, before the first allocation
  // or launch, so that argument errors are reported without touching the GPU.
  void enter_device() {
    if (entered_) return;
    require_gpu(fn);
    int device = -1;
    std::string first;
    for (const auto& [name, ptr] : devices_) {
      cudaPointerAttributes attr;
      cudaError_t err = cudaPointerGetAttributes(&attr, ptr);
      if (err != cudaSuccess) {
        cudaGetLastError();
        throw std::runtime_error(fn + ": cannot inspect argument '" + name + "': " + cudaGetErrorString(err));
      }
      if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged)
        fail_value(fn, "argument '" + name + "' is not CUDA device memory");
      if (attr.type == cudaMemoryTypeManaged) continue;  // reachable from every device
      if (device < 0) {
        device = attr.device;
        first = name;
      } else if (attr.device != device) {
        fail_value(fn, "argument '" + name + "' is on cuda:" + std::to_string(attr.device) + " but '" + first +
                           "' is on cuda:" + std::to_string(device) + ": all arrays must be on one device");
      }
    }
    if (cudaGetDevice(&previous_device_) != cudaSuccess) {
      cudaGetLastError();
      throw std::runtime_error(fn + ": no current CUDA device");
    }
    if (device < 0) device = previous_device_;
    // cupy's device context first (its allocations and its current stream are per device), then
    // the same device for this module's launches, should cupy's runtime and ours disagree.
    py::object cupy_cuda = cupy().attr("cuda");
    py::object ctx = cupy_cuda.attr("Device")(device);
    ctx.attr("__enter__")();
    cupy_device_ = ctx;
    entered_ = true;
    int now = -1;
    if ((cudaGetDevice(&now) != cudaSuccess || now != device) && cudaSetDevice(device) != cudaSuccess) {
      cudaGetLastError();
      throw std::runtime_error(fn + ": cannot make cuda:" + std::to_string(device) + " current");
    }
    stream_ = reinterpret_cast<cudaStream_t>(cupy_cuda.attr("get_current_stream")().attr("ptr").cast<std::uintptr_t>());
  }

 private:
  static py::object cupy() {
    try {
      return py::module_::import("cupy");
    } catch (py::error_already_set&) {
      throw std::runtime_error(std::string(kModuleName) +
                               " allocates its outputs and finds its stream with cupy, which cannot be imported "
                               "(pip install fastnn[cuda])");
    }
  }

  void leave_device() noexcept {
    if (!entered_) return;
    try {
      if (cupy_device_) cupy_device_.attr("__exit__")(py::none(), py::none(), py::none());
    } catch (...) {
    }
    int now = -1;
    if (cudaGetDevice(&now) == cudaSuccess && now != previous_device_) cudaSetDevice(previous_device_);
    cudaGetLastError();
  }

  std::vector<std::pair<std::string, const void*>> devices_;
  bool entered_ = false;
  int previous_device_ = 0;
  py::object cupy_device_;
  cudaStream_t stream_ = nullptr;
#else
  void enter_device() {}

 private:
  void leave_device() noexcept {}
#endif
};

// f(T{}) with T float or double, the element type of `v` (checked to be one of them before).
template <class F>
decltype(auto) with_float_type(const ArrayView& v, F&& f) {
  if (v.dtype == kFloat32) return f(float{});
  return f(double{});
}

// The elements of a host array in C order, as the CPU kernels take them: the array's own memory
// when it already is (and aligned), else a contiguous copy kept alive here.
template <typename T>
struct HostData {
  explicit HostData(const ArrayView& v) {
    if (v.c_contiguous() && v.aligned()) {
      ptr = v.ptr<const T>();
      return;
    }
    std::vector<py::ssize_t> shape(v.shape.begin(), v.shape.end()), strides(v.ndim());
    for (int i = 0; i < v.ndim(); ++i) strides[i] = (py::ssize_t)(v.strides[i] * v.dtype.itemsize);
    py::array src(numpy_dtype(v.dtype), shape, strides, v.data, v.object);
    copy = src.attr("copy")();  // C order, aligned
    ptr = static_cast<const T*>(py::reinterpret_borrow<py::array>(copy).data());
  }
  const T* ptr = nullptr;
  py::object copy;
};

}  // namespace fastnn
