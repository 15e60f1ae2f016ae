// The thread count every CPU kernel uses: one process-wide setting (fastnn.set_num_threads),
// not OpenMP's per-thread one, so kernels called from any Python thread honour it. Kernels
// pass it to each parallel region: `#pragma omp parallel num_threads(fastnn::threads_for(work))`.
#pragma once
#include <cstdint>

namespace fastnn {

int get_num_threads();
void set_num_threads(int n);

// Threads for a loop of `work` element operations: one below about 32k (waking a team costs
// more than it saves there), else all of them.
inline int threads_for(int64_t work) { return work < (int64_t(1) << 15) ? 1 : get_num_threads(); }

}  // namespace fastnn
