// The row kernels of the segment family on the GPU (contract: segment.h): gathers, sparse row updates
// and the backward of max / min, one thread per output element (per unique row for rows_renorm) in a
// grid-stride loop. Index lists are checked on the device (first_bad_index) before the kernels run.
// The aggregation kernels live beside this file: reduce.cu (segment_reduce), graph.cu (segment_dot,
// segment softmax), csr.cu (csr_from_index).
//
// segment_max_backward scatters grad into the rows that won: with atomicAdd, or, when deterministic,
// by grouping the (row, column) cells' contributions with csr_from_index (stable, so in segment order)
// and summing each cell's list in that order.
#include <cmath>

#include "core/cuda_common.cuh"
#include "ops/segment/cuda.h"

namespace fastnn::cuda::segment {
namespace {

constexpr int kThreads = 256;

#define FASTNN_GRID_STRIDE(i, n) \
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

template <typename I>
__global__ void bad_index_kernel(long long n, const I* __restrict__ index, long long rows, bool increasing,
                                 long long lowest, long long* __restrict__ first) {
  FASTNN_GRID_STRIDE(k, n) {
    const long long v = (long long)index[k];
    if (v < lowest || v >= rows || (increasing && k > 0 && v <= (long long)index[k - 1])) atomicMin(first, k);
  }
}

template <typename T, typename I>
__global__ void gather_kernel(long long n, long long d, const T* __restrict__ src, const I* __restrict__ index,
                              T* __restrict__ out) {
  FASTNN_GRID_STRIDE(e, n * d) {
    const long long i = e / d, j = e - i * d;
    out[e] = src[(long long)index[i] * d + j];
  }
}

template <typename T>
__global__ void max_backward_kernel(long long segs, long long d, const T* __restrict__ grad,
                                    const long long* __restrict__ argmax, T* __restrict__ dst) {
  FASTNN_GRID_STRIDE(e, segs * d) {
    const long long r = argmax[e];
    if (r >= 0) atomicAdd(dst + r * d + (e % d), grad[e]);
  }
}

// The cell argmax[e] * d + column of each contribution e; the one past the last cell for none.
__global__ void cell_of_kernel(long long segs, long long d, long long rows, const long long* __restrict__ argmax,
                               long long* __restrict__ cell) {
  FASTNN_GRID_STRIDE(e, segs * d) {
    const long long r = argmax[e];
    cell[e] = r >= 0 ? r * d + e % d : rows * d;
  }
}

// dst[c] = the sum of its contributions in segment order (offsets / order from csr_from_index).
template <typename T>
__global__ void sum_cells_kernel(long long cells, const long long* __restrict__ offsets,
                                 const long long* __restrict__ order, const T* __restrict__ grad, T* __restrict__ dst) {
  FASTNN_GRID_STRIDE(c, cells) {
    T acc = 0;
    for (long long k = offsets[c]; k < offsets[c + 1]; ++k) acc += grad[order[k]];
    dst[c] = acc;
  }
}

template <typename T>
__global__ void add_rows_kernel(long long u, long long d, const long long* __restrict__ ids,
                                const T* __restrict__ rows, T alpha, T* __restrict__ dst) {
  FASTNN_GRID_STRIDE(e, u * d) {
    const long long k = e / d, j = e - k * d;
    T* p = dst + ids[k] * d + j;
    *p = alpha == T(1) ? *p + rows[e] : *p + alpha * rows[e];
  }
}

template <typename T>
__global__ void renorm_kernel(long long u, long long d, const long long* __restrict__ ids, T* __restrict__ dst,
                              double max_norm, double norm_type) {
  FASTNN_GRID_STRIDE(k, u) {
    T* row = dst + ids[k] * d;
    double norm = 0;
    if (norm_type == 2.0) {
      T acc = 0;
      for (long long j = 0; j < d; ++j) acc += row[j] * row[j];
      norm = sqrt((double)acc);
    } else if (norm_type == 1.0) {
      T acc = 0;
      for (long long j = 0; j < d; ++j) acc += row[j] < T(0) ? -row[j] : row[j];
      norm = (double)acc;
    } else if (norm_type == INFINITY || norm_type == -INFINITY) {
      norm = norm_type > 0 ? 0.0 : INFINITY;
      for (long long j = 0; j < d; ++j) {
        const double x = fabs((double)row[j]);
        norm = norm_type > 0 ? (x > norm ? x : norm) : (x < norm ? x : norm);
      }
    } else if (norm_type == 0.0) {
      for (long long j = 0; j < d; ++j) norm += row[j] != T(0);
    } else {
      for (long long j = 0; j < d; ++j) norm += pow(fabs((double)row[j]), norm_type);
      norm = pow(norm, 1.0 / norm_type);
    }
    if (norm > max_norm) {
      const T scale = (T)(max_norm / (norm + 1e-7));
      for (long long j = 0; j < d; ++j) row[j] *= scale;
    }
  }
}

template <typename T>
__global__ void sparse_adam_kernel(long long u, long long d, const long long* __restrict__ ids,
                                   const T* __restrict__ g, T* __restrict__ p, T* __restrict__ m, T* __restrict__ v,
                                   SparseAdamScalars<T> s) {
  FASTNN_GRID_STRIDE(e, u * d) {
    const long long k = e / d, at = ids[k] * d + (e - k * d);
    T gi = g[e];
    if (s.maximize) gi = -gi;
    const T m_old = m[at], v_old = v[at];
    const T m_upd = (gi - m_old) * s.one_minus_beta1;
    const T v_upd = (gi * gi - v_old) * s.one_minus_beta2;
    m[at] = m_old + m_upd;
    v[at] = v_old + v_upd;
    const T denom = sqrt(v_upd + v_old) + s.eps;
    p[at] = p[at] + s.neg_step_size * ((m_upd + m_old) / denom);
  }
}

#undef FASTNN_GRID_STRIDE

unsigned blocks(long long n) { return elementwise_blocks(n, kThreads); }

}  // namespace

void copy_to_host(void* dst, const void* src, size_t bytes, cudaStream_t stream) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream), "segment: copy to the host");
  check(cudaStreamSynchronize(stream), "segment: copy to the host");
}

