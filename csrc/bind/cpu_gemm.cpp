#include "bind/checks.h"
#include "cpu/gemm.h"

namespace fastnn {

namespace {

template <typename T>
void run_gemm(py::array a, py::array b, py::array out, double alpha, double beta) {
  auto sa = elem_strides("gemm", "a", a), sb = elem_strides("gemm", "b", b), sc = elem_strides("gemm", "out", out);
  const int64_t batch = out.shape(0), M = out.shape(1), N = out.shape(2), K = a.shape(2);
  py::gil_scoped_release release;
  gemm_batched<T>(batch, M, N, K, (T)alpha, static_cast<const T*>(a.data()), sa[0], sa[1], sa[2],
                  static_cast<const T*>(b.data()), sb[0], sb[1], sb[2], (T)beta,
                  static_cast<T*>(out.mutable_data()), sc[0], sc[1], sc[2]);
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
  require_no_overlap(fn, "out", out, "a", a);
  require_no_overlap(fn, "out", out, "b", b);
  for (py::ssize_t i = 0; out.size() > 0 && i < 3; ++i)
    if (out.shape(i) > 1 && out.strides(i) == 0) fail_value(fn, "output 'out' must not have zero strides");
  if (dtype_of(a) == DType::f32) run_gemm<float>(a, b, out, alpha, beta);
  else run_gemm<double>(a, b, out, alpha, beta);
}

}  // namespace

void bind_gemm(py::module_& m) {
  m.def("gemm", &gemm, py::arg("a"), py::arg("b"), py::arg("out"), py::arg("alpha") = 1.0, py::arg("beta") = 0.0,
        "out[i] = alpha * a[i] @ b[i] + beta * out[i] for 3-D arrays (batch, M, K) @ (batch, K, N) of any strides.");
}

}  // namespace fastnn
