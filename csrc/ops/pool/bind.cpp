// The binding of the pooling family, compiled into both modules (core/device.h): the same functions
// and arguments on fastnn._C and fastnn._C_cuda. PyTorch's output-size rule is core/shape.h's
// (exposed to Python as pool2d_output_size); the CPU kernels get a contiguous copy of a strided
// input, the CUDA kernels read the strides.
#include "core/device.h"
#include "core/shape.h"

#if FASTNN_CUDA_MODULE
#include "ops/pool/cuda.h"
#else
#include "ops/pool/cpu.h"
#endif

namespace fastnn {
namespace {

// Planes (N, C), input (H, W), output (OH, OW) and the window: the geometry both kernels take.
struct Geom {
  int64_t N, C, H, W, OH, OW;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
};

#if FASTNN_CUDA_MODULE
cuda::PoolGeom cuda_geom(const Geom& g) {
  return {g.N, g.C, g.H, g.W, g.OH, g.OW, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw};
}
#else
Pool2dShape cpu_shape(const Geom& g) {
  return {g.N * g.C, g.H, g.W, g.OH, g.OW, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw};
}
#endif

// The window arguments (no dilation handle: the average pools' (1, 1)), PyTorch's checks on them
// and the output size; `what` and `shown` name the input ("input", its shape, or "input_size", its
// two values) in the message of a too small one.
Geom pool_geom(const std::string& fn, int64_t N, int64_t C, int64_t H, int64_t W, const char* what,
               const std::vector<int64_t>& shown, py::handle kernel_size, py::handle stride, py::handle padding,
               py::handle dilation, bool ceil_mode) {
  const std::vector<int64_t> k = int_list(fn, "kernel_size", kernel_size, 2, 1);
  const std::vector<int64_t> s = int_list(fn, "stride", stride, 2, 1);
  const std::vector<int64_t> p = int_list(fn, "padding", padding, 2, 0);
  const std::vector<int64_t> d = dilation ? int_list(fn, "dilation", dilation, 2, 1) : std::vector<int64_t>{1, 1};
  // PyTorch compares the padding with the undilated kernel size.
  if (p[0] > k[0] / 2 || p[1] > k[1] / 2)
    fail_value(fn, "argument 'padding' " + shape_str(p) + " should be at most half of kernel_size " + shape_str(k));
  Geom g{N, C, H, W, 0, 0, k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1]};
  g.OH = shape::pool_out(H, g.kh, g.sh, g.ph, g.dh, ceil_mode);
  g.OW = shape::pool_out(W, g.kw, g.sw, g.pw, g.dw, ceil_mode);
  if (H < 1 || W < 1 || g.OH < 1 || g.OW < 1)
    fail_value(fn, what + (" " + shape_str(shown)) + " is too small for kernel_size " + shape_str(k) + ", stride " +
                       shape_str(s) + ", padding " + shape_str(p) + ", dilation " + shape_str(d) +
                       ": calculated output size (" + std::to_string(g.OH) + " x " + std::to_string(g.OW) + ")");
  require_product_fits(fn, "the input size", {N, C, H, W});
  require_product_fits(fn, "the output size", {N, C, g.OH, g.OW});
  return g;
}

// None or 0: no override (the window's own count).
int64_t divisor_arg(const std::string& fn, py::handle divisor_override) {
  if (divisor_override.is_none()) return 0;
  if (!py::isinstance<py::int_>(divisor_override) || py::isinstance<py::bool_>(divisor_override))
    fail_type(fn, "argument 'divisor_override' must be an int or None, got " + detail::type_name(divisor_override));
  const int64_t d = detail::as_int(fn, "argument 'divisor_override'", divisor_override);
  if (d < 0) fail_value(fn, "argument 'divisor_override' must be positive (0 or None: none), got " + std::to_string(d));
  return d;
}

py::tuple max_pool2d_py(py::handle input, py::handle kernel_size, py::handle stride, py::handle padding,
                        py::handle dilation, bool ceil_mode, bool with_indices) {
  Call call("max_pool2d");
  const std::string& fn = call.fn;
  ArrayView x = call.float_array("input", input, 4);
  const Geom g = pool_geom(fn, x.dim(0), x.dim(1), x.dim(2), x.dim(3), "input", x.shape, kernel_size, stride,
                           padding, dilation, ceil_mode);
  ArrayView y = call.empty("out", {g.N, g.C, g.OH, g.OW}, x.dtype);
  // The CUDA kernel always writes the indices.
  ArrayView idx;
  if (with_indices || kCudaModule) idx = call.empty("indices", {g.N, g.C, g.OH, g.OW}, kInt64);
  py::object idx_obj = with_indices ? idx.object : py::none();
  if (y.numel() == 0) return py::make_tuple(y.object, idx_obj);
  with_float_type(x, [&](auto zero) {
    using T = decltype(zero);
#if FASTNN_CUDA_MODULE
    cudaStream_t stream = call.stream();
    py::gil_scoped_release release;
    cuda::max_pool2d_forward<T>(cuda_geom(g), arr4<const T>(x), arr4<T>(y), arr4<int64_t>(idx), stream);
#else
    const HostData<T> xc(x);
    py::gil_scoped_release release;
    max_pool2d_forward<T>(cpu_shape(g), xc.ptr, y.ptr<T>(), with_indices ? idx.ptr<int64_t>() : nullptr);
#endif
  });
  return py::make_tuple(y.object, idx_obj);
}

// Also the backward of adaptive_max_pool2d: indices are flat positions h * W + w in each plane.
py::object max_pool2d_backward_py(py::handle grad_output, py::handle indices, py::handle input_size) {
  Call call("max_pool2d_backward");
  const std::string& fn = call.fn;
  ArrayView dy = call.float_array("grad_output", grad_output, 4);
  ArrayView idx = call.array("indices", indices);
  require_dtype(fn, idx, kInt64);
  require_shape(fn, idx, dy.shape, "the shape of 'grad_output'");
  const std::vector<int64_t> in_hw = int_list(fn, "input_size", input_size, 2, 1);
  Geom g{dy.dim(0), dy.dim(1), in_hw[0], in_hw[1], dy.dim(2), dy.dim(3), 0, 0, 0, 0, 0, 0, 1, 1};
  require_product_fits(fn, "the input size", {g.N, g.C, g.H, g.W});
  ArrayView dx = call.empty("grad_input", {g.N, g.C, g.H, g.W}, dy.dtype);
  if (dx.numel() == 0) return dx.object;
  bool ok = true;
  with_float_type(dy, [&](auto zero) {
    using T = decltype(zero);
#if FASTNN_CUDA_MODULE
    // Indices outside the plane are skipped by the kernel (checking them would wait for the GPU).
    cudaStream_t stream = call.stream();
    py::gil_scoped_release release;
    cuda::max_pool2d_backward<T>(g.N, g.C, g.H, g.W, g.OH, g.OW, arr4<const T>(dy), arr4<const int64_t>(idx),
                                 arr4<T>(dx), stream);
#else
    Pool2dShape s = cpu_shape(g);
    if (s.H / 2 == s.OH && s.W / 2 == s.OW) {
      // The geometry of a 2x2 stride-2 pool: the kernel tries its write-once path, which checks
      // that every index lies in its own window and otherwise falls back to the general scatter.
      s.KH = s.KW = s.stride_h = s.stride_w = 2;
      s.dil_h = s.dil_w = 1;
    }
    const HostData<T> dyc(dy);
    const HostData<int64_t> ic(idx);
    py::gil_scoped_release release;
    ok = max_pool2d_backward<T>(s, dyc.ptr, ic.ptr, dx.ptr<T>());
#endif
  });
  if (!ok)
    fail_value(fn, "argument 'indices' holds values outside [0, " + std::to_string(g.H * g.W) + ") for input_size (" +
                       std::to_string(g.H) + ", " + std::to_string(g.W) + ")");
  return dx.object;
}

py::object avg_pool2d_py(py::handle input, py::handle kernel_size, py::handle stride, py::handle padding,
                         bool ceil_mode, bool count_include_pad, py::handle divisor_override) {
  Call call("avg_pool2d");
  const std::string& fn = call.fn;
  ArrayView x = call.float_array("input", input, 4);
  const int64_t div = divisor_arg(fn, divisor_override);
  const Geom g = pool_geom(fn, x.dim(0), x.dim(1), x.dim(2), x.dim(3), "input", x.shape, kernel_size, stride,
                           padding, py::handle(), ceil_mode);
  ArrayView y = call.empty("out", {g.N, g.C, g.OH, g.OW}, x.dtype);
  if (y.numel() == 0) return y.object;
  with_float_type(x, [&](auto zero) {
    using T = decltype(zero);
#if FASTNN_CUDA_MODULE
    cudaStream_t stream = call.stream();
    py::gil_scoped_release release;
    cuda::avg_pool2d_forward<T>(cuda_geom(g), count_include_pad, div, arr4<const T>(x), arr4<T>(y), stream);
#else
    const HostData<T> xc(x);
    py::gil_scoped_release release;
    avg_pool2d_forward<T>(cpu_shape(g), count_include_pad, div, xc.ptr, y.ptr<T>());
#endif
  });
  return y.object;
}

py::object avg_pool2d_backward_py(py::handle grad_output, py::handle input_size, py::handle kernel_size,
                                  py::handle stride, py::handle padding, bool ceil_mode, bool count_include_pad,
                                  py::handle divisor_override) {
  Call call("avg_pool2d_backward");
  const std::string& fn = call.fn;
  ArrayView dy = call.float_array("grad_output", grad_output, 4);
  const std::vector<int64_t> in_hw = int_list(fn, "input_size", input_size, 2, 1);
  const int64_t div = divisor_arg(fn, divisor_override);
  const Geom g = pool_geom(fn, dy.dim(0), dy.dim(1), in_hw[0], in_hw[1], "input_size", in_hw, kernel_size, stride,
                           padding, py::handle(), ceil_mode);
  require_shape(fn, dy, {g.N, g.C, g.OH, g.OW}, "the pooling's output size for input_size");
  ArrayView dx = call.empty("grad_input", {g.N, g.C, g.H, g.W}, dy.dtype);
  if (dx.numel() == 0) return dx.object;
  with_float_type(dy, [&](auto zero) {
    using T = decltype(zero);
#if FASTNN_CUDA_MODULE
    cudaStream_t stream = call.stream();
    py::gil_scoped_release release;
    cuda::avg_pool2d_backward<T>(cuda_geom(g), count_include_pad, div, arr4<const T>(dy), arr4<T>(dx), stream);
#else
    const HostData<T> dyc(dy);
    py::gil_scoped_release release;
    avg_pool2d_backward<T>(cpu_shape(g), count_include_pad, div, dyc.ptr, dx.ptr<T>());
#endif
  });
  return dx.object;
}

// ---------------------------------------------------------------- adaptive pools

void require_planes(const std::string& fn, const ArrayView& v) {
  if (v.dim(2) < 1 || v.dim(3) < 1)
    fail_value(fn, "argument " + v.desc() + " must have non-empty spatial dimensions");
}

py::object adaptive_pool_forward(const char* name, py::handle input, py::handle output_size, bool is_max,
                                 bool with_indices) {
  Call call(name);
  const std::string& fn = call.fn;
  ArrayView x = call.float_array("input", input, 4);
  const std::vector<int64_t> out_hw = int_list(fn, "output_size", output_size, 2, 1);
  require_planes(fn, x);
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), OH = out_hw[0], OW = out_hw[1];
  require_product_fits(fn, "the output size", {N, C, OH, OW});
  ArrayView y = call.empty("out", {N, C, OH, OW}, x.dtype);
  ArrayView idx;
  if (is_max && (with_indices || kCudaModule)) idx = call.empty("indices", {N, C, OH, OW}, kInt64);
  py::object idx_obj = is_max && with_indices ? idx.object : py::none();
  if (y.numel() > 0) {
    with_float_type(x, [&](auto zero) {
      using T = decltype(zero);
#if FASTNN_CUDA_MODULE
      cudaStream_t stream = call.stream();
      py::gil_scoped_release release;
      if (is_max)
        cuda::adaptive_max_pool2d_forward<T>(N, C, H, W, OH, OW, arr4<const T>(x), arr4<T>(y), arr4<int64_t>(idx),
                                             stream);
      else
        cuda::adaptive_avg_pool2d_forward<T>(N, C, H, W, OH, OW, arr4<const T>(x), arr4<T>(y), stream);
#else
      const HostData<T> xc(x);
      int64_t* ip = is_max && with_indices ? idx.ptr<int64_t>() : nullptr;
      py::gil_scoped_release release;
      if (is_max) adaptive_max_pool2d_forward<T>(N * C, H, W, OH, OW, xc.ptr, y.ptr<T>(), ip);
      else adaptive_avg_pool2d_forward<T>(N * C, H, W, OH, OW, xc.ptr, y.ptr<T>());
#endif
    });
  }
  if (is_max) return py::make_tuple(y.object, idx_obj);
  return y.object;
}

