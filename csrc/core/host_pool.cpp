#include "core/host_pool.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>

namespace py = pybind11;

namespace fastnn {
namespace host_pool {
namespace {

constexpr size_t kAlign = 64;  // a cache line, and every SIMD path's widest load

struct Pool {
  std::mutex mu;
  std::unordered_multimap<size_t, void*> free_blocks;  // by exact size
  size_t held = 0;
  size_t cap = read_cap();

  static size_t read_cap() {
    const char* s = std::getenv("FASTNN_HOST_POOL_MB");
    if (!s || !*s) return size_t(256) << 20;
    char* end = nullptr;
    const long long mb = std::strtoll(s, &end, 10);
    return (end && *end == '\0' && mb >= 0) ? size_t(mb) << 20 : size_t(256) << 20;
  }
};

// Never destroyed: arrays may be freed by the interpreter after static destructors have run.
Pool& pool() {
  static Pool* p = new Pool;
  return *p;
}

size_t rounded(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

void* acquire(size_t bytes) {
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    auto it = p.free_blocks.find(bytes);
    if (it != p.free_blocks.end()) {
      void* block = it->second;
      p.free_blocks.erase(it);
      p.held -= bytes;
      return block;
    }
  }
  void* block = std::aligned_alloc(kAlign, bytes);
  if (!block) throw std::bad_alloc();
  return block;
}

void release(void* block, size_t bytes) {
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    if (p.held + bytes <= p.cap) {
      p.free_blocks.emplace(bytes, block);
      p.held += bytes;
      return;
    }
  }
  std::free(block);
}

// The capsule owning one block: its size travels with it.
struct Block {
  void* data;
  size_t bytes;
};

}  // namespace

py::array empty_array(const py::dtype& dtype, const std::vector<py::ssize_t>& shape) {
  size_t bytes = size_t(dtype.itemsize());
  bool fits = true;
  for (py::ssize_t d : shape) fits = fits && d >= 0 && !__builtin_mul_overflow(bytes, size_t(d), &bytes);
  // numpy's own allocation raises its error for a size that does not fit
  if (!fits || bytes < kMinBytes || pool().cap == 0) return py::array(dtype, shape);
  const size_t size = rounded(bytes);
  Block* owner = new Block{acquire(size), size};
  py::capsule base(owner, [](void* q) {
    Block* b = static_cast<Block*>(q);
    release(b->data, b->bytes);
    delete b;
  });
  return py::array(dtype, shape, {}, owner->data, base);
}

size_t cached_bytes() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  return p.held;
}

size_t cap_bytes() { return pool().cap; }

}  // namespace host_pool
}  // namespace fastnn
