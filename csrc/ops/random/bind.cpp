// The binding of the random-fill kernels, compiled into both modules: each fills a given contiguous
// float32/float64 array in place from Philox 4x32-10 under (key, offset), the same numbers on the
// CPU and on the GPU, and returns the number of counters it used, by which the caller moves its
// stream's offset (python/fastnn/random.py).
#include <pybind11/stl.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/device.h"

#if FASTNN_CUDA_MODULE
#include "ops/random/cuda.h"
#else
#include "ops/random/cpu.h"
#endif

namespace fastnn {

namespace {

using random::Dist;
using random::Params;

template <typename T, Dist D>
uint64_t run(Call& call, bool reference, const ArrayView& out, uint64_t key, uint64_t offset, const Params<T>& prm) {
  const long long n = (long long)out.numel();
  T* p = out.ptr<T>();
  if (n > 0) {
#if FASTNN_CUDA_MODULE
    (void)reference;
    cudaStream_t stream = call.stream();
    py::gil_scoped_release release;
    cuda::random_fill<T, D>(n, p, key, offset, prm, stream);
#else
    py::gil_scoped_release release;
    if (reference) random::fill_reference<T, D>(n, p, key, offset, prm);
    else random::fill_cpu<T, D>(n, p, key, offset, prm);
#endif
  }
  return random::counters_for<T>(D, n);
}

template <typename T>
uint64_t dispatch(Call& call, bool reference, Dist d, const ArrayView& out, uint64_t key, uint64_t offset, double p,
                  double mean, double std) {
  Params<T> prm;
  prm.mean = mean;
  prm.std = std;
  prm.keep_threshold = random::keep_threshold(p);
  prm.scale = p < 1.0 ? (T)(1.0 / (1.0 - p)) : T(0);
  switch (d) {
    case Dist::uniform: return run<T, Dist::uniform>(call, reference, out, key, offset, prm);
    case Dist::normal: return run<T, Dist::normal>(call, reference, out, key, offset, prm);
    default: return run<T, Dist::keep_mask>(call, reference, out, key, offset, prm);
  }
}

uint64_t fill(const char* fn_name, bool reference, Dist d, py::handle out_obj, py::handle key_obj,
              py::handle offset_obj, double p, double mean, double std) {
  Call call(fn_name);
  const std::string& fn = call.fn;
  const ArrayView out = call.array("out", out_obj);
  require_float(fn, out);
  require_writeable(fn, out);
  require_contiguous(fn, out);
  require_aligned(fn, out);
  const uint64_t key = unsigned_arg(fn, "key", key_obj);
  const uint64_t offset = unsigned_arg(fn, "offset", offset_obj);
  if (!(p >= 0.0 && p <= 1.0)) fail_value(fn, "argument 'p' must be in [0, 1], got " + std::to_string(p));
  if (!std::isfinite(mean)) fail_value(fn, "argument 'mean' must be finite, got " + std::to_string(mean));
  if (!(std >= 0.0 && std::isfinite(std)))
    fail_value(fn, "argument 'std' must be finite and >= 0, got " + std::to_string(std));
  return with_float_type(out, [&](auto zero) {
    return dispatch<decltype(zero)>(call, reference, d, out, key, offset, p, mean, std);
  });
}

#if !FASTNN_CUDA_MODULE
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
  for (int i = 0; i < 4; ++i) c.w[i] = (uint32_t)unsigned_arg(fn, "counter", counter[i], 32);
  const uint32_t k0 = (uint32_t)unsigned_arg(fn, "key", key[0], 32);
  const uint32_t k1 = (uint32_t)unsigned_arg(fn, "key", key[1], 32);
  const philox::Block r = philox::philox4x32_10(c, k0, k1);
  return py::make_tuple(r.w[0], r.w[1], r.w[2], r.w[3]);
}
#endif

}  // namespace

void bind_random(py::module_& m) {
  m.def(
      "philox_uniform",
      [](py::handle out, py::handle key, py::handle offset) {
        return fill("philox_uniform", false, Dist::uniform, out, key, offset, 0.0, 0.0, 1.0);
      },
      py::arg("out"), py::arg("key"), py::arg("offset"),
      "Fill contiguous float32/float64 `out` with uniform numbers in [0, 1) from Philox under (key, offset); "
      "returns the number of counters used.");
  m.def(
      "philox_normal",
      [](py::handle out, py::handle key, py::handle offset, double mean, double std) {
        return fill("philox_normal", false, Dist::normal, out, key, offset, 0.0, mean, std);
      },
      py::arg("out"), py::arg("key"), py::arg("offset"), py::arg("mean") = 0.0, py::arg("std") = 1.0,
      "Fill contiguous float32/float64 `out` with normal numbers (Box-Muller) from Philox under (key, offset); "
      "returns the number of counters used.");
  m.def(
      "dropout_mask",
      [](py::handle out, double p, py::handle key, py::handle offset) {
        return fill("dropout_mask", false, Dist::keep_mask, out, key, offset, p, 0.0, 1.0);
      },
      py::arg("out"), py::arg("p"), py::arg("key"), py::arg("offset"),
      "Fill contiguous float32/float64 `out` with dropout's keep mask: 1/(1-p) with probability 1-p, else 0; "
      "returns the number of counters used.");
#if !FASTNN_CUDA_MODULE
  m.def("philox4x32_10", &philox4x32_10_py, py::arg("counter"), py::arg("key"),
        "The four words of Philox 4x32-10 for a counter of 4 words and a key of 2 (least significant first).");
  m.def(
      "philox_fill_reference",
      [](const std::string& dist, py::handle out, py::handle key, py::handle offset, double p, double mean,
         double std) {
        const std::string fn = "philox_fill_reference";
        return fill("philox_fill_reference", true, dist_named(fn, dist), out, key, offset, p, mean, std);
      },
      py::arg("dist"), py::arg("out"), py::arg("key"), py::arg("offset"), py::arg("p") = 0.5, py::arg("mean") = 0.0,
      py::arg("std") = 1.0,
      "The plain single-threaded reference of philox_uniform / philox_normal / dropout_mask ('uniform', 'normal', "
      "'keep_mask'), for the tests.");
#endif
}

}  // namespace fastnn
