// Test-only entry to the SIMD layer (fastnn._C._simd_eval, used by tests/test_simd.py): one
// operation of the layer applied by one CPU path's instantiation to whole arrays, loop tails
// through the masked loads and stores.
#pragma once
#include <cstdint>

#include "core/cpu_features.h"

namespace fastnn {
namespace simd_check {

enum class DT : int { f32 = 0, f64 = 1, i32 = 2, i64 = 3 };

// X(name, operands, result): the result is a dtype, `same` (the operands' dtype), `chunk` (the
// operands' dtype, one value per full vector of a), `bits` (the integer or float type of the
// same width) or `gathered` (a's dtype, one value per index). Operands after the first have the
// first's dtype, except for the gathers (a: the table, b: int32 or int64 indices).
#define FASTNN_SIMD_CHECK_OPS(X)                                                                                   \
  X(exp, 1, same) X(log, 1, same) X(tanh, 1, same) X(sin, 1, same) X(cos, 1, same) X(sqrt, 1, same)                 \
  X(abs, 1, same) X(neg, 1, same) X(round, 1, same) X(add, 2, same) X(sub, 2, same) X(mul, 2, same)                \
  X(div, 2, same) X(max, 2, same) X(min, 2, same) X(fma, 3, same) X(where_lt, 2, same) X(where_le, 2, same)       \
  X(where_gt, 2, same) X(where_ge, 2, same) X(where_eq, 2, same) X(where_ne, 2, same) X(where_unord, 2, same)     \
  X(reduce_add, 1, chunk) X(reduce_max, 1, chunk) X(reduce_min, 1, chunk) X(any_lt, 2, chunk) X(all_lt, 2, chunk) \
  X(widen, 1, f64) X(narrow, 1, f32) X(to_float, 1, f32) X(round_to_int, 1, i32) X(trunc_to_int, 1, i32)            \
  X(as_bits, 1, bits) X(from_bits, 1, bits) X(mullo, 2, same) X(mulhi, 2, same) X(and, 2, same) X(or, 2, same)   \
  X(xor, 2, same) X(andnot, 2, same) X(shl, 1, same) X(shr, 1, same) X(sar, 1, same) X(cmp_eq, 2, same)            \
  X(cmp_gt, 2, same) X(cmp_lt, 2, same) X(select_gt, 2, same) X(gather, 2, gathered) X(gather_vec, 2, gathered)   \
  X(transpose, 1, same)

enum class Op : int {
#define FASTNN_SIMD_CHECK_ENUM(name, n, out) name##_,
  FASTNN_SIMD_CHECK_OPS(FASTNN_SIMD_CHECK_ENUM)
#undef FASTNN_SIMD_CHECK_ENUM
};

struct Args {
  Op op;
  DT dt;             // dtype of a
  DT dt_b;           // dtype of b (the indices of a gather)
  const void *a, *b, *c;
  void* out;
  int64_t n;         // elements of a (of b for the gathers)
  int arg;           // shift count
};

}  // namespace simd_check
}  // namespace fastnn

// Per path: the lanes of Vec<T> for an element size, and the operation (false when it is not
// defined for that dtype).
FASTNN_DECLARE_PER_PATH(int simd_check_lanes(int elem_bytes); bool simd_check_run(const simd_check::Args& args);)
