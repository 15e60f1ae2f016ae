// The fused optimiser steps' contract, shared by the CPU kernels (cpu_simd.cpp) and the CUDA ones
// (cuda.cu): one pass over a parameter's arrays doing Adam/AdamW or SGD with momentum.
//
// The arithmetic is fastnn's array path (python/fastnn/optim/adam.py and sgd.py, PyTorch's
// single-tensor formulas) operation by operation, in the same order, each operation correctly
// rounded in T and never contracted into an FMA, so the fused step on either device and the
// array path give bitwise-equal parameters and state:
//
//   Adam:  g = -g if maximize;  g = g + l2 * p if l2 != 0;  p = p * decay if decay != 1;
//          m = lerp_low ? m + (g - m) * w : g + (m - g) * one_minus_w;
//          v = v * beta2 + (g * g) * one_minus_beta2;
//          top = amsgrad ? (vmax = maximum(vmax, v)) : v      (a NaN in either wins, as numpy's);
//          p = p - (m / (sqrt(top) / bias_correction2_sqrt + eps)) * step_size
//   SGD:   d = -g if maximize else g;  d = d + l2 * p if l2 != 0;
//          if momentum != 0: buf = first ? d : buf * momentum + (dampened ? one_minus_dampening * d : d);
//                            d = nesterov ? d + momentum * buf : buf;
//          p = p - lr * d
//
// All arrays are contiguous with n elements; p, m, v, vmax and buf are updated in place.
#pragma once

namespace fastnn {
namespace optim {

// Hyper-parameters, already combined on the host in double and rounded to T there, as the array
// path's Python scalars are rounded when they meet a T array.
template <typename T>
struct AdamScalars {
  T l2;             // weight_decay added to the gradient (Adam), 0 when none or decoupled
  T decay;          // 1 - lr * weight_decay applied to the parameter first (AdamW), 1 when none
  T w;              // 1 - beta1: the lerp weight of the first moment
  T one_minus_w;    // beta1, as (1.0 - w) in double then rounded
  T beta2, one_minus_beta2;
  T bias_correction2_sqrt, eps, step_size;
  bool lerp_low;    // w < 0.5: PyTorch's lerp branch
  bool maximize, amsgrad;
};

template <typename T>
struct SgdScalars {
  T l2;                 // weight_decay added to the gradient, 0 when none
  T momentum;           // 0: plain SGD, no buffer
  T one_minus_dampening;
  T lr;
  bool dampened;        // dampening != 0
  bool nesterov, maximize;
  bool first;           // the buffer starts as the gradient (its first step)
};

}  // namespace optim
}  // namespace fastnn
