// What the segment family's warp-per-row kernels share (reduce.cu, graph.cu, csr.cu): the block shape,
// warp reductions with a fixed shuffle tree (so a result never depends on scheduling), and the
// warp-uniform loop over the rows a warp owns.
#pragma once
#include <cuda_runtime.h>

#include "core/cuda_common.cuh"

namespace fastnn::cuda::segment {

constexpr int kBlock = 256;  // threads of every warp-per-row launch
constexpr int kBlockWarps = kBlock / 32;
constexpr unsigned kFullMask = 0xffffffffu;

// The kernels loop over their rows with a grid stride, so any grid size is correct; this one gives
// every row its own warp up to the grid limit.
inline dim3 warp_grid(long long rows) { return dim3{grid_x(ceil_div(rows, kBlockWarps)), 1, 1}; }
inline dim3 block_dim() { return dim3{(unsigned)kBlock, 1, 1}; }

__device__ __forceinline__ unsigned lane_id() { return threadIdx.x & 31u; }
__device__ __forceinline__ long long global_warp() { return ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5; }
__device__ __forceinline__ long long warp_count() { return ((long long)gridDim.x * blockDim.x) >> 5; }

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

// The larger of a and b, NaN winning (a NaN anywhere in a column makes its maximum NaN).
template <typename T>
__device__ __forceinline__ T max_nan(T a, T b) {
  return (b > a || b != b) ? b : a;
}

template <typename T>
__device__ __forceinline__ T warp_max_nan(T v) {
  for (int o = 16; o > 0; o >>= 1) v = max_nan(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}

template <typename T>
__device__ __forceinline__ T exp_of(T x) {
  if constexpr (sizeof(T) == 4) return expf(x);
  else return exp(x);
}

}  // namespace fastnn::cuda::segment
