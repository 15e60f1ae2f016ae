// The random-fill kernels on the GPU (contract: ops/random/random.h): the same numbers as the CPU
// kernels, bit for bit.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "ops/random/random.h"

namespace fastnn::cuda {

// Overwrites the n contiguous elements of device array `out`; returns the counters used.
template <typename T, random::Dist D>
uint64_t random_fill(long long n, T* out, uint64_t key, uint64_t offset, const random::Params<T>& prm,
                     cudaStream_t stream);

}  // namespace fastnn::cuda
