// word2vec with negative sampling on the GPU: one thread per centre word in a grid-stride loop. A
// first kernel marks the words kept by subsampling; the second finds each kept word's sentence
// (binary search of the offsets), its context among the kept neighbours within the reduced window,
// and applies the updates with atomicAdd. Contract and draws: ops/word2vec/word2vec.h.
#include "core/cuda_common.cuh"
#include "ops/word2vec/cuda.h"

namespace fastnn::cuda {
namespace {

using word2vec::Arrays;
using word2vec::Config;

constexpr int kThreads = 128;
constexpr long long kMaxLanes = 128LL * 256;  // threads of the training launch at most

__device__ __forceinline__ float exp_t(float x) { return expf(x); }
__device__ __forceinline__ double exp_t(double x) { return exp(x); }

template <typename T>
__global__ void check_kernel(Arrays<T> a, long long vocab, long long n, unsigned long long* flag) {
  const long long stride = (long long)gridDim.x * blockDim.x;
  unsigned long long broken = 0;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
    broken |= word2vec::check_at<T>(a, vocab, i);
  if (broken) atomicOr(flag, broken);
}

template <typename T>
__global__ void keep_kernel(Config c, Arrays<T> a, uint8_t* kept) {
  const long long stride = (long long)gridDim.x * blockDim.x;
  for (long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x; p < a.n_tokens; p += stride) {
    const bool k = word2vec::kept(word2vec::draw(c, p, 0), a.keep_prob, a.keep_stride, a.tokens[p * a.tokens_stride]);
    kept[p] = k ? 1 : 0;
  }
}

template <typename T>
__device__ double targets(const Config& c, const Arrays<T>& a, word2vec::Negatives& neg, long long word, const T* h,
                          T* e, T lr) {
  const long long D = c.dim;
  double loss = 0;
  for (long long i = 0; i < D; ++i) e[i] = T(0);
  for (long long d = 0; d <= c.negative; ++d) {
    long long t = word;
    T label = T(1);
    if (d > 0) {
      t = word2vec::negative_word(a.cum, a.cum_stride, c.vocab, word2vec::next_negative(c, neg));
      if (t == word) continue;
      label = T(0);
    }
    T* out = a.syn1neg + t * D;
    T x = T(0);
    for (long long i = 0; i < D; ++i) x += h[i] * out[i];
    const T sig = T(1) / (T(1) + exp_t(-x));
    const T g = (label - sig) * lr;
    if (c.compute_loss) loss += word2vec::neg_log_sigmoid<T>(d == 0 ? x : -x);
    for (long long i = 0; i < D; ++i) e[i] += g * out[i];
    for (long long i = 0; i < D; ++i) atomicAdd(&out[i], g * h[i]);
  }
  return loss;
}

template <typename T>
__global__ void train_kernel(Config c, Arrays<T> a, const uint8_t* kept, T* scratch, double* sums) {
  const long long lane = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  const long long stride = (long long)gridDim.x * blockDim.x;
  const long long D = c.dim;
  T* h = scratch + lane * 2 * D;
  T* e = h + D;
  double loss = 0, kept_words = 0;
  for (long long p = lane; p < a.n_tokens; p += stride) {
    if (!kept[p]) continue;
    // the sentence: the last s with offsets[s] <= p, holding p when p < offsets[s + 1]
    long long lo = 0, hi = a.sentences;  // offsets[lo] <= p < offsets[hi] is sought
    if (a.sentences == 0 || a.offsets[0] > p) continue;
    while (hi - lo > 1) {
      const long long mid = lo + (hi - lo) / 2;
      if (a.offsets[mid * a.offsets_stride] <= p) lo = mid;
      else hi = mid;
    }
    const long long begin = a.offsets[lo * a.offsets_stride], end = a.offsets[(lo + 1) * a.offsets_stride];
    if (p >= end) continue;
    kept_words += 1;
    const long long word = a.tokens[p * a.tokens_stride];
    const long long win = word2vec::reduced_window(c, word2vec::draw(c, p, 0));
    // the first and last context positions: win kept words on each side at most
    long long first = p, last = p, seen = 0;
    for (long long q = p - 1; q >= begin && seen < win; --q)
      if (kept[q]) first = q, ++seen;
    seen = 0;
    for (long long q = p + 1; q < end && seen < win; ++q)
      if (kept[q]) last = q, ++seen;
    const T lr = (T)word2vec::learning_rate(c, p);
    word2vec::Negatives neg = word2vec::negatives_of(p);
    if (c.sg) {
      for (long long q = first; q <= last; ++q) {
        if (q == p || !kept[q]) continue;
        T* in = a.syn0 + a.tokens[q * a.tokens_stride] * D;
        loss += targets(c, a, neg, word, in, e, lr);
        for (long long i = 0; i < D; ++i) atomicAdd(&in[i], e[i]);
      }
    } else {
      long long count = 0;
      for (long long i = 0; i < D; ++i) h[i] = T(0);
      for (long long q = first; q <= last; ++q) {
        if (q == p || !kept[q]) continue;
        const T* in = a.syn0 + a.tokens[q * a.tokens_stride] * D;
        for (long long i = 0; i < D; ++i) h[i] += in[i];
        ++count;
      }
      if (count == 0) continue;
      if (c.cbow_mean)
        for (long long i = 0; i < D; ++i) h[i] *= T(1) / (T)count;
      loss += targets(c, a, neg, word, h, e, lr);
      const T share = c.cbow_mean ? T(1) : T(1) / (T)count;
      for (long long q = first; q <= last; ++q) {
        if (q == p || !kept[q]) continue;
        T* in = a.syn0 + a.tokens[q * a.tokens_stride] * D;
        for (long long i = 0; i < D; ++i) atomicAdd(&in[i], share * e[i]);
      }
    }
  }
  if (loss != 0) atomicAdd(&sums[0], loss);
  if (kept_words != 0) atomicAdd(&sums[1], kept_words);
}

}  // namespace

int64_t word2vec_lanes(int64_t n_tokens) {
  const long long want = ceil_div(n_tokens > 0 ? n_tokens : 1, kThreads) * kThreads;
  return want < kMaxLanes ? want : kMaxLanes;
}

template <typename T>
uint32_t word2vec_check(const Arrays<T>& a, int64_t vocab, int64_t n, int64_t* flag, cudaStream_t stream) {
  check(cudaMemsetAsync(flag, 0, sizeof(int64_t), stream), "word2vec_check");
  if (n > 0) {
    check_kernel<T><<<elementwise_blocks(n, kThreads), kThreads, 0, stream>>>(
        a, vocab, n, reinterpret_cast<unsigned long long*>(flag));
    check_launch("word2vec_check");
  }
  int64_t host = 0;
  check(cudaMemcpyAsync(&host, flag, sizeof(int64_t), cudaMemcpyDeviceToHost, stream), "word2vec_check");
  check(cudaStreamSynchronize(stream), "word2vec_check");
  return (uint32_t)host;
}

template <typename T>
word2vec::Totals word2vec_train(const Config& c, const Arrays<T>& a, uint8_t* kept, T* scratch, int64_t lanes,
                                double* sums, cudaStream_t stream) {
  check(cudaMemsetAsync(sums, 0, 2 * sizeof(double), stream), "word2vec_train");
  if (a.n_tokens > 0) {
    keep_kernel<T><<<elementwise_blocks(a.n_tokens, kThreads), kThreads, 0, stream>>>(c, a, kept);
    check_launch("word2vec_train (subsampling)");
    train_kernel<T><<<(unsigned)(lanes / kThreads), kThreads, 0, stream>>>(c, a, kept, scratch, sums);
    check_launch("word2vec_train");
  }
  double host[2] = {0, 0};
  check(cudaMemcpyAsync(host, sums, sizeof(host), cudaMemcpyDeviceToHost, stream), "word2vec_train");
  check(cudaStreamSynchronize(stream), "word2vec_train");
  return {host[0], (int64_t)host[1]};
}

template uint32_t word2vec_check<float>(const Arrays<float>&, int64_t, int64_t, int64_t*, cudaStream_t);
template uint32_t word2vec_check<double>(const Arrays<double>&, int64_t, int64_t, int64_t*, cudaStream_t);
template word2vec::Totals word2vec_train<float>(const Config&, const Arrays<float>&, uint8_t*, float*, int64_t,
                                                double*, cudaStream_t);
template word2vec::Totals word2vec_train<double>(const Config&, const Arrays<double>&, uint8_t*, double*, int64_t,
                                                 double*, cudaStream_t);

}  // namespace fastnn::cuda
