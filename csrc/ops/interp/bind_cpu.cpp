// Bindings of the resampling kernels (interpolate / Upsample, modes nearest and bilinear).
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "core/checks.h"
#include "ops/interp/cpu.h"

namespace fastnn {

namespace {

template <typename T>
py::array_t<T, py::array::c_style | py::array::forcecast> contiguous(const py::array& a) {
  return py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
}

void check_sizes(const std::string& fn, const char* name, const std::vector<int64_t>& v) {
  if (v.size() != 2 || v[0] < 1 || v[1] < 1)
    fail_value(fn, std::string("argument '") + name + "' must be two positive sizes, got " +
                       (v.size() == 2 ? "(" + std::to_string(v[0]) + ", " + std::to_string(v[1]) + ")"
                                      : std::to_string(v.size()) + " values"));
}

void check_scales(const std::string& fn, const std::vector<double>& s) {
  if (s.size() != 2) fail_value(fn, "argument 'scales' must have 2 values, got " + std::to_string(s.size()));
}

template <typename T>
py::array run(const std::string& mode, bool backward, const py::array& a, int64_t N, int64_t C, int64_t H, int64_t W,
              int64_t OH, int64_t OW, bool align_corners, double sh, double sw) {
  auto ac = contiguous<T>(a);
  py::array_t<T> out = backward ? py::array_t<T>({N, C, H, W}) : py::array_t<T>({N, C, OH, OW});
  const T* src = ac.data();
  T* dst = out.mutable_data();
  const int64_t P = N * C;
  {
    py::gil_scoped_release release;
    if (mode == "nearest") {
      if (backward) upsample_nearest2d_backward<T>(P, H, W, OH, OW, sh, sw, src, dst);
      else upsample_nearest2d_forward<T>(P, H, W, OH, OW, sh, sw, src, dst);
    } else {
      if (backward) upsample_bilinear2d_backward<T>(P, H, W, OH, OW, align_corners, sh, sw, src, dst);
      else upsample_bilinear2d_forward<T>(P, H, W, OH, OW, align_corners, sh, sw, src, dst);
    }
  }
  return std::move(out);
}

void check_mode(const std::string& fn, const std::string& mode) {
  if (mode != "nearest" && mode != "bilinear")
    fail_value(fn, "argument 'mode' must be 'nearest' or 'bilinear', got '" + mode + "'");
}

py::array upsample2d_py(py::array x, std::string mode, std::vector<int64_t> output_size, bool align_corners,
                        std::vector<double> scales) {
  const std::string fn = "interpolate";
  check_mode(fn, mode);
  require_float(fn, "input", x);
  require_ndim(fn, "input", x, 4);
  check_sizes(fn, "output_size", output_size);
  check_scales(fn, scales);
  if (x.shape(2) < 1 || x.shape(3) < 1)
    fail_value(fn, "argument 'input' " + shape_str(x) + " must have non-empty spatial dimensions");
  auto f = dtype_of(x) == DType::f32 ? &run<float> : &run<double>;
  return f(mode, false, x, x.shape(0), x.shape(1), x.shape(2), x.shape(3), output_size[0], output_size[1],
           align_corners, scales[0], scales[1]);
}

py::array upsample2d_backward_py(py::array grad_output, std::string mode, std::vector<int64_t> input_size,
                                 bool align_corners, std::vector<double> scales) {
  const std::string fn = "interpolate_backward";
  check_mode(fn, mode);
  require_float(fn, "grad_output", grad_output);
  require_ndim(fn, "grad_output", grad_output, 4);
  check_sizes(fn, "input_size", input_size);
  check_scales(fn, scales);
  if (grad_output.shape(2) < 1 || grad_output.shape(3) < 1)
    fail_value(fn, "argument 'grad_output' " + shape_str(grad_output) + " must have non-empty spatial dimensions");
  auto f = dtype_of(grad_output) == DType::f32 ? &run<float> : &run<double>;
  return f(mode, true, grad_output, grad_output.shape(0), grad_output.shape(1), input_size[0], input_size[1],
           grad_output.shape(2), grad_output.shape(3), align_corners, scales[0], scales[1]);
}

}  // namespace

void bind_interp(py::module_& m) {
  m.def("upsample2d", &upsample2d_py, py::arg("input"), py::arg("mode"), py::arg("output_size"),
        py::arg("align_corners") = false, py::arg("scales") = std::vector<double>{0.0, 0.0},
        "Resample NCHW 'input' to output_size with mode 'nearest' or 'bilinear'; scales are the user's scale "
        "factors (0 = derive from the sizes).");
  m.def("upsample2d_backward", &upsample2d_backward_py, py::arg("grad_output"), py::arg("mode"),
        py::arg("input_size"), py::arg("align_corners") = false, py::arg("scales") = std::vector<double>{0.0, 0.0});
}

}  // namespace fastnn
