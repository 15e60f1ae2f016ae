// The diffusion kernels on the GPU (contract: ops/diffusion/diffusion.h): the same bits as the CPU
// kernels. S is the storage type (uint16_t holds float16 bits).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "ops/diffusion/diffusion.h"

namespace fastnn::cuda::diffusion {

using ::fastnn::diffusion::StepCoef;
using ::fastnn::diffusion::Storage;

// Reads each sample's timestep (int64 when t64, else int32) from device array `timesteps` of N
// values and the two float64 tables of T values, then runs the fused kernel. Returns the first
// position whose timestep lies outside [0, T) and its value in *bad_value (the outputs are then
// meaningless), or -1; waits for the stream to read that back.
template <typename S>
int64_t diffuse(long long n, long long N, const S* x0, const void* timesteps, bool t64, const double* sqrt_alpha_prod,
                const double* sqrt_one_minus_alpha_prod, long long T, const S* noise_in, S* noise_out, S* xt, S* v,
                uint64_t key, uint64_t offset, int64_t* bad_value, cudaStream_t stream);

template <typename S>
void sampling_step(long long n, const S* model_output, const S* sample, const StepCoef<typename Storage<S>::A>& k,
                   const S* z, bool draw, S* prev, S* x0, uint64_t key, uint64_t offset, cudaStream_t stream);

}  // namespace fastnn::cuda::diffusion
