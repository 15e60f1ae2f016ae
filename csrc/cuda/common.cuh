// Error handling shared by the CUDA kernels: every CUDA call and launch is checked and
// turned into a C++ exception that pybind11 raises as a Python RuntimeError.
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace fastnn::cuda {

inline void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

}  // namespace fastnn::cuda
