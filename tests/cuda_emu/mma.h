// CPU stand-in for <mma.h>: the wmma TF32 m16n16k8 fragments that csrc/ops/gemm/core.cuh uses and
// the float16/bfloat16 m16n16k16 fragments (float accumulation) of csrc/ops/attention/cuda.cu.
// A real fragment is spread over the 32 lanes of a warp in an unspecified layout; here every
// emulated thread holds the whole tile, so the kernel's collective calls (load, mma, store) each
// do the full work per thread. That keeps every property the kernel may rely on (per-element
// conversion over num_elements, store-then-read through shared memory with __syncwarp) and none
// it may not (no lane owns a known element). The products use TF32 inputs exactly, as the tensor
// cores do, and accumulate in float32; float16/bfloat16 operands are held as the floats they equal
// (their products are exact in float32).
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cuda_bf16.h"
#include "cuda_fp16.h"

namespace nvcuda::wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
namespace precision {
struct tf32 {};
}
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K> struct tile_shape;
template <int M, int N, int K> struct tile_shape<matrix_a, M, N, K> { static constexpr int rows = M, cols = K; };
template <int M, int N, int K> struct tile_shape<matrix_b, M, N, K> { static constexpr int rows = K, cols = N; };
template <int M, int N, int K> struct tile_shape<accumulator, M, N, K> { static constexpr int rows = M, cols = N; };

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, precision::tf32> || std::is_same_v<T, __half> ||
                    std::is_same_v<T, __nv_bfloat16>,
                "only the TF32, float16 and bfloat16 fragments are emulated");
  static constexpr int rows = tile_shape<Use, M, N, K>::rows, cols = tile_shape<Use, M, N, K>::cols;
  static constexpr int num_elements = rows * cols;
  float x[num_elements];  // element (r, c) at x[r * cols + c]
};

// cvt.rna.tf32.f32: keep 10 mantissa bits, round to nearest with ties away from zero.
inline float __float_to_tf32(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;
  std::memcpy(&v, &u, 4);
  return v;
}

// The tensor cores read only the TF32 bits of an operand that was not converted.
inline float tf32_bits(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  u &= 0xffffe000u;
  std::memcpy(&v, &u, 4);
  return v;
}

inline float to_float(float v) { return v; }
inline float to_float(__half v) { return __half2float(v); }
inline float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class Use, int M, int N, int K, class T, class Layout, class P>
void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const P* p, unsigned ldm) {
  static_assert(!std::is_void_v<Layout>, "an operand fragment needs its layout");
  static_assert(std::is_same_v<P, float> ? (std::is_same_v<T, float> || std::is_same_v<T, precision::tf32>) : std::is_same_v<P, T>,
                "the pointer's type must be the fragment's element type");
  using F = fragment<Use, M, N, K, T, Layout>;
  for (int r = 0; r < F::rows; ++r)
    for (int c = 0; c < F::cols; ++c)
      f.x[r * F::cols + c] = to_float(std::is_same_v<Layout, row_major> ? p[(long long)r * ldm + c] : p[r + (long long)c * ldm]);
}

template <int M, int N, int K>
void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ldm, layout_t layout) {
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c)
      (layout == mem_row_major ? p[(long long)r * ldm + c] : p[r + (long long)c * ldm]) = f.x[r * N + c];
}

template <class Use, int M, int N, int K, class T, class Layout>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, float v) {
  for (float& e : f.x) e = v;
}

template <int M, int N, int K, class T, class LA, class LB>
void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, T, LA>& a,
              const fragment<matrix_b, M, N, K, T, LB>& b, const fragment<accumulator, M, N, K, float>& c) {
  static_assert(!std::is_same_v<T, float>, "an operand fragment is TF32, float16 or bfloat16");
  constexpr bool tf32 = std::is_same_v<T, precision::tf32>;
  float out[M * N];
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      float s = c.x[m * N + n];
      for (int k = 0; k < K; ++k)
        s = tf32 ? __builtin_fmaf(tf32_bits(a.x[m * K + k]), tf32_bits(b.x[k * N + n]), s)
                 : __builtin_fmaf(a.x[m * K + k], b.x[k * N + n], s);
      out[m * N + n] = s;
    }
  std::memcpy(d.x, out, sizeof out);
}
}  // namespace nvcuda::wmma
