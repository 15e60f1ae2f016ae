// Runs fastnn's GEMM kernels (SIMT and TF32 tensor-core) and implicit-GEMM convolution kernels
// (csrc/ops/gemm/cuda.cu, csrc/ops/conv/cuda.cu, as they are) on the CPU with emulated CUDA threads, against float64
// references: every operand layout, the 16-byte vector path and its fallbacks, grid-stride loops
// (the grid is capped at 2 blocks along y and z), alpha/beta, K = 0, and the convolutions with
// stride, asymmetric padding, dilation, groups and the split-K weight gradient. The TF32 cases
// are compared with a reference over TF32-rounded operands (tight) and must differ from the exact
// one (so the rounding is shown to happen). Prints one line per case and exits
// non-zero on any failure.
#include "cuda_runtime.h"
#include <cstdio>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>
#include <algorithm>
#include "emu_gemm_launch.h"

int g_emu_sms = 4;
thread_local uint3 threadIdx, blockIdx;
thread_local dim3 blockDim, gridDim;
std::barrier<>* g_bar;
std::mutex g_atomic_mu;

namespace fastnn::cuda {
int current_device_cc_major() { return 9; }
int current_device() { return 0; }
}


#include "core/cuda_arrays.h"
namespace fastnn::cuda {
template <typename T>
void zero_fill4(Arr4<T> a, long long n0, long long n1, long long n2, long long n3, cudaStream_t) {
  for (long long i = 0; i < n0; ++i) for (long long j = 0; j < n1; ++j) for (long long k = 0; k < n2; ++k)
    for (long long l = 0; l < n3; ++l) a.p[i * a.s0 + j * a.s1 + k * a.s2 + l * a.s3] = T(0);
}
}
#include "ops/gemm/cuda.cu"
#include "ops/conv/cuda.cu"

using namespace fastnn::cuda;
std::mt19937_64 rng(42);
int failures = 0;

template <typename T> std::vector<T> randv(size_t n) {
  std::normal_distribution<double> d;
  std::vector<T> v(n);
  for (auto& x : v) x = (T)d(rng);
  return v;
}

template <typename T>
double rel_err(const std::vector<double>& ref, const std::vector<T>& got) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    num += (got[i] - ref[i]) * (got[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / (den > 0 ? den : 1));
}

// The TF32 result must be off the exact product by about TF32's rounding (2^-11), not by float's.
template <typename T>
void check_tf32_rounding(const char* what, const std::vector<double>& exact, const std::vector<T>& got) {
  const double err = rel_err(exact, got);
  const bool ok = err > 3e-5 && err < 3e-3;
  if (!ok) ++failures;
  printf("%-4s %-60s err vs exact %.2e\n", ok ? "ok" : "FAIL", what, err);
}

