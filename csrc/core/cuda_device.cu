#include <mutex>
#include <vector>

#include "core/cuda_common.cuh"
#include "core/cuda_device.h"

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

int current_device() {
  int d = 0;
  check(cudaGetDevice(&d), "cudaGetDevice");
  return d;
}

void set_device(int device) { check(cudaSetDevice(device), "cudaSetDevice"); }

void synchronize() { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

int current_device_cc_major() {
  static std::mutex mu;
  static std::vector<int> cache;
  const int d = current_device();
  std::lock_guard<std::mutex> lock(mu);
  if ((int)cache.size() <= d) cache.resize(d + 1, -1);
  if (cache[d] < 0) check(cudaDeviceGetAttribute(&cache[d], cudaDevAttrComputeCapabilityMajor, d), "cudaDeviceGetAttribute");
  return cache[d];
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
  const int threads = 256;
  axpby_kernel<T><<<elementwise_blocks(n, threads), threads, 0, stream>>>(n, alpha, x, beta, y);
  check_launch("axpby");
}

template void axpby<float>(long long, float, const float*, float, float*, cudaStream_t);
template void axpby<double>(long long, double, const double*, double, double*, cudaStream_t);

}  // namespace fastnn::cuda

#include "core/cuda_arrays.h"
#include "core/shape.h"

namespace fastnn::cuda {
namespace {
template <typename T>
__global__ void zero_fill4_kernel(Arr4<T> a, long long n0, long long n1, long long n2, long long n3) {
  const long long total = n0 * n1 * n2 * n3;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
    long long i0, i1, i2, i3;
    shape::unflatten(i, n1, n2, n3, i0, i1, i2, i3);
    a.p[i0 * a.s0 + i1 * a.s1 + i2 * a.s2 + i3 * a.s3] = T(0);
  }
}
}  // namespace

template <typename T>
void zero_fill4(Arr4<T> a, long long n0, long long n1, long long n2, long long n3, cudaStream_t stream) {
  const long long n = n0 * n1 * n2 * n3;
  if (n == 0) return;
  const bool contiguous = a.s3 == 1 && a.s2 == n3 && a.s1 == n2 * n3 && a.s0 == n1 * n2 * n3;
  if (contiguous) {
    check(cudaMemsetAsync(a.p, 0, (size_t)n * sizeof(T), stream), "cudaMemsetAsync");
    return;
  }
  const int threads = 256;
  zero_fill4_kernel<T><<<elementwise_blocks(n, threads), threads, 0, stream>>>(a, n0, n1, n2, n3);
  check_launch("zero_fill4");
}

template void zero_fill4<float>(Arr4<float>, long long, long long, long long, long long, cudaStream_t);
template void zero_fill4<double>(Arr4<double>, long long, long long, long long, long long, cudaStream_t);

}  // namespace fastnn::cuda
