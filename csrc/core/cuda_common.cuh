// Shared by the CUDA kernels: error checks that become C++ exceptions (pybind11 raises them as
// Python RuntimeError), launch-size helpers computed in 64 bits, and small vector helpers.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace fastnn::cuda {

inline void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

// Called right after every launch: a bad configuration is reported by cudaGetLastError at once,
// a fault inside the kernel surfaces at the next synchronising call on the stream.
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

// Grid dimension limits (x up to 2^31-1, y and z up to 65535). Kernels loop over y/z with a
// grid stride so any batch count or tile count fits.
constexpr long long kMaxGridX = 2147483647LL;
constexpr long long kMaxGridYZ = 65535LL;

inline long long ceil_div(long long a, long long b) { return (a + b - 1) / b; }
__device__ __forceinline__ long long ceil_div_dev(long long a, long long b) { return (a + b - 1) / b; }

inline unsigned grid_x(long long blocks) {
  if (blocks < 1) blocks = 1;
  return (unsigned)(blocks > kMaxGridX ? kMaxGridX : blocks);
}
inline unsigned grid_yz(long long blocks) {
  if (blocks < 1) blocks = 1;
  return (unsigned)(blocks > kMaxGridYZ ? kMaxGridYZ : blocks);
}

// Element-wise kernels use a grid-stride loop; a few waves of blocks is enough to fill the
// chip, so the grid is capped to keep launch overhead and tail effects small.
inline unsigned elementwise_blocks(long long n, int threads) {
  long long b = ceil_div(n, threads);
  const long long cap = 65535LL * 4;
  return (unsigned)(b < 1 ? 1 : (b > cap ? cap : b));
}

inline bool aligned16(const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0; }

}  // namespace fastnn::cuda
