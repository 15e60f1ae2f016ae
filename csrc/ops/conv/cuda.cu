// Implicit-GEMM convolutions: the tiled GEMM kernels of gemm_core.cuh with accessors that gather
// the im2col matrix on the fly, so the unfolded matrix is never written to memory.
//
// For group g (the GEMM batch index z; the weight gradient also splits K over z):
//   forward : y[n, g*Kg+co, oh, ow]   = sum_{ci,kh,kw} w[g*Kg+co, ci, kh, kw] * x[n, g*Cg+ci, ih, iw]
//             M = Kg, N = batch*OH*OW, K = Cg*KH*KW
//   dgrad   : dx[n, g*Cg+ci, ih, iw]  = sum_{co,kh,kw} w[g*Kg+co, ci, kh, kw] * dy[n, g*Kg+co, oh, ow]
//             M = Cg, N = batch*H*W,   K = Kg*KH*KW   (oh = (ih + ph - kh*dh) / sh when exact)
//   wgrad   : dw[g*Kg+co, ci, kh, kw] = sum_{n,oh,ow} dy[n, g*Kg+co, oh, ow] * x[n, g*Cg+ci, ih, iw]
//             M = Kg, N = Cg*KH*KW,    K = batch*OH*OW
// with ih = oh*sh - ph + kh*dh, iw = ow*sw - pw + kw*dw. Index decompositions use 32-bit
// arithmetic; the binding rejects shapes whose GEMM extents do not fit.
#include "ops/conv/cuda.h"
#include "core/cuda_device.h"
#include "ops/gemm/cuda.h"
#include "ops/gemm/core.cuh"

