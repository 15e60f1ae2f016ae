// The fused per-step gate kernels on the SIMD layer, compiled once per CPU path: one pass over a
// step's rows turns the two projections into the new state (forward), or the gradient reaching h
// and c into the gate gradients (backward). Formulas and layouts: ops/rnn/rnn.h.
#include <omp.h>

#include "core/simd/simd.h"
#include "core/simd/simd_math.h"
#include "core/threads.h"
#include "ops/rnn/cpu.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace rnn {
namespace {

using simd::Vec;

// Loads and stores of columns [j, j + n) of a row, n at most the vector width (all of it when Full).
template <typename T, bool Full>
struct Cols {
  int64_t j;
  int n;
  FASTNN_SIMD_INLINE Vec<T> ld(const T* p) const { return Full ? simd::load(p + j) : simd::load_n(p + j, n); }
  // a bias that may be absent
  FASTNN_SIMD_INLINE Vec<T> ld_or0(const T* p) const { return p ? ld(p) : simd::zero<T>(); }
  FASTNN_SIMD_INLINE void st(T* p, Vec<T> x) const {
    if (Full) simd::store(p + j, x);
    else simd::store_n(p + j, x, n);
  }
};

template <typename T>
FASTNN_SIMD_INLINE Vec<T> sigmoid(Vec<T> x) {
  const Vec<T> one = simd::set1<T>(T(1));
  return one / (one + simd::exp(simd::zero<T>() - x));
}

template <Mode M, typename T, bool Full>
FASTNN_SIMD_INLINE void fwd_cols(const StepFwd<T>& a, int64_t r, const Cols<T, Full>& cl) {
  const int64_t H = a.H, GH = gate_count(M) * H;
  const T* xg = a.xg + r * GH;
  const T* hg = a.hg + r * GH;
  T* sv = a.saved ? a.saved + r * H : nullptr;
  const Vec<T> one = simd::set1<T>(T(1));
  // pre-activation of gate block k: both projections and both biases
  auto pre = [&](int k) {
    const int64_t o = k * H;
    return (cl.ld(xg + o) + cl.ld_or0(a.b_ih ? a.b_ih + o : nullptr)) +
           (cl.ld(hg + o) + cl.ld_or0(a.b_hh ? a.b_hh + o : nullptr));
  };
  if constexpr (M == Mode::rnn_tanh || M == Mode::rnn_relu) {
    const Vec<T> x = pre(0);
    const Vec<T> h = M == Mode::rnn_tanh ? simd::tanh(x) : simd::max(x, simd::zero<T>());
    cl.st(a.h_out + r * H, h);
    if (sv) cl.st(sv, h);
  } else if constexpr (M == Mode::lstm) {
    const Vec<T> i = sigmoid(pre(0)), f = sigmoid(pre(1)), g = simd::tanh(pre(2)), o = sigmoid(pre(3));
    T* cp = a.c + r * H;
    const Vec<T> c = f * cl.ld(cp) + i * g;
    cl.st(cp, c);
    const Vec<T> h = o * simd::tanh(c);
    cl.st(a.h_out + r * H, h);
    if (sv) {
      cl.st(sv, i);
      cl.st(sv + a.plane, f);
      cl.st(sv + 2 * a.plane, g);
      cl.st(sv + 3 * a.plane, o);
      cl.st(sv + 4 * a.plane, c);
    }
  } else {
    const Vec<T> rg = sigmoid(pre(0)), z = sigmoid(pre(1));
    const Vec<T> hn = cl.ld(hg + 2 * H) + cl.ld_or0(a.b_hh ? a.b_hh + 2 * H : nullptr);
    const Vec<T> n = simd::tanh((cl.ld(xg + 2 * H) + cl.ld_or0(a.b_ih ? a.b_ih + 2 * H : nullptr)) + rg * hn);
    const Vec<T> hp = cl.ld(a.h_prev + r * H);
    cl.st(a.h_out + r * H, (one - z) * n + z * hp);
    if (sv) {
      cl.st(sv, rg);
      cl.st(sv + a.plane, z);
      cl.st(sv + 2 * a.plane, n);
      cl.st(sv + 3 * a.plane, hn);
    }
  }
}

template <Mode M, typename T, bool Full>
FASTNN_SIMD_INLINE void bwd_cols(const StepBwd<T>& a, int64_t r, const Cols<T, Full>& cl) {
  const int64_t H = a.H, GH = gate_count(M) * H;
  const T* sv = a.saved + r * H;
  T* dgx = a.dgx + r * GH;
  const Vec<T> one = simd::set1<T>(T(1));
  Vec<T> dh = cl.ld(a.dh_a + r * H);
  if (a.dh_b) dh = dh + cl.ld(a.dh_b + r * H);
  if constexpr (M == Mode::rnn_tanh || M == Mode::rnn_relu) {
    const Vec<T> h = cl.ld(sv);
    const Vec<T> d = M == Mode::rnn_tanh ? dh * (one - h * h)
                                         : simd::select(simd::cmp_gt(h, simd::zero<T>()), dh, simd::zero<T>());
    cl.st(dgx, d);
  } else if constexpr (M == Mode::lstm) {
    const Vec<T> i = cl.ld(sv), f = cl.ld(sv + a.plane), g = cl.ld(sv + 2 * a.plane), o = cl.ld(sv + 3 * a.plane);
    const Vec<T> tc = simd::tanh(cl.ld(sv + 4 * a.plane));
    T* dcp = a.dc + r * H;
    const Vec<T> dc = cl.ld(dcp) + dh * o * (one - tc * tc);
    cl.st(dcp, dc * f);
    cl.st(dgx, dc * g * i * (one - i));
    cl.st(dgx + H, dc * cl.ld(a.c_prev + r * H) * f * (one - f));
    cl.st(dgx + 2 * H, dc * i * (one - g * g));
    cl.st(dgx + 3 * H, dh * tc * o * (one - o));
  } else {
    const Vec<T> rg = cl.ld(sv), z = cl.ld(sv + a.plane), n = cl.ld(sv + 2 * a.plane), hn = cl.ld(sv + 3 * a.plane);
    const Vec<T> hp = cl.ld(a.h_prev + r * H);
    const Vec<T> dn = dh * (one - z) * (one - n * n);
    const Vec<T> dz = dh * (hp - n) * z * (one - z);
    const Vec<T> dr = dn * hn * rg * (one - rg);
    T* dgh = a.dgh + r * GH;
    cl.st(dgx, dr);
    cl.st(dgx + H, dz);
    cl.st(dgx + 2 * H, dn);
    cl.st(dgh, dr);
    cl.st(dgh + H, dz);
    cl.st(dgh + 2 * H, dn * rg);
    cl.st(a.dh_prev + r * H, dh * z);
  }
}

// Rows [0, b) of a step, each in whole vectors then one masked tail; shared between threads when
// the step is large enough (several transcendental functions per element).
template <class Body>
void over_rows(int64_t b, int64_t H, int64_t cost, const Body& body) {
  auto rows = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) body(r);
  };
  const int threads = threads_for(b * H * cost);
  if (threads == 1 || b < 2) {
    rows(0, b);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int tid = omp_get_thread_num(), nt = omp_get_num_threads();
    rows(b * tid / nt, b * (tid + 1) / nt);
  }
}

