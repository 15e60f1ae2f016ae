// The recurrent family on the CPU: the fused per-step gate kernels (cell_simd.cpp, one
// instantiation per CPU path) and the whole-sequence loops over them (cpu.cpp). Contract: rnn.h.
#pragma once
#include "core/cpu_features.h"
#include "ops/rnn/driver.h"
#include "ops/rnn/rnn.h"

FASTNN_DECLARE_PER_PATH(namespace rnn {
  using ::fastnn::rnn::Mode;
  using ::fastnn::rnn::StepBwd;
  using ::fastnn::rnn::StepFwd;
  template <typename T>
  void step_forward(Mode m, const StepFwd<T>& a);
  template <typename T>
  void step_backward(Mode m, const StepBwd<T>& a);
})

namespace fastnn {
namespace rnn {

// One layer and direction over a whole sequence (driver.h), with the CPU's GEMM and gate kernels.
template <typename T>
void sequence_forward_cpu(const SeqFwd<T>& s);
template <typename T>
void sequence_backward_cpu(const SeqBwd<T>& s);

}  // namespace rnn
}  // namespace fastnn
