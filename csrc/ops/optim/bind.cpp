// The binding of the fused optimiser updates, compiled into each module whose device has the
// kernels (core/device.h): the same functions and arguments on fastnn._C and fastnn._C_cuda. The
// arrays are updated in place; the scalars are combined by the caller (fastnn.optim's step).
#include <vector>

#include "core/device.h"

#if FASTNN_CUDA_MODULE
#include "ops/optim/cuda.h"
#else
#include "ops/optim/cpu.h"
#endif

namespace fastnn {
namespace {

using optim::AdamScalars;
using optim::SgdScalars;
#if !FASTNN_CUDA_MODULE
using optim::adam_step_cpu;
using optim::sgd_step_cpu;
#endif

// The arrays of one update (the first `required` must be given; a None after them is state the
// configuration does not use, and is skipped): param's dtype (float32 or float64) and shape,
// contiguous; the written ones (all but the gradient, the second) writeable and overlapping no
// other.
std::vector<ArrayView> update_arrays(Call& call, size_t required,
                                     std::initializer_list<std::pair<const char*, py::handle>> args) {
  const std::string& fn = call.fn;
  std::vector<ArrayView> vs;
  size_t k = 0;
  for (const auto& [name, obj] : args) {
    // the first `required` are; the last may be None (state the configuration does not use)
    if (k++ < required && obj.is_none())
      fail_type(fn, std::string("argument '") + name + "' must be an array, got None");
    if (!obj.is_none()) vs.push_back(call.array(name, obj));
  }
  const ArrayView& p = vs[0];
  require_float(fn, p);
  for (size_t i = 0; i < vs.size(); ++i) {
    const ArrayView& v = vs[i];
    if (i) require_same_dtype(fn, p, v);
    if (v.shape != p.shape)
      fail_value(fn, "argument '" + v.name + "' has shape " + v.shape_str() + " but 'param' has " + p.shape_str());
    require_contiguous(fn, v);
    require_aligned(fn, v);
    if (i != 1) require_writeable(fn, v);
  }
  for (size_t i = 0; i < vs.size(); ++i)
    for (size_t j = 0; j < vs.size(); ++j)
      if (i != j && i != 1) require_no_overlap(fn, vs[i], vs[j]);
  return vs;
}

template <typename T>
AdamScalars<T> adam_scalars(const std::string& fn, const py::dict& s) {
  auto f = [&](const char* k) { return (T)scalars_number(fn, s, k); };
  auto b = [&](const char* k) { return scalars_flag(fn, s, k); };
  return {f("l2"), f("decay"), f("w"), f("one_minus_w"), f("beta2"), f("one_minus_beta2"), f("bias_correction2_sqrt"),
          f("eps"), f("step_size"), b("lerp_low"), b("maximize"), b("amsgrad")};
}

template <typename T>
SgdScalars<T> sgd_scalars(const std::string& fn, const py::dict& s) {
  auto f = [&](const char* k) { return (T)scalars_number(fn, s, k); };
  auto b = [&](const char* k) { return scalars_flag(fn, s, k); };
  return {f("l2"), f("momentum"), f("one_minus_dampening"), f("lr"), b("dampened"), b("nesterov"), b("maximize"),
          b("first")};
}

// Array k of vs as T*, null past the end (an absent optional array).
template <typename T>
T* ptr(const std::vector<ArrayView>& vs, size_t k) {
  return k < vs.size() ? vs[k].ptr<T>() : nullptr;
}

void adam_step_py(py::handle param, py::handle grad, py::handle exp_avg, py::handle exp_avg_sq,
                  py::handle max_exp_avg_sq, const py::dict& scalars) {
  Call call("adam_step");
  const std::string& fn = call.fn;
  if (scalars_flag(fn, scalars, "amsgrad") == max_exp_avg_sq.is_none())
    fail_value(fn, "argument 'max_exp_avg_sq' must be given exactly when amsgrad is set");
  const std::vector<ArrayView> vs = update_arrays(
      call, 4, {{"param", param}, {"grad", grad}, {"exp_avg", exp_avg}, {"exp_avg_sq", exp_avg_sq},
             {"max_exp_avg_sq", max_exp_avg_sq}});
  const int64_t n = vs[0].numel();
  with_float_type(vs[0], [&](auto zero) {
    using T = decltype(zero);
    const AdamScalars<T> s = adam_scalars<T>(fn, scalars);
    if (n == 0) return;
#if FASTNN_CUDA_MODULE
    cudaStream_t stream = call.stream();
    py::gil_scoped_release release;
    cuda::adam_step<T>(n, ptr<T>(vs, 0), ptr<T>(vs, 1), ptr<T>(vs, 2), ptr<T>(vs, 3), ptr<T>(vs, 4), s, stream);
#else
    py::gil_scoped_release release;
    adam_step_cpu<T>(n, ptr<T>(vs, 0), ptr<T>(vs, 1), ptr<T>(vs, 2), ptr<T>(vs, 3), ptr<T>(vs, 4), s);
#endif
  });
}

void sgd_step_py(py::handle param, py::handle grad, py::handle momentum_buffer, const py::dict& scalars) {
  Call call("sgd_step");
  const std::string& fn = call.fn;
  if ((scalars_number(fn, scalars, "momentum") != 0) == momentum_buffer.is_none())
    fail_value(fn, "argument 'momentum_buffer' must be given exactly when momentum is not 0");
  const std::vector<ArrayView> vs =
      update_arrays(call, 2, {{"param", param}, {"grad", grad}, {"momentum_buffer", momentum_buffer}});
  const int64_t n = vs[0].numel();
  with_float_type(vs[0], [&](auto zero) {
    using T = decltype(zero);
    const SgdScalars<T> s = sgd_scalars<T>(fn, scalars);
    if (n == 0) return;
#if FASTNN_CUDA_MODULE
    cudaStream_t stream = call.stream();
    py::gil_scoped_release release;
    cuda::sgd_step<T>(n, ptr<T>(vs, 0), ptr<T>(vs, 1), ptr<T>(vs, 2), s, stream);
#else
    py::gil_scoped_release release;
    sgd_step_cpu<T>(n, ptr<T>(vs, 0), ptr<T>(vs, 1), ptr<T>(vs, 2), s);
#endif
  });
}

}  // namespace

void bind_optim(py::module_& m) {
  m.def("adam_step", &adam_step_py, py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"),
        py::arg("max_exp_avg_sq"), py::arg("scalars"),
        "One fused Adam/AdamW update in place of contiguous arrays of one shape and dtype; 'scalars' holds the "
        "hyper-parameters as fastnn.optim.Adam combines them (l2, decay, w, one_minus_w, beta2, "
        "one_minus_beta2, bias_correction2_sqrt, eps, step_size, lerp_low, maximize, amsgrad).");
  m.def("sgd_step", &sgd_step_py, py::arg("param"), py::arg("grad"), py::arg("momentum_buffer"), py::arg("scalars"),
        "One fused SGD update in place (contiguous arrays of one shape and dtype); 'scalars': l2, momentum, "
        "one_minus_dampening, lr, dampened, nesterov, maximize, first.");
}

}  // namespace fastnn