template <typename T>
void check(const char* what, const std::vector<double>& ref, const std::vector<T>& got) {
  double num = 0, den = 0;
  bool nan = false;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (std::isnan((double)got[i])) nan = true;
    num += (got[i] - ref[i]) * (got[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  double err = std::sqrt(num / (den > 0 ? den : 1));
  double tol = sizeof(T) == 4 ? 1e-5 : 1e-12;
  bool ok = !nan && err < tol;
  if (!ok) ++failures;
  printf("%-4s %-60s err %.2e%s\n", ok ? "ok" : "FAIL", what, err, nan ? " NaN" : "");
}

// Operand layouts: 0 row-major, 1 column-major (transposed storage), 2 strided (every 2nd/3rd), 3 negative strides.
template <typename T>
void gemm_case(long long batch, long long M, long long N, long long K, int la, int lb, T alpha, T beta, int misalign,
               bool tf32 = false) {
  auto op = [&](T v) { return tf32 ? (double)nvcuda::wmma::__float_to_tf32((float)v) : (double)v; };
  auto make = [&](long long R, long long C, int layout, std::vector<T>& store, const T*& p, long long& sb, long long& sr,
                  long long& sc) {
    long long rr = R, cc = C;
    if (layout == 2) { rr = 2 * R; cc = 3 * C; }
    store = randv<T>((size_t)(batch * rr * cc + misalign));  // exact: an overrun is caught under ASan
    T* base = store.data() + misalign;
    if (layout == 0) { sb = R * C; sr = C; sc = 1; p = base; }
    if (layout == 1) { sb = R * C; sr = 1; sc = R; p = base; }
    if (layout == 2) { sb = rr * cc; sr = 2 * cc; sc = 3; p = base; }
    if (layout == 3) { sb = R * C; sr = -C; sc = -1; p = base + (R - 1) * C + (C - 1); }
  };
  std::vector<T> sa, sbv;
  const T *A, *B;
  long long sAb, sAm, sAk, sBb, sBk, sBn;
  make(M, K, la, sa, A, sAb, sAm, sAk);
  make(K, N, lb, sbv, B, sBb, sBk, sBn);
  std::vector<T> C = randv<T>((size_t)(batch * M * N));
  std::vector<double> ref(C.size()), exact(C.size());
  for (long long z = 0; z < batch; ++z)
    for (long long m = 0; m < M; ++m)
      for (long long n = 0; n < N; ++n) {
        double s = 0, se = 0;
        for (long long k = 0; k < K; ++k) {
          const T av = A[z * sAb + m * sAm + k * sAk], bv = B[z * sBb + k * sBk + n * sBn];
          s += op(av) * op(bv);
          se += (double)av * bv;
        }
        double c = C[(z * M + m) * N + n];
        ref[(z * M + m) * N + n] = alpha * s + (beta == T(0) ? 0.0 : beta * c);
        exact[(z * M + m) * N + n] = alpha * se + (beta == T(0) ? 0.0 : beta * c);
      }
  if (beta == T(0)) std::fill(C.begin(), C.end(), (T)NAN);
  gemm_batched<T>(batch, M, N, K, alpha, A, sAb, sAm, sAk, B, sBb, sBk, sBn, beta, C.data(), M * N, N, 1, tf32, nullptr);
  char what[200];
  snprintf(what, sizeof what, "gemm %s b%lld %lldx%lldx%lld layouts %d%d a%.1f b%.1f mis%d path %s",
           sizeof(T) == 4 ? "f32" : "f64", batch, M, N, K, la, lb, (double)alpha, (double)beta, misalign,
           gemm_path(sizeof(T) == 4, batch, M, K, N, A, sAb, sAm, sAk, B, sBb, sBk, sBn, tf32));
  check(what, ref, C);
  if (tf32 && K > 0) check_tf32_rounding(what, exact, C);
}

template <typename T>
void conv_case(long long N, long long C, long long H, long long W, long long K, long long KH, long long KW, long long sh,
               long long sw, long long pt, long long pb, long long pl, long long pr, long long dh, long long dw,
               long long G, bool tf32 = false, bool det = false) {
  auto op = [&](T v) { return tf32 ? (double)nvcuda::wmma::__float_to_tf32((float)v) : (double)v; };
  const long long OH = (H + pt + pb - dh * (KH - 1) - 1) / sh + 1, OW = (W + pl + pr - dw * (KW - 1) - 1) / sw + 1;
  const long long Cg = C / G, Kg = K / G;
  auto x = randv<T>(N * C * H * W), w = randv<T>(K * Cg * KH * KW), bias = randv<T>(K), dy = randv<T>(N * K * OH * OW);
  ConvGeom g{N, C, H, W, K, OH, OW, KH, KW, sh, sw, pt, pl, dh, dw, G};
  auto A4 = [](auto* p, long long a, long long b, long long c, long long d) {
    using P = std::remove_pointer_t<decltype(p)>;
    return Arr4<P>{p, b * c * d, c * d, d, 1};
  };
  std::vector<double> ry(N * K * OH * OW, 0), rdx(N * C * H * W, 0), rdw(K * Cg * KH * KW, 0);
  for (long long n = 0; n < N; ++n)
    for (long long k = 0; k < K; ++k)
      for (long long oh = 0; oh < OH; ++oh)
        for (long long ow = 0; ow < OW; ++ow) {
          const long long gr = k / Kg;
          double s = bias[k];
          const double d = dy[((n * K + k) * OH + oh) * OW + ow];
          for (long long ci = 0; ci < Cg; ++ci)
            for (long long kh = 0; kh < KH; ++kh)
              for (long long kw = 0; kw < KW; ++kw) {
                long long ih = oh * sh - pt + kh * dh, iw = ow * sw - pl + kw * dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const long long xi = ((n * C + gr * Cg + ci) * H + ih) * W + iw;
                const long long wi = ((k * Cg + ci) * KH + kh) * KW + kw;
                s += op(w[wi]) * op(x[xi]);
                rdx[xi] += op(w[wi]) * op(dy[((n * K + k) * OH + oh) * OW + ow]);
                rdw[wi] += (double)x[xi] * d;
              }
          ry[((n * K + k) * OH + oh) * OW + ow] = s;
        }
  std::vector<T> y(ry.size(), (T)NAN), dx(rdx.size(), (T)NAN), dwv(rdw.size(), (T)NAN);
  conv2d_forward<T>(g, A4((const T*)x.data(), N, C, H, W), A4((const T*)w.data(), K, Cg, KH, KW), bias.data(), 1,
                    A4(y.data(), N, K, OH, OW), tf32, nullptr);
  conv2d_backward_input<T>(g, A4((const T*)dy.data(), N, K, OH, OW), A4((const T*)w.data(), K, Cg, KH, KW), nullptr, 0,
                           A4(dx.data(), N, C, H, W), tf32, nullptr);
  conv2d_backward_weight<T>(g, A4((const T*)x.data(), N, C, H, W), A4((const T*)dy.data(), N, K, OH, OW),
                            A4(dwv.data(), K, Cg, KH, KW), tf32, det, nullptr);
  const long long wgrad_batch = g_last_batch;
  char what[200];
  snprintf(what, sizeof what, "conv %s%s %lldx%lldx%lldx%lld k%lldx%lldx%lld s%lld,%lld p%lld%lld%lld%lld d%lld,%lld g%lld",
           sizeof(T) == 4 ? "f32" : "f64", tf32 ? "-tf32" : "", N, C, H, W, K, KH, KW, sh, sw, pt, pb, pl, pr, dh, dw, G);
  check((std::string(what) + " fwd").c_str(), ry, y);
  check((std::string(what) + " dgrad").c_str(), rdx, dx);
  check((std::string(what) + " wgrad").c_str(), rdw, dwv);
  if (det) {
    // unsplit (one GEMM per group) where the same shape splits otherwise, and the same bits when run again
    std::vector<T> again(rdw.size(), (T)NAN);
    conv2d_backward_weight<T>(g, A4((const T*)x.data(), N, C, H, W), A4((const T*)dy.data(), N, K, OH, OW),
                              A4(again.data(), K, Cg, KH, KW), tf32, false, nullptr);
    const long long split_batch = g_last_batch;   // the same shape, allowed to split
    conv2d_backward_weight<T>(g, A4((const T*)x.data(), N, C, H, W), A4((const T*)dy.data(), N, K, OH, OW),
                              A4(again.data(), K, Cg, KH, KW), tf32, det, nullptr);
    const bool ok = wgrad_batch == G && split_batch > G &&
                    std::memcmp(again.data(), dwv.data(), again.size() * sizeof(T)) == 0;
    if (!ok) ++failures;
    printf("%-4s %-60s batch %lld\n", ok ? "ok" : "FAIL", (std::string(what) + " wgrad deterministic").c_str(),
           wgrad_batch);
  }
}

int main() {
  for (int la = 0; la < 4; ++la)
    for (int lb = 0; lb < 4; ++lb) gemm_case<float>(2, 70, 45, 37, la, lb, 1.0f, 0.0f, 0);
  gemm_case<float>(1, 128, 128, 64, 0, 0, 1.0f, 0.0f, 0);     // vector path, full tiles
  gemm_case<float>(1, 128, 128, 64, 0, 0, 1.0f, 0.0f, 1);     // misaligned: scalar path
  gemm_case<float>(3, 300, 260, 41, 0, 0, 0.5f, -2.0f, 0);    // alpha/beta, y/z grid-stride loops (cap 2)
  gemm_case<float>(1, 1, 1, 1, 0, 0, 1.0f, 0.0f, 0);
  gemm_case<float>(1, 5, 7, 0, 0, 0, 1.0f, 3.0f, 0);          // K = 0
  gemm_case<float>(2, 129, 131, 9, 1, 1, 1.0f, 0.0f, 0);
  gemm_case<float>(2, 128, 96, 64, 1, 1, 1.0f, 0.0f, 0);      // A outer-major vec, B k-major vec
  gemm_case<float>(2, 132, 100, 44, 1, 0, 1.0f, 0.0f, 0);     // partial tiles on the vector paths
  gemm_case<float>(3, 68, 260, 20, 0, 1, 1.0f, 0.5f, 0);
  gemm_case<float>(1, 260, 4, 4, 1, 0, 1.0f, 0.0f, 0);
  gemm_case<float>(1, 3, 5, 200, 0, 1, 1.0f, 1.0f, 0);
  for (int la = 0; la < 4; ++la) gemm_case<double>(2, 70, 45, 37, la, (la + 1) % 4, 1.0, 0.0, 0);
  gemm_case<double>(3, 130, 140, 17, 0, 0, 2.0, 0.5, 0);
  conv_case<float>(2, 3, 9, 11, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
  conv_case<float>(3, 4, 13, 7, 6, 3, 2, 2, 3, 1, 0, 2, 1, 1, 2, 2);
  conv_case<float>(2, 6, 8, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 6);
  conv_case<double>(1, 5, 17, 19, 7, 5, 5, 2, 2, 2, 2, 2, 2, 2, 1, 1);
  conv_case<double>(1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1);
  // TF32 tensor-core kernel: both operand layouts, vector path and fallbacks, partial tiles, the
  // row-tile and batch grid-stride loops, alpha/beta, K = 0 and a K that is not a multiple of 16.
  for (int la = 0; la < 4; ++la) gemm_case<float>(2, 70, 45, 37, la, (la + 2) % 4, 1.0f, 0.0f, 0, true);
  gemm_case<float>(1, 128, 128, 64, 0, 0, 1.0f, 0.0f, 0, true);
  gemm_case<float>(1, 128, 128, 64, 1, 1, 1.0f, 0.0f, 0, true);
  gemm_case<float>(1, 128, 128, 64, 0, 0, 1.0f, 0.0f, 1, true);
  gemm_case<float>(3, 300, 140, 41, 0, 1, 0.5f, -2.0f, 0, true);
  gemm_case<float>(1, 5, 7, 0, 0, 0, 1.0f, 3.0f, 0, true);
  gemm_case<float>(1, 1, 1, 3, 0, 0, 1.0f, 0.0f, 0, true);
  conv_case<float>(2, 3, 9, 11, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true);
  conv_case<float>(3, 4, 13, 7, 6, 3, 2, 2, 3, 1, 0, 2, 1, 1, 2, 2, true);
  g_emu_sms = 64;  // many SMs for few tiles: the weight gradient splits K and accumulates atomically
  conv_case<float>(4, 3, 20, 20, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
  conv_case<double>(8, 2, 16, 16, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2);
  conv_case<float>(4, 3, 20, 20, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, false, true);   // would split: deterministic
  conv_case<double>(8, 2, 16, 16, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, false, true);
  printf("%d failures, %lld launches\n", failures, g_launches);
  return failures != 0;
}
