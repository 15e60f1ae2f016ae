// The SIMD layer's operations over whole arrays, compiled once per CPU path (see simd_check.h).
#include "core/simd/simd_gather.h"
#include "core/simd/simd_math.h"
#include "core/simd/simd_transpose.h"
#include "core/simd_check.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace {

using simd::Vec;
using simd_check::Args;
using simd_check::DT;
using simd_check::Op;

inline int lanes_left(int64_t n, int64_t i, int w) { return n - i < w ? int(n - i) : w; }

// out[i] = f(a[i], b[i], c[i]) one vector at a time; the tail through load_n / store_n.
template <typename T, typename U, typename F>
void map(const Args& g, F f) {
  constexpr int W = Vec<T>::W;
  static_assert(Vec<U>::W == W, "map needs as many lanes in and out");
  const T* a = static_cast<const T*>(g.a);
  const T* b = g.b ? static_cast<const T*>(g.b) : a;
  const T* c = g.c ? static_cast<const T*>(g.c) : a;
  U* out = static_cast<U*>(g.out);
  for (int64_t i = 0; i < g.n; i += W) {
    const int k = lanes_left(g.n, i, W);
    if (k == W) {
      simd::store(out + i, f(simd::load(a + i), simd::load(b + i), simd::load(c + i)));
    } else {
      simd::store_n(out + i, f(simd::load_n(a + i, k), simd::load_n(b + i, k), simd::load_n(c + i, k)), k);
    }
  }
}

// out[j] = f(vector j of a, vector j of b) for the full vectors.
template <typename T, typename F>
void per_vector(const Args& g, F f) {
  constexpr int W = Vec<T>::W;
  const T* a = static_cast<const T*>(g.a);
  const T* b = g.b ? static_cast<const T*>(g.b) : a;
  T* out = static_cast<T*>(g.out);
  for (int64_t j = 0; (j + 1) * W <= g.n; ++j) out[j] = f(simd::load(a + j * W), simd::load(b + j * W));
}

template <typename T>
bool run_float(const Args& g) {
  using V = Vec<T>;
  using simd::Mask;
  auto where = [&g](auto cmp) { map<T, T>(g, [cmp](V a, V b, V) { return simd::select(cmp(a, b), a, b); }); };
  switch (g.op) {
    case Op::exp_: map<T, T>(g, [](V a, V, V) { return simd::exp(a); }); return true;
    case Op::log_: map<T, T>(g, [](V a, V, V) { return simd::log(a); }); return true;
    case Op::tanh_: map<T, T>(g, [](V a, V, V) { return simd::tanh(a); }); return true;
    case Op::sin_: map<T, T>(g, [](V a, V, V) { return simd::sin(a); }); return true;
    case Op::cos_: map<T, T>(g, [](V a, V, V) { return simd::cos(a); }); return true;
    case Op::sqrt_: map<T, T>(g, [](V a, V, V) { return simd::sqrt(a); }); return true;
    case Op::abs_: map<T, T>(g, [](V a, V, V) { return simd::abs(a); }); return true;
    case Op::neg_: map<T, T>(g, [](V a, V, V) { return -a; }); return true;
    case Op::round_: map<T, T>(g, [](V a, V, V) { return simd::round_nearest(a); }); return true;
    case Op::add_: map<T, T>(g, [](V a, V b, V) { return a + b; }); return true;
    case Op::sub_: map<T, T>(g, [](V a, V b, V) { return a - b; }); return true;
    case Op::mul_: map<T, T>(g, [](V a, V b, V) { return a * b; }); return true;
    case Op::div_: map<T, T>(g, [](V a, V b, V) { return a / b; }); return true;
    case Op::max_: map<T, T>(g, [](V a, V b, V) { return simd::max(a, b); }); return true;
    case Op::min_: map<T, T>(g, [](V a, V b, V) { return simd::min(a, b); }); return true;
    case Op::fma_: map<T, T>(g, [](V a, V b, V c) { return simd::fma(a, b, c); }); return true;
    case Op::where_lt_: where([](V a, V b) { return simd::cmp_lt(a, b); }); return true;
    case Op::where_le_: where([](V a, V b) { return simd::cmp_le(a, b); }); return true;
    case Op::where_gt_: where([](V a, V b) { return simd::cmp_gt(a, b); }); return true;
    case Op::where_ge_: where([](V a, V b) { return simd::cmp_ge(a, b); }); return true;
    case Op::where_eq_: where([](V a, V b) { return simd::cmp_eq(a, b); }); return true;
    case Op::where_ne_: where([](V a, V b) { return simd::cmp_ne(a, b); }); return true;
    case Op::where_unord_: where([](V a, V b) { return simd::cmp_unord(a, b); }); return true;
    case Op::reduce_add_: per_vector<T>(g, [](V a, V) { return simd::reduce_add(a); }); return true;
    case Op::reduce_max_: per_vector<T>(g, [](V a, V) { return simd::reduce_max(a); }); return true;
    case Op::reduce_min_: per_vector<T>(g, [](V a, V) { return simd::reduce_min(a); }); return true;
    case Op::transpose_: {
      // Each full W x W block of a, transposed.
      constexpr int W = V::W;
      const T* a = static_cast<const T*>(g.a);
      T* out = static_cast<T*>(g.out);
      for (int64_t b = 0; (b + 1) * W * W <= g.n; ++b) {
        V r[W];
        for (int i = 0; i < W; ++i) r[i] = simd::load(a + (b * W + i) * W);
        simd::transpose(r);
        for (int i = 0; i < W; ++i) simd::store(out + (b * W + i) * W, r[i]);
      }
      return true;
    }
    case Op::any_lt_: per_vector<T>(g, [](V a, V b) { return T(simd::any(simd::cmp_lt(a, b))); }); return true;
    case Op::all_lt_: per_vector<T>(g, [](V a, V b) { return T(simd::all(simd::cmp_lt(a, b))); }); return true;
    default: return false;
  }
}

