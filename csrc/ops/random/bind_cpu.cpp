// Bindings of the random-fill kernels: each fills a given contiguous float32/float64 array in place
// from Philox 4x32-10 under (key, offset) and returns the number of counters it used, by which the
// caller moves its stream's offset (python/fastnn/random.py).
#include <pybind11/stl.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/checks.h"
#include "ops/random/cpu.h"

namespace fastnn {

namespace {

using random::Dist;
using random::Params;

// A Python integer in [0, 2^bits).
uint64_t as_unsigned(const std::string& fn, const char* name, const py::object& v, int bits = 64) {
  if (py::isinstance<py::bool_>(v) || !py::hasattr(v, "__index__"))
    fail_type(fn, std::string("argument '") + name + "' must be an int, got " +
                      py::str(py::type::of(v).attr("__name__")).cast<std::string>());
  py::int_ i(v.attr("__index__")());
  const py::object limit = py::int_(1).attr("__lshift__")(bits);
  if (i < py::int_(0) || i >= limit)
    fail_value(fn, std::string("argument '") + name + "' must be in [0, 2^" + std::to_string(bits) + "), got " +
                       py::str(i).cast<std::string>());
  return i.cast<uint64_t>();
}

py::array out_array(const std::string& fn, const py::object& out) {
  if (!py::isinstance<py::array>(out))
    fail_type(fn, "argument 'out' must be a numpy array, got " +
                      py::str(py::type::of(out).attr("__name__")).cast<std::string>());
  py::array a = py::reinterpret_borrow<py::array>(out);
  require_float(fn, "out", a);
  require_writeable(fn, "out", a);
  if (!(a.flags() & py::array::c_style))
    fail_value(fn, "argument 'out' of shape " + shape_str(a) + " must be C-contiguous");
  return a;
}

template <typename T, Dist D>
uint64_t run(bool reference, py::array& out, uint64_t key, uint64_t offset, const Params<T>& prm) {
  const long long n = (long long)out.size();
  T* p = static_cast<T*>(out.mutable_data());
  {
    py::gil_scoped_release release;
    if (reference) random::fill_reference<T, D>(n, p, key, offset, prm);
    else random::fill_cpu<T, D>(n, p, key, offset, prm);
  }
  return random::counters_for<T>(D, n);
}

template <typename T>
uint64_t dispatch(bool reference, Dist d, py::array& out, uint64_t key, uint64_t offset, double p, double mean,
                  double std) {
  Params<T> prm;
  prm.mean = mean;
  prm.std = std;
  prm.keep_threshold = random::keep_threshold(p);
  prm.scale = p < 1.0 ? (T)(1.0 / (1.0 - p)) : T(0);
  switch (d) {
    case Dist::uniform: return run<T, Dist::uniform>(reference, out, key, offset, prm);
    case Dist::normal: return run<T, Dist::normal>(reference, out, key, offset, prm);
    default: return run<T, Dist::keep_mask>(reference, out, key, offset, prm);
  }
}

uint64_t fill(const std::string& fn, bool reference, Dist d, const py::object& out_obj, const py::object& key_obj,
              const py::object& offset_obj, double p, double mean, double std) {
  py::array out = out_array(fn, out_obj);
  const uint64_t key = as_unsigned(fn, "key", key_obj);
  const uint64_t offset = as_unsigned(fn, "offset", offset_obj);
  if (!(p >= 0.0 && p <= 1.0)) fail_value(fn, "argument 'p' must be in [0, 1], got " + std::to_string(p));
  if (!std::isfinite(mean)) fail_value(fn, "argument 'mean' must be finite, got " + std::to_string(mean));
  if (!(std >= 0.0 && std::isfinite(std)))
    fail_value(fn, "argument 'std' must be finite and >= 0, got " + std::to_string(std));
  return dtype_of(out) == DType::f32 ? dispatch<float>(reference, d, out, key, offset, p, mean, std)
                                     : dispatch<double>(reference, d, out, key, offset, p, mean, std);
}

Dist dist_named(const std::string& fn, const std::string& name) {
  if (name == "uniform") return Dist::uniform;
  if (name == "normal") return Dist::normal;
  if (name == "keep_mask") return Dist::keep_mask;
  fail_value(fn, "argument 'dist' must be 'uniform', 'normal' or 'keep_mask', got '" + name + "'");
}

py::tuple philox4x32_10_py(const std::vector<py::object>& counter, const std::vector<py::object>& key) {
  const std::string fn = "philox4x32_10";
  if (counter.size() != 4)
    fail_value(fn, "argument 'counter' must hold 4 words, got " + std::to_string(counter.size()));
  if (key.size() != 2) fail_value(fn, "argument 'key' must hold 2 words, got " + std::to_string(key.size()));
  philox::Block c;
  for (int i = 0; i < 4; ++i) c.w[i] = (uint32_t)as_unsigned(fn, "counter", counter[i], 32);
  const uint32_t k0 = (uint32_t)as_unsigned(fn, "key", key[0], 32);
  const uint32_t k1 = (uint32_t)as_unsigned(fn, "key", key[1], 32);
  const philox::Block r = philox::philox4x32_10(c, k0, k1);
  return py::make_tuple(r.w[0], r.w[1], r.w[2], r.w[3]);
}

}  // namespace

void bind_random(py::module_& m) {
  m.def("philox4x32_10", &philox4x32_10_py, py::arg("counter"), py::arg("key"),
        "The four words of Philox 4x32-10 for a counter of 4 words and a key of 2 (least significant first).");
  m.def(
      "philox_uniform",
      [](py::object out, py::object key, py::object offset) {
        return fill("philox_uniform", false, Dist::uniform, out, key, offset, 0.0, 0.0, 1.0);
      },
      py::arg("out"), py::arg("key"), py::arg("offset"),
      "Fill contiguous float32/float64 `out` with uniform numbers in [0, 1) from Philox under (key, offset); "
      "returns the number of counters used.");
  m.def(
      "philox_normal",
      [](py::object out, py::object key, py::object offset, double mean, double std) {
        return fill("philox_normal", false, Dist::normal, out, key, offset, 0.0, mean, std);
      },
      py::arg("out"), py::arg("key"), py::arg("offset"), py::arg("mean") = 0.0, py::arg("std") = 1.0,
      "Fill contiguous float32/float64 `out` with normal numbers (Box-Muller) from Philox under (key, offset); "
      "returns the number of counters used.");
  m.def(
      "dropout_mask",
      [](py::object out, double p, py::object key, py::object offset) {
        return fill("dropout_mask", false, Dist::keep_mask, out, key, offset, p, 0.0, 1.0);
      },
      py::arg("out"), py::arg("p"), py::arg("key"), py::arg("offset"),
      "Fill contiguous float32/float64 `out` with dropout's keep mask: 1/(1-p) with probability 1-p, else 0; "
      "returns the number of counters used.");
  m.def(
      "philox_fill_reference",
      [](const std::string& dist, py::object out, py::object key, py::object offset, double p, double mean,
         double std) {
        const std::string fn = "philox_fill_reference";
        return fill(fn, true, dist_named(fn, dist), out, key, offset, p, mean, std);
      },
      py::arg("dist"), py::arg("out"), py::arg("key"), py::arg("offset"), py::arg("p") = 0.5, py::arg("mean") = 0.0,
      py::arg("std") = 1.0,
      "The plain single-threaded reference of philox_uniform / philox_normal / dropout_mask ('uniform', 'normal', "
      "'keep_mask'), for the tests.");
}

}  // namespace fastnn
