// Row loops on the SIMD layer: whole vectors, then one masked tail, no calls. Image rows in
// these kernels are short (8 to 60 elements in LeNet and ResNet layers), where a memcpy or
// std::fill call per row costs more than the copy.
//
//   zero_row(dst, n)                       dst[j] = 0
//   copy_row(src, dst, n[, add])           dst[j] = src[j] (+ add)
//   add_row(src, dst, n)                   dst[j] += src[j]
//   gather_row(src, stride, n, dst)        dst[j] = src[j * stride]
//   scatter_add_row(src, stride, n, dst)   dst[j * stride] += src[j]
//   load_upto(p, n) / store_upto(p, v, n)  one vector's first n (<= W) lanes, whole when n == W
//
// for j < n. The strided forms read or write no element past src / dst[(n - 1) * stride].
#pragma once

#include <cstdint>

#include "core/simd/permute.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace simd {

template <typename T>
FASTNN_SIMD_INLINE Vec<T> load_upto(const T* p, int n) {
  return n == Vec<T>::W ? load(p) : load_n(p, n);
}
template <typename T>
FASTNN_SIMD_INLINE void store_upto(T* p, Vec<T> v, int n) {
  if (n == Vec<T>::W) store(p, v);
  else store_n(p, v, n);
}

template <typename T>
FASTNN_SIMD_INLINE void zero_row(T* dst, int64_t n) {
  constexpr int V = Vec<T>::W;
  int64_t j = 0;
  for (; j + V <= n; j += V) store(dst + j, zero<T>());
  if (j < n) store_n(dst + j, zero<T>(), int(n - j));
}

template <typename T>
FASTNN_SIMD_INLINE void copy_row(const T* src, T* dst, int64_t n, Vec<T> add) {
  constexpr int V = Vec<T>::W;
  int64_t j = 0;
  for (; j + V <= n; j += V) store(dst + j, load(src + j) + add);
  if (j < n) store_n(dst + j, load_n(src + j, int(n - j)) + add, int(n - j));
}

template <typename T>
FASTNN_SIMD_INLINE void copy_row(const T* src, T* dst, int64_t n) {
  constexpr int V = Vec<T>::W;
  int64_t j = 0;
  for (; j + V <= n; j += V) store(dst + j, load(src + j));
  if (j < n) store_n(dst + j, load_n(src + j, int(n - j)), int(n - j));
}

template <typename T>
FASTNN_SIMD_INLINE void add_row(const T* src, T* dst, int64_t n) {
  constexpr int V = Vec<T>::W;
  int64_t j = 0;
  for (; j + V <= n; j += V) store(dst + j, load(dst + j) + load(src + j));
  if (j < n) store_n(dst + j, load_n(dst + j, int(n - j)) + load_n(src + j, int(n - j)), int(n - j));
}

template <typename T>
FASTNN_SIMD_INLINE void gather_row(const T* src, int64_t stride, int64_t n, T* dst) {
  constexpr int V = Vec<T>::W;
  if (stride == 1) return copy_row(src, dst, n);
  int64_t j = 0;
  // Even lanes of two vectors; the last element read, src[2 * j + 2 * V - 1], stays below
  // src[2 * n - 1].
  if (stride == 2)
    for (; j + V + 1 <= n; j += V) store(dst + j, load_even(src + 2 * j));
  for (; j < n; ++j) dst[j] = src[j * stride];
}

template <typename T>
FASTNN_SIMD_INLINE void scatter_add_row(const T* src, int64_t stride, int64_t n, T* dst) {
  constexpr int V = Vec<T>::W;
  if (stride == 1) return add_row(src, dst, n);
  int64_t j = 0;
  // The odd elements between are written back unchanged, and never past dst[2 * n - 2]: the
  // element after it may belong to another thread.
  if (stride == 2)
    for (; j + V + 1 <= n; j += V) {
      Vec<T> even, odd;
      deinterleave(dst + 2 * j, even, odd);
      store_interleaved(dst + 2 * j, even + load(src + j), odd);
    }
  for (; j < n; ++j) dst[j * stride] += src[j];
}

}  // namespace simd
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
