// fastnn._C_cuda: the CUDA kernels. Arrays arrive as raw device pointers (cupy's
// data.ptr) with their shapes and the current stream; everything is validated here.
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "cuda/device.h"

namespace py = pybind11;
using namespace fastnn::cuda;

namespace {

cudaStream_t as_stream(std::uintptr_t s) { return reinterpret_cast<cudaStream_t>(s); }

void axpby_py(const std::string& dtype, long long n, double alpha, std::uintptr_t x, double beta, std::uintptr_t y,
              std::uintptr_t stream) {
  if (n < 0) throw py::value_error("axpby: argument 'n' must be >= 0, got " + std::to_string(n));
  if (n > 0 && (x == 0 || y == 0)) throw py::value_error("axpby: null device pointer for 'x' or 'y'");
  if (dtype == "float32")
    axpby<float>(n, (float)alpha, reinterpret_cast<const float*>(x), (float)beta, reinterpret_cast<float*>(y),
                 as_stream(stream));
  else if (dtype == "float64")
    axpby<double>(n, alpha, reinterpret_cast<const double*>(x), beta, reinterpret_cast<double*>(y), as_stream(stream));
  else
    throw py::type_error("axpby: argument 'dtype' must be 'float32' or 'float64', got '" + dtype + "'");
}

}  // namespace

PYBIND11_MODULE(_C_cuda, m) {
  m.doc() = "fastnn CUDA kernels";
  m.def("device_count", &device_count, "Number of visible CUDA devices (0 without a driver or GPU).");
  m.def(
      "device_info",
      [](int device) {
        int n = device_count();
        if (device < 0 || device >= n)
          throw py::value_error("device_info: argument 'device' is " + std::to_string(device) + " but " +
                                std::to_string(n) + " CUDA device(s) are visible");
        DeviceInfo d = device_info(device);
        py::dict r;
        r["name"] = d.name;
        r["capability"] = py::make_tuple(d.major, d.minor);
        r["sm_count"] = d.sm_count;
        r["total_memory"] = d.total_memory;
        return r;
      },
      py::arg("device") = 0);
  m.def("axpby", &axpby_py, py::arg("dtype"), py::arg("n"), py::arg("alpha"), py::arg("x"), py::arg("beta"),
        py::arg("y"), py::arg("stream") = 0, "y = alpha * x + beta * y on contiguous device arrays.");
}
