// The whole-sequence recurrent loops (driver.h) on the CPU: fastnn's GEMM for the projections and
// the fused gate kernels of the CPU path in use.
#include "ops/rnn/cpu.h"

#include <cstring>

#include "core/threads.h"
#include "ops/gemm/cpu.h"

namespace fastnn {
namespace rnn {
namespace {

template <typename T>
struct CpuOps {
  // C (M x N, row stride sCm) = A B + beta C, A and B of any strides
  void gemm(int64_t M, int64_t N, int64_t K, const T* A, int64_t sAm, int64_t sAk, const T* B, int64_t sBk,
            int64_t sBn, T beta, T* C, int64_t sCm) const {
    gemm_batched<T>(1, M, N, K, T(1), A, 0, sAm, sAk, B, 0, sBk, sBn, beta, C, 0, sCm, 1);
  }
  void step_forward(Mode m, const StepFwd<T>& a) const { FASTNN_DISPATCH(rnn::step_forward<T>)(m, a); }
  void step_backward(Mode m, const StepBwd<T>& a) const { FASTNN_DISPATCH(rnn::step_backward<T>)(m, a); }
  void copy(T* dst, const T* src, int64_t n) const {
    if (n > 0) std::memcpy(dst, src, sizeof(T) * n);
  }
  void zero(T* dst, int64_t n) const {
    if (n > 0) std::memset(dst, 0, sizeof(T) * n);
  }
  // dst = a + b (b may be dst itself)
  void add(T* dst, const T* a, const T* b, int64_t n) const {
    for (int64_t i = 0; i < n; ++i) dst[i] = a[i] + b[i];
  }
};

}  // namespace

template <typename T>
void sequence_forward_cpu(const SeqFwd<T>& s) {
  run_forward(CpuOps<T>{}, s);
}

template <typename T>
void sequence_backward_cpu(const SeqBwd<T>& s) {
  run_backward(CpuOps<T>{}, s);
}

template void sequence_forward_cpu<float>(const SeqFwd<float>&);
template void sequence_forward_cpu<double>(const SeqFwd<double>&);
template void sequence_backward_cpu<float>(const SeqBwd<float>&);
template void sequence_backward_cpu<double>(const SeqBwd<double>&);

}  // namespace rnn
}  // namespace fastnn
