// Bindings of the pooling kernels: PyTorch's output-size rules and argument checks, then
// the kernel on a contiguous copy of the input when it is not contiguous already.
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "core/checks.h"
#include "ops/pool/cpu.h"

namespace fastnn {

namespace {

std::string vstr(const std::vector<int64_t>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + ")";
}

void require_pair(const std::string& fn, const char* name, const std::vector<int64_t>& v, int64_t min) {
  if (v.size() != 2)
    fail_value(fn, std::string("argument '") + name + "' must have 2 values, got " + vstr(v));
  if (v[0] < min || v[1] < min)
    fail_value(fn, std::string("argument '") + name + "' must be >= " + std::to_string(min) + ", got " + vstr(v));
}

template <typename T>
py::array_t<T, py::array::c_style | py::array::forcecast> contiguous(const py::array& a) {
  return py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
}

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// PyTorch's pooling_output_shape: in ceil mode the last window must start inside the
// input or its left padding, otherwise it is dropped.
int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  int64_t out = floor_div(in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0), s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

Pool2dShape make_shape(const std::string& fn, int64_t N, int64_t C, int64_t H, int64_t W, const std::string& what,
                       const std::vector<int64_t>& kernel, const std::vector<int64_t>& stride,
                       const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation, bool ceil_mode) {
  require_pair(fn, "kernel_size", kernel, 1);
  require_pair(fn, "stride", stride, 1);
  require_pair(fn, "padding", padding, 0);
  require_pair(fn, "dilation", dilation, 1);
  if (padding[0] > kernel[0] / 2 || padding[1] > kernel[1] / 2)
    fail_value(fn, "padding " + vstr(padding) + " should be at most half of kernel_size " + vstr(kernel));
  Pool2dShape s{};
  s.P = N * C, s.H = H, s.W = W;
  s.KH = kernel[0], s.KW = kernel[1], s.stride_h = stride[0], s.stride_w = stride[1];
  s.pad_h = padding[0], s.pad_w = padding[1], s.dil_h = dilation[0], s.dil_w = dilation[1];
  s.OH = pool_out(s.H, s.KH, s.stride_h, s.pad_h, s.dil_h, ceil_mode);
  s.OW = pool_out(s.W, s.KW, s.stride_w, s.pad_w, s.dil_w, ceil_mode);
  if (s.H < 1 || s.W < 1 || s.OH < 1 || s.OW < 1)
    fail_value(fn, what + " is too small for kernel_size " + vstr(kernel) + ", stride " +
                       vstr(stride) + ", padding " + vstr(padding) + ", dilation " + vstr(dilation) +
                       ": calculated output size (" + std::to_string(s.OH) + " x " + std::to_string(s.OW) + ")");
  return s;
}

template <typename T>
py::tuple max_forward_t(const py::array& x, const Pool2dShape& s, int64_t N, int64_t C, bool with_indices) {
  auto xc = contiguous<T>(x);
  py::array_t<T> y({N, C, s.OH, s.OW});
  py::object idx_obj = py::none();
  int64_t* ip = nullptr;
  if (with_indices) {
    py::array_t<int64_t> idx({N, C, s.OH, s.OW});
    ip = idx.mutable_data();
    idx_obj = idx;
  }
  const T* xp = xc.data();
  T* yp = y.mutable_data();
  {
    py::gil_scoped_release release;
    max_pool2d_forward<T>(s, xp, yp, ip);
  }
  return py::make_tuple(y, idx_obj);
}

py::tuple max_pool2d_py(py::array x, std::vector<int64_t> kernel, std::vector<int64_t> stride,
                        std::vector<int64_t> padding, std::vector<int64_t> dilation, bool ceil_mode,
                        bool with_indices) {
  const std::string fn = "max_pool2d";
  require_float(fn, "input", x);
  require_ndim(fn, "input", x, 4);
  Pool2dShape s = make_shape(fn, x.shape(0), x.shape(1), x.shape(2), x.shape(3), "input " + shape_str(x), kernel,
                             stride, padding, dilation, ceil_mode);
  if (dtype_of(x) == DType::f32) return max_forward_t<float>(x, s, x.shape(0), x.shape(1), with_indices);
  return max_forward_t<double>(x, s, x.shape(0), x.shape(1), with_indices);
}

template <typename T>
py::array max_backward_t(const py::array& dy, const py::array& idx, Pool2dShape s, int64_t N, int64_t C) {
  auto gc = contiguous<T>(dy);
  auto ic = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(idx);
  py::array_t<T> dx({N, C, s.H, s.W});
  const T* gp = gc.data();
  const int64_t* ip = ic.data();
  T* dp = dx.mutable_data();
  bool ok;
  {
    py::gil_scoped_release release;
    ok = max_pool2d_backward<T>(s, gp, ip, dp);
  }
  if (!ok)
    fail_value("max_pool2d_backward", "argument 'indices' holds values outside [0, " + std::to_string(s.H * s.W) +
                                          ") for input_size (" + std::to_string(s.H) + ", " + std::to_string(s.W) +
                                          ")");
  return std::move(dx);
}

// Also the backward of adaptive_max_pool2d: indices are flat positions in each plane.
py::array max_pool2d_backward_py(py::array grad_output, py::array indices, std::vector<int64_t> input_size) {
  const std::string fn = "max_pool2d_backward";
  require_float(fn, "grad_output", grad_output);
  require_ndim(fn, "grad_output", grad_output, 4);
  if (dtype_of(indices) != DType::i64) fail_type(fn, "argument 'indices' must be int64, got " + dtype_str(indices));
  require_shape(fn, "indices", indices,
                {grad_output.shape(0), grad_output.shape(1), grad_output.shape(2), grad_output.shape(3)});
  require_pair(fn, "input_size", input_size, 1);
  Pool2dShape s{};
  s.P = grad_output.shape(0) * grad_output.shape(1), s.H = input_size[0], s.W = input_size[1];
  s.OH = grad_output.shape(2), s.OW = grad_output.shape(3);
  if (s.H / 2 == s.OH && s.W / 2 == s.OW) {
    // The geometry of a 2x2 stride-2 pool: the kernel tries its write-once path, which checks
    // that every index lies in its own window and otherwise falls back to the general scatter.
    s.KH = s.KW = s.stride_h = s.stride_w = 2;
    s.dil_h = s.dil_w = 1;
  }
  if (dtype_of(grad_output) == DType::f32)
    return max_backward_t<float>(grad_output, indices, s, grad_output.shape(0), grad_output.shape(1));
  return max_backward_t<double>(grad_output, indices, s, grad_output.shape(0), grad_output.shape(1));
}

template <typename T>
py::array avg_forward_t(const py::array& x, const Pool2dShape& s, bool cip, int64_t div) {
  auto xc = contiguous<T>(x);
  py::array_t<T> y({(int64_t)x.shape(0), (int64_t)x.shape(1), s.OH, s.OW});
  const T* xp = xc.data();
  T* yp = y.mutable_data();
  {
    py::gil_scoped_release release;
    avg_pool2d_forward<T>(s, cip, div, xp, yp);
  }
  return std::move(y);
}

void check_divisor(const std::string& fn, int64_t divisor_override) {
  if (divisor_override < 0)
    fail_value(fn, "argument 'divisor_override' must be positive (0 means none), got " +
                       std::to_string(divisor_override));
}

py::array avg_pool2d_py(py::array x, std::vector<int64_t> kernel, std::vector<int64_t> stride,
                        std::vector<int64_t> padding, bool ceil_mode, bool count_include_pad,
                        int64_t divisor_override) {
  const std::string fn = "avg_pool2d";
  require_float(fn, "input", x);
  check_divisor(fn, divisor_override);
  require_ndim(fn, "input", x, 4);
  Pool2dShape s = make_shape(fn, x.shape(0), x.shape(1), x.shape(2), x.shape(3), "input " + shape_str(x), kernel,
                             stride, padding, {1, 1}, ceil_mode);
  if (dtype_of(x) == DType::f32) return avg_forward_t<float>(x, s, count_include_pad, divisor_override);
  return avg_forward_t<double>(x, s, count_include_pad, divisor_override);
}

template <typename T>
py::array avg_backward_t(const py::array& dy, const Pool2dShape& s, int64_t N, int64_t C, bool cip, int64_t div) {
  auto gc = contiguous<T>(dy);
  py::array_t<T> dx({N, C, s.H, s.W});
  const T* gp = gc.data();
  T* dp = dx.mutable_data();
  {
    py::gil_scoped_release release;
    avg_pool2d_backward<T>(s, cip, div, gp, dp);
  }
  return std::move(dx);
}

py::array avg_pool2d_backward_py(py::array grad_output, std::vector<int64_t> input_size, std::vector<int64_t> kernel,
                                 std::vector<int64_t> stride, std::vector<int64_t> padding, bool ceil_mode,
                                 bool count_include_pad, int64_t divisor_override) {
  const std::string fn = "avg_pool2d_backward";
  require_float(fn, "grad_output", grad_output);
  require_ndim(fn, "grad_output", grad_output, 4);
  require_pair(fn, "input_size", input_size, 1);
  check_divisor(fn, divisor_override);
  Pool2dShape s = make_shape(fn, grad_output.shape(0), grad_output.shape(1), input_size[0], input_size[1],
                             "input_size " + vstr(input_size), kernel, stride, padding, {1, 1}, ceil_mode);
  require_shape(fn, "grad_output", grad_output, {grad_output.shape(0), grad_output.shape(1), s.OH, s.OW});
  if (dtype_of(grad_output) == DType::f32)
    return avg_backward_t<float>(grad_output, s, grad_output.shape(0), grad_output.shape(1), count_include_pad,
                                 divisor_override);
  return avg_backward_t<double>(grad_output, s, grad_output.shape(0), grad_output.shape(1), count_include_pad,
                                divisor_override);
}

void check_adaptive(const std::string& fn, const py::array& x, const std::vector<int64_t>& out) {
  require_ndim(fn, "input", x, 4);
  require_pair(fn, "output_size", out, 1);
  if (x.shape(2) < 1 || x.shape(3) < 1)
    fail_value(fn, "argument 'input' " + shape_str(x) + " must have non-empty spatial dimensions");
}

template <typename T>
py::tuple adaptive_forward_t(const py::array& x, int64_t OH, int64_t OW, bool is_max, bool with_indices) {
  auto xc = contiguous<T>(x);
  const int64_t N = x.shape(0), C = x.shape(1), H = x.shape(2), W = x.shape(3);
  py::array_t<T> y({N, C, OH, OW});
  py::object idx_obj = py::none();
  int64_t* ip = nullptr;
  if (is_max && with_indices) {
    py::array_t<int64_t> idx({N, C, OH, OW});
    ip = idx.mutable_data();
    idx_obj = idx;
  }
  const T* xp = xc.data();
  T* yp = y.mutable_data();
  {
    py::gil_scoped_release release;
    if (is_max) adaptive_max_pool2d_forward<T>(N * C, H, W, OH, OW, xp, yp, ip);
    else adaptive_avg_pool2d_forward<T>(N * C, H, W, OH, OW, xp, yp);
  }
  return py::make_tuple(y, idx_obj);
}

py::array adaptive_avg_pool2d_py(py::array x, std::vector<int64_t> output_size) {
  const std::string fn = "adaptive_avg_pool2d";
  require_float(fn, "input", x);
  check_adaptive(fn, x, output_size);
  py::tuple t = dtype_of(x) == DType::f32 ? adaptive_forward_t<float>(x, output_size[0], output_size[1], false, false)
                                          : adaptive_forward_t<double>(x, output_size[0], output_size[1], false, false);
  return t[0].cast<py::array>();
}

py::tuple adaptive_max_pool2d_py(py::array x, std::vector<int64_t> output_size, bool with_indices) {
  const std::string fn = "adaptive_max_pool2d";
  require_float(fn, "input", x);
  check_adaptive(fn, x, output_size);
  if (dtype_of(x) == DType::f32) return adaptive_forward_t<float>(x, output_size[0], output_size[1], true, with_indices);
  return adaptive_forward_t<double>(x, output_size[0], output_size[1], true, with_indices);
}

template <typename T>
py::array adaptive_avg_backward_t(const py::array& dy, int64_t H, int64_t W) {
  auto gc = contiguous<T>(dy);
  const int64_t N = dy.shape(0), C = dy.shape(1), OH = dy.shape(2), OW = dy.shape(3);
  py::array_t<T> dx({N, C, H, W});
  const T* gp = gc.data();
  T* dp = dx.mutable_data();
  {
    py::gil_scoped_release release;
    adaptive_avg_pool2d_backward<T>(N * C, H, W, OH, OW, gp, dp);
  }
  return std::move(dx);
}

py::array adaptive_avg_pool2d_backward_py(py::array grad_output, std::vector<int64_t> input_size) {
  const std::string fn = "adaptive_avg_pool2d_backward";
  require_float(fn, "grad_output", grad_output);
  require_ndim(fn, "grad_output", grad_output, 4);
  require_pair(fn, "input_size", input_size, 1);
  if (grad_output.shape(2) < 1 || grad_output.shape(3) < 1)
    fail_value(fn, "argument 'grad_output' " + shape_str(grad_output) + " must have non-empty spatial dimensions");
  if (dtype_of(grad_output) == DType::f32)
    return adaptive_avg_backward_t<float>(grad_output, input_size[0], input_size[1]);
  return adaptive_avg_backward_t<double>(grad_output, input_size[0], input_size[1]);
}

}  // namespace

void bind_pool(py::module_& m) {
  m.def("max_pool2d", &max_pool2d_py, py::arg("input"), py::arg("kernel_size"), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode") = false, py::arg("with_indices") = true,
        "(output, indices or None) of a 2-D max pool over NCHW 'input'; indices are flat positions h * W + w.");
  m.def("max_pool2d_backward", &max_pool2d_backward_py, py::arg("grad_output"), py::arg("indices"),
        py::arg("input_size"), "Scatter-add of grad_output at indices (max_pool2d and adaptive_max_pool2d).");
  m.def("avg_pool2d", &avg_pool2d_py, py::arg("input"), py::arg("kernel_size"), py::arg("stride"),
        py::arg("padding"), py::arg("ceil_mode") = false, py::arg("count_include_pad") = true,
        py::arg("divisor_override") = 0, "2-D average pool over NCHW 'input' (divisor_override 0 means none).");
  m.def("avg_pool2d_backward", &avg_pool2d_backward_py, py::arg("grad_output"), py::arg("input_size"),
        py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, py::arg("divisor_override") = 0);
  m.def("adaptive_avg_pool2d", &adaptive_avg_pool2d_py, py::arg("input"), py::arg("output_size"));
  m.def("adaptive_avg_pool2d_backward", &adaptive_avg_pool2d_backward_py, py::arg("grad_output"),
        py::arg("input_size"));
  m.def("adaptive_max_pool2d", &adaptive_max_pool2d_py, py::arg("input"), py::arg("output_size"),
        py::arg("with_indices") = true);
}

}  // namespace fastnn
