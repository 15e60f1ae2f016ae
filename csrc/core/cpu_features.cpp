#include "core/cpu_features.h"

#include <omp.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace fastnn {
namespace {

bool detect_avx2() {
#if FASTNN_HAVE_X86
  __builtin_cpu_init();
  if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return false;
#else
  return false;
#endif
  const char* forced = std::getenv("FASTNN_CPU_PATH");
  return !(forced && std::strcmp(forced, "portable") == 0);
}

std::atomic<int> g_avx2{-1};

}  // namespace

bool cpu_path_avx2() {
  int v = g_avx2.load(std::memory_order_relaxed);
  if (v < 0) {
    v = detect_avx2() ? 1 : 0;
    g_avx2.store(v, std::memory_order_relaxed);
  }
  return v == 1;
}

void refresh_cpu_path() { g_avx2.store(detect_avx2() ? 1 : 0); }

const char* cpu_path_name() { return cpu_path_avx2() ? "avx2" : "portable"; }

// One process-wide count, not OpenMP's per-thread setting, so that kernels called from
// any Python thread honour fastnn.set_num_threads(). Kernels pass it to every parallel
// region: `#pragma omp parallel num_threads(fastnn::get_num_threads())`.
std::atomic<int> g_threads{0};

int get_num_threads() {
  int n = g_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : omp_get_max_threads();
}

void set_num_threads(int n) { g_threads.store(n < 1 ? 1 : n); }

}  // namespace fastnn
