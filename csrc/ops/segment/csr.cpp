// csr_from_index on the CPU: a counting sort of the positions of an index list by value. Large lists
// are cut into one chunk of positions per thread; each thread counts its chunk, a prefix sum over
// (value, chunk) gives every chunk its own slots within each value's group, and each thread then
// places its positions in increasing order. The result is stable in position and the same at any
// thread count, with no atomics.
#include <algorithm>
#include <vector>

#include "core/threads.h"
#include "ops/segment/cpu.h"

namespace fastnn {
namespace segment {

template <typename I>
int64_t csr_from_index_cpu(int64_t n, const I* index, int64_t rows, int64_t* offsets, I* perm) {
  // Per-chunk counts cost `rows` each: more chunks than the positions pay for would only add work.
  int chunks = threads_for(n * 4);
  if ((int64_t)chunks * rows > 4 * n) chunks = 1;
  std::vector<int64_t> slot((size_t)chunks * (size_t)rows, 0);  // counts, then next free slot
  std::vector<int64_t> bad((size_t)chunks, -1);
  auto chunk_begin = [&](int t) { return n * t / chunks; };
#pragma omp parallel for schedule(static, 1) num_threads(chunks)
  for (int t = 0; t < chunks; ++t) {
    int64_t* cnt = slot.data() + (size_t)t * rows;
    const int64_t k1 = chunk_begin(t + 1);
    for (int64_t k = chunk_begin(t); k < k1; ++k) {
      const uint64_t v = (uint64_t)(int64_t)index[k];
      if (v >= (uint64_t)rows) {
        bad[t] = k;
        break;
      }
      ++cnt[v];
    }
  }
  for (int t = 0; t < chunks; ++t)
    if (bad[t] >= 0) return bad[t];
  int64_t running = 0;
  for (int64_t r = 0; r < rows; ++r) {
    offsets[r] = running;
    for (int t = 0; t < chunks; ++t) {
      int64_t& c = slot[(size_t)t * rows + r];
      const int64_t count = c;
      c = running;
      running += count;
    }
  }
  offsets[rows] = running;
#pragma omp parallel for schedule(static, 1) num_threads(chunks)
  for (int t = 0; t < chunks; ++t) {
    int64_t* next = slot.data() + (size_t)t * rows;
    const int64_t k1 = chunk_begin(t + 1);
    for (int64_t k = chunk_begin(t); k < k1; ++k) perm[next[(int64_t)index[k]]++] = (I)k;
  }
  return -1;
}

template int64_t csr_from_index_cpu<int32_t>(int64_t, const int32_t*, int64_t, int64_t*, int32_t*);
template int64_t csr_from_index_cpu<int64_t>(int64_t, const int64_t*, int64_t, int64_t*, int64_t*);

}  // namespace segment
}  // namespace fastnn
