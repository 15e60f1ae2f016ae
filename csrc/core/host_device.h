// FASTNN_HD marks a function usable from host code and from CUDA device code.
//
// On the host the functions get internal linkage (static inline): a header such as core/philox.h is
// included by *_simd.cpp files compiled once per CPU path, and an out-of-line copy with external
// linkage made in the AVX-512 object could be the one the linker keeps for the portable path.
#pragma once

#if defined(__CUDACC__)
#define FASTNN_HD __host__ __device__ __forceinline__
#else
#define FASTNN_HD static inline __attribute__((always_inline))
#endif
