// The binding of the resampling family (interpolate / Upsample, modes nearest and bilinear),
// compiled into both modules (core/device.h): the same functions and arguments on fastnn._C and
// fastnn._C_cuda.
#include <cmath>

#include "core/device.h"

#if FASTNN_CUDA_MODULE
#include "ops/interp/cuda.h"
#else
#include "ops/interp/cpu.h"
#endif

namespace fastnn {
namespace {

bool bilinear_mode(const std::string& fn, const std::string& mode) {
  if (mode != "nearest" && mode != "bilinear")
    fail_value(fn, "argument 'mode' must be 'nearest' or 'bilinear', got '" + mode + "'");
  return mode == "bilinear";
}

// The user's scale factors (h, w), which PyTorch uses instead of the sizes to place the source
// pixels when the output size came from them; 0 or None: from the sizes.
std::pair<double, double> scales_arg(const std::string& fn, py::handle scales) {
  if (!PySequence_Check(scales.ptr()) || py::isinstance<py::str>(scales))
    fail_type(fn, "argument 'scales' must be a sequence of 2 numbers or None, got " + detail::type_name(scales));
  py::sequence seq = py::reinterpret_borrow<py::sequence>(scales);
  if (py::len(seq) != 2) fail_value(fn, "argument 'scales' must have 2 values, got " + std::to_string(py::len(seq)));
  double v[2];
  for (int i = 0; i < 2; ++i) {
    py::object e = seq[i];
    if (e.is_none()) {
      v[i] = 0.0;
      continue;
    }
    if (!PyFloat_Check(e.ptr()) && !PyLong_Check(e.ptr()) && !PyNumber_Check(e.ptr()))
      fail_type(fn, "argument 'scales' must hold numbers or None, got " + detail::type_name(e));
    v[i] = py::float_(e);
    if (!(v[i] >= 0) || std::isinf(v[i]))
      fail_value(fn, "argument 'scales' must hold positive finite numbers (0 or None: from the sizes), got " +
                         std::string(py::str(scales)));
  }
  return {v[0], v[1]};
}

// Forward: src = input (N, C, H, W), dst (N, C, OH, OW). Backward: src = grad_output
// (N, C, OH, OW), dst = grad_input (N, C, H, W).
py::object resample(const char* name, bool backward, py::handle src_obj, const std::string& mode, py::handle size,
                    bool align_corners, py::handle scales) {
  Call call(name);
  const std::string& fn = call.fn;
  const bool bilinear = bilinear_mode(fn, mode);
  ArrayView src = call.float_array(backward ? "grad_output" : "input", src_obj, 4);
  const std::vector<int64_t> hw = int_list(fn, backward ? "input_size" : "output_size", size, 2, 1);
  const std::pair<double, double> sc = scales_arg(fn, scales);
  const double sh = sc.first, sw = sc.second;
  if (src.dim(2) < 1 || src.dim(3) < 1)
    fail_value(fn, "argument " + src.desc() + " must have non-empty spatial dimensions");
  const int64_t N = src.dim(0), C = src.dim(1);
  const int64_t H = backward ? hw[0] : src.dim(2), W = backward ? hw[1] : src.dim(3);
  const int64_t OH = backward ? src.dim(2) : hw[0], OW = backward ? src.dim(3) : hw[1];
  require_product_fits(fn, "the result's size", {N, C, hw[0], hw[1]});
  ArrayView dst = call.empty(backward ? "grad_input" : "out", {N, C, hw[0], hw[1]}, src.dtype);
  if (dst.numel() == 0) return dst.object;
  with_float_type(src, [&](auto zero) {
    using T = decltype(zero);
#if FASTNN_CUDA_MODULE
    const cuda::InterpGeom g{N, C, H, W, OH, OW, sh, sw};
    const cuda::Arr4<const T> s = arr4<const T>(src);
    const cuda::Arr4<T> d = arr4<T>(dst);
    cudaStream_t st = call.stream();
    py::gil_scoped_release release;
    if (!bilinear && !backward) cuda::upsample_nearest2d_forward<T>(g, s, d, st);
    if (!bilinear && backward) cuda::upsample_nearest2d_backward<T>(g, s, d, st);
    if (bilinear && !backward) cuda::upsample_bilinear2d_forward<T>(g, align_corners, s, d, st);
    if (bilinear && backward) cuda::upsample_bilinear2d_backward<T>(g, align_corners, s, d, st);
#else
    const HostData<T> srcc(src);
    const T* s = srcc.ptr;
    T* d = dst.ptr<T>();
    const int64_t P = N * C;
    py::gil_scoped_release release;
    if (!bilinear && !backward) upsample_nearest2d_forward<T>(P, H, W, OH, OW, sh, sw, s, d);
    if (!bilinear && backward) upsample_nearest2d_backward<T>(P, H, W, OH, OW, sh, sw, s, d);
    if (bilinear && !backward) upsample_bilinear2d_forward<T>(P, H, W, OH, OW, align_corners, sh, sw, s, d);
    if (bilinear && backward) upsample_bilinear2d_backward<T>(P, H, W, OH, OW, align_corners, sh, sw, s, d);
#endif
  });
  return dst.object;
}

}  // namespace

void bind_interp(py::module_& m) {
  const auto no_scales = py::make_tuple(0.0, 0.0);
  m.def(
      "upsample2d",
      [](py::handle input, const std::string& mode, py::handle output_size, bool align_corners, py::handle scales) {
        return resample("upsample2d", false, input, mode, output_size, align_corners, scales);
      },
      py::arg("input"), py::arg("mode"), py::arg("output_size"), py::arg("align_corners") = false,
      py::arg("scales") = no_scales,
      "Resample NCHW 'input' to output_size with mode 'nearest' or 'bilinear'; scales are the user's scale "
      "factors (0 or None: derive from the sizes).");
  m.def(
      "upsample2d_backward",
      [](py::handle grad_output, const std::string& mode, py::handle input_size, bool align_corners,
         py::handle scales) {
        return resample("upsample2d_backward", true, grad_output, mode, input_size, align_corners, scales);
      },
      py::arg("grad_output"), py::arg("mode"), py::arg("input_size"), py::arg("align_corners") = false,
      py::arg("scales") = no_scales);
}

}  // namespace fastnn