template <typename I>
bool run_int(const Args& g) {
  using V = Vec<I>;
  auto flag = [](auto m) { return simd::select(m, simd::set1<I>(I(-1)), simd::zero<I>()); };
  const int s = g.arg;
  switch (g.op) {
    case Op::add_: map<I, I>(g, [](V a, V b, V) { return a + b; }); return true;
    case Op::sub_: map<I, I>(g, [](V a, V b, V) { return a - b; }); return true;
    case Op::and_: map<I, I>(g, [](V a, V b, V) { return a & b; }); return true;
    case Op::or_: map<I, I>(g, [](V a, V b, V) { return a | b; }); return true;
    case Op::xor_: map<I, I>(g, [](V a, V b, V) { return a ^ b; }); return true;
    case Op::andnot_: map<I, I>(g, [](V a, V b, V) { return simd::andnot(a, b); }); return true;
    case Op::shl_: map<I, I>(g, [s](V a, V, V) { return simd::shl(a, s); }); return true;
    case Op::shr_: map<I, I>(g, [s](V a, V, V) { return simd::shr(a, s); }); return true;
    case Op::sar_: map<I, I>(g, [s](V a, V, V) { return simd::sar(a, s); }); return true;
    case Op::cmp_eq_: map<I, I>(g, [flag](V a, V b, V) { return flag(simd::cmp_eq(a, b)); }); return true;
    case Op::cmp_gt_: map<I, I>(g, [flag](V a, V b, V) { return flag(simd::cmp_gt(a, b)); }); return true;
    case Op::cmp_lt_: map<I, I>(g, [flag](V a, V b, V) { return flag(simd::cmp_lt(a, b)); }); return true;
    case Op::select_gt_: map<I, I>(g, [](V a, V b, V) { return simd::select(simd::cmp_gt(a, b), a, b); }); return true;
    case Op::any_lt_: per_vector<I>(g, [](V a, V b) { return I(simd::any(simd::cmp_lt(a, b))); }); return true;
    case Op::all_lt_: per_vector<I>(g, [](V a, V b) { return I(simd::all(simd::cmp_lt(a, b))); }); return true;
    default: break;
  }
  if constexpr (sizeof(I) == 4) {
    switch (g.op) {
      case Op::mullo_: map<I, I>(g, [](V a, V b, V) { return simd::mullo(a, b); }); return true;
      case Op::mulhi_: map<I, I>(g, [](V a, V b, V) { return simd::mulhi(a, b); }); return true;
      case Op::min_: map<I, I>(g, [](V a, V b, V) { return simd::min(a, b); }); return true;
      case Op::max_: map<I, I>(g, [](V a, V b, V) { return simd::max(a, b); }); return true;
      default: break;
    }
  }
  return false;
}

