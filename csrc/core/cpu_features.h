// Run-time choice of the CPU code path and the thread count, shared by every CPU kernel.
#pragma once

// Functions that use AVX2/FMA intrinsics carry this attribute; callers reach them only
// when fastnn::cpu_path_avx2() is true, so the wheel still runs on any x86-64.
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define FASTNN_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define FASTNN_HAVE_X86 1
#else
#define FASTNN_TARGET_AVX2
#define FASTNN_HAVE_X86 0
#endif

namespace fastnn {

// True when the CPU has AVX2+FMA and FASTNN_CPU_PATH is not "portable".
bool cpu_path_avx2();
// Re-read FASTNN_CPU_PATH (tests switch paths inside one process).
void refresh_cpu_path();
// "avx2" or "portable".
const char* cpu_path_name();

int get_num_threads();
void set_num_threads(int n);

}  // namespace fastnn
