// The word2vec training kernel on the CPU (cpu_simd.cpp, one instantiation per CPU path).
// Contract: ops/word2vec/word2vec.h.
#pragma once
#include <cstdint>

#include "core/cpu_features.h"
#include "ops/word2vec/word2vec.h"

namespace fastnn {
namespace word2vec {

// Working memory per thread: `longest` positions (the longest sentence) and 2 D values.
struct Scratch {
  int64_t* positions;
  int64_t longest;
  void* vectors;
};

}  // namespace word2vec
}  // namespace fastnn

FASTNN_DECLARE_PER_PATH(namespace word2vec {
  using ::fastnn::word2vec::Arrays;
  using ::fastnn::word2vec::Config;
  using ::fastnn::word2vec::Scratch;
  using ::fastnn::word2vec::Totals;
  template <typename T>
  Totals train(const Config& c, const Arrays<T>& a, int threads, const Scratch& scratch);
})

namespace fastnn {
namespace word2vec {

// `threads` threads share the sentences (Hogwild); scratch holds `threads` slices.
template <typename T>
Totals train_cpu(const Config& c, const Arrays<T>& a, int threads, const Scratch& scratch) {
  return FASTNN_DISPATCH(word2vec::train<T>)(c, a, threads, scratch);
}

}  // namespace word2vec
}  // namespace fastnn
