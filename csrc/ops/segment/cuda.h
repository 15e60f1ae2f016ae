// The segment-reduction kernels on the GPU (cuda.cu). Contract: segment.h. Every function launches on
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
// index == nullptr reads row k at position k (contiguous segments of `src`); w has `heads` columns
// (weight of position k: row weight_index[k] of w when weight_index != nullptr, else row k).
// `deterministic`: a fixed summation order (no atomics); otherwise long segments may be split over
// several warps and combined with atomics.
template <typename T, typename I>
void segment_reduce(int64_t segs, int64_t d, const T* src, const I* index, const int64_t* offsets, const T* w,
                    int64_t heads, const I* weight_index, Mode mode, int64_t skip, T* out, int64_t* argmax,
                    bool deterministic, cudaStream_t stream);
template <typename T>
void segment_max_backward(int64_t segs, int64_t d, const T* grad, const int64_t* argmax, int64_t rows, T* dst,
                          bool deterministic, cudaStream_t stream);
// out (num_out, heads), zeroed here first; index / weight_index may be nullptr as in segment_reduce.
template <typename T, typename I>
void segment_dot(int64_t segs, int64_t d, int64_t heads, const T* a, const T* src, const I* index,
                 const int64_t* offsets, const I* weight_index, int64_t num_out, T* out, cudaStream_t stream);
// offsets (rows + 1) and perm (n): a stable counting sort of the positions of `index` by value.
template <typename I>
void csr_from_index(int64_t n, const I* index, int64_t rows, int64_t* offsets, I* perm, cudaStream_t stream);
// src / out / grad / dsrc are (num_rows, h) in edge order; rows no position names are 0 in the output.
template <typename T, typename I>
void segment_softmax(int64_t segs, int64_t h, const T* src, const int64_t* offsets, const I* perm, int64_t num_rows,
                     T* out, cudaStream_t stream);
template <typename T, typename I>
void segment_softmax_backward(int64_t segs, int64_t h, const T* grad, const T* out, const int64_t* offsets,
                              const I* perm, int64_t num_rows, T* dsrc, cudaStream_t stream);
template <typename T>
void index_add_rows(int64_t u, int64_t d, const int64_t* ids, const T* rows, T alpha, T* dst, cudaStream_t stream);
template <typename T>
void rows_renorm(int64_t u, int64_t d, const int64_t* ids, T* dst, double max_norm, double norm_type,
                 cudaStream_t stream);
template <typename T>
void sparse_adam_step(int64_t u, int64_t d, const int64_t* ids, const T* g, T* p, T* m, T* v,
                      const SparseAdamScalars<T>& s, cudaStream_t stream);

}  // namespace fastnn::cuda::segment