template <Mode M, typename T>
void forward_mode(const StepFwd<T>& a) {
  constexpr int W = Vec<T>::W;
  over_rows(a.b, a.H, 4 * gate_count(M), [&](int64_t r) {
    int64_t j = 0;
    for (; j + W <= a.H; j += W) fwd_cols<M>(a, r, Cols<T, true>{j, W});
    if (j < a.H) fwd_cols<M>(a, r, Cols<T, false>{j, (int)(a.H - j)});
  });
}

template <Mode M, typename T>
void backward_mode(const StepBwd<T>& a) {
  constexpr int W = Vec<T>::W;
  over_rows(a.b, a.H, 2 * gate_count(M), [&](int64_t r) {
    int64_t j = 0;
    for (; j + W <= a.H; j += W) bwd_cols<M>(a, r, Cols<T, true>{j, W});
    if (j < a.H) bwd_cols<M>(a, r, Cols<T, false>{j, (int)(a.H - j)});
  });
}

}  // namespace

template <typename T>
void step_forward(Mode m, const StepFwd<T>& a) {
  if (a.b <= 0 || a.H <= 0) return;
  switch (m) {
    case Mode::rnn_tanh: return forward_mode<Mode::rnn_tanh>(a);
    case Mode::rnn_relu: return forward_mode<Mode::rnn_relu>(a);
    case Mode::lstm: return forward_mode<Mode::lstm>(a);
    case Mode::gru: return forward_mode<Mode::gru>(a);
  }
}

template <typename T>
void step_backward(Mode m, const StepBwd<T>& a) {
  if (a.b <= 0 || a.H <= 0) return;
  switch (m) {
    case Mode::rnn_tanh: return backward_mode<Mode::rnn_tanh>(a);
    case Mode::rnn_relu: return backward_mode<Mode::rnn_relu>(a);
    case Mode::lstm: return backward_mode<Mode::lstm>(a);
    case Mode::gru: return backward_mode<Mode::gru>(a);
  }
}

template void step_forward<float>(Mode, const StepFwd<float>&);
template void step_forward<double>(Mode, const StepFwd<double>&);
template void step_backward<float>(Mode, const StepBwd<float>&);
template void step_backward<double>(Mode, const StepBwd<double>&);

}  // namespace rnn
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
