// The segment-reduction family's contract, shared by the CPU kernels (segment_simd.cpp, cpu.cpp),
// the plain reference (ref.cpp) and the CUDA kernels (cuda.cu).
//
// A "segment" is a run [offsets[s], offsets[s + 1]) of positions k in a gathered index list
// `index`; each position names a row index[k] of a 2-D table `src` (rows, d). Embedding lookups,
// EmbeddingBag's bags, the coalescing of sparse-rows gradients and (later) graph aggregation over
// CSR neighbour lists are all reductions of gathered rows over such segments:
//
//   gather_rows      out[i]    = src[index[i]]
//   segment_reduce   out[s]    = reduce_{k in segment s, index[k] != skip} w[k] * src[index[k]]
//                    sum: w[k] (1 without weights); mean: the sum / the number of rows kept;
//                    max: column-wise maximum, argmax[s, j] = the row it came from (-1 for an
//                    empty segment, whose output is 0 in every mode)
//   segment_max_backward   dst (rows, d) = 0, then dst[argmax[s, j], j] += grad[s, j]
//   index_coalesce   the positions k of `index` grouped by row id (ascending, stable in k): the
//                    unique ids, the group offsets and the positions in group order
//   index_add_rows   dst[ids[u]] += alpha * rows[u]           (ids strictly increasing)
//   rows_renorm      dst[ids[u]] *= max_norm / (norm + 1e-7) where norm = ||dst[ids[u]]||_p > max_norm
//   sparse_adam_step PyTorch's SparseAdam update of the rows ids[u] of (param, exp_avg, exp_avg_sq)
//
// Tables and row blocks are C-contiguous; every index is checked against its range by the binding
// before a kernel runs, so the kernels trust their indices.
#pragma once
#include <cstdint>

namespace fastnn {
namespace segment {

enum class Mode : int { sum = 0, mean = 1, max = 2 };

// The hyper-parameters of one SparseAdam step, combined on the host (python/fastnn/optim/sparse_adam.py):
//   g = -g if maximize;  m_old = m;  m += (g - m_old) * one_minus_beta1;
//   v_old = v;  v += (g * g - v_old) * one_minus_beta2;
//   p += neg_step_size * ((m_old + (g - m_old) * one_minus_beta1) / (sqrt(v_old + (g*g - v_old) * one_minus_beta2) + eps))
// operation by operation as torch.optim.SparseAdam writes it.
template <typename T>
struct SparseAdamScalars {
  T one_minus_beta1, one_minus_beta2, eps, neg_step_size;
  bool maximize;
};

}  // namespace segment
}  // namespace fastnn
