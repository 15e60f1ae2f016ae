#include "cuda/common.cuh"
#include "cuda/device.h"

namespace fastnn::cuda {

int device_count() {
  int n = 0;
  // No driver or no GPU: report zero devices rather than fail, so the module imports anywhere.
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

DeviceInfo device_info(int device) {
  cudaDeviceProp p;
  check(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
  return {p.name, p.major, p.minor, p.multiProcessorCount, (long long)p.totalGlobalMem};
}

namespace {
template <typename T>
__global__ void axpby_kernel(long long n, T alpha, const T* x, T beta, T* y) {
  long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  long long step = (long long)gridDim.x * blockDim.x;
  for (; i < n; i += step) y[i] = alpha * x[i] + beta * y[i];
}
}  // namespace

template <typename T>
void axpby(long long n, T alpha, const T* x, T beta, T* y, cudaStream_t stream) {
  if (n == 0) return;
  int threads = 256;
  long long blocks = (n + threads - 1) / threads;
  if (blocks > 65535LL * 8) blocks = 65535LL * 8;
  axpby_kernel<T><<<(unsigned)blocks, threads, 0, stream>>>(n, alpha, x, beta, y);
  check_launch("axpby");
}

template void axpby<float>(long long, float, const float*, float, float*, cudaStream_t);
template void axpby<double>(long long, double, const double*, double, double*, cudaStream_t);

}  // namespace fastnn::cuda
