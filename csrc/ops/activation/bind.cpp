// The binding of the activation family, compiled into both modules: the same functions and arguments on
// fastnn._C and fastnn._C_cuda (contract: activation.h). Arrays of any shape, C-contiguous, float32/float64.
#include <cmath>
#include <optional>
#include <string>

#include "core/device.h"

#if FASTNN_CUDA_MODULE
#include "ops/activation/cuda.h"
#else
#include "ops/activation/cpu.h"
#endif

namespace fastnn {
namespace {

using activation::Kind;

Kind kind_arg(const std::string& fn, py::handle kind) {
  if (!py::isinstance<py::str>(kind))
    fail_type(fn, "argument 'kind' must be a str, got " + std::string(Py_TYPE(kind.ptr())->tp_name));
  const std::string k = kind.cast<std::string>();
  if (k == "relu") return activation::kRelu;
  if (k == "leaky_relu") return activation::kLeakyRelu;
  if (k == "sigmoid") return activation::kSigmoid;
  if (k == "silu") return activation::kSilu;
  fail_value(fn, "argument 'kind' must be 'relu', 'leaky_relu', 'sigmoid' or 'silu', got '" + k + "'");
}

double slope_arg(const std::string& fn, py::handle slope) {
  if (py::isinstance<py::bool_>(slope) || (!py::isinstance<py::float_>(slope) && !py::isinstance<py::int_>(slope)))
    fail_type(fn, "argument 'negative_slope' must be a number, got " + std::string(Py_TYPE(slope.ptr())->tp_name));
  const double s = slope.cast<double>();
  if (!std::isfinite(s)) fail_value(fn, "argument 'negative_slope' must be finite, got " + std::to_string(s));
  return s;
}

ArrayView operand(Call& call, const char* name, py::handle obj, const ArrayView* like) {
  ArrayView v = call.array(name, obj);
  require_float(call.fn, v);
  require_contiguous(call.fn, v);
  require_aligned(call.fn, v);
  if (like) {
    require_same_dtype(call.fn, *like, v);
    if (v.shape != like->shape)
      fail_value(call.fn, "argument '" + v.name + "' has shape " + v.shape_str() + " but '" + like->name + "' has " +
                              like->shape_str());
  }
  return v;
}

// The result array: a new one, or `out` (x's shape and dtype, contiguous, writeable), which may be one of the
// `inputs` exactly (in place) but must not overlap them otherwise.
ArrayView result(Call& call, py::handle out_obj, const ArrayView& like,
                 std::initializer_list<const ArrayView*> inputs) {
  if (out_obj.is_none()) return call.empty("out", like.shape, like.dtype);
  ArrayView out = operand(call, "out", out_obj, &like);
  require_writeable(call.fn, out);
  for (const ArrayView* in : inputs)
    if (in->data != out.data) require_no_overlap(call.fn, out, *in);
  return out;
}

py::object forward_impl(const std::string& fn, bool reference, py::handle x_obj, py::handle kind_obj,
                        py::handle slope_obj, py::handle out_obj) {
  Call call(fn);
  const ArrayView x = operand(call, "x", x_obj, nullptr);
  const Kind kind = kind_arg(fn, kind_obj);
  const double slope = slope_arg(fn, slope_obj);
  ArrayView y = result(call, out_obj, x, {&x});
  const int64_t n = x.numel();
  if (n > 0) {
    with_float_type(x, [&](auto zt) {
      using T = decltype(zt);
      const T* xp = x.ptr<const T>();
      T* yp = y.ptr<T>();
#if FASTNN_CUDA_MODULE
      (void)reference;
      cudaStream_t stream = call.stream();
      py::gil_scoped_release release;
      cuda::activation::forward<T>(kind, n, xp, (T)slope, yp, stream);
#else
      py::gil_scoped_release release;
      if (reference) activation::forward_reference<T>(kind, n, xp, (T)slope, yp);
      else activation::forward_cpu<T>(kind, n, xp, (T)slope, yp);
#endif
    });
  }
  return y.object;
}

py::object backward_impl(const std::string& fn, bool reference, py::handle dy_obj, py::handle x_obj,
                         py::handle kind_obj, py::handle slope_obj, py::handle out_obj) {
  Call call(fn);
  const ArrayView dy = operand(call, "dy", dy_obj, nullptr);
  const ArrayView x = operand(call, "x", x_obj, &dy);
  const Kind kind = kind_arg(fn, kind_obj);
  const double slope = slope_arg(fn, slope_obj);
  ArrayView dx = result(call, out_obj, dy, {&dy, &x});
  const int64_t n = x.numel();
  if (n > 0) {
    with_float_type(x, [&](auto zt) {
      using T = decltype(zt);
      const T *dyp = dy.ptr<const T>(), *xp = x.ptr<const T>();
      T* dxp = dx.ptr<T>();
#if FASTNN_CUDA_MODULE
      (void)reference;
      cudaStream_t stream = call.stream();
      py::gil_scoped_release release;
      cuda::activation::backward<T>(kind, n, dyp, xp, (T)slope, dxp, stream);
#else
      py::gil_scoped_release release;
      if (reference) activation::backward_reference<T>(kind, n, dyp, xp, (T)slope, dxp);
      else activation::backward_cpu<T>(kind, n, dyp, xp, (T)slope, dxp);
#endif
    });
  }
  return dx.object;
}

}  // namespace

void bind_activation(py::module_& m) {
  for (bool reference : {false, true}) {
    if (reference && kCudaModule) continue;
    const std::string suffix = reference ? "_reference" : "";
    const std::string note = reference ? " The plain reference (a scalar loop)." : "";
    const std::string fname = "activation_forward" + suffix, bname = "activation_backward" + suffix;
    m.def(
        fname.c_str(),
        [fname, reference](py::handle x, py::handle kind, py::handle negative_slope, py::handle out) {
          return forward_impl(fname, reference, x, kind, negative_slope, out);
        },
        py::arg("x"), py::arg("kind"), py::arg("negative_slope") = 0.0, py::arg("out") = py::none(),
        ("y = relu(x) (kind 'relu': x > 0 or NaN ? x : 0), leaky_relu(x) (kind 'leaky_relu': x > 0 ? x : "
         "x * negative_slope), sigmoid(x) (kind 'sigmoid': 1 / (1 + exp(-x))) or silu(x) (kind 'silu': "
         "x / (1 + exp(-x))) of a contiguous float array; 'out' (x itself allowed) receives it when given." + note)
            .c_str());
    m.def(
        bname.c_str(),
        [bname, reference](py::handle dy, py::handle x, py::handle kind, py::handle negative_slope,
                           py::handle out) { return backward_impl(bname, reference, dy, x, kind, negative_slope, out); },
        py::arg("dy"), py::arg("x"), py::arg("kind"), py::arg("negative_slope") = 0.0, py::arg("out") = py::none(),
        ("dx of activation_forward from dy and the forward's x: x > 0 ? dy : 0 (relu) or dy * negative_slope "
         "(leaky_relu), dy * s * (1 - s) (sigmoid), dy * s * (1 + x * (1 - s)) (silu) with s = sigmoid(x); "
         "'out' (dy itself allowed) receives it when given." + note).c_str());
  }
}

}  // namespace fastnn
