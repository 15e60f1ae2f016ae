// The word2vec training kernels' contract (negative sampling, skip-gram and CBOW), shared by the CPU
// kernel (cpu_simd.cpp), the CUDA kernel (cuda.cu) and the tests' numpy reference
// (tests/test_word2vec.py), which replays the same random draws.
//
// Arrays: `syn0` (V, D) the input vectors and `syn1neg` (V, D) the output vectors, float32 or
// float64, updated in place. `tokens` (N,) int64 word ids in [0, V); `offsets` (S + 1,) int64
// non-decreasing in [0, N]: sentence s is tokens[offsets[s] : offsets[s + 1]] (tokens outside every
// sentence are not trained on). `keep_prob` (V,) float64 in [0, 1] or absent (keep every word): the
// frequent-word subsampling. `cum_table` (V,) int64 non-decreasing, cum_table[0] >= 0, last in
// (0, 2^32]: the negatives' distribution (word w drawn with weight cum_table[w] - cum_table[w - 1],
// the unigram counts to the power 0.75 as word2vec and gensim draw them); absent when negative is 0.
//
// Random draws: Philox 4x32-10 (core/philox.h) under `key`. Token position p (its index in `tokens`)
// owns stream position q = offset + p; its block j is the one of counter (q as 128 bits, then word 3
// += j): block 0 gives w0 (subsampling: kept iff w0 < keep_prob[word] 2^32, compared in double) and
// w1 (the reduced window: b = (w1 window) >> 32, the window of the word is window - b, as word2vec's
// random shrink); negative k of the word (k counts the draws of this centre word: for skip-gram
// k = context_index * negative + d, for CBOW k = d, d = 0 .. negative - 1) is word k % 4 of block
// 1 + k / 4, mapped to r = (word cum_last) >> 32 and to the first w with cum_table[w] > r. N
// counters are used (the caller moves the stream's offset by N), so a draw never depends on the
// thread count, the order of work or the device; 1 <= window <= kMaxWindow and
// negative <= kMaxNegative keep block indices within word 3.
//
// Training, word2vec's (Mikolov et al. 2013, word2vec.c) and gensim's order: per sentence, the kept
// words (after subsampling) in order; for kept word i with reduced window b, its context is the kept
// words i - window + b .. i + window - b other than i. The learning rate of the word at position p is
// alpha - (alpha - min_alpha) (word_start + p) / total_words, at least min_alpha (linear decay over
// the whole training; alpha when total_words is 0).
//   skip-gram: for each context word c of centre w, in order: the input row h = syn0[c];
//     e = 0; for d = 0 .. negative: target t = w with label 1 for d = 0, else the next negative
//     (skipped when it equals w) with label 0; g = (label - sigmoid(h . syn1neg[t])) lr;
//     e += g syn1neg[t]; syn1neg[t] += g h.  Then syn0[c] += e.
//   CBOW: h = the sum of the context rows, divided by their count when cbow_mean; nothing when the
//     context is empty; the same loop over targets for centre w; then every context row += e when
//     cbow_mean (word2vec.c's and gensim's rule), += e / count otherwise.
// The sigmoid is exact (1 / (1 + exp(-x)) in T), not word2vec's clipped table. With compute_loss the
// kernel sums -log sigmoid(x) for the positives and -log sigmoid(-x) for the negatives, in double.
//
// Threads work on whole sentences at once and update the shared tables without locks ("Hogwild",
// as word2vec.c and gensim do): with more than one thread the result is not bitwise reproducible
// (two threads may update one row at once); with one thread it is.
#pragma once
#include <cmath>
#include <cstdint>

#include "core/host_device.h"
#include "core/philox.h"

