// Plain descriptors of device arrays, shared by the host launchers and the kernels.
#pragma once

namespace fastnn::cuda {

// One 4-D array (NCHW and the like): data pointer and element strides (any sign).
template <typename T>
struct Arr4 {
  T* p;
  long long s0, s1, s2, s3;
};

// Sets every element of a (n0, n1, n2, n3) strided array to zero (no launch when empty).
template <typename T>
void zero_fill4(Arr4<T> a, long long n0, long long n1, long long n2, long long n3, cudaStream_t stream);

}  // namespace fastnn::cuda
