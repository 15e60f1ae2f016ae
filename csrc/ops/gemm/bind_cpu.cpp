#include <algorithm>
#include <array>
#include <cstdlib>

#include "core/checks.h"
#include "ops/gemm/cpu.h"

namespace fastnn {

namespace {

// True when two different index tuples of `a` can address the same element: the
// dimensions, sorted by stride, must each step over everything the smaller ones span.
bool self_overlapping(const py::array& a) {
  if (a.size() <= 1) return false;
  std::array<std::pair<int64_t, int64_t>, 3> dims{};  // (|stride| in bytes, extent)
  int n = 0;
  for (py::ssize_t i = 0; i < a.ndim(); ++i)
    if (a.shape(i) > 1) dims[n++] = {std::llabs((long long)a.strides(i)), a.shape(i)};
  std::sort(dims.begin(), dims.begin() + n);
  int64_t span = a.itemsize();  // bytes covered by the dimensions seen so far
  for (int i = 0; i < n; ++i) {
    if (dims[i].first < span) return true;
    span = dims[i].first * (dims[i].second - 1) + span;
  }
  return false;
}

template <typename T>
void run_gemm(py::array a, py::array b, py::array out, double alpha, double beta) {
  auto sa = elem_strides("gemm", "a", a), sb = elem_strides("gemm", "b", b), sc = elem_strides("gemm", "out", out);
  const int64_t batch = out.shape(0), M = out.shape(1), N = out.shape(2), K = a.shape(2);
  const T* pa = static_cast<const T*>(a.data());
  const T* pb = static_cast<const T*>(b.data());
  T* pc = static_cast<T*>(out.mutable_data());
  py::gil_scoped_release release;
  gemm_batched<T>(batch, M, N, K, (T)alpha, pa, sa[0], sa[1], sa[2], pb, sb[0], sb[1], sb[2], (T)beta, pc, sc[0],
                  sc[1], sc[2]);
}

void gemm(py::array a, py::array b, py::array out, double alpha, double beta) {
  const std::string fn = "gemm";
  require_float(fn, "a", a);
  require_same_dtype(fn, "a", a, "b", b);
  require_same_dtype(fn, "a", a, "out", out);
  require_ndim(fn, "a", a, 3);
  require_ndim(fn, "b", b, 3);
  require_ndim(fn, "out", out, 3);
  if (a.shape(0) != out.shape(0) || b.shape(0) != out.shape(0) || a.shape(2) != b.shape(1) ||
      a.shape(1) != out.shape(1) || b.shape(2) != out.shape(2))
    fail_value(fn, "shapes do not agree: a " + shape_str(a) + " @ b " + shape_str(b) + " -> out " + shape_str(out) +
                       " (expected a (batch, M, K), b (batch, K, N), out (batch, M, N))");
  require_writeable(fn, "out", out);
  // Validate the strides of every operand before anything else looks at them.
  elem_strides(fn, "a", a);
  elem_strides(fn, "b", b);
  elem_strides(fn, "out", out);
  require_no_overlap(fn, "out", out, "a", a);
  require_no_overlap(fn, "out", out, "b", b);
  for (py::ssize_t i = 0; out.size() > 0 && i < 3; ++i)
    if (out.shape(i) > 1 && out.strides(i) == 0)
      fail_value(fn, "output 'out' of shape " + shape_str(out) + " has a zero stride in dimension " +
                         std::to_string(i) + " (a broadcast view cannot be written)");
  if (out.size() > 0 && self_overlapping(out))
    fail_value(fn, "output 'out' of shape " + shape_str(out) + " has strides under which elements overlap");
  if (dtype_of(a) == DType::f32) run_gemm<float>(a, b, out, alpha, beta);
  else run_gemm<double>(a, b, out, alpha, beta);
}

}  // namespace

void bind_gemm(py::module_& m) {
  m.def("gemm", &gemm, py::arg("a"), py::arg("b"), py::arg("out"), py::arg("alpha") = 1.0, py::arg("beta") = 0.0,
        "out[i] = alpha * a[i] @ b[i] + beta * out[i] for 3-D arrays (batch, M, K) @ (batch, K, N) of any strides.\n"
        "Batch strides of a and b may be 0 (broadcast). out must not overlap a or b; when beta == 0 it is not "
        "read. The GIL is released while the kernel runs.");
}

}  // namespace fastnn
