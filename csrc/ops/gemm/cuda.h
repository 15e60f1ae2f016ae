// Strided, batched GEMM on the GPU: C[b] = alpha * A[b] @ B[b] + beta * C[b].
#pragma once
#include <cuda_runtime.h>

namespace fastnn::cuda {

// Same contract as the CPU gemm_batched: A[b] is M x K, B[b] is K x N, C[b] is M x N, each
// with its own element strides (batch, row, column), any sign, zero allowed on inputs.
// When beta == 0, C is not read. allow_tf32 (float only) uses the tensor cores on sm_80+.
template <typename T>
void gemm_batched(long long batch, long long M, long long N, long long K, T alpha, const T* A, long long sAb,
                  long long sAm, long long sAk, const T* B, long long sBb, long long sBk, long long sBn, T beta, T* C,
                  long long sCb, long long sCm, long long sCn, bool allow_tf32, cudaStream_t stream);

// Which kernel gemm_batched would use for these operands ("simt-vec", "simt", "tf32", ...):
// lets tests check that the fast paths are really taken.
const char* gemm_path(bool is_float, long long batch, long long M, long long K, long long N, const void* A,
                      long long sAb, long long sAm, long long sAk, const void* B, long long sBb, long long sBk,
                      long long sBn, bool allow_tf32);

}  // namespace fastnn::cuda

namespace fastnn::cuda {
// TF32 is used only for float32, when asked for, on a device of compute capability 8.0 or newer.
bool use_tf32(bool is_float, bool allow_tf32);
}  // namespace fastnn::cuda
