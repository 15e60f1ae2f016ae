// The binding of the convolution family, compiled into both modules (core/device.h): the same
// functions and arguments on fastnn._C and fastnn._C_cuda. Arrays of any strides are accepted (the
// CPU kernels get a contiguous copy when needed, the CUDA kernels read the strides); every size,
// channel count and option is checked first. Output sizes come from core/shape.h, which Python
// reads through conv2d_output_size / conv_transpose2d_output_size.
#include "core/device.h"
#include "core/shape.h"

#if FASTNN_CUDA_MODULE
#include "ops/conv/cuda.h"
#else
#include "ops/conv/cpu.h"
#include "ops/conv/cpu_direct.h"
#endif

namespace fastnn {
namespace {

// x (N, C, H, W), w (OC, C / groups, KH, KW), y (N, OC, OH, OW); ph / pw: top / left padding.
struct Geom {
  int64_t N, C, H, W, OC, OH, OW, KH, KW;
  int64_t sh, sw, ph, pw, dh, dw, groups;
};

struct Options {
  std::vector<int64_t> stride, padding, dilation;
  int64_t groups;
};

Options options(const std::string& fn, py::handle stride, py::handle padding, size_t padding_values,
                py::handle dilation, int64_t groups) {
  Options o{int_list(fn, "stride", stride, 2, 1), int_list(fn, "padding", padding, padding_values, 0),
            int_list(fn, "dilation", dilation, 2, 1), groups};
  if (groups < 1) fail_value(fn, "argument 'groups' must be >= 1, got " + std::to_string(groups));
  return o;
}

void require_positive_weight(const std::string& fn, const ArrayView& w) {
  for (int64_t s : w.shape)
    if (s < 1) fail_value(fn, "argument '" + w.name + "' must have positive sizes, got shape " + w.shape_str());
}

void check_groups(const std::string& fn, int64_t C, int64_t OC, int64_t groups, const ArrayView& oc_from) {
  if (OC % groups != 0)
    fail_value(fn, "out_channels (" + std::to_string(OC) + ", dim " + (oc_from.name == "weight" ? "0" : "1") + " of " +
                       oc_from.desc() + ") must be divisible by groups (" + std::to_string(groups) + ")");
  if (C % groups != 0)
    fail_value(fn, "in_channels (" + std::to_string(C) + ") must be divisible by groups (" + std::to_string(groups) +
                       ")");
}

#if FASTNN_CUDA_MODULE
// The 32-bit index arithmetic of the implicit-GEMM kernels.
void require_int32(const std::string& fn, const char* what, int64_t v) {
  constexpr int64_t kLimit = 2147483647LL - (1LL << 20);
  if (v > kLimit)
    fail_value(fn, std::string(what) + " = " + std::to_string(v) + " is too large for the 32-bit index arithmetic");
}

cuda::ConvGeom cuda_geom(const std::string& fn, const Geom& g) {
  require_int32(fn, "batch * H * W", g.N * g.H * g.W);
  require_int32(fn, "batch * OH * OW + 16", g.N * g.OH * g.OW + 16);
  require_int32(fn, "channels * KH * KW", checked_product(fn, "channels * KH * KW", {std::max(g.C, g.OC), g.KH, g.KW}));
  for (int64_t v : {g.H, g.W, g.OH, g.OW})
    require_int32(fn, "a spatial size",
                  checked_product(fn, "a spatial size", {v, std::max(g.sh, g.sw)}) + 2 * std::max(g.ph, g.pw));
  require_int32(fn, "the dilated kernel extent",
                checked_product(fn, "the dilated kernel extent", {std::max(g.KH, g.KW), std::max(g.dh, g.dw)}));
  return {g.N, g.C, g.H, g.W, g.OC, g.OH, g.OW, g.KH, g.KW, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.groups};
}
#else
Conv2dShape cpu_shape(const Geom& g) {
  return {g.N, g.C, g.H, g.W, g.OC, g.KH, g.KW, g.OH, g.OW, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.groups};
}
#endif

void require_sizes_fit(const std::string& fn, const Geom& g) {
  require_product_fits(fn, "the input size", {g.N, g.C, g.H, g.W});
  require_product_fits(fn, "the output size", {g.N, g.OC, g.OH, g.OW});
  require_product_fits(fn, "the weight size", {g.OC, g.C / g.groups, g.KH, g.KW});
}

// The optional bias: an array of `like`'s dtype, or an empty view for None.
ArrayView optional_bias(Call& call, py::handle bias, const ArrayView& like) {
  ArrayView b;
  if (!bias.is_none()) {
    b = call.array("bias", bias);
    require_same_dtype(call.fn, like, b);
  }
  return b;
}

py::object conv2d_forward_py(py::handle input, py::handle weight, py::handle bias, py::handle stride,
                             py::handle padding, py::handle dilation, int64_t groups, bool allow_tf32) {
  Call call("conv2d");
  const std::string& fn = call.fn;
  ArrayView x = call.float_array("input", input, 4);
  ArrayView w = call.array("weight", weight);
  require_same_dtype(fn, x, w);
  require_ndim(fn, w, 4);
  const bool has_bias = !bias.is_none();
  const ArrayView b = optional_bias(call, bias, x);
  const Options o = options(fn, stride, padding, 4, dilation, groups);
  Geom g{};
  g.N = x.dim(0), g.C = x.dim(1), g.H = x.dim(2), g.W = x.dim(3);
  g.OC = w.dim(0), g.KH = w.dim(2), g.KW = w.dim(3);
  require_positive_weight(fn, w);
  check_groups(fn, g.C, g.OC, groups, w);
  if (checked_product(fn, "in_channels", {w.dim(1), groups}) != g.C)
    fail_value(fn, "expected 'input' " + x.shape_str() + " to have " + std::to_string(w.dim(1) * groups) +
                       " channels (weight " + w.shape_str() + " with groups=" + std::to_string(groups) + "), got " +
                       std::to_string(g.C));
  if (has_bias) require_shape(fn, b, {g.OC}, "one value per output channel");
  g.sh = o.stride[0], g.sw = o.stride[1], g.ph = o.padding[0], g.pw = o.padding[2];
  g.dh = o.dilation[0], g.dw = o.dilation[1], g.groups = groups;
  require_product_fits(fn, "the dilated kernel size", {g.dh, g.KH});
  require_product_fits(fn, "the dilated kernel size", {g.dw, g.KW});
  g.OH = shape::conv_out(g.H, g.KH, g.sh, o.padding[0], o.padding[1], g.dh);
  g.OW = shape::conv_out(g.W, g.KW, g.sw, o.padding[2], o.padding[3], g.dw);
  if (g.OH < 1 || g.OW < 1)
    fail_value(fn, "padded input size (" + std::to_string(g.H + o.padding[0] + o.padding[1]) + " x " +
                       std::to_string(g.W + o.padding[2] + o.padding[3]) + ") of 'input' " + x.shape_str() +
                       " is smaller than the dilated kernel size (" + std::to_string(g.dh * (g.KH - 1) + 1) + " x " +
                       std::to_string(g.dw * (g.KW - 1) + 1) + ") of 'weight' " + w.shape_str());
  require_sizes_fit(fn, g);
  ArrayView y = call.empty("out", {g.N, g.OC, g.OH, g.OW}, x.dtype);
  if (y.numel() == 0) return y.object;
  with_float_type(x, [&](auto zero) {
    using T = decltype(zero);
#if FASTNN_CUDA_MODULE
    const cuda::ConvGeom cg = cuda_geom(fn, g);
    cudaStream_t stream = call.stream();
    py::gil_scoped_release release;
    cuda::conv2d_forward<T>(cg, arr4<const T>(x), arr4<const T>(w), has_bias ? b.ptr<const T>() : nullptr,
                            has_bias ? b.strides[0] : 0, arr4<T>(y), allow_tf32 && x.dtype == kFloat32, stream);
#else
    (void)allow_tf32;
    const HostData<T> xc(x), wc(w), bc(b);
    const Conv2dShape s = cpu_shape(g);
    py::gil_scoped_release release;
    conv2d_forward<T>(s, xc.ptr, wc.ptr, has_bias ? bc.ptr : nullptr, y.ptr<T>());
#endif
  });
  return y.object;
}

// grad_input (N, C, H, W) from grad_output (N, OC, OH, OW); any OH/OW (conv_transpose2d's
// output_padding makes the input larger than the forward would need). bias: per input channel,
// added to the result (conv_transpose2d's bias).
py::object conv2d_backward_input_py(py::handle grad_output, py::handle weight, py::handle input_size,
                                    py::handle stride, py::handle padding, py::handle dilation, int64_t groups,
                                    py::handle bias, bool allow_tf32) {
  Call call("conv2d_backward_input");
  const std::string& fn = call.fn;
  ArrayView dy = call.float_array("grad_output", grad_output, 4);
  ArrayView w = call.array("weight", weight);
  require_same_dtype(fn, dy, w);
  require_ndim(fn, w, 4);
  const bool has_bias = !bias.is_none();
  const ArrayView b = optional_bias(call, bias, dy);
  const std::vector<int64_t> in_hw = int_list(fn, "input_size", input_size, 2, 1);
  const Options o = options(fn, stride, padding, 2, dilation, groups);
  Geom g{};
  g.N = dy.dim(0), g.OC = w.dim(0), g.OH = dy.dim(2), g.OW = dy.dim(3);
  g.KH = w.dim(2), g.KW = w.dim(3);
  require_positive_weight(fn, w);
  g.C = checked_product(fn, "in_channels", {w.dim(1), groups});
  check_groups(fn, g.C, g.OC, groups, w);
  if (dy.dim(1) != g.OC)
    fail_value(fn, "'grad_output' " + dy.shape_str() + " must have " + std::to_string(g.OC) +
                       " channels to match 'weight' " + w.shape_str());
  if (has_bias) require_shape(fn, b, {g.C}, "one value per channel of the result");
  g.H = in_hw[0], g.W = in_hw[1];
  g.sh = o.stride[0], g.sw = o.stride[1], g.ph = o.padding[0], g.pw = o.padding[1];
  g.dh = o.dilation[0], g.dw = o.dilation[1], g.groups = groups;
  require_sizes_fit(fn, g);
  ArrayView dx = call.empty("grad_input", {g.N, g.C, g.H, g.W}, dy.dtype);
  if (dx.numel() == 0) return dx.object;
  with_float_type(dy, [&](auto zero) {
    using T = decltype(zero);
#if FASTNN_CUDA_MODULE
    const cuda::ConvGeom cg = cuda_geom(fn, g);
    cudaStream_t stream = call.stream();
    py::gil_scoped_release release;
    cuda::conv2d_backward_input<T>(cg, arr4<const T>(dy), arr4<const T>(w), has_bias ? b.ptr<const T>() : nullptr,
                                   has_bias ? b.strides[0] : 0, arr4<T>(dx), allow_tf32 && dy.dtype == kFloat32,
                                   stream);
#else
    (void)allow_tf32;
    const HostData<T> dyc(dy), wc(w);
    const Conv2dShape s = cpu_shape(g);
    py::gil_scoped_release release;
    T* out = dx.ptr<T>();
    conv2d_backward_input<T>(s, dyc.ptr, wc.ptr, out);
    if (has_bias) {
      const int64_t plane = g.H * g.W;
      for (int64_t n = 0; n < g.N; ++n)
        for (int64_t c = 0; c < g.C; ++c) {
          const T v = b.ptr<const T>()[c * b.strides[0]];
          T* p = out + (n * g.C + c) * plane;
          for (int64_t i = 0; i < plane; ++i) p[i] += v;
        }
    }
#endif
  });
  return dx.object;
}

py::object conv2d_backward_weight_py(py::handle input, py::handle grad_output, py::handle kernel_size,
                                     py::handle stride, py::handle padding, py::handle dilation, int64_t groups,
                                     bool allow_tf32, bool deterministic) {
  Call call("conv2d_backward_weight");
  const std::string& fn = call.fn;
  ArrayView x = call.float_array("input", input, 4);
  ArrayView dy = call.array("grad_output", grad_output);
  require_same_dtype(fn, x, dy);
  require_ndim(fn, dy, 4);
  const std::vector<int64_t> k = int_list(fn, "kernel_size", kernel_size, 2, 1);
  const Options o = options(fn, stride, padding, 2, dilation, groups);
  Geom g{};
  g.N = x.dim(0), g.C = x.dim(1), g.H = x.dim(2), g.W = x.dim(3);
  g.OC = dy.dim(1), g.OH = dy.dim(2), g.OW = dy.dim(3);
  g.KH = k[0], g.KW = k[1];
  if (dy.dim(0) != g.N)
    fail_value(fn, "batch sizes differ: 'input' " + x.shape_str() + " and 'grad_output' " + dy.shape_str());
  if (g.OC < 1) fail_value(fn, "'grad_output' " + dy.shape_str() + " must have at least one channel");
  if (g.C < 1) fail_value(fn, "'input' " + x.shape_str() + " must have at least one channel");
  check_groups(fn, g.C, g.OC, groups, dy);
  g.sh = o.stride[0], g.sw = o.stride[1], g.ph = o.padding[0], g.pw = o.padding[1];
  g.dh = o.dilation[0], g.dw = o.dilation[1], g.groups = groups;
  require_sizes_fit(fn, g);
  ArrayView dw = call.empty("grad_weight", {g.OC, g.C / groups, g.KH, g.KW}, x.dtype);
  with_float_type(x, [&](auto zero) {
    using T = decltype(zero);
#if FASTNN_CUDA_MODULE
    const cuda::ConvGeom cg = cuda_geom(fn, g);
    cudaStream_t stream = call.stream();
    py::gil_scoped_release release;
    cuda::conv2d_backward_weight<T>(cg, arr4<const T>(x), arr4<const T>(dy), arr4<T>(dw),
                                    allow_tf32 && x.dtype == kFloat32, deterministic, stream);
#else
    (void)allow_tf32;
    (void)deterministic;
    const HostData<T> xc(x), dyc(dy);
    const Conv2dShape s = cpu_shape(g);
    py::gil_scoped_release release;
    conv2d_backward_weight<T>(s, xc.ptr, dyc.ptr, dw.ptr<T>());
#endif
  });
  return dw.object;
}

// ---------------------------------------------------------------- output sizes, for Python

py::tuple conv2d_output_size_py(py::handle input_size, py::handle kernel_size, py::handle stride, py::handle padding,
                                py::handle dilation) {
  const std::string fn = "conv2d_output_size";
  const std::vector<int64_t> in = int_list(fn, "input_size", input_size, 2, 0);
  const std::vector<int64_t> k = int_list(fn, "kernel_size", kernel_size, 2, 1);
  const std::vector<int64_t> s = int_list(fn, "stride", stride, 2, 1);
  std::vector<int64_t> p = int_seq(fn, "padding", padding, 0);
  if (p.size() == 2) p = {p[0], p[0], p[1], p[1]};
  if (p.size() != 4)
    fail_value(fn, "argument 'padding' must have 2 values (both sides) or 4 (top, bottom, left, right), got " +
                       shape_str(p));
  const std::vector<int64_t> d = int_list(fn, "dilation", dilation, 2, 1);
  return py::make_tuple(shape::conv_out(in[0], k[0], s[0], p[0], p[1], d[0]),
                        shape::conv_out(in[1], k[1], s[1], p[2], p[3], d[1]));
}

py::tuple conv_transpose2d_output_size_py(py::handle input_size, py::handle kernel_size, py::handle stride,
                                          py::handle padding, py::handle output_padding, py::handle dilation) {
  const std::string fn = "conv_transpose2d_output_size";
  const std::vector<int64_t> in = int_list(fn, "input_size", input_size, 2, 0);
  const std::vector<int64_t> k = int_list(fn, "kernel_size", kernel_size, 2, 1);
  const std::vector<int64_t> s = int_list(fn, "stride", stride, 2, 1);
  const std::vector<int64_t> p = int_list(fn, "padding", padding, 2, 0);
  const std::vector<int64_t> op = int_list(fn, "output_padding", output_padding, 2, 0);
  const std::vector<int64_t> d = int_list(fn, "dilation", dilation, 2, 1);
  return py::make_tuple(shape::conv_transpose_out(in[0], k[0], s[0], p[0], op[0], d[0]),
                        shape::conv_transpose_out(in[1], k[1], s[1], p[1], op[1], d[1]));
}

// ---------------------------------------------------------------- algorithm choice

int conv_algorithm_code(const std::string& name) {
  if (name == "auto") return 0;
  if (name == "im2col") return 1;
  if (name == "direct") return 2;
  fail_value("set_conv_algorithm", "argument 'name' must be 'auto', 'im2col' or 'direct', got '" + name + "'");
}

#if FASTNN_CUDA_MODULE
// The GPU has one convolution algorithm (implicit GEMM): the choice is kept, with no effect.
int g_cuda_conv_algorithm = 0;
void set_algorithm(int a) { g_cuda_conv_algorithm = a; }
int get_algorithm() { return g_cuda_conv_algorithm; }
#else
void set_algorithm(int a) { set_conv_algorithm(a); }
int get_algorithm() { return get_conv_algorithm(); }
#endif

}  // namespace

void bind_conv(py::module_& m) {
  const auto pair1 = py::make_tuple(1, 1), pair0 = py::make_tuple(0, 0);
  m.def("conv2d_forward", &conv2d_forward_py, py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(),
        py::arg("stride") = pair1, py::arg("padding") = py::make_tuple(0, 0, 0, 0), py::arg("dilation") = pair1,
        py::arg("groups") = 1, py::arg("allow_tf32") = false,
        "2-D convolution (cross-correlation) of NCHW 'input' with 'weight' (OC, C/groups, KH, KW) plus 'bias'; "
        "padding is (top, bottom, left, right). Returns a new array. allow_tf32: float32 on the TF32 tensor "
        "cores (CUDA; no effect on the CPU).");
  m.def("conv2d_backward_input", &conv2d_backward_input_py, py::arg("grad_output"), py::arg("weight"),
        py::arg("input_size"), py::arg("stride") = pair1, py::arg("padding") = pair0, py::arg("dilation") = pair1,
        py::arg("groups") = 1, py::arg("bias") = py::none(), py::arg("allow_tf32") = false,
        "Gradient of conv2d with respect to its input of spatial size input_size (also conv_transpose2d's forward, "
        "'bias' one value per channel of the result); padding is (top, left).");
  m.def("conv2d_backward_weight", &conv2d_backward_weight_py, py::arg("input"), py::arg("grad_output"),
        py::arg("kernel_size"), py::arg("stride") = pair1, py::arg("padding") = pair0, py::arg("dilation") = pair1,
        py::arg("groups") = 1, py::arg("allow_tf32") = false, py::arg("deterministic") = false,
        "Gradient of conv2d with respect to its weight; padding is (top, left). deterministic: on CUDA, no split "
        "reduction (bitwise reproducible); the CPU kernel always is.");
  m.def("conv2d_output_size", &conv2d_output_size_py, py::arg("input_size"), py::arg("kernel_size"),
        py::arg("stride") = pair1, py::arg("padding") = pair0, py::arg("dilation") = pair1,
        "(OH, OW) of conv2d: floor((size + padding - dilation * (kernel - 1) - 1) / stride) + 1 per dimension; "
        "padding is (h, w) on both sides or (top, bottom, left, right). Below 1 when the kernel does not fit.");
  m.def("conv_transpose2d_output_size", &conv_transpose2d_output_size_py, py::arg("input_size"),
        py::arg("kernel_size"), py::arg("stride") = pair1, py::arg("padding") = pair0,
        py::arg("output_padding") = pair0, py::arg("dilation") = pair1,
        "(OH, OW) of conv_transpose2d: (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + "
        "output_padding + 1 per dimension.");
  m.def("set_conv_algorithm", [](const std::string& name) { set_algorithm(conv_algorithm_code(name)); },
        py::arg("name"),
        "'auto' (by shape), 'im2col' (im2col + GEMM) or 'direct' (direct kernel whenever it applies): the CPU "
        "kernels' choice; kept with no effect on CUDA (one algorithm, implicit GEMM).");
  m.def("get_conv_algorithm", []() {
    const int a = get_algorithm();
    return std::string(a == 1 ? "im2col" : a == 2 ? "direct" : "auto");
  });
}

}  // namespace fastnn
