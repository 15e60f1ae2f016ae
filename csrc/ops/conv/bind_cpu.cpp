// Bindings of the convolution kernels. Arrays of any strides are accepted (a contiguous
// copy is made when needed); every size, channel count and option is checked first.
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "core/checks.h"
#include "ops/conv/cpu.h"
#include "ops/conv/cpu_direct.h"

namespace fastnn {

namespace {

std::string vec_str(const std::vector<int64_t>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + ")";
}

void require_len(const std::string& fn, const char* name, const std::vector<int64_t>& v, size_t n, int64_t min) {
  if (v.size() != n)
    fail_value(fn, std::string("argument '") + name + "' must have " + std::to_string(n) + " values, got " +
                       vec_str(v));
  for (int64_t e : v)
    if (e < min)
      fail_value(fn, std::string("argument '") + name + "' must be >= " + std::to_string(min) + ", got " + vec_str(v));
}

template <typename T>
py::array_t<T, py::array::c_style | py::array::forcecast> contiguous(const py::array& a) {
  return py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
}

void check_groups(const std::string& fn, int64_t C, int64_t OC, int64_t groups, const py::array& w) {
  if (groups < 1) fail_value(fn, "argument 'groups' must be >= 1, got " + std::to_string(groups));
  if (OC % groups != 0)
    fail_value(fn, "out_channels (" + std::to_string(OC) + ", dim 0 of 'weight' " + shape_str(w) +
                       ") must be divisible by groups (" + std::to_string(groups) + ")");
  if (C % groups != 0)
    fail_value(fn, "in_channels (" + std::to_string(C) + ") must be divisible by groups (" + std::to_string(groups) +
                       ")");
}

template <typename T>
py::array forward_t(const py::array& x, const py::array& w, const py::object& bias, Conv2dShape s) {
  auto xc = contiguous<T>(x);
  auto wc = contiguous<T>(w);
  py::array_t<T, py::array::c_style | py::array::forcecast> bc;
  const T* bp = nullptr;
  if (!bias.is_none()) {
    bc = contiguous<T>(bias.cast<py::array>());
    bp = bc.data();
  }
  py::array_t<T> y({s.N, s.OC, s.OH, s.OW});
  const T* xp = xc.data();
  const T* wp = wc.data();
  T* yp = y.mutable_data();
  {
    py::gil_scoped_release release;
    conv2d_forward<T>(s, xp, wp, bp, yp);
  }
  return std::move(y);
}

py::array conv2d_forward_py(py::array x, py::array weight, py::object bias, std::vector<int64_t> stride,
                            std::vector<int64_t> padding, std::vector<int64_t> dilation, int64_t groups) {
  const std::string fn = "conv2d";
  require_float(fn, "input", x);
  require_same_dtype(fn, "input", x, "weight", weight);
  require_ndim(fn, "input", x, 4);
  require_ndim(fn, "weight", weight, 4);
  require_len(fn, "stride", stride, 2, 1);
  require_len(fn, "padding", padding, 4, 0);
  require_len(fn, "dilation", dilation, 2, 1);
  Conv2dShape s{};
  s.N = x.shape(0), s.C = x.shape(1), s.H = x.shape(2), s.W = x.shape(3);
  s.OC = weight.shape(0), s.KH = weight.shape(2), s.KW = weight.shape(3);
  if (s.OC < 1 || s.KH < 1 || s.KW < 1 || weight.shape(1) < 1)
    fail_value(fn, "argument 'weight' must have positive sizes, got shape " + shape_str(weight));
  check_groups(fn, s.C, s.OC, groups, weight);
  if (weight.shape(1) * groups != s.C)
    fail_value(fn, "expected 'input' " + shape_str(x) + " to have " + std::to_string(weight.shape(1) * groups) +
                       " channels (weight " + shape_str(weight) + " with groups=" + std::to_string(groups) +
                       "), got " + std::to_string(s.C));
  if (!bias.is_none()) {
    py::array b = bias.cast<py::array>();
    require_same_dtype(fn, "input", x, "bias", b);
    require_shape(fn, "bias", b, {s.OC});
  }
  s.stride_h = stride[0], s.stride_w = stride[1];
  s.pad_h = padding[0], s.pad_w = padding[2];
  s.dil_h = dilation[0], s.dil_w = dilation[1];
  s.groups = groups;
  const int64_t ph = s.H + padding[0] + padding[1], pw = s.W + padding[2] + padding[3];
  const int64_t eh = s.dil_h * (s.KH - 1) + 1, ew = s.dil_w * (s.KW - 1) + 1;
  if (ph < eh || pw < ew)
    fail_value(fn, "padded input size (" + std::to_string(ph) + " x " + std::to_string(pw) + ") of 'input' " +
                       shape_str(x) + " is smaller than the dilated kernel size (" + std::to_string(eh) + " x " +
                       std::to_string(ew) + ") of 'weight' " + shape_str(weight));
  s.OH = (ph - eh) / s.stride_h + 1;
  s.OW = (pw - ew) / s.stride_w + 1;
  if (dtype_of(x) == DType::f32) return forward_t<float>(x, weight, bias, s);
  return forward_t<double>(x, weight, bias, s);
}

template <typename T>
py::array backward_input_t(const py::array& dy, const py::array& w, Conv2dShape s) {
  auto dyc = contiguous<T>(dy);
  auto wc = contiguous<T>(w);
  py::array_t<T> dx({s.N, s.C, s.H, s.W});
  const T* dyp = dyc.data();
  const T* wp = wc.data();
  T* dxp = dx.mutable_data();
  {
    py::gil_scoped_release release;
    conv2d_backward_input<T>(s, dyp, wp, dxp);
  }
  return std::move(dx);
}

py::array conv2d_backward_input_py(py::array grad_output, py::array weight, std::vector<int64_t> input_size,
                                   std::vector<int64_t> stride, std::vector<int64_t> padding,
                                   std::vector<int64_t> dilation, int64_t groups) {
  const std::string fn = "conv2d_backward_input";
  require_float(fn, "grad_output", grad_output);
  require_same_dtype(fn, "grad_output", grad_output, "weight", weight);
  require_ndim(fn, "grad_output", grad_output, 4);
  require_ndim(fn, "weight", weight, 4);
  require_len(fn, "input_size", input_size, 2, 1);
  require_len(fn, "stride", stride, 2, 1);
  require_len(fn, "padding", padding, 2, 0);
  require_len(fn, "dilation", dilation, 2, 1);
  Conv2dShape s{};
  s.N = grad_output.shape(0), s.OC = weight.shape(0), s.OH = grad_output.shape(2), s.OW = grad_output.shape(3);
  s.KH = weight.shape(2), s.KW = weight.shape(3);
  if (s.OC < 1 || s.KH < 1 || s.KW < 1 || weight.shape(1) < 1)
    fail_value(fn, "argument 'weight' must have positive sizes, got shape " + shape_str(weight));
  if (groups < 1) fail_value(fn, "argument 'groups' must be >= 1, got " + std::to_string(groups));
  s.C = weight.shape(1) * groups;
  check_groups(fn, s.C, s.OC, groups, weight);
  if (grad_output.shape(1) != s.OC)
    fail_value(fn, "'grad_output' " + shape_str(grad_output) + " must have " + std::to_string(s.OC) +
                       " channels to match 'weight' " + shape_str(weight));
  s.H = input_size[0], s.W = input_size[1];
  s.stride_h = stride[0], s.stride_w = stride[1];
  s.pad_h = padding[0], s.pad_w = padding[1];
  s.dil_h = dilation[0], s.dil_w = dilation[1];
  s.groups = groups;
  if (dtype_of(weight) == DType::f32) return backward_input_t<float>(grad_output, weight, s);
  return backward_input_t<double>(grad_output, weight, s);
}

template <typename T>
py::array backward_weight_t(const py::array& x, const py::array& dy, Conv2dShape s) {
  auto xc = contiguous<T>(x);
  auto dyc = contiguous<T>(dy);
  py::array_t<T> dw({s.OC, s.C / s.groups, s.KH, s.KW});
  const T* xp = xc.data();
  const T* dyp = dyc.data();
  T* dwp = dw.mutable_data();
  {
    py::gil_scoped_release release;
    conv2d_backward_weight<T>(s, xp, dyp, dwp);
  }
  return std::move(dw);
}

py::array conv2d_backward_weight_py(py::array x, py::array grad_output, std::vector<int64_t> kernel_size,
                                    std::vector<int64_t> stride, std::vector<int64_t> padding,
                                    std::vector<int64_t> dilation, int64_t groups) {
  const std::string fn = "conv2d_backward_weight";
  require_float(fn, "input", x);
  require_same_dtype(fn, "input", x, "grad_output", grad_output);
  require_ndim(fn, "input", x, 4);
  require_ndim(fn, "grad_output", grad_output, 4);
  require_len(fn, "kernel_size", kernel_size, 2, 1);
  require_len(fn, "stride", stride, 2, 1);
  require_len(fn, "padding", padding, 2, 0);
  require_len(fn, "dilation", dilation, 2, 1);
  Conv2dShape s{};
  s.N = x.shape(0), s.C = x.shape(1), s.H = x.shape(2), s.W = x.shape(3);
  s.OC = grad_output.shape(1), s.OH = grad_output.shape(2), s.OW = grad_output.shape(3);
  s.KH = kernel_size[0], s.KW = kernel_size[1];
  if (grad_output.shape(0) != s.N)
    fail_value(fn, "batch sizes differ: 'input' " + shape_str(x) + " and 'grad_output' " + shape_str(grad_output));
  if (s.OC < 1) fail_value(fn, "'grad_output' " + shape_str(grad_output) + " must have at least one channel");
  check_groups(fn, s.C, s.OC, groups, grad_output);
  if (s.C < 1) fail_value(fn, "'input' " + shape_str(x) + " must have at least one channel");
  s.stride_h = stride[0], s.stride_w = stride[1];
  s.pad_h = padding[0], s.pad_w = padding[1];
  s.dil_h = dilation[0], s.dil_w = dilation[1];
  s.groups = groups;
  if (dtype_of(x) == DType::f32) return backward_weight_t<float>(x, grad_output, s);
  return backward_weight_t<double>(x, grad_output, s);
}

void set_conv_algorithm_py(const std::string& name) {
  if (name == "auto") set_conv_algorithm(0);
  else if (name == "im2col") set_conv_algorithm(1);
  else if (name == "direct") set_conv_algorithm(2);
  else fail_value("set_conv_algorithm", "argument 'name' must be 'auto', 'im2col' or 'direct', got '" + name + "'");
}

std::string get_conv_algorithm_py() {
  const int a = get_conv_algorithm();
  return a == 1 ? "im2col" : a == 2 ? "direct" : "auto";
}

}  // namespace

void bind_conv(py::module_& m) {
  m.def("conv2d_forward", &conv2d_forward_py, py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("groups") = 1,
        "2-D convolution (cross-correlation) of NCHW 'input' with 'weight' (OC, C/groups, KH, KW); "
        "padding is (top, bottom, left, right).");
  m.def("conv2d_backward_input", &conv2d_backward_input_py, py::arg("grad_output"), py::arg("weight"),
        py::arg("input_size"), py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("groups") = 1,
        "Gradient of conv2d with respect to its input (also conv_transpose2d's forward); padding is (top, left).");
  m.def("conv2d_backward_weight", &conv2d_backward_weight_py, py::arg("input"), py::arg("grad_output"),
        py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("groups") = 1,
        "Gradient of conv2d with respect to its weight; padding is (top, left).");
  m.def("set_conv_algorithm", &set_conv_algorithm_py, py::arg("name"),
        "'auto' (by shape), 'im2col' (im2col + GEMM) or 'direct' (direct kernel whenever it applies).");
  m.def("get_conv_algorithm", &get_conv_algorithm_py);
}

}  // namespace fastnn
