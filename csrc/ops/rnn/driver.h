// The loops over time of one recurrent layer and direction, written once for both devices: `Ops`
// gives the GEMM, the fused gate kernels and the row copies of the CPU (cpu.cpp) or of CUDA
// (cuda.cu). Per step the forward runs one GEMM (h_prev W_hh^T), one gate kernel (and, for a
// projected LSTM, one more GEMM); the backward one gate kernel and one GEMM (dgh W_hh), and the
// weight gradients are one GEMM each over all steps. Host code only: the work buffers come from the
// binding (numpy on the CPU, cupy's pool on CUDA). Layouts and formulas: rnn.h.
#pragma once
#include <cstdint>
#include <vector>

#include "ops/rnn/rnn.h"

namespace fastnn {
namespace rnn {

struct Seq {
  Mode mode;
  int64_t steps, B, H, P, N;  // P: columns of h (the projection size, else H); N: rows of all steps
  const int64_t* batch_sizes;  // host memory, `steps` values, non-increasing, summing to N
  bool reverse;
  int G() const { return gate_count(mode); }
  bool proj() const { return P != H; }
};

template <typename T>
struct SeqFwd : Seq {
  const T *xg, *w_hh, *b_ih, *b_hh, *w_hr, *h0, *c0;  // biases, w_hr, h0, c0 may be null
  T *out, *hn, *cn, *saved;                           // cn LSTM only; saved null for inference
  T *hg, *hc;  // work: (B, G H) and, for a projected LSTM without `saved`, (B, H)
};

template <typename T>
struct SeqBwd : Seq {
  const T *w_hh, *w_hr, *h0, *c0, *out, *saved, *dy, *dhn, *dcn;  // h0, c0, dhn, dcn may be null
  T *dgx, *dgh, *dh0, *dc0, *dw_hh, *dw_hr;                       // dgh == dgx unless GRU
  // work: hprev (prev_rows(), P), cprev (prev_rows(), H) LSTM, dH (N, P) and dhc (B, H) with a projection
  T *hprev, *cprev, *dH, *dhc;
};

// Whether every step has all B rows (a padded batch): then each step's previous h and c are the rows
// of the step before it in `out` and in saved's c plane, and only the first step's (h0, c0) need a
// buffer, of B rows; otherwise they are gathered for all N rows.
inline bool consecutive(const int64_t* batch_sizes, int64_t steps, int64_t B) {
  return steps > 0 && batch_sizes[0] == B && batch_sizes[steps - 1] == B;  // non-increasing: all B
}
inline int64_t prev_rows(const int64_t* batch_sizes, int64_t steps, int64_t B, int64_t N) {
  return consecutive(batch_sizes, steps, B) ? B : N;
}

// Row offset of every step, and the step processed at position s.
inline std::vector<int64_t> step_offsets(const Seq& q) {
  std::vector<int64_t> off(q.steps + 1, 0);
  for (int64_t t = 0; t < q.steps; ++t) off[t + 1] = off[t] + q.batch_sizes[t];
  return off;
}
inline int64_t step_at(const Seq& q, int64_t s) { return q.reverse ? q.steps - 1 - s : s; }

// The loops below run on rows [r0, r1) of the batch: rows never interact, so the CPU gives each
// thread its own range for the whole sequence (no synchronisation per step), and the GPU runs all.
// Row r of step t exists when r < batch_sizes[t]; every pointer is moved to the range's first row.

template <class Ops, typename T>
void init_rows(const Ops& ops, T* dst, const T* init, int64_t r0, int64_t r1, int64_t cols) {
  if (r1 <= r0) return;
  if (init) ops.copy(dst + r0 * cols, init + r0 * cols, (r1 - r0) * cols);
  else ops.zero(dst + r0 * cols, (r1 - r0) * cols);
}

inline int64_t end_row(int64_t b, int64_t r1) { return b < r1 ? b : r1; }

template <typename T, class Ops>
void forward_rows(const Ops& ops, const SeqFwd<T>& q, int64_t r0, int64_t r1) {
  const int64_t H = q.H, P = q.P, GH = q.G() * H;
  init_rows(ops, q.hn, q.h0, r0, r1, P);
  if (q.mode == Mode::lstm) init_rows(ops, q.cn, q.c0, r0, r1, H);
  const std::vector<int64_t> off = step_offsets(q);
  const int64_t plane = q.N * H;
  for (int64_t s = 0; s < q.steps; ++s) {
    const int64_t t = step_at(q, s), o = off[t] + r0, b = end_row(q.batch_sizes[t], r1) - r0;
    if (b <= 0) continue;
    T* hn = q.hn + r0 * P;
    T* hg = q.hg + r0 * GH;
    ops.gemm(b, GH, P, hn, P, 1, q.w_hh, 1, P, T(0), hg, GH);
    T* h_out = q.out + o * P;
    if (q.proj()) h_out = q.saved ? q.saved + 5 * plane + o * H : q.hc + r0 * H;
    StepFwd<T> a{b,  H,         q.xg + o * GH, hg, q.b_ih, q.b_hh, hn, q.mode == Mode::lstm ? q.cn + r0 * H : nullptr,
                 h_out, q.saved ? q.saved + o * H : nullptr, plane};
    ops.step_forward(q.mode, a);
    if (q.proj()) ops.gemm(b, P, H, h_out, H, 1, q.w_hr, 1, H, T(0), q.out + o * P, P);
    ops.copy(hn, q.out + o * P, b * P);
  }
}

// h_prev (and c_prev) of every row of every step, gathered once: the previous step's rows, or
// h0 / c0 for a row's first step.
template <typename T, class Ops>
void gather_previous(const Ops& ops, const SeqBwd<T>& q, const std::vector<int64_t>& off, int64_t r0, int64_t r1) {
  const int64_t H = q.H, P = q.P;
  const bool lstm = q.mode == Mode::lstm;
  const T* c_all = lstm ? q.saved + 4 * q.N * H : nullptr;
  auto from_init = [&](T* dst, const T* init, int64_t row, int64_t n, int64_t cols) {
    if (n <= 0) return;
    if (init) ops.copy(dst, init + row * cols, n * cols);
    else ops.zero(dst, n * cols);
  };
  for (int64_t s = 0; s < q.steps; ++s) {
    const int64_t t = step_at(q, s), hi = end_row(q.batch_sizes[t], r1), o = off[t];
    if (hi <= r0) continue;
    int64_t carried = r0;  // rows [r0, carried) continue the previous step's
    if (s > 0) {
      const int64_t tp = step_at(q, s - 1);
      carried = end_row(q.batch_sizes[tp], hi);
      if (carried > r0) {
        ops.copy(q.hprev + (o + r0) * P, q.out + (off[tp] + r0) * P, (carried - r0) * P);
        if (lstm) ops.copy(q.cprev + (o + r0) * H, c_all + (off[tp] + r0) * H, (carried - r0) * H);
      } else {
        carried = r0;
      }
    }
    from_init(q.hprev + (o + carried) * P, q.h0, carried, hi - carried, P);
    if (lstm) from_init(q.cprev + (o + carried) * H, q.c0, carried, hi - carried, H);
  }
}

// Everything of the backward but the weight gradients (weight_grads, over all rows at once).
template <typename T, class Ops>
void backward_rows(const Ops& ops, const SeqBwd<T>& q, int64_t r0, int64_t r1) {
  const int64_t H = q.H, P = q.P, GH = q.G() * H;
  const bool gru = q.mode == Mode::gru, lstm = q.mode == Mode::lstm;
  init_rows(ops, q.dh0, q.dhn, r0, r1, P);
  if (lstm) init_rows(ops, q.dc0, q.dcn, r0, r1, H);
  const std::vector<int64_t> off = step_offsets(q);
  const int64_t plane = q.N * H;
  const bool shifted = consecutive(q.batch_sizes, q.steps, q.B);
  if (shifted) {
    init_rows(ops, q.hprev, q.h0, r0, r1, P);
    if (lstm) init_rows(ops, q.cprev, q.c0, r0, r1, H);
  } else {
    gather_previous(ops, q, off, r0, r1);
  }
  for (int64_t s = q.steps - 1; s >= 0; --s) {
    const int64_t t = step_at(q, s), o = off[t] + r0, b = end_row(q.batch_sizes[t], r1) - r0;
    if (b <= 0) continue;
    const T *hp = q.hprev + o * P, *cp = lstm ? q.cprev + o * H : nullptr;
    if (shifted) {
      const int64_t po = s > 0 ? off[step_at(q, s - 1)] + r0 : -1;  // the previous step's rows
      hp = po >= 0 ? q.out + po * P : q.hprev + r0 * P;
      if (lstm) cp = po >= 0 ? q.saved + 4 * plane + po * H : q.cprev + r0 * H;
    }
    T* dh = q.dh0 + r0 * P;
    const T *dh_a = q.dy + o * P, *dh_b = dh;
    if (q.proj()) {  // the gradient reaching h~ = (dy + dh) W_hr
      ops.add(q.dH + o * P, q.dy + o * P, dh, b * P);
      ops.gemm(b, H, P, q.dH + o * P, P, 1, q.w_hr, H, 1, T(0), q.dhc + r0 * H, H);
      dh_a = q.dhc + r0 * H;
      dh_b = nullptr;
    }
    StepBwd<T> a{b,    H,    q.saved + o * H, plane,         hp, cp,
                 dh_a, dh_b, lstm ? q.dc0 + r0 * H : nullptr, q.dgx + o * GH, q.dgh + o * GH, dh};
    ops.step_backward(q.mode, a);
    // dh_prev = dgh W_hh (+ dh z, already in dh0, for the GRU)
    ops.gemm(b, P, GH, q.dgh + o * GH, GH, 1, q.w_hh, P, 1, gru ? T(1) : T(0), dh, P);
  }
}

// dW_hh = dgh^T h_prev and dW_hr = dH^T h~, each one GEMM over all steps.
template <typename T, class Ops>
void weight_grads(const Ops& ops, const SeqBwd<T>& q) {
  const int64_t H = q.H, P = q.P, GH = q.G() * H;
  if (consecutive(q.batch_sizes, q.steps, q.B)) {
    // Every step but the first processed against the output rows one step away, the first
    // against h0 (nothing when h0 is zero).
    const int64_t B = q.B, rest = q.N - B;
    const T* g_rest = q.dgh + (q.reverse ? 0 : B) * GH;
    const T* g_first = q.dgh + (q.reverse ? rest : 0) * GH;
    if (rest > 0) ops.gemm(GH, P, rest, g_rest, 1, GH, q.out + (q.reverse ? B : 0) * P, P, 1, T(0), q.dw_hh, P);
    if (q.h0) ops.gemm(GH, P, B, g_first, 1, GH, q.h0, P, 1, rest > 0 ? T(1) : T(0), q.dw_hh, P);
    else if (rest == 0) ops.zero(q.dw_hh, GH * P);
  } else {
    ops.gemm(GH, P, q.N, q.dgh, 1, GH, q.hprev, P, 1, T(0), q.dw_hh, P);
  }
  if (q.proj()) ops.gemm(P, H, q.N, q.dH, 1, P, q.saved + 5 * q.N * H, H, 1, T(0), q.dw_hr, H);
}

}  // namespace rnn
}  // namespace fastnn
