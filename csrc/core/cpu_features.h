// What the CPU offers and which code path runs on it, shared by every CPU kernel.
//
// Kernels written on the SIMD layer (csrc/core/simd/) live in files named *_simd.cpp, which the
// build compiles once per path with that path's target flags, inside namespace
// fastnn::isa_avx512, fastnn::isa_avx2 and fastnn::isa_portable. FASTNN_DISPATCH(name) gives the
// instantiation of `name` for the path in use.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/threads.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define FASTNN_HAVE_X86 1
#else
#define FASTNN_HAVE_X86 0
#endif

namespace fastnn {

// Ordered by width: a path is usable when the CPU and the OS support it.
enum class CpuPath : int { portable = 0, avx2 = 1, avx512 = 2 };

// The path in use: the widest usable one, or FASTNN_CPU_PATH (avx512, avx2 or portable) when set.
// A FASTNN_CPU_PATH naming an unknown or unusable path raises std::invalid_argument from
// refresh_cpu_path(), which the module calls at import (a clear Python error there).
CpuPath cpu_path();
const char* cpu_path_name();
// Re-read FASTNN_CPU_PATH (tests switch paths inside one process).
void refresh_cpu_path();
// Whether this build holds `p` and this CPU (with its OS) can run it.
bool cpu_path_supported(CpuPath p);
const char* cpu_path_label(CpuPath p);
// Paths compiled into this build, widest first.
std::vector<CpuPath> cpu_paths_built();
// Why `p` cannot run here ("" when it can).
std::string cpu_path_unsupported_reason(CpuPath p);

// The vector extensions found (avx2, fma, avx512f, avx512bw, ...), and whether the OS saves
// the AVX (YMM) and AVX-512 (opmask, ZMM) register state.
std::vector<std::string> cpu_extensions();
std::string cpu_model();

// Data cache sizes in bytes, read at run time (sysfs, else cpuid, else typical values).
struct CacheSizes {
  int64_t l1d, l2, l3;
};
const CacheSizes& cache_sizes();

}  // namespace fastnn

#if defined(FASTNN_HAVE_PATH_AVX512)
#define FASTNN_DISPATCH_AVX512(...) \
  case ::fastnn::CpuPath::avx512:   \
    return &::fastnn::isa_avx512::__VA_ARGS__;
#else
#define FASTNN_DISPATCH_AVX512(...)
#endif
#if defined(FASTNN_HAVE_PATH_AVX2)
#define FASTNN_DISPATCH_AVX2(...) \
  case ::fastnn::CpuPath::avx2:   \
    return &::fastnn::isa_avx2::__VA_ARGS__;
#else
#define FASTNN_DISPATCH_AVX2(...)
#endif
// A pointer to the instantiation of `fn` (a function, or a variable such as a table of kernels,
// declared in each isa namespace) for the path in use; it may carry template arguments.
#define FASTNN_DISPATCH(...)                              \
  ([]() {                                                 \
    switch (::fastnn::cpu_path()) {                       \
      FASTNN_DISPATCH_AVX512(__VA_ARGS__)                 \
      FASTNN_DISPATCH_AVX2(__VA_ARGS__)                   \
      default:                                            \
        return &::fastnn::isa_portable::__VA_ARGS__;      \
    }                                                     \
  }())

// Declares the same names in each path's namespace, for host code to reach with FASTNN_DISPATCH:
//   FASTNN_DECLARE_PER_PATH(namespace pool { template <typename T> void f(const T* x); })
#define FASTNN_DECLARE_PER_PATH(...)  \
  namespace fastnn {                  \
  namespace isa_avx512 { __VA_ARGS__ } \
  namespace isa_avx2 { __VA_ARGS__ }   \
  namespace isa_portable { __VA_ARGS__ } \
  }
