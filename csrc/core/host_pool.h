// Output buffers of the CPU kernels that are large enough to be mapped fresh by malloc: a freed
// one is kept (up to a cap) and handed out again for the next output of the same size. Training
// loops allocate the same sizes step after step; without this each step pays the page faults of
// memory the C library has just given back to the system (about 0.1 ms per megabyte).
#pragma once
#include <cstddef>

#include <pybind11/numpy.h>

namespace fastnn {
namespace host_pool {

// Smaller outputs come from malloc's own free lists, which already reuse them.
constexpr size_t kMinBytes = size_t(1) << 18;

// A C-contiguous numpy array of `shape` and `dtype` whose memory comes from the pool (returned
// to it when the array and every view of it are gone).
pybind11::array empty_array(const pybind11::dtype& dtype, const std::vector<pybind11::ssize_t>& shape);

// Bytes held for reuse now, and the cap (FASTNN_HOST_POOL_MB, default 256; 0 turns reuse off).
size_t cached_bytes();
size_t cap_bytes();

}  // namespace host_pool
}  // namespace fastnn
