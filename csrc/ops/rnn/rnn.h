// The recurrent family's contract, shared by the CPU kernels (cell_simd.cpp, cpu.cpp) and the CUDA
// ones (cuda.cu): one layer and direction of an Elman RNN (tanh or ReLU), an LSTM (optionally with
// a projection) or a GRU over a whole sequence, forward and backward, in PyTorch's gate order and
// formulas.
//
// Sequences are packed, time-major: step t holds rows [off_t, off_t + b_t) of every per-row array,
// b_t (batch_sizes) non-increasing, off_t the sum of the earlier steps' sizes. A padded (T, B)
// batch is the packed case with every b_t = B. Row r of step t continues row r of the step before
// it in processing order (t - 1, or t + 1 in the reverse direction); a row absent there starts
// from h0 / c0. Everything is contiguous, row-major.
//
// Per step, with xg = x W_ih^T (all steps at once, one GEMM, by the caller) and hg = h_prev W_hh^T
// (one GEMM per step, inside the loop), G gate blocks of H columns each:
//   RNN:   h = act(xg + b_ih + hg + b_hh)                                  act = tanh or relu
//   LSTM:  i, f, g, o = sig, sig, tanh, sig (xg + b_ih + hg + b_hh);  c = f c_prev + i g;
//          h~ = o tanh(c);  h = h~ W_hr^T with a projection (P < H columns), else h = h~
//   GRU:   r, z = sig(xg + b_ih + hg + b_hh) (first two blocks);  hn = hg_n + b_hn;
//          n = tanh(xg_n + b_in + r hn);  h = (1 - z) n + z h_prev
//
// What backward needs is kept in `saved`, planes of (rows, H): RNN h; LSTM i, f, g, o, c and, with
// a projection, h~; GRU r, z, n, hn. Backward returns the gradients of the gate pre-activations:
// dgx with respect to xg (so dx = dgx W_ih, dW_ih = dgx^T x, db_ih = sum dgx, by the caller) and
// dgh with respect to hg (the same as dgx except in the GRU's n block, where it is dn_pre * r),
// and computes dW_hh = dgh^T h_prev and dW_hr over all steps with one GEMM each.
#pragma once
#include <cstdint>

namespace fastnn {
namespace rnn {

enum class Mode : int { rnn_tanh = 0, rnn_relu = 1, lstm = 2, gru = 3 };

inline int gate_count(Mode m) { return m == Mode::lstm ? 4 : m == Mode::gru ? 3 : 1; }

// Planes of (rows, H) in `saved` (the LSTM's sixth, h~, only with a projection).
inline int saved_planes(Mode m, bool proj) {
  return m == Mode::lstm ? (proj ? 6 : 5) : m == Mode::gru ? 4 : 1;
}

// The per-step gate kernels' arguments (rows [0, b) of one step; pointers already at the step).
template <typename T>
struct StepFwd {
  int64_t b, H;
  const T* xg;      // (b, G H)
  const T* hg;      // (b, G H)
  const T* b_ih;    // (G H) or null
  const T* b_hh;    // (G H) or null
  const T* h_prev;  // (b, H): GRU only
  T* c;             // (b, H): LSTM only, c_prev in, c out
  T* h_out;         // (b, H): the new h (h~ for a projected LSTM)
  T* saved;         // plane 0 at this step's rows, or null (inference)
  int64_t plane;    // elements between planes
};

template <typename T>
struct StepBwd {
  int64_t b, H;
  const T* saved;   // as in StepFwd
  int64_t plane;
  const T* h_prev;  // (b, H): GRU only
  const T* c_prev;  // (b, H): LSTM only
  const T* dh_a;    // (b, H): the gradient reaching h (h~ with a projection) ...
  const T* dh_b;    // ... plus this one when not null
  T* dc;            // (b, H): LSTM only, dc in, dc_prev out
  T* dgx;           // (b, G H)
  T* dgh;           // (b, G H): GRU only (else dgh is dgx)
  T* dh_prev;       // (b, H): GRU only, gets dh z (the direct path; the caller adds dgh W_hh)
};

}  // namespace rnn
}  // namespace fastnn