namespace fastnn::cuda {
namespace {
using namespace gemm_detail;

struct Geom32 {
  int N, C, H, W, K, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, G, Cg, Kg;
};

Geom32 to32(const ConvGeom& g) {
  Geom32 r;
  r.N = (int)g.N, r.C = (int)g.C, r.H = (int)g.H, r.W = (int)g.W, r.K = (int)g.K, r.OH = (int)g.OH, r.OW = (int)g.OW;
  r.KH = (int)g.KH, r.KW = (int)g.KW, r.sh = (int)g.sh, r.sw = (int)g.sw, r.ph = (int)g.ph, r.pw = (int)g.pw;
  r.dh = (int)g.dh, r.dw = (int)g.dw, r.G = (int)g.G, r.Cg = (int)(g.C / g.G), r.Kg = (int)(g.K / g.G);
  return r;
}

// ---------------------------------------------------------------- forward
// A(z=g, m=co, k=(ci,kh,kw)) = w[g*Kg+co, ci, kh, kw]
template <typename T>
struct WeightByOutChannel {
  static constexpr bool kVectorizable = false;
  Arr4<const T> w;
  Geom32 g;
  __device__ __forceinline__ T get(long long z, long long m, long long k) const {
    const int kk = (int)k, khw = g.KH * g.KW;
    const int ci = kk / khw, r = kk - ci * khw, kh = r / g.KW, kw = r - kh * g.KW;
    return w.p[(z * g.Kg + m) * w.s0 + ci * w.s1 + kh * w.s2 + kw * w.s3];
  }
};

// B(z=g, n=(b,oh,ow), k=(ci,kh,kw)) = x[b, g*Cg+ci, oh*sh-ph+kh*dh, ow*sw-pw+kw*dw] or 0 outside.
template <typename T>
struct Im2colX {
  static constexpr bool kVectorizable = false;
  Arr4<const T> x;
  Geom32 g;
  __device__ __forceinline__ T get(long long z, long long n, long long k) const {
    const int nn = (int)n, ohw = g.OH * g.OW;
    const int b = nn / ohw, r = nn - b * ohw, oh = r / g.OW, ow = r - oh * g.OW;
    const int kk = (int)k, khw = g.KH * g.KW;
    const int ci = kk / khw, q = kk - ci * khw, kh = q / g.KW, kw = q - kh * g.KW;
    const int ih = oh * g.sh - g.ph + kh * g.dh, iw = ow * g.sw - g.pw + kw * g.dw;
    if ((unsigned)ih >= (unsigned)g.H || (unsigned)iw >= (unsigned)g.W) return T(0);
    return x.p[b * x.s0 + (z * g.Cg + ci) * x.s1 + ih * x.s2 + iw * x.s3];
  }
};

// C(z=g, m=channel within group, n=(b,h,w)) for an output of spatial size (OH, OW) and
// CG channels per group, plus an optional bias per channel.
template <typename T>
struct ImageOut {
  Arr4<T> y;
  const T* bias;
  long long bias_stride;
  int CG, OH, OW;
  __device__ __forceinline__ void store(long long z, long long m, long long n, T v, T alpha, T) const {
    const int nn = (int)n, ohw = OH * OW;
    const int b = nn / ohw, r = nn - b * ohw, oh = r / OW, ow = r - oh * OW;
    const long long c = z * CG + m;
    T out = alpha * v;
    if (bias) out += bias[c * bias_stride];
    y.p[b * y.s0 + c * y.s1 + oh * y.s2 + ow * y.s3] = out;
  }
};

// ---------------------------------------------------------------- dgrad
// A(z=g, m=ci, k=(co,kh,kw)) = w[g*Kg+co, ci, kh, kw]
template <typename T>
struct WeightByInChannel {
  static constexpr bool kVectorizable = false;
  Arr4<const T> w;
  Geom32 g;
  __device__ __forceinline__ T get(long long z, long long m, long long k) const {
    const int kk = (int)k, khw = g.KH * g.KW;
    const int co = kk / khw, r = kk - co * khw, kh = r / g.KW, kw = r - kh * g.KW;
    return w.p[(z * g.Kg + co) * w.s0 + m * w.s1 + kh * w.s2 + kw * w.s3];
  }
};

// B(z=g, n=(b,ih,iw), k=(co,kh,kw)) = dy[b, g*Kg+co, oh, ow] where the tap (kh, kw) of output
// (oh, ow) reads input (ih, iw); 0 when no output position does.
template <typename T>
struct Col2imDy {
  static constexpr bool kVectorizable = false;
  Arr4<const T> dy;
  Geom32 g;
  __device__ __forceinline__ T get(long long z, long long n, long long k) const {
    const int nn = (int)n, hw = g.H * g.W;
    const int b = nn / hw, r = nn - b * hw, ih = r / g.W, iw = r - ih * g.W;
    const int kk = (int)k, khw = g.KH * g.KW;
    const int co = kk / khw, q = kk - co * khw, kh = q / g.KW, kw = q - kh * g.KW;
    const int th = ih + g.ph - kh * g.dh, tw = iw + g.pw - kw * g.dw;
    if (th < 0 || tw < 0) return T(0);
    const int oh = th / g.sh, ow = tw / g.sw;
    if (oh * g.sh != th || ow * g.sw != tw || oh >= g.OH || ow >= g.OW) return T(0);
    return dy.p[b * dy.s0 + (z * g.Kg + co) * dy.s1 + oh * dy.s2 + ow * dy.s3];
  }
};

// ---------------------------------------------------------------- wgrad (split-K over z)
// z = g * splits + s; split s covers k in [s*Ks, min((s+1)*Ks, Ktot)).
// A(z, m=co, k=(b,oh,ow)) = dy[b, g*Kg+co, oh, ow]
template <typename T>
struct DyByOutChannel {
  static constexpr bool kVectorizable = false;
  Arr4<const T> dy;
  Geom32 g;
  int splits, Ks, Ktot;
  __device__ __forceinline__ T get(long long z, long long m, long long k) const {
    const int grp = (int)(z / splits), s = (int)(z - (long long)grp * splits);
    const int kk = s * Ks + (int)k;
    if (kk >= Ktot) return T(0);
    const int ohw = g.OH * g.OW;
    const int b = kk / ohw, r = kk - b * ohw, oh = r / g.OW, ow = r - oh * g.OW;
    return dy.p[b * dy.s0 + ((long long)grp * g.Kg + m) * dy.s1 + oh * dy.s2 + ow * dy.s3];
  }
};

// B(z, n=(ci,kh,kw), k=(b,oh,ow)) = x[b, g*Cg+ci, ih, iw] or 0 outside.
template <typename T>
struct XByTap {
  static constexpr bool kVectorizable = false;
  Arr4<const T> x;
  Geom32 g;
  int splits, Ks, Ktot;
  __device__ __forceinline__ T get(long long z, long long n, long long k) const {
    const int grp = (int)(z / splits), s = (int)(z - (long long)grp * splits);
    const int kk = s * Ks + (int)k;
    if (kk >= Ktot) return T(0);
    const int ohw = g.OH * g.OW;
    const int b = kk / ohw, r = kk - b * ohw, oh = r / g.OW, ow = r - oh * g.OW;
    const int nn = (int)n, khw = g.KH * g.KW;
    const int ci = nn / khw, q = nn - ci * khw, kh = q / g.KW, kw = q - kh * g.KW;
    const int ih = oh * g.sh - g.ph + kh * g.dh, iw = ow * g.sw - g.pw + kw * g.dw;
    if ((unsigned)ih >= (unsigned)g.H || (unsigned)iw >= (unsigned)g.W) return T(0);
    return x.p[b * x.s0 + ((long long)grp * g.Cg + ci) * x.s1 + ih * x.s2 + iw * x.s3];
  }
};

// With one split the partial sum is the result; with several, each split adds its share into a
// zeroed dw (the order of the additions, and so the last bits, may vary between runs).
template <typename T>
struct WeightGradOut {
  Arr4<T> dw;
  Geom32 g;
  int splits;
  __device__ __forceinline__ void store(long long z, long long m, long long n, T v, T alpha, T) const {
    const int grp = (int)(z / splits);
    const int nn = (int)n, khw = g.KH * g.KW;
    const int ci = nn / khw, q = nn - ci * khw, kh = q / g.KW, kw = q - kh * g.KW;
    T* p = dw.p + ((long long)grp * g.Kg + m) * dw.s0 + ci * dw.s1 + kh * dw.s2 + kw * dw.s3;
    if (splits == 1) *p = alpha * v;
    else atomicAdd(p, alpha * v);
  }
};

int sm_count_current() {
  int d = current_device(), n = 0;
  check(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, d), "cudaDeviceGetAttribute");
  return n;
}

}  // namespace

