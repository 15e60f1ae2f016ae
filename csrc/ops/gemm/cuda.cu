#include "ops/gemm/cuda.h"
#include "ops/gemm/core.cuh"
#include "core/cuda_device.h"

namespace fastnn::cuda {
namespace {
using namespace gemm_detail;

template <typename T>
struct StridedOut {
  T* __restrict__ p;
  long long sz, sm, sn;
  __device__ __forceinline__ void store(long long z, long long m, long long n, T v, T alpha, T beta) const {
    T* q = p + z * sz + m * sm + n * sn;
    // beta == 0: C is not read, so NaN or uninitialised memory in C does not leak into the result.
    *q = beta == T(0) ? alpha * v : alpha * v + beta * *q;
  }
};

}  // namespace

bool use_tf32(bool is_float, bool allow_tf32) { return is_float && allow_tf32 && current_device_cc_major() >= 8; }

const char* gemm_path(bool is_float, long long batch, long long M, long long K, long long N, const void* A,
                      long long sAb, long long sAm, long long sAk, const void* B, long long sBb, long long sBk,
                      long long sBn, bool allow_tf32) {
  int am = operand_mode(is_float, A, batch, sAb, M, sAm, K, sAk);
  int bm = operand_mode(is_float, B, batch, sBb, N, sBn, K, sBk);
  const bool vec = (am & kVector) && (bm & kVector);
  if (use_tf32(is_float, allow_tf32)) return vec ? "tf32-vec" : "tf32";
  return vec ? "simt-vec" : "simt";
}

template <typename T>
void gemm_batched(long long batch, long long M, long long N, long long K, T alpha, const T* A, long long sAb,
                  long long sAm, long long sAk, const T* B, long long sBb, long long sBk, long long sBn, T beta, T* C,
                  long long sCb, long long sCm, long long sCn, bool allow_tf32, cudaStream_t stream) {
  constexpr bool is_float = sizeof(T) == 4;
  int am = operand_mode(is_float, A, batch, sAb, M, sAm, K, sAk);
  int bm = operand_mode(is_float, B, batch, sBb, N, sBn, K, sBk);
  launch_gemm<T>(batch, M, N, K, alpha, StridedOperand<T>{A, sAb, sAm, sAk}, am, StridedOperand<T>{B, sBb, sBn, sBk},
                 bm, beta, StridedOut<T>{C, sCb, sCm, sCn}, use_tf32(is_float, allow_tf32), stream);
}

template void gemm_batched<float>(long long, long long, long long, long long, float, const float*, long long, long long,
                                  long long, const float*, long long, long long, long long, float, float*, long long,
                                  long long, long long, bool, cudaStream_t);
template void gemm_batched<double>(long long, long long, long long, long long, double, const double*, long long,
                                   long long, long long, const double*, long long, long long, long long, double,
                                   double*, long long, long long, long long, bool, cudaStream_t);

}  // namespace fastnn::cuda