py::object adaptive_avg_pool2d_backward_py(py::handle grad_output, py::handle input_size) {
  Call call("adaptive_avg_pool2d_backward");
  const std::string& fn = call.fn;
  ArrayView dy = call.float_array("grad_output", grad_output, 4);
  const std::vector<int64_t> in_hw = int_list(fn, "input_size", input_size, 2, 1);
  require_planes(fn, dy);
  const int64_t N = dy.dim(0), C = dy.dim(1), H = in_hw[0], W = in_hw[1], OH = dy.dim(2), OW = dy.dim(3);
  require_product_fits(fn, "the input size", {N, C, H, W});
  ArrayView dx = call.empty("grad_input", {N, C, H, W}, dy.dtype);
  if (dx.numel() == 0) return dx.object;
  with_float_type(dy, [&](auto zero) {
    using T = decltype(zero);
#if FASTNN_CUDA_MODULE
    cudaStream_t stream = call.stream();
    py::gil_scoped_release release;
    cuda::adaptive_avg_pool2d_backward<T>(N, C, H, W, OH, OW, arr4<const T>(dy), arr4<T>(dx), stream);
#else
    const HostData<T> dyc(dy);
    py::gil_scoped_release release;
    adaptive_avg_pool2d_backward<T>(N * C, H, W, OH, OW, dyc.ptr, dx.ptr<T>());
#endif
  });
  return dx.object;
}

