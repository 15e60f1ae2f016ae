// The loops over time of one recurrent layer and direction, written once for both devices: `Ops`
// gives the GEMM, the fused gate kernels and the row copies of the CPU (cpu.cpp) or of CUDA
// (cuda.cu). Per step the forward runs one GEMM (h_prev W_hh^T), one gate kernel (and, for a
// projected LSTM, one more GEMM); the backward one gate kernel and one GEMM (dgh W_hh), and the
// weight gradients are one GEMM each over all steps. Layouts and formulas: rnn.h.
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
  T *hprev, *cprev, *dH, *dhc;  // work: (N, P), (N, H) LSTM, (N, P) and (B, H) with a projection
};

// Row offset of every step, and the step processed at position s.
inline std::vector<int64_t> step_offsets(const Seq& q) {
  std::vector<int64_t> off(q.steps + 1, 0);
  for (int64_t t = 0; t < q.steps; ++t) off[t + 1] = off[t] + q.batch_sizes[t];
  return off;
}
inline int64_t step_at(const Seq& q, int64_t s) { return q.reverse ? q.steps - 1 - s : s; }

// rows [0, b) of a (rows, cols) state from `init` (zeros when null)
template <class Ops, typename T>
void init_rows(const Ops& ops, T* dst, const T* init, int64_t n) {
  if (init) ops.copy(dst, init, n);
  else ops.zero(dst, n);
}

template <typename T, class Ops>
void run_forward(const Ops& ops, const SeqFwd<T>& q) {
  const int64_t H = q.H, P = q.P, GH = q.G() * H;
  init_rows(ops, q.hn, q.h0, q.B * P);
  if (q.mode == Mode::lstm) init_rows(ops, q.cn, q.c0, q.B * H);
  const std::vector<int64_t> off = step_offsets(q);
  const int64_t plane = q.N * H;
  for (int64_t s = 0; s < q.steps; ++s) {
    const int64_t t = step_at(q, s), b = q.batch_sizes[t], o = off[t];
    if (b == 0) continue;
    ops.gemm(b, GH, P, q.hn, P, 1, q.w_hh, 1, P, T(0), q.hg, GH);
    T* h_out = q.out + o * P;
    if (q.proj()) h_out = q.saved ? q.saved + 5 * plane + o * H : q.hc;
    StepFwd<T> a{b, H, q.xg + o * GH, q.hg, q.b_ih, q.b_hh, q.hn, q.cn, h_out, q.saved ? q.saved + o * H : nullptr,
                 plane};
    ops.step_forward(q.mode, a);
    if (q.proj()) ops.gemm(b, P, H, h_out, H, 1, q.w_hr, 1, H, T(0), q.out + o * P, P);
    ops.copy(q.hn, q.out + o * P, b * P);
  }
}

// h_prev (and c_prev) of every row of every step, gathered once: the previous step's rows, or
// h0 / c0 for a row's first step.
template <typename T, class Ops>
void gather_previous(const Ops& ops, const SeqBwd<T>& q, const std::vector<int64_t>& off) {
  const int64_t H = q.H, P = q.P;
  const T* c_all = q.mode == Mode::lstm ? q.saved + 4 * q.N * H : nullptr;
  for (int64_t s = 0; s < q.steps; ++s) {
    const int64_t t = step_at(q, s), b = q.batch_sizes[t], o = off[t];
    int64_t carried = 0;
    if (s > 0) {
      const int64_t tp = step_at(q, s - 1), bp = q.batch_sizes[tp];
      carried = b < bp ? b : bp;
      ops.copy(q.hprev + o * P, q.out + off[tp] * P, carried * P);
      if (q.mode == Mode::lstm) ops.copy(q.cprev + o * H, c_all + off[tp] * H, carried * H);
    }
    if (b > carried) {
      if (q.h0) ops.copy(q.hprev + (o + carried) * P, q.h0 + carried * P, (b - carried) * P);
      else ops.zero(q.hprev + (o + carried) * P, (b - carried) * P);
      if (q.mode == Mode::lstm) {
        if (q.c0) ops.copy(q.cprev + (o + carried) * H, q.c0 + carried * H, (b - carried) * H);
        else ops.zero(q.cprev + (o + carried) * H, (b - carried) * H);
      }
    }
  }
}

template <typename T, class Ops>
void run_backward(const Ops& ops, const SeqBwd<T>& q) {
  const int64_t H = q.H, P = q.P, GH = q.G() * H;
  const bool gru = q.mode == Mode::gru, lstm = q.mode == Mode::lstm;
  init_rows(ops, q.dh0, q.dhn, q.B * P);
  if (lstm) init_rows(ops, q.dc0, q.dcn, q.B * H);
  const std::vector<int64_t> off = step_offsets(q);
  gather_previous(ops, q, off);
  const int64_t plane = q.N * H;
  for (int64_t s = q.steps - 1; s >= 0; --s) {
    const int64_t t = step_at(q, s), b = q.batch_sizes[t], o = off[t];
    if (b == 0) continue;
    const T *dh_a = q.dy + o * P, *dh_b = q.dh0;
    if (q.proj()) {  // the gradient reaching h~ = (dy + dh) W_hr
      ops.add(q.dH + o * P, q.dy + o * P, q.dh0, b * P);
      ops.gemm(b, H, P, q.dH + o * P, P, 1, q.w_hr, H, 1, T(0), q.dhc, H);
      dh_a = q.dhc;
      dh_b = nullptr;
    }
    StepBwd<T> a{b,        H,    q.saved + o * H, plane,        q.hprev + o * P, q.cprev ? q.cprev + o * H : nullptr,
                 dh_a,     dh_b, q.dc0,           q.dgx + o * GH, q.dgh + o * GH, q.dh0};
    ops.step_backward(q.mode, a);
    // dh_prev = dgh W_hh (+ dh z, already in dh0, for the GRU)
    ops.gemm(b, P, GH, q.dgh + o * GH, GH, 1, q.w_hh, P, 1, gru ? T(1) : T(0), q.dh0, P);
  }
  ops.gemm(GH, P, q.N, q.dgh, 1, GH, q.hprev, P, 1, T(0), q.dw_hh, P);
  if (q.proj()) ops.gemm(P, H, q.N, q.dH, 1, P, q.saved + 5 * plane, H, 1, T(0), q.dw_hr, H);
}

}  // namespace rnn
}  // namespace fastnn
