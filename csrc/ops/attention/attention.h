// The attention family's contract, shared by the plain reference (ref.cpp), the CPU kernels
// (*_simd.cpp) and the CUDA kernels (cuda.cu).
//
// Scaled dot-product attention over batched heads, in the flash-attention manner (Dao et al.,
// "FlashAttention", 2022, and FlashAttention-2, 2023): tiles of queries against tiles of keys with
// an online softmax, so no L_q x L_k matrix is ever held; the backward recomputes the scores from
// the saved log-sum-exp.
//
//   q (B, Hq, Lq, D)   k (B, Hk, Lk, D)   v (B, Hk, Lk, Dv)    Hq = G * Hk (grouped-query: query
//   head h reads key/value head h / G, as PyTorch's enable_gqa, i.e. repeat_interleave)
//   s[i, j]  = scale * q_i . k_j  + additive mask[i, j]           (-inf where a boolean mask is
//              false, and where causal and j > i: top-left aligned, as PyTorch's is_causal)
//   lse[i]   = log sum_j exp(s[i, j])                               (-inf for a fully masked row)
//   p[i, j]  = exp(s[i, j] - lse[i])                                (0 for a fully masked row)
//   out_i    = sum_j p[i, j] * z[i, j] * v_j                        (z: dropout's keep mask)
//
// Dropout: z[i, j] is element n = ((b * Hq + h) * Lq + i) * Lk + j of random.h's keep_mask draw
// under (key, offset) for the element type (1 / (1 - p) or 0), i.e. exactly the array that
// fastnn.kernels.dropout_mask fills for shape (B, Hq, Lq, Lk) with the same (p, key, offset), so
// the mask is the same on every CPU path, at any thread count and on the GPU; the backward
// regenerates it from (key, offset) instead of storing it. A forward with dropout uses
// random::counters_for<T>(Dist::keep_mask, B * Hq * Lq * Lk) counters (the caller moves its
// stream by that many).
//
// Backward, with Delta_i = dout_i . out_i:
//   dv_j += sum_i p z dout_i;  dp[i, j] = z[i, j] (dout_i . v_j);  ds = p (dp - Delta_i);
//   dq_i = scale sum_j ds[i, j] k_j;  dk_j += scale sum_i ds[i, j] q_i
// (dk and dv summed over the G query heads that share a key/value head). A fully masked row
// contributes nothing (PyTorch gives zeros there too).
//
// Layout: q, k, v, dout may have any strides on their first three dimensions (element strides;
// a stride of 0 for a broadcast dimension is allowed) but unit stride on the last; out, lse, dq,
// dk, dv are C-contiguous. The mask, when present, is (mB, mH, mLq, Lk) with each of mB, mH, mLq
// either 1 or the full size, addressed through element strides (0 for size-1 dimensions, any on
// the others). Computation is in Acc (float for float32/float16/bfloat16 storage, double for
// float64); lse is stored as Acc.
#pragma once
#include <cstdint>

namespace fastnn {
namespace attention {

enum class MaskKind : int { none = 0, boolean = 1, additive = 2 };

struct Strides3 {
  int64_t b = 0, h = 0, l = 0;  // element strides of dimensions 0, 1, 2 (the last has stride 1)
};

// Everything both passes read; T the storage type of q, k, v (and of an additive mask).
template <typename T>
struct Problem {
  int64_t B = 0, Hq = 0, Hk = 0, Lq = 0, Lk = 0, D = 0, Dv = 0;
  const T* q = nullptr;
  const T* k = nullptr;
  const T* v = nullptr;
  Strides3 qs, ks, vs;
  MaskKind mask_kind = MaskKind::none;
  const void* mask = nullptr;  // uint8 (0 = masked out) for boolean, T for additive
  int64_t mask_sb = 0, mask_sh = 0, mask_sq = 0, mask_sk = 1;  // element strides, 0 where broadcast
  bool causal = false;
  double scale = 1.0;
  double dropout_p = 0.0;  // in [0, 1); 0 draws nothing
  uint64_t key = 0, offset = 0;
};

// What the backward reads besides the Problem: the forward's out and lse, and dout (strided like q).
template <typename T, typename Acc>
struct Grads {
  const T* out = nullptr;    // (B, Hq, Lq, Dv) contiguous
  const Acc* lse = nullptr;  // (B, Hq, Lq) contiguous
  const T* dout = nullptr;
  Strides3 dos;
  T* dq = nullptr;  // (B, Hq, Lq, D) contiguous, overwritten
  T* dk = nullptr;  // (B, Hk, Lk, D) contiguous, overwritten
  T* dv = nullptr;  // (B, Hk, Lk, Dv) contiguous, overwritten
};

}  // namespace attention
}  // namespace fastnn