template <typename T>
void conv2d_forward(const ConvGeom& cg, Arr4<const T> x, Arr4<const T> w, const T* bias, long long bias_stride,
                    Arr4<T> y, bool allow_tf32, cudaStream_t stream) {
  const Geom32 g = to32(cg);
  const long long M = g.Kg, N = cg.N * cg.OH * cg.OW, K = (long long)g.Cg * g.KH * g.KW;
  const bool tf32 = use_tf32(sizeof(T) == 4, allow_tf32);
  const ImageOut<T> out{y, bias, bias_stride, g.Kg, g.OH, g.OW};
  // A weight whose (ci, kh, kw) dimensions flatten to one stride (any contiguous weight) is a
  // plain strided matrix: no index arithmetic per element, and 16-byte loads when aligned.
  // offset(ci, kh, kw) = ci*s1 + kh*s2 + kw*s3 equals k*s3 for k = (ci*KH + kh)*KW + kw exactly when:
  const bool flat = (g.KH == 1 || w.s2 == g.KW * w.s3) && (g.Cg == 1 || w.s1 == (long long)g.KH * g.KW * w.s3);
  if (flat) {
    const StridedOperand<T> a{w.p, g.Kg * w.s0, w.s0, w.s3};
    const int amode = operand_mode(sizeof(T) == 4, w.p, cg.G, g.Kg * w.s0, M, w.s0, K, w.s3);
    launch_gemm<T>(cg.G, M, N, K, T(1), a, amode, Im2colX<T>{x, g}, kOuterMajor, T(0), out, tf32, stream);
    return;
  }
  launch_gemm<T>(cg.G, M, N, K, T(1), WeightByOutChannel<T>{w, g}, kKMajor, Im2colX<T>{x, g}, kOuterMajor, T(0), out,
                 tf32, stream);
}