namespace fastnn {
namespace word2vec {

constexpr int64_t kMaxWindow = 1 << 20;
constexpr int64_t kMaxNegative = 1 << 10;

struct Config {
  int64_t vocab = 0, dim = 0;
  int64_t window = 5, negative = 5;
  bool sg = false, cbow_mean = true, compute_loss = false;
  double alpha = 0.025, min_alpha = 1e-4;
  int64_t word_start = 0, total_words = 0;
  uint64_t key = 0, offset = 0;
};

// The arrays of one training call; the 1-D inputs with their element strides.
template <typename T>
struct Arrays {
  T* syn0;
  T* syn1neg;
  const int64_t* tokens;
  int64_t tokens_stride, n_tokens;
  const int64_t* offsets;
  int64_t offsets_stride, sentences;  // offsets holds sentences + 1 values
  const double* keep_prob;            // null: keep every word
  int64_t keep_stride;
  const int64_t* cum;                 // null when negative is 0
  int64_t cum_stride;
};

// What the bindings check of the inputs' values (both devices: the CUDA one runs check_at in a
// kernel), one bit per broken rule.
enum Broken : uint32_t {
  kTokenOutOfRange = 1,
  kOffsetsBad = 2,
  kKeepProbBad = 4,
  kCumDecreasing = 8,
  kCumTotalBad = 16,
};

// The rules about element i of each input (where i is in its range).
template <typename T>
FASTNN_HD uint32_t check_at(const Arrays<T>& a, int64_t vocab, int64_t i) {
  uint32_t broken = 0;
  if (i < a.n_tokens) {
    const int64_t t = a.tokens[i * a.tokens_stride];
    if (t < 0 || t >= vocab) broken |= kTokenOutOfRange;
  }
  if (i <= a.sentences) {
    const int64_t o = a.offsets[i * a.offsets_stride];
    if (o < 0 || o > a.n_tokens || (i > 0 && o < a.offsets[(i - 1) * a.offsets_stride])) broken |= kOffsetsBad;
  }
  if (i < vocab && a.keep_prob) {
    const double k = a.keep_prob[i * a.keep_stride];
    if (!(k >= 0.0 && k <= 1.0)) broken |= kKeepProbBad;
  }
  if (i < vocab && a.cum) {
    const int64_t v = a.cum[i * a.cum_stride];
    if (v < 0 || (i > 0 && v < a.cum[(i - 1) * a.cum_stride])) broken |= kCumDecreasing;
    if (i == vocab - 1 && (v <= 0 || v > (int64_t(1) << 32))) broken |= kCumTotalBad;
  }
  return broken;
}

struct Totals {
  double loss;
  int64_t kept_words;
};

// Block j of token position p.
FASTNN_HD philox::Block draw(const Config& c, int64_t p, uint32_t j) {
  philox::Block ctr = philox::counter(c.offset, (uint64_t)p);
  ctr.w[3] += j;
  return philox::philox4x32_10(ctr, (uint32_t)c.key, (uint32_t)(c.key >> 32));
}

// keep_prob: element stride ks (absent: every word kept).
FASTNN_HD bool kept(const philox::Block& b0, const double* keep_prob, int64_t ks, int64_t word) {
  return keep_prob == nullptr || (double)b0.w[0] < keep_prob[word * ks] * 4294967296.0;
}

FASTNN_HD int64_t reduced_window(const Config& c, const philox::Block& b0) {
  return c.window - (int64_t)(((uint64_t)b0.w[1] * (uint64_t)c.window) >> 32);
}

FASTNN_HD double learning_rate(const Config& c, int64_t p) {
  if (c.total_words <= 0) return c.alpha;
  const double lr = c.alpha - (c.alpha - c.min_alpha) * ((double)(c.word_start + p) / (double)c.total_words);
  return lr > c.min_alpha ? lr : c.min_alpha;
}

// The word drawn by the 32-bit word u: the first w with cum[w] > (u cum[V - 1]) >> 32 (cum: element
// stride cs).
FASTNN_HD int64_t negative_word(const int64_t* cum, int64_t cs, int64_t vocab, uint32_t u) {
  const uint64_t r = ((uint64_t)u * (uint64_t)cum[(vocab - 1) * cs]) >> 32;
  int64_t lo = 0, hi = vocab - 1;  // the answer lies in [lo, hi]
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if ((uint64_t)cum[mid * cs] > r) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

// The negatives of one centre word, drawn in order k = 0, 1, ... (free functions, not members:
// FASTNN_HD gives host functions internal linkage, which keeps each CPU path's copy its own).
struct Negatives {
  int64_t p;
  int64_t k;
  philox::Block block;
};

FASTNN_HD Negatives negatives_of(int64_t p) { return {p, -1, {{0, 0, 0, 0}}}; }

FASTNN_HD uint32_t next_negative(const Config& c, Negatives& n) {
  ++n.k;
  if ((n.k & 3) == 0) n.block = draw(c, n.p, (uint32_t)(1 + n.k / 4));
  return n.block.w[n.k & 3];
}

// -log sigmoid(x), without overflow.
template <typename T>
FASTNN_HD double neg_log_sigmoid(T x) {
  const double v = (double)x;
  return v >= 0 ? log1p(exp(-v)) : -v + log1p(exp(v));
}

}  // namespace word2vec
}  // namespace fastnn
