// The normalisation family's contract, shared by the CPU kernels (norm_simd.cpp, cpu.cpp), the plain
// reference (ref.cpp) and the CUDA kernels (cuda.cu).
//
// x is a C-contiguous (rows, C) block: each row is one sample's normalized_shape flattened. Two
// normalisations share every kernel, told apart by `centered`:
//
//   layer norm (centered)   mean_r = sum_j x[r, j] / C
//                           rstd_r = 1 / sqrt(sum_j (x[r, j] - mean_r)^2 / C + eps)   (biased variance)
//                           xhat   = (x - mean_r) * rstd_r
//   RMS norm (!centered)    rstd_r = 1 / sqrt(sum_j x[r, j]^2 / C + eps);  xhat = x * rstd_r  (no mean)
//
//   forward    y = xhat * weight[j] + bias[j]  (weight, bias optional: 1 and 0 when absent)
//              mean (rows,) (layer norm only) and rstd (rows,) are written for the backward
//   backward   g = dy * weight[j]
//              dx = rstd_r * (g - [centered] sum_j g / C - xhat * sum_j (g * xhat) / C)
//              dweight[j] = sum_r dy[r, j] * xhat[r, j];  dbias[j] = sum_r dy[r, j]
//
// Every array (dx, dweight, dbias optional: null when not wanted) has x's dtype, float32 or float64,
// and is C-contiguous. The variance is computed in two passes over the row (the mean first), so a
// large mean does not cancel the variance's digits. C = 0 gives mean 0 and rstd 1 / sqrt(eps).
// dweight and dbias are reduced deterministically: on the CPU, partial sums over fixed blocks of
// rows (the blocks depend on `rows` only, not on the thread count) added in block order; on CUDA,
// one thread per column adding the rows in order.
//
// Batch normalisation (training mode) normalises each channel instead: x is a C-contiguous (N, C, S) block
// (S = the product of the spatial sizes, 1 for (N, C) input) and the statistics of channel c are taken over
// its M = N * S values, in two passes (mean, then the biased variance):
//
//   forward    mean_c = sum x[:, c, :] / M;  var_c = sum (x[:, c, :] - mean_c)^2 / M;  rstd_c = 1 / sqrt(var_c + eps)
//              y = (x - mean_c) * rstd_c * weight[c] + bias[c]      (mean, var, rstd (C,) are written)
//   backward   xhat = (x - mean_c) * rstd_c;  dbias[c] = sum dy[:, c, :];  dweight[c] = sum dy * xhat
//              dx = rstd_c * weight[c] * (dy - dbias[c] / M - xhat * dweight[c] / M)
//
// Each channel's sums are taken by one thread in a fixed order (rows n in order, each row's S values in
// vectors), so the results do not depend on the thread count. M = 0 gives mean 0, var 0.
//
// Group normalisation normalises each sample's groups of K = C / G consecutive channels: x is a C-contiguous
// (N, C, S) block, so group (n, g) is one contiguous row of D = K * S values, and the affine is per channel:
//
//   forward    mean_ng = sum / D;  rstd_ng = 1 / sqrt(sum (x - mean_ng)^2 / D + eps)   (two passes, biased)
//              y[n, c, s] = (x - mean_ng) * (rstd_ng * weight[c]) + bias[c]      (mean, rstd (N, G) written)
//   backward   xhat = (x - mean_ng) * rstd_ng;  per (n, c): pw[n, c] = sum_s dy * xhat,  pb[n, c] = sum_s dy
//              dweight[c] = sum_n pw[n, c];  dbias[c] = sum_n pb[n, c]    (n in order: deterministic)
//              per group: sg = sum_c weight[c] pb[n, c],  sgx = sum_c weight[c] pw[n, c]
//              dx = rstd_ng * (dy * weight[c] - sg / D - xhat * sgx / D)
//
// The backward's sums are of dy times the centred x (not PyTorch's sum dy * x - mean * sum dy), so a large
// mean does not cancel their digits. D = 0 gives mean 0 and rstd 1 / sqrt(eps).
//
// With `silu` the group normalisation is followed by SiLU in the same pass (a diffusion UNet's norm -> SiLU):
//   forward    v = the y above;  y = v / (1 + exp(-v))
//   backward   v is recomputed from x, mean, rstd, weight and bias;  s = 1 / (1 + exp(-v))
//              g = dy * s * (1 + v * (1 - s))  replaces dy in every formula above
// Each is computed as the separate kernels compute it (the activation family's silu on the stored v, then the
// group normalisation's backward on g), so the fused results equal the unfused ones on the same CPU path.
#pragma once
#include <cstdint>

namespace fastnn {
namespace norm {

// The CPU backward's blocks of rows for dweight / dbias: at most kMaxBlocks blocks of equal size
// (the last one shorter); their partial sums need 2 * blocks * C elements of workspace.
constexpr int64_t kMaxBlocks = 64;
inline int64_t block_rows(int64_t rows) {
  const int64_t blocks = rows < kMaxBlocks ? rows : kMaxBlocks;
  return blocks > 0 ? (rows + blocks - 1) / blocks : 1;
}
inline int64_t block_count(int64_t rows) { return rows > 0 ? (rows + block_rows(rows) - 1) / block_rows(rows) : 0; }

}  // namespace norm
}  // namespace fastnn