template <typename T>
void conv2d_backward_input(const ConvGeom& cg, Arr4<const T> dy, Arr4<const T> w, const T* bias,
                           long long bias_stride, Arr4<T> dx, bool allow_tf32, cudaStream_t stream) {
  const Geom32 g = to32(cg);
  const long long M = g.Cg, N = cg.N * cg.H * cg.W, K = (long long)g.Kg * g.KH * g.KW;
  launch_gemm<T>(cg.G, M, N, K, T(1), WeightByInChannel<T>{w, g}, kKMajor, Col2imDy<T>{dy, g}, kOuterMajor, T(0),
                 ImageOut<T>{dx, bias, bias_stride, g.Cg, g.H, g.W}, use_tf32(sizeof(T) == 4, allow_tf32), stream);
}

template <typename T>
void conv2d_backward_weight(const ConvGeom& cg, Arr4<const T> x, Arr4<const T> dy, Arr4<T> dw, bool allow_tf32,
                            bool deterministic, cudaStream_t stream) {
  const Geom32 g = to32(cg);
  const long long M = g.Kg, N = (long long)g.Cg * g.KH * g.KW, Ktot = cg.N * cg.OH * cg.OW;
  if (M == 0 || N == 0 || cg.G == 0) return;
  // Few output tiles and a long K: split K so that about two waves of blocks fill the chip,
  // keeping each split at least 256 deep so the atomics stay a small part of the work. The split
  // sums meet in atomics of no fixed order, so a deterministic gradient is computed unsplit.
  // The TF32 kernel with these gathers needs more than 255 registers on sm_90 (it spills), so the
  // weight gradient runs on the float32 SIMT kernel; allow_tf32 is accepted for a uniform API.
  (void)allow_tf32;
  const int bm = SimtConfig<T>::BM, bn = SimtConfig<T>::BN;
  const long long tiles = ceil_div(M, bm) * ceil_div(N, bn) * cg.G;
  long long splits = ceil_div(2LL * sm_count_current(), tiles);
  const long long max_splits = Ktot / 256;
  if (splits > max_splits) splits = max_splits;
  if (splits < 1 || deterministic) splits = 1;
  const long long Ks = ceil_div(ceil_div(Ktot, splits), 16) * 16;
  splits = Ktot == 0 ? 1 : ceil_div(Ktot, Ks);
  if (splits > 1 || Ktot == 0) {
    zero_fill4<T>(dw, cg.K, (long long)g.Cg, (long long)g.KH, (long long)g.KW, stream);
    if (Ktot == 0) return;
  }
  const int sp = (int)splits, ks = (int)Ks, kt = (int)Ktot;
  launch_gemm_simt<T>(cg.G * splits, M, N, Ks, T(1), DyByOutChannel<T>{dy, g, sp, ks, kt}, kKMajor,
                      XByTap<T>{x, g, sp, ks, kt}, kKMajor, T(0), WeightGradOut<T>{dw, g, sp}, stream);
}

#define FASTNN_INSTANTIATE_CONV(T)                                                                                  \
  template void conv2d_forward<T>(const ConvGeom&, Arr4<const T>, Arr4<const T>, const T*, long long, Arr4<T>, bool, \
                                  cudaStream_t);                                                                     \
  template void conv2d_backward_input<T>(const ConvGeom&, Arr4<const T>, Arr4<const T>, const T*, long long, Arr4<T>, \
                                         bool, cudaStream_t);                                                        \
  template void conv2d_backward_weight<T>(const ConvGeom&, Arr4<const T>, Arr4<const T>, Arr4<T>, bool, bool,       \
                                          cudaStream_t);
FASTNN_INSTANTIATE_CONV(float)
FASTNN_INSTANTIATE_CONV(double)

}  // namespace fastnn::cuda
