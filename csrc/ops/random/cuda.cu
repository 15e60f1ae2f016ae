// The random-fill kernels: one thread per Philox block (grid-stride), writing the block's values to
// their places in the output (ops/random/random.h). Every floating-point operation is a correctly
// rounded one (core/bitwise_math.h), so the values equal the CPU kernels'.
#include "core/cuda_common.cuh"
#include "ops/random/cuda.h"

namespace fastnn::cuda {
namespace {

template <typename T, random::Dist D>
__global__ void random_fill_kernel(long long n, T* __restrict__ out, uint64_t key, uint64_t offset,
                                   unsigned long long blocks, random::Params<T> prm) {
  const int P = random::per_block<T>(D);
  const long long group = (long long)random::kGroupBlocks * P;
  const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
  for (unsigned long long b = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; b < blocks; b += stride) {
    T vals[4];
    random::block_values<T, D>(philox::draw(key, offset, b), prm, vals);
    // value j of block b is element 16 j + b % 16 of its group
    const long long first = (long long)(b / random::kGroupBlocks) * group + (long long)(b % random::kGroupBlocks);
    for (int j = 0; j < P; ++j) {
      const long long i = first + (long long)j * random::kGroupBlocks;
      if (i < n) out[i] = vals[j];
    }
  }
}

constexpr int kThreads = 256;

}  // namespace

template <typename T, random::Dist D>
uint64_t random_fill(long long n, T* out, uint64_t key, uint64_t offset, const random::Params<T>& prm,
                     cudaStream_t stream) {
  const uint64_t blocks = random::counters_for<T>(D, n);
  if (blocks == 0) return 0;
  random_fill_kernel<T, D><<<elementwise_blocks((long long)blocks, kThreads), kThreads, 0, stream>>>(
      n, out, key, offset, (unsigned long long)blocks, prm);
  check_launch("random_fill");
  return blocks;
}

#define FASTNN_RANDOM_FILL(T, D)                                                                          \
  template uint64_t random_fill<T, random::Dist::D>(long long, T*, uint64_t, uint64_t, const random::Params<T>&, \
                                                    cudaStream_t);
FASTNN_RANDOM_FILL(float, uniform)
FASTNN_RANDOM_FILL(double, uniform)
FASTNN_RANDOM_FILL(float, normal)
FASTNN_RANDOM_FILL(double, normal)
FASTNN_RANDOM_FILL(float, keep_mask)
FASTNN_RANDOM_FILL(double, keep_mask)
#undef FASTNN_RANDOM_FILL

}  // namespace fastnn::cuda
