// The plain reference of the attention kernels (contract: attention.h): one query row at a time over
// every key, every sum in double, the dropout mask element by element. What the tests compare the
// SIMD kernels of every CPU path with.
#include <cmath>
#include <vector>

#include "ops/attention/cpu.h"
#include "ops/attention/dropout.h"

namespace fastnn {
namespace attention {
namespace {

// The scores of row i of query head h (-inf where masked out), or false when every one is masked.
template <typename T>
void row_scores(const Problem<T>& p, int64_t b, int64_t h, int64_t i, double* s) {
  const T* q = p.q + b * p.qs.b + h * p.qs.h + i * p.qs.l;
  const int64_t hk = h / (p.Hq / p.Hk);
  for (int64_t j = 0; j < p.Lk; ++j) {
    const T* k = p.k + b * p.ks.b + hk * p.ks.h + j * p.ks.l;
    double dot = 0;
    for (int64_t d = 0; d < p.D; ++d) dot += (double)q[d] * (double)k[d];
    double x = p.scale * dot;
    if (p.mask_kind != MaskKind::none) {
      const int64_t at = b * p.mask_sb + h * p.mask_sh + i * p.mask_sq + j * p.mask_sk;
      if (p.mask_kind == MaskKind::boolean) {
        if (!static_cast<const uint8_t*>(p.mask)[at]) x = -INFINITY;
      } else {
        x += (double)static_cast<const T*>(p.mask)[at];
      }
    }
    if (p.causal && j > i) x = -INFINITY;
    s[j] = x;
  }
}

// Dropout's factor z for (b, h, i, j).
template <typename T>
double keep_factor(const Problem<T>& p, int64_t b, int64_t h, int64_t i, int64_t j) {
  if (p.dropout_p <= 0) return 1.0;
  const long long n = (((long long)b * p.Hq + h) * p.Lq + i) * p.Lk + j;
  const T scale = (T)(1.0 / (1.0 - p.dropout_p));
  return kept(p.key, p.offset, random::keep_threshold(p.dropout_p), n) ? (double)scale : 0.0;
}

}  // namespace

template <typename T>
void forward_reference(const Problem<T>& p, T* out, T* lse) {
  std::vector<double> s((size_t)p.Lk), o((size_t)p.Dv);
  const int64_t G = p.Hk ? p.Hq / p.Hk : 1;
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t h = 0; h < p.Hq; ++h)
      for (int64_t i = 0; i < p.Lq; ++i) {
        row_scores(p, b, h, i, s.data());
        double m = -INFINITY;
        for (int64_t j = 0; j < p.Lk; ++j) m = s[j] > m ? s[j] : m;
        double l = 0;
        if (m > -INFINITY)
          for (int64_t j = 0; j < p.Lk; ++j) l += std::exp(s[j] - m);
        const double L = l > 0 ? m + std::log(l) : -INFINITY;
        for (auto& x : o) x = 0;
        if (l > 0)
          for (int64_t j = 0; j < p.Lk; ++j) {
            const double w = std::exp(s[j] - L) * keep_factor(p, b, h, i, j);
            const T* v = p.v + b * p.vs.b + (h / G) * p.vs.h + j * p.vs.l;
            for (int64_t d = 0; d < p.Dv; ++d) o[d] += w * (double)v[d];
          }
        const int64_t row = (b * p.Hq + h) * p.Lq + i;
        for (int64_t d = 0; d < p.Dv; ++d) out[row * p.Dv + d] = (T)o[d];
        lse[row] = (T)L;
      }
}

template <typename T>
void backward_reference(const Problem<T>& p, const Grads<T, T>& g) {
  const int64_t G = p.Hk ? p.Hq / p.Hk : 1;
  std::vector<double> s((size_t)p.Lk), dk((size_t)(p.Lk * p.D)), dv((size_t)(p.Lk * p.Dv)), dq((size_t)p.D);
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t hk = 0; hk < p.Hk; ++hk) {
      for (auto& x : dk) x = 0;
      for (auto& x : dv) x = 0;
      for (int64_t h = hk * G; h < (hk + 1) * G; ++h)
        for (int64_t i = 0; i < p.Lq; ++i) {
          const int64_t row = (b * p.Hq + h) * p.Lq + i;
          const T* q = p.q + b * p.qs.b + h * p.qs.h + i * p.qs.l;
          const T* dout = g.dout + b * g.dos.b + h * g.dos.h + i * g.dos.l;
          const T* o = g.out + row * p.Dv;
          double delta = 0;
          for (int64_t d = 0; d < p.Dv; ++d) delta += (double)dout[d] * (double)o[d];
          for (auto& x : dq) x = 0;
          const double L = (double)g.lse[row];
          if (L > -INFINITY) {
            row_scores(p, b, h, i, s.data());
            for (int64_t j = 0; j < p.Lk; ++j) {
              const double pr = std::exp(s[j] - L), z = keep_factor(p, b, h, i, j);
              const T* k = p.k + b * p.ks.b + hk * p.ks.h + j * p.ks.l;
              const T* v = p.v + b * p.vs.b + hk * p.vs.h + j * p.vs.l;
              double dp = 0;
              for (int64_t d = 0; d < p.Dv; ++d) {
                dp += (double)dout[d] * (double)v[d];
                dv[j * p.Dv + d] += pr * z * (double)dout[d];
              }
              const double ds = pr * (z * dp - delta) * p.scale;
              for (int64_t d = 0; d < p.D; ++d) {
                dq[d] += ds * (double)k[d];
                dk[j * p.D + d] += ds * (double)q[d];
              }
            }
          }
          for (int64_t d = 0; d < p.D; ++d) g.dq[row * p.D + d] = (T)dq[d];
        }
      const int64_t head = b * p.Hk + hk;
      for (int64_t x = 0; x < p.Lk * p.D; ++x) g.dk[head * p.Lk * p.D + x] = (T)dk[x];
      for (int64_t x = 0; x < p.Lk * p.Dv; ++x) g.dv[head * p.Lk * p.Dv + x] = (T)dv[x];
    }
}

template void forward_reference<float>(const Problem<float>&, float*, float*);
template void forward_reference<double>(const Problem<double>&, double*, double*);
template void backward_reference<float>(const Problem<float>&, const Grads<float, float>&);
template void backward_reference<double>(const Problem<double>&, const Grads<double, double>&);

}  // namespace attention
}  // namespace fastnn
