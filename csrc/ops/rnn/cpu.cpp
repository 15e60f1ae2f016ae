// The whole-sequence recurrent loops (driver.h) on the CPU: fastnn's GEMM for the projections and
// the fused gate kernels of the CPU path in use.
#include "ops/rnn/cpu.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <exception>

#include "core/threads.h"
#include "ops/gemm/cpu.h"

namespace fastnn {
namespace rnn {
namespace {

template <typename T>
struct CpuOps {
  int gemm_threads;          // 1 inside a thread's own range of rows, 0 (all) otherwise
  const PackedB<T>* w_hh;  // the recurrent weight as every step's GEMM takes it, packed once, or null
  // C (M x N, row stride sCm) = A B + beta C, A and B of any strides
  void gemm(int64_t M, int64_t N, int64_t K, const T* A, int64_t sAm, int64_t sAk, const T* B, int64_t sBk,
            int64_t sBn, T beta, T* C, int64_t sCm) const {
    if (w_hh && w_hh->packs(K, N, B, sBk, sBn))
      w_hh->multiply(gemm_threads, M, T(1), A, sAm, sAk, beta, C, sCm, 1);
    else
      gemm_batched_threads<T>(gemm_threads, 1, M, N, K, T(1), A, 0, sAm, sAk, B, 0, sBk, sBn, beta, C, 0, sCm, 1);
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

// Below this many multiply-adds in all, or this many rows per thread, the rows stay on one thread
// (whose GEMMs may still use the others). One parallel region per sequence, no barrier per step.
constexpr int64_t kMinMacs = 64 * 64 * 64;
constexpr int64_t kMinRows = 8;

int row_threads(const Seq& q) {
  if (q.N * q.G() * q.H * q.P < kMinMacs) return 1;
  return (int)std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), q.B / kMinRows));
}

// body(ops, r0, r1) on the batch's rows: one range per thread, each running its whole sequence with
// single-threaded GEMMs (no synchronisation per step), or all rows with multi-threaded GEMMs. The
// per-step GEMMs with W_hh take it packed once (w_hh: K x N with strides sk, sn as they read it)
// instead of packing it again at every step.
template <typename T, class Body>
void over_row_ranges(const Seq& q, const T* w_hh, int64_t K, int64_t N, int64_t sk, int64_t sn, const Body& body) {
  const int nt = row_threads(q);
  const PackedB<T> packed(K, N, w_hh, sk, sn);
  if (nt == 1) {
    body(CpuOps<T>{0, &packed}, int64_t(0), q.B);
    return;
  }
  std::exception_ptr error;  // an exception must not leave the parallel region
#pragma omp parallel num_threads(nt)
  {
    const int tid = omp_get_thread_num(), team = omp_get_num_threads();
    try {
      body(CpuOps<T>{1, &packed}, q.B * tid / team, q.B * (tid + 1) / team);
    } catch (...) {
#pragma omp critical(fastnn_rnn_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace

template <typename T>
void sequence_forward_cpu(const SeqFwd<T>& s) {
  const int64_t GH = s.G() * s.H;  // hg = h W_hh^T
  over_row_ranges<T>(s, s.w_hh, s.P, GH, 1, s.P,
                     [&](const CpuOps<T>& ops, int64_t r0, int64_t r1) { forward_rows(ops, s, r0, r1); });
}

template <typename T>
void sequence_backward_cpu(const SeqBwd<T>& s) {
  const int64_t GH = s.G() * s.H;  // dh_prev = dgh W_hh
  over_row_ranges<T>(s, s.w_hh, GH, s.P, s.P, 1,
                     [&](const CpuOps<T>& ops, int64_t r0, int64_t r1) { backward_rows(ops, s, r0, r1); });
  weight_grads(CpuOps<T>{0, nullptr}, s);
}

template void sequence_forward_cpu<float>(const SeqFwd<float>&);
template void sequence_forward_cpu<double>(const SeqFwd<double>&);
template void sequence_backward_cpu<float>(const SeqBwd<float>&);
template void sequence_backward_cpu<double>(const SeqBwd<double>&);

}  // namespace rnn
}  // namespace fastnn
