// The binding of the diffusion kernels (contract: ops/diffusion/diffusion.h), compiled into both
// modules: the fused noising `diffuse` and the fused reverse step `sampling_step`, on float16, float32
// or float64 arrays of one device, returning new arrays and the number of Philox counters used (the
// caller moves its stream's offset by it: python/fastnn/random.py's philox_draw).
#include <pybind11/stl.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/device.h"

#if FASTNN_CUDA_MODULE
#include "ops/diffusion/cuda.h"
#else
#include "ops/diffusion/cpu.h"
#endif

namespace fastnn {

namespace {

using diffusion::StepCoef;
using diffusion::Storage;

constexpr DType kHalf{'f', 2, true};
constexpr DType kInt32{'i', 4, true};

// A float16, float32 or float64 C-contiguous array (the storage types of the kernels).
void require_storage(const std::string& fn, const ArrayView& v) {
  if (!(v.dtype == kHalf || v.dtype == kFloat32 || v.dtype == kFloat64))
    fail_type(fn, "argument '" + v.name + "' must be float16, float32 or float64, got " + v.dtype.name());
  require_contiguous(fn, v);
}

// f(S{}) with S the storage type of `v` (uint16_t for float16).
template <class F>
decltype(auto) with_storage_type(const ArrayView& v, F&& f) {
  if (v.dtype == kHalf) return f(uint16_t{});
  if (v.dtype == kFloat32) return f(float{});
  return f(double{});
}

// An optional array with the shape and dtype of `like` (None gives an empty view).
bool optional_like(Call& call, const char* name, py::handle obj, const ArrayView& like, ArrayView* out) {
  if (obj.is_none()) return false;
  *out = call.array(name, obj);
  require_same_dtype(call.fn, like, *out);
  if (out->shape != like.shape)
    fail_value(call.fn, "argument '" + out->name + "' must have the shape of '" + like.name + "' " + like.shape_str() +
                            ", got " + out->shape_str());
  require_contiguous(call.fn, *out);
  return true;
}

py::object diffuse(const char* fn_name, bool reference, py::handle x0_obj, py::handle t_obj, py::handle sa_obj,
                   py::handle sb_obj, py::handle key_obj, py::handle offset_obj, py::handle noise_obj, bool velocity) {
  Call call(fn_name);
  const std::string& fn = call.fn;
  const ArrayView x0 = call.array("x0", x0_obj);
  require_storage(fn, x0);
  if (x0.ndim() < 1) fail_value(fn, "argument 'x0' must have a batch dimension (N, ...), got shape " + x0.shape_str());
  const int64_t N = x0.shape[0], n = x0.numel();
  const ArrayView t = call.array("timesteps", t_obj, 1);
  if (!(t.dtype == kInt64 || t.dtype == kInt32))
    fail_type(fn, "argument 'timesteps' must be int64 or int32, got " + t.dtype.name());
  require_contiguous(fn, t);
  if (t.shape[0] != N)
    fail_value(fn, "argument 'timesteps' must hold one timestep per sample of 'x0' " + x0.shape_str() + " (" +
                       std::to_string(N) + "), got shape " + t.shape_str());
  const ArrayView sa = call.array("sqrt_alpha_prod", sa_obj, 1);
  const ArrayView sb = call.array("sqrt_one_minus_alpha_prod", sb_obj, 1);
  for (const ArrayView* tab : {&sa, &sb}) {
    require_dtype(fn, *tab, kFloat64);
    require_contiguous(fn, *tab);
  }
  const int64_t T = sa.shape[0];
  if (T < 1) fail_value(fn, "argument 'sqrt_alpha_prod' must hold at least one timestep, got shape " + sa.shape_str());
  if (sb.shape[0] != T)
    fail_value(fn, "arguments 'sqrt_alpha_prod' " + sa.shape_str() + " and 'sqrt_one_minus_alpha_prod' " +
                       sb.shape_str() + " must have the same length");
  ArrayView noise_in;
  const bool given = optional_like(call, "noise", noise_obj, x0, &noise_in);
  const uint64_t key = unsigned_arg(fn, "key", key_obj);
  const uint64_t offset = unsigned_arg(fn, "offset", offset_obj);
  const bool t64 = t.dtype == kInt64;
  auto t_at = [&](int64_t i) -> int64_t {
    return t64 ? t.ptr<const int64_t>()[i] : (int64_t)t.ptr<const int32_t>()[i];
  };
  auto bad_timestep = [&](int64_t i, int64_t value) {
    fail_value(fn, "argument 'timesteps' holds " + std::to_string(value) + " at position " + std::to_string(i) +
                       ", outside [0, " + std::to_string(T) + ") (the length of the coefficient tables)");
  };
#if !FASTNN_CUDA_MODULE
  for (int64_t i = 0; i < N; ++i)
    if (t_at(i) < 0 || t_at(i) >= T) bad_timestep(i, t_at(i));
#else
  (void)t_at;
#endif
  ArrayView xt = call.empty("x_t", x0.shape, x0.dtype);
  ArrayView noise_out = given ? noise_in : call.empty("noise", x0.shape, x0.dtype);
  ArrayView v;
  if (velocity) v = call.empty("v", x0.shape, x0.dtype);
  with_storage_type(x0, [&](auto zero) {
    using S = decltype(zero);
    using A = typename Storage<S>::A;
    if (n == 0) return;
    const S* noise_ptr = given ? noise_in.ptr<const S>() : nullptr;
    S* noise_w = given ? nullptr : noise_out.ptr<S>();
    S* v_ptr = velocity ? v.ptr<S>() : nullptr;
#if FASTNN_CUDA_MODULE
    (void)reference;
    cudaStream_t stream = call.stream();
    int64_t bad_value = 0, bad = -1;
    {
      py::gil_scoped_release release;
      bad = cuda::diffusion::diffuse<S>(n, N, x0.ptr<const S>(), t.data, t64, sa.ptr<const double>(),
                                        sb.ptr<const double>(), T, noise_ptr, noise_w, xt.ptr<S>(), v_ptr, key, offset,
                                        &bad_value, stream);
    }
    if (bad >= 0) bad_timestep(bad, bad_value);
#else
    std::vector<A> coef(2 * (size_t)N);
    for (int64_t i = 0; i < N; ++i) {
      coef[2 * i] = (A)sa.ptr<const double>()[t_at(i)];
      coef[2 * i + 1] = (A)sb.ptr<const double>()[t_at(i)];
    }
    py::gil_scoped_release release;
    const long long per_sample = n / N;
    if (reference)
      diffusion::diffuse_reference<S>(n, per_sample, x0.ptr<const S>(), coef.data(), noise_ptr, noise_w, xt.ptr<S>(),
                                      v_ptr, key, offset);
    else
      diffusion::diffuse_cpu<S>(n, per_sample, x0.ptr<const S>(), coef.data(), noise_ptr, noise_w, xt.ptr<S>(), v_ptr,
                                key, offset);
#endif
  });
  const uint64_t used = given ? 0 : diffusion::counters_for(x0.dtype.itemsize, n);
  return py::make_tuple(xt.object, noise_out.object, velocity ? v.object : py::none(), used);
}

py::object sampling_step(const char* fn_name, bool reference, py::handle mo_obj, py::handle sample_obj,
                         const std::vector<double>& coef, py::handle key_obj, py::handle offset_obj, py::handle noise_obj,
                         py::handle clip_obj) {
  Call call(fn_name);
  const std::string& fn = call.fn;
  const ArrayView mo = call.array("model_output", mo_obj);
  require_storage(fn, mo);
  const ArrayView sample = call.array("sample", sample_obj);
  require_storage(fn, sample);
  require_same_dtype(fn, sample, mo);
  if (sample.shape != mo.shape)
    fail_value(fn, "arguments 'model_output' " + mo.shape_str() + " and 'sample' " + sample.shape_str() +
                       " must have the same shape");
  if (coef.size() != 9)
    fail_value(fn, "argument 'coef' must hold 9 numbers (a, b, c, d, h, e, f, g, s), got " +
                       std::to_string(coef.size()));
  for (size_t i = 0; i < coef.size(); ++i)
    if (!std::isfinite(coef[i]))
      fail_value(fn, "argument 'coef' must hold finite numbers, got " + std::to_string(coef[i]) + " at position " +
                         std::to_string(i));
  ArrayView z;
  const bool given = optional_like(call, "noise", noise_obj, sample, &z);
  const bool clipping = !clip_obj.is_none();
  double clip = 0.0;
  if (clipping) {
    if (py::isinstance<py::bool_>(clip_obj) || !PyNumber_Check(clip_obj.ptr()) || py::isinstance<py::str>(clip_obj))
      fail_type(fn, "argument 'clip_range' must be a number or None, got " + detail::type_name(clip_obj));
    clip = py::reinterpret_borrow<py::object>(clip_obj).cast<double>();
    if (!(clip >= 0.0)) fail_value(fn, "argument 'clip_range' must be >= 0, got " + std::to_string(clip));
  }
  const uint64_t key = unsigned_arg(fn, "key", key_obj);
  const uint64_t offset = unsigned_arg(fn, "offset", offset_obj);
  const int64_t n = sample.numel();
  ArrayView prev = call.empty("prev_sample", sample.shape, sample.dtype);
  ArrayView x0 = call.empty("pred_original_sample", sample.shape, sample.dtype);
  const bool draw = with_storage_type(sample, [&](auto zero) {
    using S = decltype(zero);
    using A = typename Storage<S>::A;
    StepCoef<A> k{(A)coef[0], (A)coef[1], (A)coef[2], (A)coef[3], (A)coef[4], (A)coef[5],
                  (A)coef[6], (A)coef[7], (A)coef[8], clipping ? (A)clip : (A)INFINITY};
    const bool draw = k.s != A(0) && !given;
    if (n == 0) return draw;
    const S* zp = given ? z.ptr<const S>() : nullptr;
#if FASTNN_CUDA_MODULE
    (void)reference;
    cudaStream_t stream = call.stream();
    py::gil_scoped_release release;
    cuda::diffusion::sampling_step<S>(n, mo.ptr<const S>(), sample.ptr<const S>(), k, zp, draw, prev.ptr<S>(),
                                      x0.ptr<S>(), key, offset, stream);
#else
    py::gil_scoped_release release;
    if (reference)
      diffusion::sampling_step_reference<S>(n, mo.ptr<const S>(), sample.ptr<const S>(), k, zp, draw, prev.ptr<S>(),
                                            x0.ptr<S>(), key, offset);
    else
      diffusion::sampling_step_cpu<S>(n, mo.ptr<const S>(), sample.ptr<const S>(), k, zp, draw, prev.ptr<S>(),
                                      x0.ptr<S>(), key, offset);
#endif
    return draw;
  });
  const uint64_t used = draw ? diffusion::counters_for(sample.dtype.itemsize, n) : 0;
  return py::make_tuple(prev.object, x0.object, used);
}

}  // namespace

void bind_diffusion(py::module_& m) {
  const char* diffuse_doc =
      "Fused forward process: x_t = sqrt_alpha_prod[t] x0 + sqrt_one_minus_alpha_prod[t] noise per sample, the noise "
      "drawn from Philox under (key, offset) unless given, and with velocity=True v = sqrt_alpha_prod[t] noise - "
      "sqrt_one_minus_alpha_prod[t] x0, in one pass. x0: C-contiguous float16/float32/float64 (N, ...); timesteps: "
      "int64/int32 (N,); the tables float64 (T,). Returns (x_t, noise, v or None, counters used).";
  const char* step_doc =
      "Fused reverse step with coef = (a, b, c, d, h, e, f, g, s): x0 = a sample + b model_output (clamped to "
      "[-clip_range, clip_range] unless None), eps = c sample + d model_output + h x0, prev = e x0 + f sample + g eps + "
      "s z, z drawn from Philox under (key, offset) when s != 0 unless noise is given. Returns (prev_sample, "
      "pred_original_sample, counters used).";
  auto diffuse_fn = [](bool reference, const char* name) {
    return [reference, name](py::handle x0, py::handle timesteps, py::handle sa, py::handle sb, py::handle key,
                             py::handle offset, py::handle noise, bool velocity) {
      return diffuse(name, reference, x0, timesteps, sa, sb, key, offset, noise, velocity);
    };
  };
  auto step_fn = [](bool reference, const char* name) {
    return [reference, name](py::handle mo, py::handle sample, const std::vector<double>& coef, py::handle key,
                             py::handle offset, py::handle noise, py::handle clip_range) {
      return sampling_step(name, reference, mo, sample, coef, key, offset, noise, clip_range);
    };
  };
  m.def("diffuse", diffuse_fn(false, "diffuse"), py::arg("x0"), py::arg("timesteps"), py::arg("sqrt_alpha_prod"),
        py::arg("sqrt_one_minus_alpha_prod"), py::arg("key"), py::arg("offset"), py::arg("noise") = py::none(),
        py::arg("velocity") = false, diffuse_doc);
  m.def("sampling_step", step_fn(false, "sampling_step"), py::arg("model_output"), py::arg("sample"), py::arg("coef"),
        py::arg("key"), py::arg("offset"), py::arg("noise") = py::none(), py::arg("clip_range") = py::none(), step_doc);
#if !FASTNN_CUDA_MODULE
  m.def("diffuse_reference", diffuse_fn(true, "diffuse_reference"), py::arg("x0"), py::arg("timesteps"),
        py::arg("sqrt_alpha_prod"), py::arg("sqrt_one_minus_alpha_prod"), py::arg("key"), py::arg("offset"),
        py::arg("noise") = py::none(), py::arg("velocity") = false,
        "The plain single-threaded reference of diffuse, for the tests.");
  m.def("sampling_step_reference", step_fn(true, "sampling_step_reference"), py::arg("model_output"),
        py::arg("sample"), py::arg("coef"), py::arg("key"), py::arg("offset"), py::arg("noise") = py::none(),
        py::arg("clip_range") = py::none(), "The plain single-threaded reference of sampling_step, for the tests.");
#endif
}

}  // namespace fastnn
