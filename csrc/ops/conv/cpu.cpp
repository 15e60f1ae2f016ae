// Convolution by im2col + the project's GEMM, with the batch processed in chunks so the
// column buffer stays bounded (sized from the caches) whatever N is. Shapes whose per-thread
// buffers are bounded go to the direct kernels of cpu_direct.cpp first, which avoid the column
// buffer. The column loops are in im2col_simd.cpp.
#include "ops/conv/cpu.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/cpu_features.h"
#include "ops/conv/cpu_direct.h"
#include "ops/conv/im2col_kernels.h"
#include "ops/gemm/cpu.h"

namespace fastnn {
namespace {

// Elements of the column buffer per chunk: large enough for an efficient GEMM, small enough to
// stay in the last-level cache (an eighth of it: 4 MB of Zen 3's 32 MB, where this was tuned).
template <typename T>
int64_t col_budget() {
  return std::max(cache_sizes().l2, cache_sizes().l3 / 8) / (int64_t)sizeof(T);
}

// The input-gradient's column buffer is written by the GEMM and read back by col2im at once,
// each thread on its own images: a chunk that fits one L2 cache is read from there.
template <typename T>
int64_t col_budget_l2() {
  return cache_sizes().l2 / (int64_t)sizeof(T);
}

int64_t chunk_images(const Conv2dShape& s, int64_t budget) {
  const int64_t per_image = (s.C / s.groups) * s.KH * s.KW * s.OH * s.OW;
  return std::max<int64_t>(1, std::min<int64_t>(s.N, budget / std::max<int64_t>(per_image, 1)));
}

// The column loops of the CPU path in use (im2col_simd.cpp), each with its thread count.
template <typename T>
void im2col(const Conv2dShape& s, const T* x, int64_t n0, int64_t nb, int64_t g, T* col) {
  const int64_t work = (s.C / s.groups) * s.KH * s.KW * nb * s.OH * s.OW;
  FASTNN_DISPATCH(conv::im2col<T>)(s, x, n0, nb, g, col, threads_for(work));
}

template <typename T>
void col2im(const Conv2dShape& s, const T* col, int64_t n0, int64_t nb, int64_t g, T* dx) {
  const int64_t work = (s.C / s.groups) * s.KH * s.KW * nb * s.OH * s.OW;
  FASTNN_DISPATCH(conv::col2im<T>)(s, col, n0, nb, g, dx, threads_for(work));
}

template <typename T>
void scatter_rows(const Conv2dShape& s, const T* buf, const T* bias, int64_t n0, int64_t nb, int64_t g, T* y) {
  FASTNN_DISPATCH(conv::scatter_rows<T>)(s, buf, bias, n0, nb, g, y, threads_for(s.OC / s.groups * nb * s.OH * s.OW));
}

template <typename T>
void add_bias(const Conv2dShape& s, const T* bias, int64_t n0, int64_t nb, T* y) {
  FASTNN_DISPATCH(conv::add_bias<T>)(s, bias, n0, nb, y, threads_for(nb * s.OC * s.OH * s.OW));
}

// buf[oc, (image, p)] = dy[n0 + image, g * OCg + oc, p]: one matrix for one GEMM per chunk.
template <typename T>
void gather_rows(const Conv2dShape& s, const T* dy, int64_t n0, int64_t nb, int64_t g, T* buf) {
  const int64_t OCg = s.OC / s.groups, OHW = s.OH * s.OW;
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads_for(OCg * nb * OHW))
  for (int64_t oc = 0; oc < OCg; ++oc)
    for (int64_t nl = 0; nl < nb; ++nl)
      std::memcpy(buf + (oc * nb + nl) * OHW, dy + ((n0 + nl) * s.OC + g * OCg + oc) * OHW, OHW * sizeof(T));
}

template <typename T>
void forward_im2col(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const int64_t Cg = s.C / s.groups, OCg = s.OC / s.groups, CKK = Cg * s.KH * s.KW, OHW = s.OH * s.OW;
  const int64_t nbmax = chunk_images(s, col_budget<T>());
  std::vector<T> col(CKK * nbmax * OHW), buf(nbmax > 1 ? OCg * nbmax * OHW : 0);
  for (int64_t n0 = 0; n0 < s.N; n0 += nbmax) {
    const int64_t nb = std::min(nbmax, s.N - n0), ld = nb * OHW;
    for (int64_t g = 0; g < s.groups; ++g) {
      im2col(s, x, n0, nb, g, col.data());
      const T* wg = w + g * OCg * CKK;
      if (nb == 1) {
        T* yg = y + (n0 * s.OC + g * OCg) * OHW;
        gemm_batched<T>(1, OCg, OHW, CKK, T(1), wg, 0, CKK, 1, col.data(), 0, ld, 1, T(0), yg, 0, OHW, 1);
      } else {
        gemm_batched<T>(1, OCg, ld, CKK, T(1), wg, 0, CKK, 1, col.data(), 0, ld, 1, T(0), buf.data(), 0, ld, 1);
        scatter_rows(s, buf.data(), bias, n0, nb, g, y);
      }
    }
    if (nb == 1 && bias) add_bias(s, bias, n0, nb, y);
  }
}

template <typename T>
void backward_input_im2col(const Conv2dShape& s, const T* dy, const T* w, T* dx) {
  const int64_t Cg = s.C / s.groups, OCg = s.OC / s.groups, CKK = Cg * s.KH * s.KW, OHW = s.OH * s.OW;
  const int64_t nbmax = chunk_images(s, col_budget_l2<T>());
  std::vector<T> col(CKK * nbmax * OHW);
  for (int64_t n0 = 0; n0 < s.N; n0 += nbmax) {
    const int64_t nb = std::min(nbmax, s.N - n0), ld = nb * OHW;
    for (int64_t g = 0; g < s.groups; ++g) {
      const T* wg = w + g * OCg * CKK;
      // dcol[:, image] (CKK x OHW) = wg^T (CKK x OCg) @ dy[image, group] (OCg x OHW): one product
      // per image, read in place from dy and written into the image's columns of dcol.
      gemm_batched<T>(nb, CKK, OHW, OCg, T(1), wg, 0, 1, CKK, dy + (n0 * s.OC + g * OCg) * OHW, s.OC * OHW, OHW, 1,
                      T(0), col.data(), OHW, ld, 1);
      col2im(s, col.data(), n0, nb, g, dx);
    }
  }
}

template <typename T>
void backward_weight_im2col(const Conv2dShape& s, const T* x, const T* dy, T* dw) {
  const int64_t Cg = s.C / s.groups, OCg = s.OC / s.groups, CKK = Cg * s.KH * s.KW, OHW = s.OH * s.OW;
  const int64_t nbmax = chunk_images(s, col_budget<T>());
  std::vector<T> col(CKK * nbmax * OHW), buf(nbmax > 1 ? OCg * nbmax * OHW : 0);
  for (int64_t n0 = 0; n0 < s.N; n0 += nbmax) {
    const int64_t nb = std::min(nbmax, s.N - n0), ld = nb * OHW;
    const T beta = n0 == 0 ? T(0) : T(1);
    for (int64_t g = 0; g < s.groups; ++g) {
      im2col(s, x, n0, nb, g, col.data());
      const T* lhs;
      if (nb == 1) {
        lhs = dy + (n0 * s.OC + g * OCg) * OHW;
      } else {
        gather_rows(s, dy, n0, nb, g, buf.data());
        lhs = buf.data();
      }
      // dw_g (OCg x CKK) (+)= dy_g (OCg x ld) @ col^T (ld x CKK)
      gemm_batched<T>(1, OCg, CKK, ld, T(1), lhs, 0, ld, 1, col.data(), 0, 1, ld, beta, dw + g * OCg * CKK, 0, CKK,
                      1);
    }
  }
}

// A kernel that covers the whole unpadded input (the 7 x 7 projection of a DCGAN generator run
// backwards: a transposed convolution of 1 x 1 inputs) has one output position whose column is the
// image itself: each pass is one GEMM over the batch, read in place. The im2col route instead
// multiplies one image at a time (a matrix-vector product each) and copies the columns twice.
// The output size is checked too: the input-gradient accepts a dy larger than the forward makes,
// whose extra positions read only outside the input.
bool whole_input_kernel(const Conv2dShape& s) {
  return get_conv_algorithm() != 2 && s.OH == 1 && s.OW == 1 && s.pad_h == 0 && s.pad_w == 0 && s.KH == s.H &&
         s.KW == s.W &&
         (s.dil_h == 1 || s.KH == 1) && (s.dil_w == 1 || s.KW == 1);
}

// y[n, oc] = x[n, :] . w[oc, :] per group: (N x CKK) @ (CKK x OCg).
template <typename T>
void forward_whole(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const int64_t OCg = s.OC / s.groups, CKK = (s.C / s.groups) * s.KH * s.KW, CHW = s.C * s.H * s.W;
  for (int64_t g = 0; g < s.groups; ++g)
    gemm_batched<T>(1, s.N, OCg, CKK, T(1), x + g * CKK, 0, CHW, 1, w + g * OCg * CKK, 0, 1, CKK, T(0),
                    y + g * OCg, 0, s.OC, 1);
  if (bias) add_bias(s, bias, 0, s.N, y);
}

// dx[n, :] = dy[n, :] @ w per group: (N x OCg) @ (OCg x CKK), every element written.
template <typename T>
void backward_input_whole(const Conv2dShape& s, const T* dy, const T* w, T* dx) {
  const int64_t OCg = s.OC / s.groups, CKK = (s.C / s.groups) * s.KH * s.KW, CHW = s.C * s.H * s.W;
  for (int64_t g = 0; g < s.groups; ++g)
    gemm_batched<T>(1, s.N, CKK, OCg, T(1), dy + g * OCg, 0, s.OC, 1, w + g * OCg * CKK, 0, CKK, 1, T(0),
                    dx + g * CKK, 0, CHW, 1);
}

// dw[oc, :] = sum over n of dy[n, oc] x[n, :] per group: (OCg x N) @ (N x CKK).
template <typename T>
void backward_weight_whole(const Conv2dShape& s, const T* x, const T* dy, T* dw) {
  const int64_t OCg = s.OC / s.groups, CKK = (s.C / s.groups) * s.KH * s.KW, CHW = s.C * s.H * s.W;
  for (int64_t g = 0; g < s.groups; ++g)
    gemm_batched<T>(1, OCg, CKK, s.N, T(1), dy + g * OCg, 0, 1, s.OC, x + g * CKK, 0, CHW, 1, T(0),
                    dw + g * OCg * CKK, 0, CKK, 1);
}

}  // namespace