void copy_to_device(void* dst, const void* src, size_t bytes, cudaStream_t stream) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream), "segment: copy to the device");
  check(cudaStreamSynchronize(stream), "segment: copy to the device");  // `src` is the caller's host memory
}

template <typename I>
int64_t first_bad_index(int64_t n, const I* index, int64_t rows, bool increasing, int64_t lowest,
                        cudaStream_t stream) {
  long long* first = nullptr;
  check(cudaMallocAsync((void**)&first, sizeof(long long), stream), "segment: index check");
  long long none = n;
  copy_to_device(first, &none, sizeof none, stream);
  bad_index_kernel<I><<<blocks(n), kThreads, 0, stream>>>(n, index, rows, increasing, lowest, first);
  check_launch("segment index check");
  long long got = n;
  copy_to_host(&got, first, sizeof got, stream);
  check(cudaFreeAsync(first, stream), "segment: index check");
  return got < n ? got : -1;
}

template <typename T, typename I>
void gather_rows(int64_t n, int64_t d, const T* src, const I* index, T* out, cudaStream_t stream) {
  gather_kernel<T, I><<<blocks(n * d), kThreads, 0, stream>>>(n, d, src, index, out);
  check_launch("gather_rows");
}

template <typename T>
void segment_max_backward(int64_t segs, int64_t d, const T* grad, const int64_t* argmax, int64_t rows, T* dst,
                          bool deterministic, cudaStream_t stream) {
  const long long n = segs * d, cells = rows * d;
  if (!deterministic || n == 0) {
    check(cudaMemsetAsync(dst, 0, (size_t)cells * sizeof(T), stream), "segment_max_backward");
    if (n == 0) return;
    max_backward_kernel<T><<<blocks(n), kThreads, 0, stream>>>(segs, d, grad, (const long long*)argmax, dst);
    check_launch("segment_max_backward");
    return;
  }
  long long* scratch = nullptr;  // cell (n), offsets (cells + 2), order (n)
  check(cudaMallocAsync((void**)&scratch, (size_t)(2 * n + cells + 2) * sizeof(long long), stream),
        "segment_max_backward: scratch memory");
  long long *cell = scratch, *offsets = scratch + n, *order = offsets + cells + 2;
  cell_of_kernel<<<blocks(n), kThreads, 0, stream>>>(segs, d, rows, (const long long*)argmax, cell);
  check_launch("segment_max_backward (cells)");
  csr_from_index<int64_t>(n, (const int64_t*)cell, cells + 1, (int64_t*)offsets, (int64_t*)order, stream);
  sum_cells_kernel<T><<<blocks(cells), kThreads, 0, stream>>>(cells, offsets, order, grad, dst);
  check_launch("segment_max_backward (sums)");
  check(cudaFreeAsync(scratch, stream), "segment_max_backward: scratch memory");
}

