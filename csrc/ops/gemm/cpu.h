// Strided, batched GEMM on the CPU: C[b] = alpha * A[b] @ B[b] + beta * C[b].
#pragma once
#include <cstdint>

namespace fastnn {

// Shapes: A[b] is M x K, B[b] is K x N, C[b] is M x N. Every operand has its own
// element strides (batch, row, column), so transposed and broadcast views (stride 0)
// need no copy. C must not overlap A or B. When beta == 0, C is not read.
template <typename T>
void gemm_batched(int64_t batch, int64_t M, int64_t N, int64_t K, T alpha,
                  const T* A, int64_t sAb, int64_t sAm, int64_t sAk,
                  const T* B, int64_t sBb, int64_t sBk, int64_t sBn, T beta,
                  T* C, int64_t sCb, int64_t sCm, int64_t sCn);

// The same on at most `max_threads` threads (0: fastnn.set_num_threads's count; 1: the calling thread
// alone, for callers that share work between threads themselves).
template <typename T>
void gemm_batched_threads(int max_threads, int64_t batch, int64_t M, int64_t N, int64_t K, T alpha,
                          const T* A, int64_t sAb, int64_t sAm, int64_t sAk,
                          const T* B, int64_t sBb, int64_t sBk, int64_t sBn, T beta,
                          T* C, int64_t sCb, int64_t sCm, int64_t sCn);

}  // namespace fastnn