// float <-> double: one float vector holds two double vectors.
void widen(const Args& g) {
  constexpr int W = Vec<float>::W, H = Vec<double>::W;
  const float* a = static_cast<const float*>(g.a);
  double* out = static_cast<double*>(g.out);
  for (int64_t i = 0; i < g.n; i += W) {
    const int k = lanes_left(g.n, i, W);
    const Vec<float> v = simd::load_n(a + i, k);
    simd::store_n(out + i, simd::widen_lo(v), k < H ? k : H);
    if (k > H) simd::store_n(out + i + H, simd::widen_hi(v), k - H);
  }
}
void narrow(const Args& g) {
  constexpr int W = Vec<float>::W, H = Vec<double>::W;
  const double* a = static_cast<const double*>(g.a);
  float* out = static_cast<float*>(g.out);
  for (int64_t i = 0; i < g.n; i += W) {
    const int k = lanes_left(g.n, i, W);
    const Vec<double> lo = simd::load_n(a + i, k < H ? k : H);
    const Vec<double> hi = k > H ? simd::load_n(a + i + H, k - H) : simd::zero<double>();
    simd::store_n(out + i, simd::narrow(lo, hi), k);
  }
}

template <typename T, typename I>
bool gather(const Args& g, bool vec_form) {
  constexpr int W = Vec<T>::W;
  const T* base = static_cast<const T*>(g.a);
  const I* idx = static_cast<const I*>(g.b);
  T* out = static_cast<T*>(g.out);
  if (vec_form) {
    if constexpr (Vec<I>::W == W) {
      // Masked-off index lanes load as 0, a valid element.
      for (int64_t i = 0; i < g.n; i += W) {
        const int k = lanes_left(g.n, i, W);
        simd::store_n(out + i, simd::gather(base, simd::load_n(idx + i, k)), k);
      }
      return true;
    }
    return false;
  }
  for (int64_t i = 0; i < g.n; i += W) {
    const int k = lanes_left(g.n, i, W);
    if (k == W) simd::store(out + i, simd::gather(base, idx + i));
    else simd::store_n(out + i, simd::gather_n(base, idx + i, k), k);
  }
  return true;
}

}  // namespace

int simd_check_lanes(int elem_bytes) { return simd::kVectorBytes / elem_bytes; }

bool simd_check_run(const Args& g) {
  using V32 = Vec<int32_t>;
  using V64 = Vec<int64_t>;
  switch (g.op) {
    case Op::widen_: if (g.dt != DT::f32) return false; widen(g); return true;
    case Op::narrow_: if (g.dt != DT::f64) return false; narrow(g); return true;
    case Op::to_float_:
      if (g.dt != DT::i32) return false;
      map<int32_t, float>(g, [](V32 a, V32, V32) { return simd::to_float(a); });
      return true;
    case Op::round_to_int_:
      if (g.dt != DT::f32) return false;
      map<float, int32_t>(g, [](Vec<float> a, Vec<float>, Vec<float>) { return simd::round_to_int(a); });
      return true;
    case Op::trunc_to_int_:
      if (g.dt != DT::f32) return false;
      map<float, int32_t>(g, [](Vec<float> a, Vec<float>, Vec<float>) { return simd::trunc_to_int(a); });
      return true;
    case Op::as_bits_:
      if (g.dt == DT::f32) map<float, int32_t>(g, [](Vec<float> a, Vec<float>, Vec<float>) { return simd::as_bits(a); });
      else if (g.dt == DT::f64) map<double, int64_t>(g, [](Vec<double> a, Vec<double>, Vec<double>) { return simd::as_bits(a); });
      else return false;
      return true;
    case Op::from_bits_:
      if (g.dt == DT::i32) map<int32_t, float>(g, [](V32 a, V32, V32) { return simd::from_bits(a); });
      else if (g.dt == DT::i64) map<int64_t, double>(g, [](V64 a, V64, V64) { return simd::from_bits(a); });
      else return false;
      return true;
    case Op::gather_:
    case Op::gather_vec_: {
      const bool vec = g.op == Op::gather_vec_;
      if (g.dt == DT::f32 && g.dt_b == DT::i32) return gather<float, int32_t>(g, vec);
      if (g.dt == DT::f64 && g.dt_b == DT::i32) return gather<double, int32_t>(g, vec);
      if (g.dt == DT::f64 && g.dt_b == DT::i64) return gather<double, int64_t>(g, vec);
      return false;
    }
    default: break;
  }
  switch (g.dt) {
    case DT::f32: return run_float<float>(g);
    case DT::f64: return run_float<double>(g);
    case DT::i32: return run_int<int32_t>(g);
    case DT::i64: return run_int<int64_t>(g);
  }
  return false;
}

}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
