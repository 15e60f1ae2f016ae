// The activation kernels on the CPU, on the SIMD layer, compiled once per CPU path (contract: activation.h).
// relu / leaky_relu: each element is a comparison, a select and at most one product, bitwise equal to ref.cpp
// on every path. sigmoid / silu: the layer's vector exp, within a few ulp of ref.cpp.
#include "core/simd/simd.h"
#include "core/simd/simd_math.h"
#include "core/threads.h"
#include "ops/activation/cpu.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace activation {
namespace {

using simd::Vec;
using ::fastnn::activation::kLeakyRelu;
using ::fastnn::activation::kRelu;
using ::fastnn::activation::kSilu;

// Elements per parallel chunk: a multiple of every vector width, large enough to amortise the scheduling.
constexpr int64_t kChunk = 8192;

// Runs op(i, count) (count <= the vector width; Full: count is the width) over [0, n), whole vectors then one
// masked tail, in chunks shared between threads.
template <typename T, class Op>
void run_chunks(int64_t n, const Op& op) {
  constexpr int W = Vec<T>::W;
  auto range = [&](int64_t begin, int64_t end) {
    int64_t i = begin;
    for (; i + W <= end; i += W) op.template step<true>(i, W);
    if (i < end) op.template step<false>(i, (int)(end - i));
  };
  const int threads = threads_for(n);
  if (threads == 1) {
    range(0, n);
    return;
  }
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t c = 0; c < chunks; ++c) range(c * kChunk, (c + 1) * kChunk < n ? (c + 1) * kChunk : n);
}

template <typename T, bool Full>
FASTNN_SIMD_INLINE Vec<T> load(const T* p, int count) {
  return Full ? simd::load(p) : simd::load_n(p, count);
}

template <typename T, bool Full>
FASTNN_SIMD_INLINE void store(T* p, Vec<T> v, int count) {
  if (Full) simd::store(p, v);
  else simd::store_n(p, v, count);
}

template <typename T>
struct Forward {
  Kind kind;
  const T* x;
  T* y;
  Vec<T> slope, zero;

  template <bool Full>
  FASTNN_SIMD_INLINE void step(int64_t i, int count) const {
    const Vec<T> v = load<T, Full>(x + i, count);
    Vec<T> r;
    if (kind == kRelu || kind == kLeakyRelu) {
      const auto pos = simd::cmp_gt(v, zero);
      // relu keeps a NaN (is_nan); leaky relu's NaN * slope is NaN already
      r = kind == kRelu ? simd::select(pos | simd::is_nan(v), v, zero) : simd::select(pos, v, v * slope);
    } else {
      r = kind == kSilu ? simd::silu(v) : simd::set1<T>(T(1)) / simd::one_plus_exp_neg(v);
    }
    store<T, Full>(y + i, r, count);
  }
};

template <typename T>
struct Backward {
  Kind kind;
  const T* dy;
  const T* x;
  T* dx;
  Vec<T> slope, zero;

  template <bool Full>
  FASTNN_SIMD_INLINE void step(int64_t i, int count) const {
    const Vec<T> g = load<T, Full>(dy + i, count);
    const Vec<T> v = load<T, Full>(x + i, count);
    Vec<T> r;
    if (kind == kRelu || kind == kLeakyRelu) {
      r = simd::select(simd::cmp_gt(v, zero), g, kind == kRelu ? zero : g * slope);
    } else {
      if (kind == kSilu) {
        r = simd::silu_grad(g, v);
      } else {
        const Vec<T> s = simd::set1<T>(T(1)) / simd::one_plus_exp_neg(v);
        r = g * s * (simd::set1<T>(T(1)) - s);
      }
    }
    store<T, Full>(dx + i, r, count);
  }
};

}  // namespace

template <typename T>
void forward(Kind kind, int64_t n, const T* x, T slope, T* y) {
  if (n <= 0) return;
  run_chunks<T>(n, Forward<T>{kind, x, y, simd::set1<T>(slope), simd::set1<T>(T(0))});
}

template <typename T>
void backward(Kind kind, int64_t n, const T* dy, const T* x, T slope, T* dx) {
  if (n <= 0) return;
  run_chunks<T>(n, Backward<T>{kind, dy, x, dx, simd::set1<T>(slope), simd::set1<T>(T(0))});
}

template void forward<float>(Kind, int64_t, const float*, float, float*);
template void forward<double>(Kind, int64_t, const double*, double, double*);
template void backward<float>(Kind, int64_t, const float*, const float*, float, float*);
template void backward<double>(Kind, int64_t, const double*, const double*, double, double*);

}  // namespace activation
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
