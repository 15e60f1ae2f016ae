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
// Graph aggregation reads a graph's edges through a CSR view: the edges e grouped by their target
// node (offsets over positions k, one segment per target), perm[k] the edge id at position k and
// col[k] = the source node of that edge. Weights and per-edge values stay in edge order (one row per
// edge id); the kernels read them through perm, so nothing is permuted on the host. The backward of
// an aggregation runs the same kernels over the transposed view (edges grouped by source), built
// once and cached, so it is a gather, never a scatter with atomics.
//
//   segment_reduce  (extended) mode min (column-wise minimum, argmin in `argmax`, NaN propagates);
//                   weights in modes sum and mean: mean = (sum of w[k] * src[index[k]]) / rows kept;
//                   weights of shape (n, H) with d % H == 0 weight column block h (C = d / H columns)
//                   of each row by w[k, h] (multi-head attention weights); with `weight_index`, the
//                   weight of position k is row weight_index[k] of `weights` (edge order)
//   segment_dot     out[wi(k), h] = sum_{c < C} a[s, h*C + c] * src[index[k], h*C + c] for k in
//                   segment s, wi(k) = weight_index[k] (or k): the gradient of the weights of a
//                   weighted sum (SDDMM); rows of `out` no position names are 0
//   csr_from_index  offsets (num_rows + 1) and perm (n): the positions k of an unsorted index list
//                   grouped by value, ascending, stable in k (a counting sort)
//   segment_softmax out[perm[k], h] = exp(src[perm[k], h] - max) / sum over segment s of k (softmax of
//                   each column within each segment; rows of src in edge order); rows no position
//                   names are 0
//   segment_softmax_backward  dsrc[e, h] = out[e, h] * (grad[e, h] - sum_{k in s} grad[perm[k], h] * out[perm[k], h])
//
// Every result is deterministic on the CPU (each output row or column block has one owner thread,
// sums run in position order, no atomics). On CUDA, `deterministic` (fastnn.use_deterministic_algorithms)
// selects kernels with a fixed summation order; without it, kernels may balance long segments over
// several warps and combine them with atomics.
//
// Tables and row blocks are C-contiguous; every index is checked against its range by the binding
// before a kernel runs, so the kernels trust their indices (csr_from_index on the CPU checks in its
// counting pass, before it writes anything indexed by a value).
#pragma once
#include <cstdint>

namespace fastnn {
namespace segment {

enum class Mode : int { sum = 0, mean = 1, max = 2, min = 3 };

// The hyper-parameters of one SparseAdam step, combined on the host (python/fastnn/optim/sparse_adam.py):
//   g = -g if maximize;
//   m_upd = (g - m) * one_minus_beta1;  v_upd = (g * g - v) * one_minus_beta2;
//   p += neg_step_size * ((m_upd + m) / (sqrt(v_upd + v) + eps));  m += m_upd;  v += v_upd
// (m and v their values before the step), operation by operation as torch.optim.SparseAdam writes it.
template <typename T>
struct SparseAdamScalars {
  T one_minus_beta1, one_minus_beta2, eps, neg_step_size;
  bool maximize;
};

}  // namespace segment
}  // namespace fastnn
