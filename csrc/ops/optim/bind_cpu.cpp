// Bindings of the fused optimiser steps (CPU): in place on contiguous numpy arrays of one shape and
// dtype, with the hyper-parameters combined by python/fastnn/optim/adam.py and sgd.py (optim.h).
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/checks.h"
#include "ops/optim/cpu.h"

namespace fastnn {

namespace {

using optim::AdamScalars;
using optim::SgdScalars;

struct Arg {
  const char* name;
  py::object obj;
  bool written;
};

// The arrays, None where an argument is None: numpy, float32/float64 like 'param', param's shape,
// C-contiguous; the written ones writeable and overlapping no other.
struct Arrays {
  std::vector<py::array> a;
  std::vector<bool> given;
};

Arrays checked_arrays(const std::string& fn, const std::vector<Arg>& args) {
  Arrays r{std::vector<py::array>(args.size()), std::vector<bool>(args.size(), false)};
  for (size_t k = 0; k < args.size(); ++k) {
    if (args[k].obj.is_none()) continue;
    if (!py::isinstance<py::array>(args[k].obj))
      fail_type(fn, std::string("argument '") + args[k].name + "' must be a numpy array, got " +
                        py::str(py::type::of(args[k].obj).attr("__name__")).cast<std::string>());
    r.a[k] = py::reinterpret_borrow<py::array>(args[k].obj);
    r.given[k] = true;
  }
  if (!r.given[0]) fail_type(fn, "argument 'param' must be a numpy array, got NoneType");
  if (!r.given[1]) fail_type(fn, "argument 'grad' must be a numpy array, got NoneType");
  const py::array& param = r.a[0];
  require_float(fn, "param", param);
  const std::vector<py::ssize_t> shape(param.shape(), param.shape() + param.ndim());
  for (size_t k = 0; k < args.size(); ++k) {
    if (!r.given[k]) continue;
    const py::array& a = r.a[k];
    if (k) {
      require_same_dtype(fn, "param", param, args[k].name, a);
      require_shape(fn, args[k].name, a, shape);
    }
    if (!(a.flags() & py::array::c_style))
      fail_value(fn, std::string("argument '") + args[k].name + "' of shape " + shape_str(a) + " must be contiguous");
    if (args[k].written) require_writeable(fn, args[k].name, a);
  }
  for (size_t i = 0; i < args.size(); ++i)
    for (size_t j = 0; j < args.size(); ++j)
      if (i != j && args[i].written && r.given[i] && r.given[j])
        require_no_overlap(fn, args[i].name, r.a[i], args[j].name, r.a[j]);
  return r;
}

// scalars[key] as a double or a bool (a missing key or a value of another kind is a clear error).
double scalar_double(const std::string& fn, const py::dict& s, const char* key) {
  PyObject* v = PyDict_GetItemString(s.ptr(), key);  // borrowed
  if (!v) fail_value(fn, std::string("argument 'scalars' has no '") + key + "'");
  const double d = PyFloat_AsDouble(v);
  if (d == -1.0 && PyErr_Occurred()) {
    PyErr_Clear();
    fail_type(fn, std::string("argument 'scalars': '") + key + "' must be a number");
  }
  return d;
}

bool scalar_bool(const std::string& fn, const py::dict& s, const char* key) {
  PyObject* v = PyDict_GetItemString(s.ptr(), key);
  if (!v) fail_value(fn, std::string("argument 'scalars' has no '") + key + "'");
  const int b = PyObject_IsTrue(v);
  if (b < 0) throw py::error_already_set();
  return b != 0;
}

template <typename T>
AdamScalars<T> adam_scalars(const std::string& fn, const py::dict& s) {
  auto f = [&](const char* k) { return (T)scalar_double(fn, s, k); };
  auto b = [&](const char* k) { return scalar_bool(fn, s, k); };
  return {f("l2"), f("decay"), f("w"), f("one_minus_w"), f("beta2"), f("one_minus_beta2"), f("bias_correction2_sqrt"),
          f("eps"), f("step_size"), b("lerp_low"), b("maximize"), b("amsgrad")};
}

template <typename T>
SgdScalars<T> sgd_scalars(const std::string& fn, const py::dict& s) {
  auto f = [&](const char* k) { return (T)scalar_double(fn, s, k); };
  auto b = [&](const char* k) { return scalar_bool(fn, s, k); };
  return {f("l2"), f("momentum"), f("one_minus_dampening"), f("lr"), b("dampened"), b("nesterov"), b("maximize"),
          b("first")};
}

// Below this many elements the step is shorter than handing the GIL back and forth.
constexpr long long kReleaseGil = 1 << 14;

template <typename T>
T* data(Arrays& r, size_t k) {
  return r.given[k] ? static_cast<T*>(r.a[k].mutable_data()) : nullptr;
}

template <typename T>
void adam_run(Arrays& a, const py::dict& scalars) {
  const AdamScalars<T> s = adam_scalars<T>("adam_step", scalars);
  const long long n = (long long)a.a[0].size();
  const T* g = static_cast<const T*>(a.a[1].data());
  std::optional<py::gil_scoped_release> release;
  if (n >= kReleaseGil) release.emplace();
  optim::adam_step_cpu<T>(n, data<T>(a, 0), g, data<T>(a, 2), data<T>(a, 3), data<T>(a, 4), s);
}

template <typename T>
void sgd_run(Arrays& a, const py::dict& scalars) {
  const SgdScalars<T> s = sgd_scalars<T>("sgd_step", scalars);
  const long long n = (long long)a.a[0].size();
  const T* g = static_cast<const T*>(a.a[1].data());
  std::optional<py::gil_scoped_release> release;
  if (n >= kReleaseGil) release.emplace();
  optim::sgd_step_cpu<T>(n, data<T>(a, 0), g, data<T>(a, 2), s);
}

void adam_step_py(py::object param, py::object grad, py::object exp_avg, py::object exp_avg_sq,
                  py::object max_exp_avg_sq, py::dict scalars) {
  const std::string fn = "adam_step";
  if (scalar_bool(fn, scalars, "amsgrad") == max_exp_avg_sq.is_none())
    fail_value(fn, "argument 'max_exp_avg_sq' must be given exactly when amsgrad is set");
  Arrays a = checked_arrays(fn, {{"param", param, true},
                                {"grad", grad, false},
                                {"exp_avg", exp_avg, true},
                                {"exp_avg_sq", exp_avg_sq, true},
                                {"max_exp_avg_sq", max_exp_avg_sq, true}});
  if (dtype_of(a.a[0]) == DType::f32) adam_run<float>(a, scalars);
  else adam_run<double>(a, scalars);
}

void sgd_step_py(py::object param, py::object grad, py::object momentum_buffer, py::dict scalars) {
  const std::string fn = "sgd_step";
  if ((scalar_double(fn, scalars, "momentum") != 0) == momentum_buffer.is_none())
    fail_value(fn, "argument 'momentum_buffer' must be given exactly when momentum is not 0");
  Arrays a = checked_arrays(fn, {{"param", param, true},
                                {"grad", grad, false},
                                {"momentum_buffer", momentum_buffer, true}});
  if (dtype_of(a.a[0]) == DType::f32) sgd_run<float>(a, scalars);
  else sgd_run<double>(a, scalars);
}

}  // namespace

void bind_optim(py::module_& m) {
  m.def("adam_step", &adam_step_py, py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"),
        py::arg("max_exp_avg_sq"), py::arg("scalars"),
        "One fused Adam/AdamW update in place (contiguous arrays of one shape and dtype; scalars combined by "
        "fastnn.optim.Adam).");
  m.def("sgd_step", &sgd_step_py, py::arg("param"), py::arg("grad"), py::arg("momentum_buffer"), py::arg("scalars"),
        "One fused SGD update in place (contiguous arrays of one shape and dtype; scalars combined by "
        "fastnn.optim.SGD).");
}

}  // namespace fastnn