template <typename T>
void conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  if (s.N == 0 || s.OH * s.OW == 0) return;
  if (whole_input_kernel(s)) return forward_whole(s, x, w, bias, y);
  if (conv_direct_forward(s, x, w, bias, y)) return;
  forward_im2col(s, x, w, bias, y);
}

template <typename T>
void conv2d_backward_input(const Conv2dShape& s, const T* dy, const T* w, T* dx) {
  const int64_t total = s.N * s.C * s.H * s.W;
  if (total == 0) return;
  if (s.OH * s.OW > 0 && whole_input_kernel(s)) return backward_input_whole(s, dy, w, dx);
  if (conv_direct_backward_input(s, dy, w, dx)) return;
#pragma omp parallel for schedule(static) num_threads(threads_for(total))
  for (int64_t i = 0; i < total; ++i) dx[i] = T(0);
  if (s.OH * s.OW == 0) return;
  backward_input_im2col(s, dy, w, dx);
}

template <typename T>
void conv2d_backward_weight(const Conv2dShape& s, const T* x, const T* dy, T* dw) {
  const int64_t total = s.OC * (s.C / s.groups) * s.KH * s.KW;
  if (s.N == 0 || s.OH * s.OW == 0) {
    std::fill(dw, dw + total, T(0));
    return;
  }
  if (whole_input_kernel(s)) return backward_weight_whole(s, x, dy, dw);
  if (conv_direct_backward_weight(s, x, dy, dw)) return;
  backward_weight_im2col(s, x, dy, dw);
}

template void conv2d_forward<float>(const Conv2dShape&, const float*, const float*, const float*, float*);
template void conv2d_forward<double>(const Conv2dShape&, const double*, const double*, const double*, double*);
template void conv2d_backward_input<float>(const Conv2dShape&, const float*, const float*, float*);
template void conv2d_backward_input<double>(const Conv2dShape&, const double*, const double*, double*);
template void conv2d_backward_weight<float>(const Conv2dShape&, const float*, const float*, float*);
template void conv2d_backward_weight<double>(const Conv2dShape&, const double*, const double*, double*);

}  // namespace fastnn
