#pragma once
#include <cuda_runtime.h>

#include <string>

namespace fastnn::cuda {

struct DeviceInfo {
  std::string name;
  int major, minor, sm_count;
  long long total_memory;
};

int device_count();
DeviceInfo device_info(int device);

// y = alpha * x + beta * y over n contiguous elements.
template <typename T>
void axpby(long long n, T alpha, const T* x, T beta, T* y, cudaStream_t stream);

}  // namespace fastnn::cuda
