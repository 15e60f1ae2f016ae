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

namespace gemm_detail {
template <typename T>
struct Kernel;
}

// B (K x N) packed once into the micro-kernel's strips, for many products with the same B (a
// recurrent weight at every time step): each product then packs only A, whose rows are usually
// far fewer than B's elements. The layout belongs to the CPU path in use when it was packed, which
// the products keep using. Read-only once built: threads may multiply with it at once.
template <typename T>
class PackedB {
 public:
  // Packs B (element strides sBk, sBn) on the calling thread.
  PackedB(int64_t K, int64_t N, const T* B, int64_t sBk, int64_t sBn);
  ~PackedB();
  PackedB(const PackedB&) = delete;
  PackedB& operator=(const PackedB&) = delete;

  // Whether this is the packing of B (the same memory, sizes and strides).
  bool packs(int64_t K, int64_t N, const T* B, int64_t sBk, int64_t sBn) const {
    return B == src_ && K == K_ && N == N_ && sBk == sBk_ && sBn == sBn_;
  }
  // C (M x N, strides sCm, sCn) = alpha * A @ B + beta * C (C not read when beta == 0), on at most
  // max_threads threads as in gemm_batched_threads; C must not overlap A or B.
  void multiply(int max_threads, int64_t M, T alpha, const T* A, int64_t sAm, int64_t sAk, T beta, T* C,
                int64_t sCm, int64_t sCn) const;

 private:
  const gemm_detail::Kernel<T>* kr_;
  const T* src_;
  int64_t K_, N_, sBk_, sBn_, kc_, mc_;
  T* data_ = nullptr;  // blocks of kc_ rows of K, each ceil(N / nr) strips of kc x nr
};

}  // namespace fastnn
