// The plain reference of the activation kernels (contract: activation.h): a scalar loop in index order.
#include <cmath>

#include "ops/activation/cpu.h"

namespace fastnn {
namespace activation {

template <typename T>
void forward_reference(Kind kind, int64_t n, const T* x, T slope, T* y) {
  for (int64_t i = 0; i < n; ++i) {
    const T v = x[i];
    if (kind == kRelu) y[i] = (v > T(0) || v != v) ? v : T(0);
    else if (kind == kLeakyRelu) y[i] = v > T(0) ? v : v * slope;
    else if (kind == kSigmoid) y[i] = T(1) / (T(1) + std::exp(-v));
    else y[i] = v / (T(1) + std::exp(-v));
  }
}

template <typename T>
void backward_reference(Kind kind, int64_t n, const T* dy, const T* x, T slope, T* dx) {
  for (int64_t i = 0; i < n; ++i) {
    const T g = dy[i], v = x[i];
    if (kind == kRelu) dx[i] = v > T(0) ? g : T(0);
    else if (kind == kLeakyRelu) dx[i] = v > T(0) ? g : g * slope;
    else {
      const T s = T(1) / (T(1) + std::exp(-v));
      dx[i] = kind == kSilu ? g * s * (T(1) + v * (T(1) - s)) : g * s * (T(1) - s);
    }
  }
}

template void forward_reference<float>(Kind, int64_t, const float*, float, float*);
template void forward_reference<double>(Kind, int64_t, const double*, double, double*);
template void backward_reference<float>(Kind, int64_t, const float*, const float*, float, float*);
template void backward_reference<double>(Kind, int64_t, const double*, const double*, double, double*);

}  // namespace activation
}  // namespace fastnn