template <typename T>
void index_add_rows(int64_t u, int64_t d, const int64_t* ids, const T* rows, T alpha, T* dst, cudaStream_t stream) {
  add_rows_kernel<T><<<blocks(u * d), kThreads, 0, stream>>>(u, d, (const long long*)ids, rows, alpha, dst);
  check_launch("index_add_rows");
}

template <typename T>
void rows_renorm(int64_t u, int64_t d, const int64_t* ids, T* dst, double max_norm, double norm_type,
                 cudaStream_t stream) {
  renorm_kernel<T><<<blocks(u), kThreads, 0, stream>>>(u, d, (const long long*)ids, dst, max_norm, norm_type);
  check_launch("rows_renorm");
}

template <typename T>
void sparse_adam_step(int64_t u, int64_t d, const int64_t* ids, const T* g, T* p, T* m, T* v,
                      const SparseAdamScalars<T>& s, cudaStream_t stream) {
  sparse_adam_kernel<T><<<blocks(u * d), kThreads, 0, stream>>>(u, d, (const long long*)ids, g, p, m, v, s);
  check_launch("sparse_adam_step");
}

template int64_t first_bad_index<int32_t>(int64_t, const int32_t*, int64_t, bool, int64_t, cudaStream_t);
template int64_t first_bad_index<int64_t>(int64_t, const int64_t*, int64_t, bool, int64_t, cudaStream_t);
#define FASTNN_SEGMENT_INDEXED(T, I)                                                                           \
  template void gather_rows<T, I>(int64_t, int64_t, const T*, const I*, T*, cudaStream_t);
#define FASTNN_SEGMENT_TYPED(T)                                                                                 \
  FASTNN_SEGMENT_INDEXED(T, int32_t)                                                                            \
  FASTNN_SEGMENT_INDEXED(T, int64_t)                                                                            \
  template void segment_max_backward<T>(int64_t, int64_t, const T*, const int64_t*, int64_t, T*, bool,            \
                                        cudaStream_t);                                                          \
  template void index_add_rows<T>(int64_t, int64_t, const int64_t*, const T*, T, T*, cudaStream_t);             \
  template void rows_renorm<T>(int64_t, int64_t, const int64_t*, T*, double, double, cudaStream_t);             \
  template void sparse_adam_step<T>(int64_t, int64_t, const int64_t*, const T*, T*, T*, T*,                     \
                                    const SparseAdamScalars<T>&, cudaStream_t);
FASTNN_SEGMENT_TYPED(float)
FASTNN_SEGMENT_TYPED(double)
#undef FASTNN_SEGMENT_TYPED
#undef FASTNN_SEGMENT_INDEXED

}  // namespace fastnn::cuda::segment
