// The direct convolution's micro-kernels (direct_simd.cpp, written once on the SIMD layer and
// compiled per CPU path), as one record per path; cpu_direct.cpp drives them.
//
// They work on "wide rows" (see cpu_direct.cpp): a list of ns position vectors and taps given as
// constant offsets into a block. Vector v stands for the `lanes` positions starts[v] .. + lanes - 1
// or, with `split`, for lanes / 2 positions from each of starts[2v] and starts[2v + 1]. Every
// position of every listed vector is computed and stored, so buffers extend `lanes` elements past
// the last start; positions that are not outputs are discarded by the caller. Below, "start p"
// and "j < lanes" stand for the positions of one vector.
#pragma once
#include <cstdint>

#include "core/cpu_features.h"

namespace fastnn {

template <typename T>
struct ConvDirectKernels {
  int lanes;  // positions per vector on this path

  // wide[oc * Lv + p + j] (+)= sum over t < taps of w[oc * ldw + t] * block[off[t] + p + j]
  // for oc < OCg, every start p in starts[0, ns) and j < lanes; `add` adds to what wide holds.
  void (*forward)(const T* block, const int64_t* off, int64_t taps, const T* w, int64_t ldw, int64_t OCg,
                  int64_t Lv, const int64_t* starts, int64_t ns, bool split, bool add, T* wide);

  // acc[(oc * taps + t) * lanes + j] += sum over starts p of dyw[oc * Lv + p + j] * block[off[t] + p + j]:
  // lane-wise partial sums of the weight gradient, reduced by the caller once at the end.
  void (*wgrad)(const T* dyw, int64_t OCg, const T* block, const int64_t* off, int64_t taps, int64_t Lv,
                const int64_t* starts, int64_t ns, bool split, T* acc);

  // The adjoint of `forward`: dblock[off[t] + p + j] += sum over oc < OCg of wt[t * OCg + oc] * dyw[oc * Lv + p + j].
  void (*adjoint)(const T* dyw, int64_t Lv, int64_t OCg, const T* wt, const int64_t* off, int64_t taps,
                  const int64_t* starts, int64_t ns, bool split, T* dblock);

  // plane[i * n + j] = chan[(sh * i + r0) * W + sw * j + c0] for i < rows and j < n, zero where that
  // element lies outside the H x W channel: one plane of the padded block.
  void (*pad_plane)(const T* chan, int64_t H, int64_t W, int64_t sh, int64_t r0, int64_t sw, int64_t c0,
                    int64_t rows, int64_t n, T* plane);

  // dst[r * ldd + c] = src[r * lds + c] + add for r < rows and c < cols.
  void (*copy_rows)(const T* src, int64_t lds, T* dst, int64_t ldd, int64_t rows, int64_t cols, T add);

  // dst[r * ldd + c] += src[r * lds + c] for r < rows and c < cols.
  void (*add_rows)(const T* src, int64_t lds, T* dst, int64_t ldd, int64_t rows, int64_t cols);

  // C[i * ldc + j] (+)= sum over k < K of base[ri[i] + ck[k]] * B[k * ldb + j] for i < M and j < NB,
  // NB a multiple of `lanes`; `add` adds to what C holds. A GEMM whose left operand is addressed by
  // a row offset plus a column offset: with positions as rows and taps as columns it is the forward
  // vectorised over output channels (every lane useful, whatever the output width), with taps as
  // rows and positions as columns the weight gradient.
  void (*offset_gemm)(const T* base, const int64_t* ri, int64_t M, const int64_t* ck, int64_t K, const T* B,
                      int64_t ldb, int64_t NB, T* C, int64_t ldc, bool add);
};

}  // namespace fastnn

FASTNN_DECLARE_PER_PATH(namespace conv {
  template <typename T>
  const ConvDirectKernels<T>& direct_kernels();
})