py::tuple pool2d_output_size_py(py::handle input_size, py::handle kernel_size, py::handle stride, py::handle padding,
                                py::handle dilation, bool ceil_mode) {
  const std::string fn = "pool2d_output_size";
  const std::vector<int64_t> in = int_list(fn, "input_size", input_size, 2, 0);
  const std::vector<int64_t> k = int_list(fn, "kernel_size", kernel_size, 2, 1);
  const std::vector<int64_t> s = int_list(fn, "stride", stride, 2, 1);
  const std::vector<int64_t> p = int_list(fn, "padding", padding, 2, 0);
  const std::vector<int64_t> d = int_list(fn, "dilation", dilation, 2, 1);
  return py::make_tuple(shape::pool_out(in[0], k[0], s[0], p[0], d[0], ceil_mode),
                        shape::pool_out(in[1], k[1], s[1], p[1], d[1], ceil_mode));
}

}  // namespace

void bind_pool(py::module_& m) {
  const auto pair1 = py::make_tuple(1, 1), pair0 = py::make_tuple(0, 0);
  m.def("max_pool2d", &max_pool2d_py, py::arg("input"), py::arg("kernel_size"), py::arg("stride"),
        py::arg("padding") = pair0, py::arg("dilation") = pair1, py::arg("ceil_mode") = false,
        py::arg("with_indices") = true,
        "(output, indices or None) of a 2-D max pool over NCHW 'input'; indices are flat positions h * W + w.");
  m.def("max_pool2d_backward", &max_pool2d_backward_py, py::arg("grad_output"), py::arg("indices"),
        py::arg("input_size"),
        "Scatter-add of grad_output at indices into planes of input_size (max_pool2d and adaptive_max_pool2d). "
        "Indices outside the plane: ValueError on the CPU, skipped on CUDA.");
  m.def("avg_pool2d", &avg_pool2d_py, py::arg("input"), py::arg("kernel_size"), py::arg("stride"),
        py::arg("padding") = pair0, py::arg("ceil_mode") = false, py::arg("count_include_pad") = true,
        py::arg("divisor_override") = py::none(),
        "2-D average pool over NCHW 'input' (divisor_override None or 0: the window's count).");
  m.def("avg_pool2d_backward", &avg_pool2d_backward_py, py::arg("grad_output"), py::arg("input_size"),
        py::arg("kernel_size"), py::arg("stride"), py::arg("padding") = pair0, py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, py::arg("divisor_override") = py::none());
  m.def(
      "adaptive_avg_pool2d",
      [](py::handle input, py::handle output_size) {
        return adaptive_pool_forward("adaptive_avg_pool2d", input, output_size, false, false);
      },
      py::arg("input"), py::arg("output_size"));
  m.def("adaptive_avg_pool2d_backward", &adaptive_avg_pool2d_backward_py, py::arg("grad_output"),
        py::arg("input_size"));
  m.def(
      "adaptive_max_pool2d",
      [](py::handle input, py::handle output_size, bool with_indices) {
        return adaptive_pool_forward("adaptive_max_pool2d", input, output_size, true, with_indices);
      },
      py::arg("input"), py::arg("output_size"), py::arg("with_indices") = true,
      "(output, indices or None); the backward is max_pool2d_backward.");
  m.def("pool2d_output_size", &pool2d_output_size_py, py::arg("input_size"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding") = pair0, py::arg("dilation") = pair1, py::arg("ceil_mode") = false,
        "(OH, OW) of max_pool2d / avg_pool2d: PyTorch's pooling_output_shape per dimension (in ceil mode the "
        "last window must start inside the input or its left padding). Below 1 when the window does not fit.");
}

}  // namespace fastnn
