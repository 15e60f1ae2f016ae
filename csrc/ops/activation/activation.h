// The activation family's contract, shared by the CPU kernels (cpu_simd.cpp), the plain reference (ref.cpp)
// and the CUDA kernels (cuda.cu): activations and their gradients, element by element over n contiguous
// values of x's dtype (float32 or float64).
//
//   kind        forward y                                   backward dx (from dy and the forward's x)
//   kRelu       x > 0 ? x : (x is NaN ? x : +0)             x > 0 ? dy : 0
//   kLeakyRelu  x > 0 ? x : x * slope                       x > 0 ? dy : dy * slope
//   kSigmoid    s = 1 / (1 + exp(-x))                       dy * s * (1 - s)
//   kSilu       x / (1 + exp(-x))                           dy * s * (1 + x * (1 - s)),  s = sigmoid(x)
//
// These are PyTorch's definitions (relu keeps a NaN; its gradient is exactly 0 wherever x <= 0, even for an
// infinite or NaN dy; sigmoid and silu are written as PyTorch's CPU kernels write them, so exp(-x) = inf
// gives sigmoid 0 and silu -0, and silu(-inf) is NaN as in PyTorch). The piecewise-linear kinds are one
// comparison and at most one correctly rounded product, so the CPU paths, the reference and the CUDA kernels
// agree bitwise. The smooth kinds go through an exp: the SIMD layer's (within 2 ulp) on the CPU, the C
// library's in the reference and CUDA's expf / exp on the GPU, so those results agree within a few ulp, not
// bitwise. slope is ignored by the smooth kinds. y / dx may be x / dy themselves (in place); no other overlap
// is allowed.
#pragma once

namespace fastnn {
namespace activation {

enum Kind : int { kRelu = 0, kLeakyRelu = 1, kSigmoid = 2, kSilu = 3 };

}  // namespace activation
}  // namespace fastnn
