// The binding of the GEMM family, compiled into both modules (core/device.h): the same functions
// and arguments on fastnn._C (host arrays) and fastnn._C_cuda (device arrays).
#include "core/device.h"

#if FASTNN_CUDA_MODULE
#include "ops/gemm/cuda.h"
#else
#include "core/cpu_features.h"
#include "ops/gemm/cpu.h"
#endif

namespace fastnn {
namespace {

struct GemmArgs {
  ArrayView a, b;
};

// a (batch, M, K) and b (batch, K, N), float32 or float64 of one dtype, any strides.
GemmArgs operands(Call& call, py::handle a, py::handle b) {
  GemmArgs g{call.float_array("a", a, 3), call.array("b", b)};
  require_same_dtype(call.fn, g.a, g.b);
  require_ndim(call.fn, g.b, 3);
  require_aligned(call.fn, g.a);
  require_aligned(call.fn, g.b);
  return g;
}

void gemm_py(py::handle a_obj, py::handle b_obj, py::handle out_obj, double alpha, double beta, bool allow_tf32) {
  Call call("gemm");
  GemmArgs g = operands(call, a_obj, b_obj);
  const ArrayView& a = g.a;
  const ArrayView& b = g.b;
  ArrayView out = call.array("out", out_obj);
  require_same_dtype(call.fn, a, out);
  require_ndim(call.fn, out, 3);
  if (a.dim(0) != out.dim(0) || b.dim(0) != out.dim(0) || a.dim(2) != b.dim(1) || a.dim(1) != out.dim(1) ||
      b.dim(2) != out.dim(2))
    fail_value(call.fn, "shapes do not agree: a " + a.shape_str() + " @ b " + b.shape_str() + " -> out " +
                            out.shape_str() + " (expected a (batch, M, K), b (batch, K, N), out (batch, M, N))");
  require_output(call.fn, out, {&a, &b});
  if (out.numel() == 0) return;
  const int64_t batch = out.dim(0), M = out.dim(1), N = out.dim(2), K = a.dim(2);
  with_float_type(a, [&](auto zero) {
    using T = decltype(zero);
#if FASTNN_CUDA_MODULE
    cudaStream_t stream = call.stream();
    py::gil_scoped_release release;
    cuda::gemm_batched<T>(batch, M, N, K, (T)alpha, a.ptr<const T>(), a.strides[0], a.strides[1], a.strides[2],
                          b.ptr<const T>(), b.strides[0], b.strides[1], b.strides[2], (T)beta, out.ptr<T>(),
                          out.strides[0], out.strides[1], out.strides[2], allow_tf32 && a.dtype == kFloat32, stream);
#else
    (void)allow_tf32;
    py::gil_scoped_release release;
    gemm_batched<T>(batch, M, N, K, (T)alpha, a.ptr<const T>(), a.strides[0], a.strides[1], a.strides[2],
                    b.ptr<const T>(), b.strides[0], b.strides[1], b.strides[2], (T)beta, out.ptr<T>(), out.strides[0],
                    out.strides[1], out.strides[2]);
#endif
  });
}

std::string gemm_path_py(py::handle a_obj, py::handle b_obj, bool allow_tf32) {
  Call call("gemm_path");
  GemmArgs g = operands(call, a_obj, b_obj);
  const ArrayView& a = g.a;
  const ArrayView& b = g.b;
  if (a.dim(2) != b.dim(1) || a.dim(0) != b.dim(0))
    fail_value(call.fn, "shapes do not agree: a " + a.shape_str() + " @ b " + b.shape_str());
#if FASTNN_CUDA_MODULE
  const bool is_float = a.dtype == kFloat32;
  if (allow_tf32 && is_float) call.enter_device();  // TF32 depends on the device's compute capability
  return cuda::gemm_path(is_float, a.dim(0), a.dim(1), a.dim(2), b.dim(2), a.data, a.strides[0], a.strides[1],
                         a.strides[2], b.data, b.strides[0], b.strides[1], b.strides[2], allow_tf32);
#else
  (void)allow_tf32;
  return cpu_path_name();
#endif
}

#if !FASTNN_CUDA_MODULE
// Test-only (fastnn._C._gemm_packed_b): out = alpha * a @ b + beta * out through PackedB, b packed
// once and used for every matrix of the batch, as the recurrent loops use it.
void gemm_packed_b_py(py::handle a_obj, py::handle b_obj, py::handle out_obj, double alpha, double beta) {
  Call call("_gemm_packed_b");
  ArrayView a = call.float_array("a", a_obj, 3);
  ArrayView b = call.array("b", b_obj);
  ArrayView out = call.array("out", out_obj);
  require_same_dtype(call.fn, a, b);
  require_same_dtype(call.fn, a, out);
  require_ndim(call.fn, b, 2);
  require_ndim(call.fn, out, 3);
  require_aligned(call.fn, a);
  require_aligned(call.fn, b);
  if (a.dim(0) != out.dim(0) || a.dim(2) != b.dim(0) || a.dim(1) != out.dim(1) || b.dim(1) != out.dim(2))
    fail_value(call.fn, "shapes do not agree: a " + a.shape_str() + " @ b " + b.shape_str() + " -> out " +
                            out.shape_str() + " (expected a (batch, M, K), b (K, N), out (batch, M, N))");
  require_output(call.fn, out, {&a, &b});
  with_float_type(a, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release release;
    const PackedB<T> packed(b.dim(0), b.dim(1), b.ptr<const T>(), b.strides[0], b.strides[1]);
    for (int64_t i = 0; i < out.dim(0); ++i)
      packed.multiply(0, out.dim(1), (T)alpha, a.ptr<const T>() + i * a.strides[0], a.strides[1], a.strides[2],
                      (T)beta, out.ptr<T>() + i * out.strides[0], out.strides[1], out.strides[2]);
  });
}
#endif

}  // namespace

void bind_gemm(py::module_& m) {
#if !FASTNN_CUDA_MODULE
  m.def("_gemm_packed_b", &gemm_packed_b_py, py::arg("a"), py::arg("b"), py::arg("out"), py::arg("alpha") = 1.0,
        py::arg("beta") = 0.0, "Test-only: out[i] = alpha * a[i] @ b + beta * out[i] through a B packed once.");
#endif
  m.def("gemm", &gemm_py, py::arg("a"), py::arg("b"), py::arg("out"), py::arg("alpha") = 1.0, py::arg("beta") = 0.0,
        py::arg("allow_tf32") = false,
        "out[i] = alpha * a[i] @ b[i] + beta * out[i] for 3-D arrays (batch, M, K) @ (batch, K, N) of any strides.\n"
        "Batch strides of a and b may be 0 (broadcast). out must not overlap a or b; when beta == 0 it is not "
        "read. allow_tf32: float32 on the TF32 tensor cores (CUDA, compute capability 8.0+; no effect on the "
        "CPU). The GIL is released while the kernel runs.");
  m.def("gemm_path", &gemm_path_py, py::arg("a"), py::arg("b"), py::arg("allow_tf32") = false,
        "The kernel gemm would use for these operands: on CUDA 'simt', 'simt-vec', 'tf32' or 'tf32-vec'; on the "
        "CPU the code path in use ('avx512', 'avx2' or 'portable').");
}

}  // namespace fastnn
