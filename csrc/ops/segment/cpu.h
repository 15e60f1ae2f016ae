// The segment-reduction kernels on the CPU: the SIMD ones (segment_simd.cpp, one instantiation per
// CPU path), the counting sort of an index list (csr.cpp), the host-side grouping (group.h) and the
// plain reference (ref.cpp). Contract: segment.h.
//
// `index` / `weight_index` may be nullptr: position k then reads row k / weight row k. `w` has `heads`
// columns. The kernels trust their indices (the binding checks them). Where positions may name one
// output row twice (segment_dot's weight_index, segment_softmax's perm), the binding says so through
// `serial`: the kernel then runs on one thread, in position order, instead of racing.
#pragma once
#include <cstdint>

#include "core/cpu_features.h"
#include "ops/segment/segment.h"

FASTNN_DECLARE_PER_PATH(namespace segment {
  using ::fastnn::segment::Mode;
  using ::fastnn::segment::SparseAdamScalars;
  template <typename T, typename I>
  void gather_rows(int64_t n, int64_t d, const T* src, const I* index, T* out);
  template <typename T, typename I>
  void segment_reduce(int64_t segs, int64_t d, const T* src, const I* index, const int64_t* offsets, const T* w,
                      int64_t heads, const I* weight_index, Mode mode, int64_t skip, T* out, int64_t* argmax);
  template <typename T, typename I>
  void segment_dot(int64_t segs, int64_t d, int64_t heads, const T* a, const T* src, const I* index,
                   const int64_t* offsets, const I* weight_index, int64_t num_out, bool serial, T* out);
  template <typename T, typename I>
  void segment_softmax(int64_t segs, int64_t h, const T* src, const int64_t* offsets, const I* perm, int64_t num_rows,
                       bool zero_first, bool serial, T* out);
  template <typename T, typename I>
  void segment_softmax_backward(int64_t segs, int64_t h, const T* grad, const T* out, const int64_t* offsets,
                                const I* perm, int64_t num_rows, bool zero_first, bool serial, T* dsrc);
  template <typename T>
  void segment_max_backward(int64_t segs, int64_t d, const T* grad, const int64_t* argmax, int64_t rows, T* dst);
  template <typename T>
  void index_add_rows(int64_t u, int64_t d, const int64_t* ids, const T* rows, T alpha, T* dst);
  template <typename T>
  void rows_renorm(int64_t u, int64_t d, const int64_t* ids, T* dst, double max_norm, double norm_type);
  template <typename T>
  void sparse_adam_step(int64_t u, int64_t d, const int64_t* ids, const T* g, T* p, T* m, T* v,
                        const SparseAdamScalars<T>& s);
})

namespace fastnn {
namespace segment {

// The kernels of the CPU path in use (template arguments deduced by the callers in bind.cpp).
template <typename T, typename I>
void gather_rows_cpu(int64_t n, int64_t d, const T* src, const I* index, T* out) {
  FASTNN_DISPATCH(segment::gather_rows<T, I>)(n, d, src, index, out);
}
template <typename T, typename I>
void segment_reduce_cpu(int64_t segs, int64_t d, const T* src, const I* index, const int64_t* offsets, const T* w,
                        int64_t heads, const I* weight_index, Mode mode, int64_t skip, T* out, int64_t* argmax) {
  FASTNN_DISPATCH(segment::segment_reduce<T, I>)(segs, d, src, index, offsets, w, heads, weight_index, mode, skip, out,
                                                 argmax);
}
template <typename T, typename I>
void segment_dot_cpu(int64_t segs, int64_t d, int64_t heads, const T* a, const T* src, const I* index,
                     const int64_t* offsets, const I* weight_index, int64_t num_out, bool serial, T* out) {
  FASTNN_DISPATCH(segment::segment_dot<T, I>)(segs, d, heads, a, src, index, offsets, weight_index, num_out, serial,
                                              out);
}
template <typename T, typename I>
void segment_softmax_cpu(int64_t segs, int64_t h, const T* src, const int64_t* offsets, const I* perm,
                         int64_t num_rows, bool zero_first, bool serial, T* out) {
  FASTNN_DISPATCH(segment::segment_softmax<T, I>)(segs, h, src, offsets, perm, num_rows, zero_first, serial, out);
}
template <typename T, typename I>
void segment_softmax_backward_cpu(int64_t segs, int64_t h, const T* grad, const T* out, const int64_t* offsets,
                                  const I* perm, int64_t num_rows, bool zero_first, bool serial, T* dsrc) {
  FASTNN_DISPATCH(segment::segment_softmax_backward<T, I>)(segs, h, grad, out, offsets, perm, num_rows, zero_first,
                                                           serial, dsrc);
}
template <typename T>
void segment_max_backward_cpu(int64_t segs, int64_t d, const T* grad, const int64_t* argmax, int64_t rows, T* dst) {
  FASTNN_DISPATCH(segment::segment_max_backward<T>)(segs, d, grad, argmax, rows, dst);
}
template <typename T>
void index_add_rows_cpu(int64_t u, int64_t d, const int64_t* ids, const T* rows, T alpha, T* dst) {
  FASTNN_DISPATCH(segment::index_add_rows<T>)(u, d, ids, rows, alpha, dst);
}
template <typename T>
void rows_renorm_cpu(int64_t u, int64_t d, const int64_t* ids, T* dst, double max_norm, double norm_type) {
  FASTNN_DISPATCH(segment::rows_renorm<T>)(u, d, ids, dst, max_norm, norm_type);
}
template <typename T>
void sparse_adam_step_cpu(int64_t u, int64_t d, const int64_t* ids, const T* g, T* p, T* m, T* v,
                          const SparseAdamScalars<T>& s) {
  FASTNN_DISPATCH(segment::sparse_adam_step<T>)(u, d, ids, g, p, m, v, s);
}

// offsets (rows + 1) and perm (n): the positions of `index` grouped by value, ascending, stable in
// position (a counting sort, over position chunks per thread when large). Returns the first position
// whose value lies outside [0, rows), or -1; offsets and perm are then unspecified.
template <typename I>
int64_t csr_from_index_cpu(int64_t n, const I* index, int64_t rows, int64_t* offsets, I* perm);

// Plain references for the tests: one element at a time, in position order.
template <typename T, typename I>
void segment_reduce_reference(int64_t segs, int64_t d, const T* src, const I* index, const int64_t* offsets,
                              const T* w, int64_t heads, const I* weight_index, Mode mode, int64_t skip, T* out,
                              int64_t* argmax);

}  // namespace segment
}  // namespace fastnn
