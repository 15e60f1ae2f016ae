// The fused optimiser updates (Adam/AdamW, SGD), one pass per parameter instead of a dozen
// element-wise ones, on the CPU (cpu.h) and the GPU (cuda.h). The arithmetic is PyTorch's
// single-tensor formulas operation by operation, each correctly rounded and never contracted into
// an FMA, so both devices give the same bits.
#pragma once

namespace fastnn {

// Hyper-parameters, already combined on the host in double and rounded to T there, as the Python
// update's scalars are rounded when they meet a T array.
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

}  // namespace fastnn
