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
// Compute-capability major version of the calling thread's current device (cached per device).
int current_device_cc_major();
int current_device();
void set_device(int device);
void synchronize();

// y = alpha * x + beta * y over n contiguous elements.
template <typename T>
void axpby(long long n, T alpha, const T* x, T beta, T* y, cudaStream_t stream);

}  // namespace fastnn::cuda
