// The activation family's contract, shared by the CPU kernels (cpu_simd.cpp), the plain reference (ref.cpp)
// and the CUDA kernels (cuda.cu): piecewise-linear activations and their gradients, element by element over
// n contiguous values of x's dtype (float32 or float64).
//
//   kind        forward y                                   backward dx (from dy and the forward's x)
//   kRelu       x > 0 ? x : (x is NaN ? x : +0)             x > 0 ? dy : 0
//   kLeakyRelu  x > 0 ? x : x * slope                       x > 0 ? dy : dy * slope
//
// These are PyTorch's definitions (relu keeps a NaN; its gradient is exactly 0 wherever x <= 0, even for an
// infinite or NaN dy). Every result is one comparison and at most one correctly rounded product, so the CPU
// paths, the reference and the CUDA kernels agree bitwise. y / dx may be x / dy themselves (in place); no
// other overlap is allowed.
#pragma once

namespace fastnn {
namespace activation {

enum Kind : int { kRelu = 0, kLeakyRelu = 1 };

}  // namespace activation
}  // namespace fastnn
