// The segment-reduction kernels on the GPU (cuda.cu): one thread per output element with a
// grid-stride loop; scatters use atomicAdd. Contract: segment.h. Every function launches on
// `stream`; first_bad_index and copy_to_host wait for it.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "ops/segment/segment.h"

namespace fastnn::cuda::segment {

using ::fastnn::segment::Mode;
using ::fastnn::segment::SparseAdamScalars;

template <typename I>
int64_t first_bad_index(int64_t n, const I* index, int64_t rows, bool increasing, int64_t lowest, cudaStream_t stream);
void copy_to_host(void* dst, const void* src, size_t bytes, cudaStream_t stream);
void copy_to_device(void* dst, const void* src, size_t bytes, cudaStream_t stream);

template <typename T, typename I>
void gather_rows(int64_t n, int64_t d, const T* src, const I* index, T* out, cudaStream_t stream);
template <typename T, typename I>
void segment_reduce(int64_t segs, int64_t d, const T* src, const I* index, const int64_t* offsets, const T* w,
                    Mode mode, int64_t skip, T* out, int64_t* argmax, cudaStream_t stream);
template <typename T>
void segment_max_backward(int64_t segs, int64_t d, const T* grad, const int64_t* argmax, int64_t rows, T* dst,
                          cudaStream_t stream);
template <typename T>
void index_add_rows(int64_t u, int64_t d, const int64_t* ids, const T* rows, T alpha, T* dst, cudaStream_t stream);
template <typename T>
void rows_renorm(int64_t u, int64_t d, const int64_t* ids, T* dst, double max_norm, double norm_type,
                 cudaStream_t stream);
template <typename T>
void sparse_adam_step(int64_t u, int64_t d, const int64_t* ids, const T* g, T* p, T* m, T* v,
                      const SparseAdamScalars<T>& s, cudaStream_t stream);

}  // namespace fastnn::cuda::segment
