// The fused Adam/AdamW and SGD steps on the CPU, on the SIMD layer, compiled once per CPU path.
// Every operation is a separate correctly rounded one (optim.h): the wide paths are built with
// -mfma, so contraction of a multiply and an add into an FMA is switched off for this file.
#pragma GCC optimize("fp-contract=off")

#include "core/simd/simd.h"
#include "core/threads.h"
#include "ops/optim/cpu.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace optim {
namespace {

using simd::Vec;

// Elements per parallel chunk: a multiple of every vector width, large enough to amortise the
// scheduling, small enough to share the work of a mid-sized parameter between threads.
constexpr long long kChunk = 4096;

// -x, exactly (the SIMD layer's unary minus is 0 - x, which loses the sign of a zero).
template <typename T>
FASTNN_SIMD_INLINE Vec<T> negate(Vec<T> x) {
  return x * simd::set1<T>(T(-1));
}

// numpy.maximum: a NaN in either operand is the result (x86's max returns its second operand then).
template <typename T>
FASTNN_SIMD_INLINE Vec<T> maximum(Vec<T> a, Vec<T> b) {
  return simd::select(simd::is_nan(b), b, simd::max(b, a));
}

template <typename T>
struct Adam {
  AdamScalars<T> s;
  Vec<T> l2, decay, w, one_minus_w, beta2, one_minus_beta2, bc2_sqrt, eps, step_size;

  explicit Adam(const AdamScalars<T>& sc)
      : s(sc), l2(simd::set1<T>(sc.l2)), decay(simd::set1<T>(sc.decay)), w(simd::set1<T>(sc.w)),
        one_minus_w(simd::set1<T>(sc.one_minus_w)), beta2(simd::set1<T>(sc.beta2)),
        one_minus_beta2(simd::set1<T>(sc.one_minus_beta2)), bc2_sqrt(simd::set1<T>(sc.bias_correction2_sqrt)),
        eps(simd::set1<T>(sc.eps)), step_size(simd::set1<T>(sc.step_size)) {}

  // Elements [i, i + count) with count <= the vector width (all of it when Full).
  template <bool Full>
  FASTNN_SIMD_INLINE void step(long long i, int count, T* p, const T* g, T* m, T* v, T* vmax) const {
    auto load = [&](const T* a) { return Full ? simd::load(a + i) : simd::load_n(a + i, count); };
    auto store = [&](T* a, Vec<T> x) {
      if (Full) simd::store(a + i, x);
      else simd::store_n(a + i, x, count);
    };
    Vec<T> pi = load(p), gi = load(g), mi = load(m), vi = load(v);
    if (s.maximize) gi = negate(gi);
    if (s.l2 != T(0)) gi = gi + l2 * pi;
    if (s.decay != T(1)) pi = pi * decay;
    mi = s.lerp_low ? mi + (gi - mi) * w : gi + (mi - gi) * one_minus_w;
    vi = vi * beta2 + (gi * gi) * one_minus_beta2;
    Vec<T> top = vi;
    if (s.amsgrad) {
      top = maximum(load(vmax), vi);
      store(vmax, top);
    }
    const Vec<T> denom = simd::sqrt(top) / bc2_sqrt + eps;
    store(p, pi - (mi / denom) * step_size);
    store(m, mi);
    store(v, vi);
  }
};

template <typename T>
struct Sgd {
  SgdScalars<T> s;
  Vec<T> l2, momentum, one_minus_dampening, lr;

  explicit Sgd(const SgdScalars<T>& sc)
      : s(sc), l2(simd::set1<T>(sc.l2)), momentum(simd::set1<T>(sc.momentum)),
        one_minus_dampening(simd::set1<T>(sc.one_minus_dampening)), lr(simd::set1<T>(sc.lr)) {}

  template <bool Full>
  FASTNN_SIMD_INLINE void step(long long i, int count, T* p, const T* g, T* buf) const {
    auto load = [&](const T* a) { return Full ? simd::load(a + i) : simd::load_n(a + i, count); };
    auto store = [&](T* a, Vec<T> x) {
      if (Full) simd::store(a + i, x);
      else simd::store_n(a + i, x, count);
    };
    const Vec<T> pi = load(p);
    Vec<T> d = load(g);
    if (s.maximize) d = negate(d);
    if (s.l2 != T(0)) d = d + l2 * pi;
    if (s.momentum != T(0)) {
      Vec<T> b = d;
      if (!s.first) {
        b = load(buf) * momentum;
        b = s.dampened ? b + one_minus_dampening * d : b + d;
      }
      store(buf, b);
      d = s.nesterov ? d + momentum * b : b;
    }
    store(p, pi - lr * d);
  }
};

// Runs op.step over [0, n) in chunks shared between threads, whole vectors then one masked tail.
template <typename T, class Op, class... Arrays>
void run_chunks(long long n, int64_t cost, const Op& op, Arrays... arrays) {
  constexpr int W = Vec<T>::W;
  auto range = [&](long long begin, long long end) {
    long long i = begin;
    for (; i + W <= end; i += W) op.template step<true>(i, W, arrays...);
    if (i < end) op.template step<false>(i, (int)(end - i), arrays...);
  };
  const int threads = threads_for(n * cost);
  if (threads == 1) {  // most parameters (biases, small layers): no parallel region to open
    range(0, n);
    return;
  }
  const long long chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (long long c = 0; c < chunks; ++c) range(c * kChunk, (c + 1) * kChunk < n ? (c + 1) * kChunk : n);
}

}  // namespace

template <typename T>
void adam_step(long long n, T* p, const T* g, T* m, T* v, T* vmax, const AdamScalars<T>& s) {
  if (n <= 0) return;
  run_chunks<T>(n, 8, Adam<T>(s), p, g, m, v, vmax);
}

template <typename T>
void sgd_step(long long n, T* p, const T* g, T* buf, const SgdScalars<T>& s) {
  if (n <= 0) return;
  run_chunks<T>(n, 4, Sgd<T>(s), p, g, buf);
}

template void adam_step<float>(long long, float*, const float*, float*, float*, float*, const AdamScalars<float>&);
template void adam_step<double>(long long, double*, const double*, double*, double*, double*,
                                const AdamScalars<double>&);
template void sgd_step<float>(long long, float*, const float*, float*, const SgdScalars<float>&);
template void sgd_step<double>(long long, double*, const double*, double*, const SgdScalars<double>&);

}  // namespace optim
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
