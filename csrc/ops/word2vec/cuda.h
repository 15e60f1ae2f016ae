// The word2vec training kernel on the GPU. Contract: ops/word2vec/word2vec.h.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "ops/word2vec/word2vec.h"

namespace fastnn::cuda {

// The rules of word2vec::check_at over elements [0, n): the broken ones' bits (waits for the stream).
template <typename T>
uint32_t word2vec_check(const word2vec::Arrays<T>& a, int64_t vocab, int64_t n, int64_t* flag, cudaStream_t stream);

// Threads of the training launch for n tokens: the rows of the (lanes, 2 D) scratch.
int64_t word2vec_lanes(int64_t n_tokens);

// One thread per centre word (grid-stride), updates by atomicAdd (Hogwild: the order between threads is
// free); kept (n_tokens bytes), scratch and sums (2 doubles) are working memory. Waits for the stream.
template <typename T>
word2vec::Totals word2vec_train(const word2vec::Config& c, const word2vec::Arrays<T>& a, uint8_t* kept, T* scratch,
                                int64_t lanes, double* sums, cudaStream_t stream);

}  // namespace fastnn::cuda
