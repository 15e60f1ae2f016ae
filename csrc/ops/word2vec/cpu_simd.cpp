// The word2vec training kernel on the CPU, on the SIMD layer, compiled once per CPU path: the dot
// products and row updates of negative sampling over D-wide rows. Contract: ops/word2vec/word2vec.h.
#include <omp.h>

#include <cmath>

#include "core/simd/simd.h"
#include "ops/word2vec/cpu.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace word2vec {
namespace {

using simd::Vec;
using ::fastnn::word2vec::Negatives;

template <typename T>
FASTNN_SIMD_INLINE T dot(const T* __restrict x, const T* __restrict y, int64_t n) {
  constexpr int W = Vec<T>::W;
  Vec<T> s0 = simd::zero<T>(), s1 = simd::zero<T>();
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    s0 = simd::fma(simd::load(x + i), simd::load(y + i), s0);
    s1 = simd::fma(simd::load(x + i + W), simd::load(y + i + W), s1);
  }
  for (; i + W <= n; i += W) s0 = simd::fma(simd::load(x + i), simd::load(y + i), s0);
  if (i < n) s1 = simd::fma(simd::load_n(x + i, (int)(n - i)), simd::load_n(y + i, (int)(n - i)), s1);
  return simd::reduce_add(s0 + s1);
}

// y += a x
template <typename T>
FASTNN_SIMD_INLINE void axpy(T a, const T* __restrict x, T* __restrict y, int64_t n) {
  constexpr int W = Vec<T>::W;
  const Vec<T> av = simd::set1<T>(a);
  int64_t i = 0;
  for (; i + W <= n; i += W) simd::store(y + i, simd::fma(av, simd::load(x + i), simd::load(y + i)));
  if (i < n) {
    const int r = (int)(n - i);
    simd::store_n(y + i, simd::fma(av, simd::load_n(x + i, r), simd::load_n(y + i, r)), r);
  }
}

template <typename T>
FASTNN_SIMD_INLINE void scale(T a, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= a;
}

template <typename T>
FASTNN_SIMD_INLINE void fill_zero(T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = T(0);
}

// The targets of one input row h (the positive `word`, then the negatives): e accumulates the
// gradient for h, the output rows are updated at once.
template <typename T>
FASTNN_SIMD_INLINE void negative_sampling(const Config& c, const Arrays<T>& a, Negatives& neg, int64_t word,
                                          const T* __restrict h, T* __restrict e, T lr, double& loss) {
  const int64_t D = c.dim;
  fill_zero(e, D);
  for (int64_t d = 0; d <= c.negative; ++d) {
    int64_t t = word;
    T label = T(1);
    if (d > 0) {
      t = ::fastnn::word2vec::negative_word(a.cum, a.cum_stride, c.vocab,
                                            ::fastnn::word2vec::next_negative(c, neg));
      if (t == word) continue;
      label = T(0);
    }
    T* out = a.syn1neg + t * D;
    const T x = dot(h, out, D);
    const T sig = T(1) / (T(1) + std::exp(-x));
    const T g = (label - sig) * lr;
    if (c.compute_loss) loss += ::fastnn::word2vec::neg_log_sigmoid<T>(d == 0 ? x : -x);
    axpy(g, out, e, D);
    axpy(g, h, out, D);
  }
}

template <typename T>
void sentence(const Config& c, const Arrays<T>& a, int64_t s, int64_t* __restrict kept, T* __restrict h,
              T* __restrict e, Totals& tot) {
  const int64_t begin = a.offsets[s * a.offsets_stride], end = a.offsets[(s + 1) * a.offsets_stride];
  const int64_t D = c.dim;
  auto word_at = [&](int64_t p) { return a.tokens[p * a.tokens_stride]; };
  int64_t n = 0;
  for (int64_t p = begin; p < end; ++p)
    if (::fastnn::word2vec::kept(::fastnn::word2vec::draw(c, p, 0), a.keep_prob, a.keep_stride, word_at(p)))
      kept[n++] = p;
  tot.kept_words += n;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t p = kept[i], w = word_at(p);
    const int64_t win = ::fastnn::word2vec::reduced_window(c, ::fastnn::word2vec::draw(c, p, 0));
    const int64_t lo = i - win > 0 ? i - win : 0, hi = i + win < n - 1 ? i + win : n - 1;
    const T lr = (T)::fastnn::word2vec::learning_rate(c, p);
    Negatives neg = ::fastnn::word2vec::negatives_of(p);
    if (c.sg) {
      for (int64_t j = lo; j <= hi; ++j) {
        if (j == i) continue;
        T* in = a.syn0 + word_at(kept[j]) * D;
        negative_sampling(c, a, neg, w, in, e, lr, tot.loss);
        axpy(T(1), e, in, D);
      }
    } else {
      const int64_t count = hi - lo;  // the context: [lo, hi] without i
      if (count == 0) continue;
      fill_zero(h, D);
      for (int64_t j = lo; j <= hi; ++j)
        if (j != i) axpy(T(1), a.syn0 + word_at(kept[j]) * D, h, D);
      if (c.cbow_mean) scale(T(1) / (T)count, h, D);
      negative_sampling(c, a, neg, w, h, e, lr, tot.loss);
      const T share = c.cbow_mean ? T(1) : T(1) / (T)count;
      for (int64_t j = lo; j <= hi; ++j)
        if (j != i) axpy(share, e, a.syn0 + word_at(kept[j]) * D, D);
    }
  }
}

}  // namespace

template <typename T>
Totals train(const Config& c, const Arrays<T>& a, int threads, const Scratch& scratch) {
  Totals total{0.0, 0};
  if (a.sentences <= 0) return total;
  double loss = 0;
  int64_t kept_words = 0;
#pragma omp parallel num_threads(threads) reduction(+ : loss, kept_words)
  {
    const int tid = omp_get_thread_num();
    int64_t* kept = scratch.positions + (int64_t)tid * scratch.longest;
    T* h = static_cast<T*>(scratch.vectors) + (int64_t)tid * 2 * c.dim;
    T* e = h + c.dim;
    Totals mine{0.0, 0};
    // Sentences differ in length: handed out one at a time.
#pragma omp for schedule(dynamic, 1)
    for (int64_t s = 0; s < a.sentences; ++s) sentence(c, a, s, kept, h, e, mine);
    loss += mine.loss;
    kept_words += mine.kept_words;
  }
  total.loss = loss;
  total.kept_words = kept_words;
  return total;
}

template Totals train<float>(const Config&, const Arrays<float>&, int, const Scratch&);
template Totals train<double>(const Config&, const Arrays<double>&, int, const Scratch&);

}  // namespace word2vec
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
