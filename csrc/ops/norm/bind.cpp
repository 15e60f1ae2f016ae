// The binding of the normalisation family, compiled into both modules: the same functions and
// arguments on fastnn._C and fastnn._C_cuda (contract: norm.h). x is a C-contiguous (rows, C)
// float32/float64 block; weight and bias (C,), mean and rstd (rows,) of x's dtype.
#include <pybind11/stl.h>

#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include "core/device.h"

#if FASTNN_CUDA_MODULE
#include "ops/norm/cuda.h"
#else
#include "ops/norm/cpu.h"
#endif

namespace fastnn {
namespace {

// A C-contiguous float array of `ndim` dimensions, of `like`'s dtype and, when given, of `shape`.
ArrayView operand(Call& call, const char* name, py::handle obj, int ndim, const ArrayView* like,
                  const std::vector<int64_t>* shape, const char* why) {
  ArrayView v = call.float_array(name, obj, ndim);
  require_contiguous(call.fn, v);
  require_aligned(call.fn, v);
  if (like) require_same_dtype(call.fn, *like, v);
  if (shape) require_shape(call.fn, v, *shape, why);
  return v;
}

std::optional<ArrayView> optional_operand(Call& call, const char* name, py::handle obj, const ArrayView& like,
                                          const std::vector<int64_t>& shape, const char* why) {
  if (obj.is_none()) return std::nullopt;
  return operand(call, name, obj, 1, &like, &shape, why);
}

template <typename T>
T* ptr_or_null(const std::optional<ArrayView>& v) {
  return v ? v->ptr<T>() : nullptr;
}

// eps: a finite number >= 0; None means the machine epsilon of x's dtype (RMS norm's default).
double eps_arg(const std::string& fn, py::handle eps, const ArrayView& x) {
  double e;
  if (eps.is_none()) {
    e = x.dtype == kFloat32 ? (double)std::numeric_limits<float>::epsilon() : std::numeric_limits<double>::epsilon();
  } else {
    if (!py::isinstance<py::float_>(eps) && !py::isinstance<py::int_>(eps))
      fail_type(fn, "argument 'eps' must be a number or None, got " + std::string(Py_TYPE(eps.ptr())->tp_name));
    e = eps.cast<double>();
  }
  if (!std::isfinite(e) || e < 0) fail_value(fn, "argument 'eps' must be a finite number >= 0, got " + std::to_string(e));
  return e;
}

py::tuple forward_impl(const std::string& fn, bool centered, bool reference, py::handle x_obj, py::handle w_obj,
                       py::handle b_obj, py::handle eps_obj) {
  Call call(fn);
  const ArrayView x = operand(call, "x", x_obj, 2, nullptr, nullptr, nullptr);
  const int64_t rows = x.dim(0), C = x.dim(1);
  const std::vector<int64_t> cshape{C};
  const auto w = optional_operand(call, "weight", w_obj, x, cshape, "(C,) for x of shape (rows, C)");
  const auto b = centered ? optional_operand(call, "bias", b_obj, x, cshape, "(C,) for x of shape (rows, C)")
                          : std::nullopt;
  const double eps = eps_arg(call.fn, eps_obj, x);
  ArrayView y = call.empty("y", {rows, C}, x.dtype);
  std::optional<ArrayView> mean;
  if (centered) mean = call.empty("mean", {rows}, x.dtype);
  ArrayView rstd = call.empty("rstd", {rows}, x.dtype);
  if (rows > 0) {
    with_float_type(x, [&](auto zt) {
      using T = decltype(zt);
      const T* xp = x.ptr<const T>();
      const T *wp = ptr_or_null<const T>(w), *bp = ptr_or_null<const T>(b);
      T *yp = y.ptr<T>(), *mp = ptr_or_null<T>(mean), *rp = rstd.ptr<T>();
#if FASTNN_CUDA_MODULE
      (void)reference;
      cudaStream_t stream = call.stream();
      py::gil_scoped_release release;
      cuda::norm::norm_forward<T>(centered, rows, C, xp, wp, bp, (T)eps, yp, mp, rp, stream);
#else
      py::gil_scoped_release release;
      if (reference) norm::norm_forward_reference<T>(centered, rows, C, xp, wp, bp, (T)eps, yp, mp, rp);
      else norm::norm_forward_cpu<T>(centered, rows, C, xp, wp, bp, (T)eps, yp, mp, rp);
#endif
    });
  }
  if (centered) return py::make_tuple(y.object, mean->object, rstd.object);
  return py::make_tuple(y.object, rstd.object);
}

template <size_t N>
py::tuple backward_impl(const std::string& fn, bool centered, bool reference, py::handle dy_obj, py::handle x_obj,
                        py::handle mean_obj, py::handle rstd_obj, py::handle w_obj, const std::array<bool, N>& mask) {
  Call call(fn);
  const ArrayView x = operand(call, "x", x_obj, 2, nullptr, nullptr, nullptr);
  const int64_t rows = x.dim(0), C = x.dim(1);
  const std::vector<int64_t> rshape{rows};
  const ArrayView dy = operand(call, "dy", dy_obj, 2, &x, &x.shape, "the shape of x");
  std::optional<ArrayView> mean;
  if (centered) mean = operand(call, "mean", mean_obj, 1, &x, &rshape, "(rows,) for x of shape (rows, C)");
  const ArrayView rstd = operand(call, "rstd", rstd_obj, 1, &x, &rshape, "(rows,) for x of shape (rows, C)");
  const auto w = optional_operand(call, "weight", w_obj, x, {C}, "(C,) for x of shape (rows, C)");
  std::optional<ArrayView> dx, dw, db;
  if (mask[0]) dx = call.empty("dx", {rows, C}, x.dtype);
  if (mask[1]) dw = call.empty("dweight", {C}, x.dtype);
  if (N > 2 && mask[N - 1]) db = call.empty("dbias", {C}, x.dtype);
  if (C > 0 && (rows > 0 || dw || db)) {
    with_float_type(x, [&](auto zt) {
      using T = decltype(zt);
      const T *dyp = dy.ptr<const T>(), *xp = x.ptr<const T>(), *mp = ptr_or_null<const T>(mean);
      const T *rp = rstd.ptr<const T>(), *wp = ptr_or_null<const T>(w);
      T *dxp = ptr_or_null<T>(dx), *dwp = ptr_or_null<T>(dw), *dbp = ptr_or_null<T>(db);
#if FASTNN_CUDA_MODULE
      (void)reference;
      cudaStream_t stream = call.stream();
      py::gil_scoped_release release;
      cuda::norm::norm_backward<T>(centered, rows, C, dyp, xp, mp, rp, wp, dxp, dwp, dbp, stream);
#else
      py::gil_scoped_release release;
      if (reference) norm::norm_backward_reference<T>(centered, rows, C, dyp, xp, mp, rp, wp, dxp, dwp, dbp);
      else norm::norm_backward_cpu<T>(centered, rows, C, dyp, xp, mp, rp, wp, dxp, dwp, dbp);
#endif
    });
  }
  auto obj = [](const std::optional<ArrayView>& v) { return v ? v->object : py::none(); };
  if (centered) return py::make_tuple(obj(dx), obj(dw), obj(db));
  return py::make_tuple(obj(dx), obj(dw));
}

// Registers one normalisation's forward and backward (and, on the CPU, their references: + `suffix`).
void bind_kind(py::module_& m, bool centered, const std::string& suffix) {
  for (bool reference : {false, true}) {
    if (reference && kCudaModule) continue;
    const std::string pre = centered ? "layer_norm" : "rms_norm";
    const std::string fname = pre + "_forward" + (reference ? suffix : "");
    const std::string bname = pre + "_backward" + (reference ? suffix : "");
    const std::string note = reference ? " The plain reference: scalar loops in index order, one thread." : "";
    if (centered) {
      m.def(
          fname.c_str(),
          [fname, reference](py::handle x, py::handle weight, py::handle bias, py::handle eps) {
            return forward_impl(fname, true, reference, x, weight, bias, eps);
          },
          py::arg("x"), py::arg("weight") = py::none(), py::arg("bias") = py::none(), py::arg("eps") = 1e-5,
          ("(y, mean, rstd): layer normalisation of each row of the contiguous (rows, C) block x: "
           "y = (x - mean) * rstd * weight + bias with rstd = 1 / sqrt(biased variance + eps); weight and bias "
           "(C,) or None." + note).c_str());
      m.def(
          bname.c_str(),
          [bname, reference](py::handle dy, py::handle x, py::handle mean, py::handle rstd, py::handle weight,
                             const std::array<bool, 3>& output_mask) {
            return backward_impl<3>(bname, true, reference, dy, x, mean, rstd, weight, output_mask);
          },
          py::arg("dy"), py::arg("x"), py::arg("mean"), py::arg("rstd"), py::arg("weight") = py::none(),
          py::arg("output_mask") = std::array<bool, 3>{true, true, true},
          ("(dx, dweight, dbias), each None where output_mask says so: the gradients of layer_norm_forward "
           "from dy and its saved mean and rstd; dweight and dbias summed over the rows deterministically." + note)
              .c_str());
    } else {
      m.def(
          fname.c_str(),
          [fname, reference](py::handle x, py::handle weight, py::handle eps) {
            return forward_impl(fname, false, reference, x, weight, py::none(), eps);
          },
          py::arg("x"), py::arg("weight") = py::none(), py::arg("eps") = py::none(),
          ("(y, rstd): RMS normalisation of each row of the contiguous (rows, C) block x: y = x * rstd * weight "
           "with rstd = 1 / sqrt(mean(x^2) + eps); eps None is the machine epsilon of x's dtype; weight (C,) or "
           "None." + note).c_str());
      m.def(
          bname.c_str(),
          [bname, reference](py::handle dy, py::handle x, py::handle rstd, py::handle weight,
                             const std::array<bool, 2>& output_mask) {
            return backward_impl<2>(bname, false, reference, dy, x, py::none(), rstd, weight, output_mask);
          },
          py::arg("dy"), py::arg("x"), py::arg("rstd"), py::arg("weight") = py::none(),
          py::arg("output_mask") = std::array<bool, 2>{true, true},
          ("(dx, dweight), each None where output_mask says so: the gradients of rms_norm_forward from dy and "
           "its saved rstd; dweight summed over the rows deterministically." + note).c_str());
    }
  }
}

// Batch normalisation (training statistics) over the channels of a contiguous (N, C, S) block.
py::tuple batch_forward_impl(const std::string& fn, bool reference, py::handle x_obj, py::handle w_obj,
                             py::handle b_obj, py::handle eps_obj) {
  Call call(fn);
  const ArrayView x = operand(call, "x", x_obj, 3, nullptr, nullptr, nullptr);
  const int64_t N = x.dim(0), C = x.dim(1), S = x.dim(2);
  const std::vector<int64_t> cshape{C};
  const auto w = optional_operand(call, "weight", w_obj, x, cshape, "(C,) for x of shape (N, C, S)");
  const auto b = optional_operand(call, "bias", b_obj, x, cshape, "(C,) for x of shape (N, C, S)");
  const double eps = eps_arg(call.fn, eps_obj, x);
  ArrayView y = call.empty("y", x.shape, x.dtype);
  ArrayView mean = call.empty("mean", cshape, x.dtype), var = call.empty("var", cshape, x.dtype);
  ArrayView rstd = call.empty("rstd", cshape, x.dtype);
  if (C > 0) {
    with_float_type(x, [&](auto zt) {
      using T = decltype(zt);
      const T *xp = x.ptr<const T>(), *wp = ptr_or_null<const T>(w), *bp = ptr_or_null<const T>(b);
      T *yp = y.ptr<T>(), *mp = mean.ptr<T>(), *vp = var.ptr<T>(), *rp = rstd.ptr<T>();
#if FASTNN_CUDA_MODULE
      (void)reference;
      cudaStream_t stream = call.stream();
      py::gil_scoped_release release;
      cuda::norm::batch_norm_forward<T>(N, C, S, xp, wp, bp, (T)eps, yp, mp, vp, rp, stream);
#else
      py::gil_scoped_release release;
      if (reference) norm::batch_norm_forward_reference<T>(N, C, S, xp, wp, bp, (T)eps, yp, mp, vp, rp);
      else norm::batch_norm_forward_cpu<T>(N, C, S, xp, wp, bp, (T)eps, yp, mp, vp, rp);
#endif
    });
  }
  return py::make_tuple(y.object, mean.object, var.object, rstd.object);
}

py::tuple batch_backward_impl(const std::string& fn, bool reference, py::handle dy_obj, py::handle x_obj,
                              py::handle mean_obj, py::handle rstd_obj, py::handle w_obj,
                              const std::array<bool, 3>& mask) {
  Call call(fn);
  const ArrayView x = operand(call, "x", x_obj, 3, nullptr, nullptr, nullptr);
  const int64_t N = x.dim(0), C = x.dim(1), S = x.dim(2);
  const std::vector<int64_t> cshape{C};
  const ArrayView dy = operand(call, "dy", dy_obj, 3, &x, &x.shape, "the shape of x");
  const ArrayView mean = operand(call, "mean", mean_obj, 1, &x, &cshape, "(C,) for x of shape (N, C, S)");
  const ArrayView rstd = operand(call, "rstd", rstd_obj, 1, &x, &cshape, "(C,) for x of shape (N, C, S)");
  const auto w = optional_operand(call, "weight", w_obj, x, cshape, "(C,) for x of shape (N, C, S)");
  std::optional<ArrayView> dx;
  if (mask[0]) dx = call.empty("dx", x.shape, x.dtype);
  // the sums are always computed (dx needs them); returned where the mask asks
  ArrayView dw = call.empty("dweight", cshape, x.dtype), db = call.empty("dbias", cshape, x.dtype);
  if (C > 0) {
    with_float_type(x, [&](auto zt) {
      using T = decltype(zt);
      const T *dyp = dy.ptr<const T>(), *xp = x.ptr<const T>(), *mp = mean.ptr<const T>();
      const T *rp = rstd.ptr<const T>(), *wp = ptr_or_null<const T>(w);
      T *dxp = ptr_or_null<T>(dx), *dwp = dw.ptr<T>(), *dbp = db.ptr<T>();
#if FASTNN_CUDA_MODULE
      (void)reference;
      cudaStream_t stream = call.stream();
      py::gil_scoped_release release;
      cuda::norm::batch_norm_backward<T>(N, C, S, dyp, xp, mp, rp, wp, dxp, dwp, dbp, stream);
#else
      py::gil_scoped_release release;
      if (reference) norm::batch_norm_backward_reference<T>(N, C, S, dyp, xp, mp, rp, wp, dxp, dwp, dbp);
      else norm::batch_norm_backward_cpu<T>(N, C, S, dyp, xp, mp, rp, wp, dxp, dwp, dbp);
#endif
    });
  }
  return py::make_tuple(dx ? dx->object : py::none(), mask[1] ? dw.object : py::none(),
                        mask[2] ? db.object : py::none());
}

void bind_batch(py::module_& m) {
  for (bool reference : {false, true}) {
    if (reference && kCudaModule) continue;
    const std::string fname = std::string("batch_norm_forward") + (reference ? "_reference" : "");
    const std::string bname = std::string("batch_norm_backward") + (reference ? "_reference" : "");
    const std::string note = reference ? " The plain reference (scalar loops in index order)." : "";
    m.def(
        fname.c_str(),
        [fname, reference](py::handle x, py::handle weight, py::handle bias, py::handle eps) {
          return batch_forward_impl(fname, reference, x, weight, bias, eps);
        },
        py::arg("x"), py::arg("weight") = py::none(), py::arg("bias") = py::none(), py::arg("eps") = 1e-5,
        ("(y, mean, var, rstd): batch normalisation of each channel of the contiguous (N, C, S) block x with its "
         "batch statistics: y = (x - mean) * rstd * weight + bias, var the biased variance, rstd = 1 / sqrt(var + "
         "eps); weight and bias (C,) or None." + note).c_str());
    m.def(
        bname.c_str(),
        [bname, reference](py::handle dy, py::handle x, py::handle mean, py::handle rstd, py::handle weight,
                           const std::array<bool, 3>& output_mask) {
          return batch_backward_impl(bname, reference, dy, x, mean, rstd, weight, output_mask);
        },
        py::arg("dy"), py::arg("x"), py::arg("mean"), py::arg("rstd"), py::arg("weight") = py::none(),
        py::arg("output_mask") = std::array<bool, 3>{true, true, true},
        ("(dx, dweight, dbias), each None where output_mask says so: the gradients of batch_norm_forward from dy "
         "and its mean and rstd; the per-channel sums are deterministic." + note).c_str());
  }
}

// num_groups: an int >= 1 dividing C.
int64_t groups_arg(const std::string& fn, py::handle g, int64_t C) {
  const int64_t G = (int64_t)unsigned_arg(fn, "num_groups", g, 62);
  if (G < 1 || C % G != 0)
    fail_value(fn, "argument 'num_groups' must be >= 1 and divide the channel count " + std::to_string(C) +
                       " of x (dim 1), got " + std::to_string(G));
  return G;
}

// activation: None or "silu" (SiLU after the normalisation, in the same pass).
bool silu_arg(const std::string& fn, py::handle a) {
  if (a.is_none()) return false;
  if (py::isinstance<py::str>(a) && a.cast<std::string>() == "silu") return true;
  fail_value(fn, "argument 'activation' must be None or 'silu', got " + py::repr(a).cast<std::string>());
}

// Group normalisation of a contiguous (N, C, S) block in num_groups groups of consecutive channels.
py::tuple group_forward_impl(const std::string& fn, bool reference, py::handle x_obj, py::handle g_obj,
                             py::handle w_obj, py::handle b_obj, py::handle eps_obj, py::handle act_obj) {
  Call call(fn);
  const ArrayView x = operand(call, "x", x_obj, 3, nullptr, nullptr, nullptr);
  const int64_t N = x.dim(0), C = x.dim(1), S = x.dim(2);
  const int64_t G = groups_arg(call.fn, g_obj, C);
  const std::vector<int64_t> cshape{C};
  const auto w = optional_operand(call, "weight", w_obj, x, cshape, "(C,) for x of shape (N, C, S)");
  const auto b = optional_operand(call, "bias", b_obj, x, cshape, "(C,) for x of shape (N, C, S)");
  const double eps = eps_arg(call.fn, eps_obj, x);
  const bool silu = silu_arg(call.fn, act_obj);
  ArrayView y = call.empty("y", x.shape, x.dtype);
  ArrayView mean = call.empty("mean", {N, G}, x.dtype), rstd = call.empty("rstd", {N, G}, x.dtype);
  if (N > 0) {
    with_float_type(x, [&](auto zt) {
      using T = decltype(zt);
      const T *xp = x.ptr<const T>(), *wp = ptr_or_null<const T>(w), *bp = ptr_or_null<const T>(b);
      T *yp = y.ptr<T>(), *mp = mean.ptr<T>(), *rp = rstd.ptr<T>();
#if FASTNN_CUDA_MODULE
      (void)reference;
      cudaStream_t stream = call.stream();
      py::gil_scoped_release release;
      cuda::norm::group_norm_forward<T>(N, C, S, G, xp, wp, bp, (T)eps, yp, mp, rp, silu, stream);
#else
      py::gil_scoped_release release;
      if (reference) norm::group_norm_forward_reference<T>(N, C, S, G, xp, wp, bp, (T)eps, yp, mp, rp, silu);
      else norm::group_norm_forward_cpu<T>(N, C, S, G, xp, wp, bp, (T)eps, yp, mp, rp, silu);
#endif
    });
  }
  return py::make_tuple(y.object, mean.object, rstd.object);
}

py::tuple group_backward_impl(const std::string& fn, bool reference, py::handle dy_obj, py::handle x_obj,
                              py::handle mean_obj, py::handle rstd_obj, py::handle g_obj, py::handle w_obj,
                              const std::array<bool, 3>& mask, py::handle b_obj, py::handle act_obj) {
  Call call(fn);
  const ArrayView x = operand(call, "x", x_obj, 3, nullptr, nullptr, nullptr);
  const int64_t N = x.dim(0), C = x.dim(1), S = x.dim(2);
  const int64_t G = groups_arg(call.fn, g_obj, C);
  const std::vector<int64_t> cshape{C}, sshape{N, G};
  const ArrayView dy = operand(call, "dy", dy_obj, 3, &x, &x.shape, "the shape of x");
  const ArrayView mean = operand(call, "mean", mean_obj, 2, &x, &sshape, "(N, num_groups) for x of shape (N, C, S)");
  const ArrayView rstd = operand(call, "rstd", rstd_obj, 2, &x, &sshape, "(N, num_groups) for x of shape (N, C, S)");
  const auto w = optional_operand(call, "weight", w_obj, x, cshape, "(C,) for x of shape (N, C, S)");
  const auto b = optional_operand(call, "bias", b_obj, x, cshape, "(C,) for x of shape (N, C, S)");
  const bool silu = silu_arg(call.fn, act_obj);
  std::optional<ArrayView> dx, dw, db, silu_g;
  if (mask[0]) dx = call.empty("dx", x.shape, x.dtype);
  if (mask[1]) dw = call.empty("dweight", cshape, x.dtype);
  if (mask[2]) db = call.empty("dbias", cshape, x.dtype);
  if (C > 0 && (dx || dw || db)) {
    with_float_type(x, [&](auto zt) {
      using T = decltype(zt);
      const T *dyp = dy.ptr<const T>(), *xp = x.ptr<const T>(), *mp = mean.ptr<const T>();
      const T *rp = rstd.ptr<const T>(), *wp = ptr_or_null<const T>(w), *bp = ptr_or_null<const T>(b);
      T *dxp = ptr_or_null<T>(dx), *dwp = ptr_or_null<T>(dw), *dbp = ptr_or_null<T>(db);
#if FASTNN_CUDA_MODULE
      (void)reference;
      if (silu) silu_g = call.empty("silu workspace", x.shape, x.dtype);
      T* gp = ptr_or_null<T>(silu_g);
      cudaStream_t stream = call.stream();
      py::gil_scoped_release release;
      cuda::norm::group_norm_backward<T>(N, C, S, G, dyp, xp, mp, rp, wp, bp, gp, dxp, dwp, dbp, stream);
#else
      py::gil_scoped_release release;
      if (reference)
        norm::group_norm_backward_reference<T>(N, C, S, G, dyp, xp, mp, rp, wp, bp, silu, dxp, dwp, dbp);
      else norm::group_norm_backward_cpu<T>(N, C, S, G, dyp, xp, mp, rp, wp, bp, silu, dxp, dwp, dbp);
#endif
    });
  }
  auto obj = [](const std::optional<ArrayView>& v) { return v ? v->object : py::none(); };
  return py::make_tuple(obj(dx), obj(dw), obj(db));
}

void bind_group(py::module_& m) {
  for (bool reference : {false, true}) {
    if (reference && kCudaModule) continue;
    const std::string fname = std::string("group_norm_forward") + (reference ? "_reference" : "");
    const std::string bname = std::string("group_norm_backward") + (reference ? "_reference" : "");
    const std::string note = reference ? " The plain reference (scalar loops in index order)." : "";
    m.def(
        fname.c_str(),
        [fname, reference](py::handle x, py::handle num_groups, py::handle weight, py::handle bias, py::handle eps,
                           py::handle activation) {
          return group_forward_impl(fname, reference, x, num_groups, weight, bias, eps, activation);
        },
        py::arg("x"), py::arg("num_groups"), py::arg("weight") = py::none(), py::arg("bias") = py::none(),
        py::arg("eps") = 1e-5, py::arg("activation") = py::none(),
        ("(y, mean, rstd): group normalisation of the contiguous (N, C, S) block x, each sample's num_groups groups "
         "of C / num_groups consecutive channels normalised with their own statistics: y = (x - mean) * rstd * "
         "weight[c] + bias[c], rstd = 1 / sqrt(biased variance + eps); mean and rstd (N, num_groups); weight and "
         "bias (C,) or None; activation 'silu' applies SiLU to y in the same pass." + note).c_str());
    m.def(
        bname.c_str(),
        [bname, reference](py::handle dy, py::handle x, py::handle mean, py::handle rstd, py::handle num_groups,
                           py::handle weight, const std::array<bool, 3>& output_mask, py::handle bias,
                           py::handle activation) {
          return group_backward_impl(bname, reference, dy, x, mean, rstd, num_groups, weight, output_mask, bias,
                                     activation);
        },
        py::arg("dy"), py::arg("x"), py::arg("mean"), py::arg("rstd"), py::arg("num_groups"),
        py::arg("weight") = py::none(), py::arg("output_mask") = std::array<bool, 3>{true, true, true},
        py::arg("bias") = py::none(), py::arg("activation") = py::none(),
        ("(dx, dweight, dbias), each None where output_mask says so: the gradients of group_norm_forward from dy "
         "and its mean and rstd; dweight and dbias summed over the samples in order (deterministic). With activation "
         "'silu' (the forward's), dy is the gradient after SiLU, whose input is recomputed with bias." + note)
            .c_str());
  }
}

}  // namespace

void bind_norm(py::module_& m) {
  bind_kind(m, true, "_reference");
  bind_kind(m, false, "_reference");
  bind_batch(m);
  bind_group(m);
}

}  // namespace fastnn
