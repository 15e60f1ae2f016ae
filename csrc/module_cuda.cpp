// fastnn._C_cuda: the CUDA kernels. Arrays arrive as descriptor tuples (device pointer, shape,
// element strides) with a dtype string and the stream to launch on (cupy's current stream);
// outputs are allocated by the caller. Every argument is validated here, before any launch.
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "core/cuda_checks.h"
#include "ops/conv/cuda.h"
#include "core/cuda_device.h"
#include "ops/gemm/cuda.h"
#include "ops/interp/cuda.h"
#include "ops/optim/cuda.h"
#include "ops/pool/cuda.h"

namespace py = pybind11;
using namespace fastnn::cuda;
using namespace fastnn::cuda::bind;

namespace {

cudaStream_t as_stream(std::uintptr_t s) { return reinterpret_cast<cudaStream_t>(s); }

bool is_f32(const std::string& fn, const std::string& dtype) { return itemsize_of(fn, dtype) == 4; }

template <typename T>
Arr4<const T> carr(const Desc& d) {
  Arr4<T> a = d.arr4<T>();
  return {a.p, a.s0, a.s1, a.s2, a.s3};
}

void require_devices(const std::string& fn, std::initializer_list<const Desc*> ds) {
  require_gpu(fn);
  for (const Desc* d : ds) require_device_ptr(fn, *d);
}

// ---------------------------------------------------------------- device
void axpby_py(const std::string& dtype, long long n, double alpha, std::uintptr_t x, double beta, std::uintptr_t y,
              std::uintptr_t stream) {
  const std::string fn = "axpby";
  const int item = itemsize_of(fn, dtype);
  if (n < 0) fail_value(fn, "argument 'n' must be >= 0, got " + std::to_string(n));
  if (n == 0) return;
  if (x == 0 || y == 0) fail_value(fn, "null device pointer for 'x' or 'y'");
  Desc dx, dy;
  dx.ptr = x, dx.shape = {n}, dx.strides = {1}, dx.itemsize = item, dx.name = "x";
  dy.ptr = y, dy.shape = {n}, dy.strides = {1}, dy.itemsize = item, dy.name = "y";
  require_devices(fn, {&dx, &dy});
  py::gil_scoped_release release;
  if (item == 4)
    axpby<float>(n, (float)alpha, reinterpret_cast<const float*>(x), (float)beta, reinterpret_cast<float*>(y),
                 as_stream(stream));
  else
    axpby<double>(n, alpha, reinterpret_cast<const double*>(x), beta, reinterpret_cast<double*>(y), as_stream(stream));
}

// ---------------------------------------------------------------- gemm
void gemm_py(const std::string& dtype, py::object a, py::object b, py::object out, double alpha, double beta,
             bool allow_tf32, std::uintptr_t stream) {
  const std::string fn = "gemm";
  const int item = itemsize_of(fn, dtype);
  Desc A = desc(fn, "a", a, 3, item), B = desc(fn, "b", b, 3, item), C = desc(fn, "out", out, 3, item);
  if (A.dim(0) != C.dim(0) || B.dim(0) != C.dim(0) || A.dim(2) != B.dim(1) || A.dim(1) != C.dim(1) ||
      B.dim(2) != C.dim(2))
    fail_value(fn, "shapes do not agree: a " + A.shape_str() + " @ b " + B.shape_str() + " -> out " + C.shape_str() +
                       " (expected a (batch, M, K), b (batch, K, N), out (batch, M, N))");
  require_unaliased(fn, C);
  require_no_overlap(fn, C, A);
  require_no_overlap(fn, C, B);
  if (C.numel() == 0) return;
  require_devices(fn, {&A, &B, &C});
  const long long batch = C.dim(0), M = C.dim(1), N = C.dim(2), K = A.dim(2);
  py::gil_scoped_release release;
  if (item == 4)
    gemm_batched<float>(batch, M, N, K, (float)alpha, reinterpret_cast<const float*>(A.ptr), A.strides[0], A.strides[1],
                        A.strides[2], reinterpret_cast<const float*>(B.ptr), B.strides[0], B.strides[1], B.strides[2],
                        (float)beta, reinterpret_cast<float*>(C.ptr), C.strides[0], C.strides[1], C.strides[2],
                        allow_tf32, as_stream(stream));
  else
    gemm_batched<double>(batch, M, N, K, alpha, reinterpret_cast<const double*>(A.ptr), A.strides[0], A.strides[1],
                         A.strides[2], reinterpret_cast<const double*>(B.ptr), B.strides[0], B.strides[1], B.strides[2],
                         beta, reinterpret_cast<double*>(C.ptr), C.strides[0], C.strides[1], C.strides[2], false,
                         as_stream(stream));
}

std::string gemm_path_py(const std::string& dtype, py::object a, py::object b, bool allow_tf32) {
  const std::string fn = "gemm_path";
  const int item = itemsize_of(fn, dtype);
  Desc A = desc(fn, "a", a, 3, item), B = desc(fn, "b", b, 3, item);
  if (A.dim(2) != B.dim(1) || A.dim(0) != B.dim(0))
    fail_value(fn, "shapes do not agree: a " + A.shape_str() + " @ b " + B.shape_str());
  if (allow_tf32 && item == 4) require_gpu(fn);
  return gemm_path(item == 4, A.dim(0), A.dim(1), A.dim(2), B.dim(2), reinterpret_cast<const void*>(A.ptr),
                   A.strides[0], A.strides[1], A.strides[2], reinterpret_cast<const void*>(B.ptr), B.strides[0],
                   B.strides[1], B.strides[2], allow_tf32);
}

// ---------------------------------------------------------------- conv
struct ConvArgs {
  long long sh, sw, ph, pw, dh, dw, groups;
};

ConvArgs conv_args(const std::string& fn, py::handle stride, py::handle padding, py::handle dilation, long long groups) {
  auto s = pair_arg(fn, "stride", stride, 1);
  auto p = pair_arg(fn, "padding", padding, 0);
  auto d = pair_arg(fn, "dilation", dilation, 1);
  if (groups < 1) fail_value(fn, "argument 'groups' must be >= 1, got " + std::to_string(groups));
  return {s.first, s.second, p.first, p.second, d.first, d.second, groups};
}

// x (N, C, H, W), w (K, C/G, KH, KW), y (N, K, OH, OW): channel and group consistency, and the
// 32-bit limits of the implicit-GEMM index arithmetic.
ConvGeom conv_geom(const std::string& fn, const Desc& x, const Desc& w, const Desc& y, const ConvArgs& a) {
  const long long N = x.dim(0), C = x.dim(1), K = w.dim(0), G = a.groups;
  if (w.dim(0) < 1 || w.dim(1) < 1 || w.dim(2) < 1 || w.dim(3) < 1)
    fail_value(fn, "argument '" + w.name + "' must have positive sizes, got shape " + w.shape_str());
  if (K % G != 0)
    fail_value(fn, "out_channels (" + std::to_string(K) + ", dim 0 of '" + w.name + "' " + w.shape_str() +
                       ") must be divisible by groups (" + std::to_string(G) + ")");
  if (w.dim(1) * G != C)
    fail_value(fn, "'" + x.name + "' " + x.shape_str() + " must have " + std::to_string(w.dim(1) * G) +
                       " channels ('" + w.name + "' " + w.shape_str() + " with groups=" + std::to_string(G) + ")");
  if (y.dim(0) != N || y.dim(1) != K)
    fail_value(fn, "'" + y.name + "' " + y.shape_str() + " must have batch " + std::to_string(N) + " and " +
                       std::to_string(K) + " channels");
  ConvGeom g{N, C, x.dim(2), x.dim(3), K, y.dim(2), y.dim(3), w.dim(2), w.dim(3),
             a.sh, a.sw, a.ph, a.pw, a.dh, a.dw, G};
  require_int32(fn, "batch * H * W", N * g.H * g.W);
  require_int32(fn, "batch * OH * OW", N * g.OH * g.OW);
  require_int32(fn, "channels * KH * KW", (C > K ? C : K) * g.KH * g.KW);
  for (long long v : {g.H, g.W, g.OH, g.OW}) require_int32(fn, "a spatial size", v * (a.sh > a.sw ? a.sh : a.sw) + a.ph + a.pw);
  require_int32(fn, "the dilated kernel extent", (g.KH > g.KW ? g.KH : g.KW) * (a.dh > a.dw ? a.dh : a.dw));
  return g;
}

void conv2d_forward_py(const std::string& dtype, py::object x, py::object weight, py::object bias, py::object out,
                       py::object stride, py::object padding, py::object dilation, long long groups, bool allow_tf32,
                       std::uintptr_t stream) {
  const std::string fn = "conv2d";
  const int item = itemsize_of(fn, dtype);
  Desc X = desc(fn, "input", x, 4, item), Wt = desc(fn, "weight", weight, 4, item), Y = desc(fn, "out", out, 4, item);
  // padding: (top, bottom, left, right), as the CPU module takes it.
  auto pv = int_seq(fn, "argument 'padding'", padding);
  if (pv.size() != 4) fail_value(fn, "argument 'padding' must have 4 values (top, bottom, left, right)");
  for (long long p : pv)
    if (p < 0) fail_value(fn, "argument 'padding' must be >= 0");
  ConvArgs a = conv_args(fn, stride, py::make_tuple(pv[0], pv[2]), dilation, groups);
  ConvGeom g = conv_geom(fn, X, Wt, Y, a);
  const long long eh = a.dh * (g.KH - 1) + 1, ew = a.dw * (g.KW - 1) + 1;
  const long long hp = g.H + pv[0] + pv[1], wp = g.W + pv[2] + pv[3];
  if (hp < eh || wp < ew)
    fail_value(fn, "padded input size (" + std::to_string(hp) + " x " + std::to_string(wp) + ") of 'input' " +
                       X.shape_str() + " is smaller than the dilated kernel size (" + std::to_string(eh) + " x " +
                       std::to_string(ew) + ") of 'weight' " + Wt.shape_str());
  require_shape(fn, Y, {g.N, g.K, (hp - eh) / a.sh + 1, (wp - ew) / a.sw + 1}, "the convolution's output size");
  Desc Bs;
  const bool has_bias = !bias.is_none();
  if (has_bias) {
    Bs = desc(fn, "bias", bias, 1, item);
    require_shape(fn, Bs, {g.K}, "one value per output channel");
  }
  require_unaliased(fn, Y);
  require_no_overlap(fn, Y, X);
  require_no_overlap(fn, Y, Wt);
  if (has_bias) require_no_overlap(fn, Y, Bs);
  if (Y.numel() == 0) return;
  require_devices(fn, {&X, &Wt, &Y});
  if (has_bias) require_device_ptr(fn, Bs);
  py::gil_scoped_release release;
  if (item == 4)
    conv2d_forward<float>(g, carr<float>(X), carr<float>(Wt), has_bias ? reinterpret_cast<const float*>(Bs.ptr) : nullptr,
                          has_bias ? Bs.strides[0] : 0, Y.arr4<float>(), allow_tf32, as_stream(stream));
  else
    conv2d_forward<double>(g, carr<double>(X), carr<double>(Wt),
                           has_bias ? reinterpret_cast<const double*>(Bs.ptr) : nullptr, has_bias ? Bs.strides[0] : 0,
                           Y.arr4<double>(), false, as_stream(stream));
}

// grad_input (N, C, H, W) from grad_output (N, K, OH, OW); any OH/OW (conv_transpose2d's
// output_padding makes the input larger than the forward would need). bias: per input channel.
void conv2d_backward_input_py(const std::string& dtype, py::object grad_output, py::object weight, py::object bias,
                              py::object grad_input, py::object stride, py::object padding, py::object dilation,
                              long long groups, bool allow_tf32, std::uintptr_t stream) {
  const std::string fn = "conv2d_backward_input";
  const int item = itemsize_of(fn, dtype);
  Desc DY = desc(fn, "grad_output", grad_output, 4, item), Wt = desc(fn, "weight", weight, 4, item),
       DX = desc(fn, "grad_input", grad_input, 4, item);
  ConvArgs a = conv_args(fn, stride, padding, dilation, groups);
  ConvGeom g = conv_geom(fn, DX, Wt, DY, a);
  Desc Bs;
  const bool has_bias = !bias.is_none();
  if (has_bias) {
    Bs = desc(fn, "bias", bias, 1, item);
    require_shape(fn, Bs, {g.C}, "one value per channel of 'grad_input'");
  }
  require_unaliased(fn, DX);
  require_no_overlap(fn, DX, DY);
  require_no_overlap(fn, DX, Wt);
  if (has_bias) require_no_overlap(fn, DX, Bs);
  if (DX.numel() == 0) return;
  require_devices(fn, {&DY, &Wt, &DX});
  if (has_bias) require_device_ptr(fn, Bs);
  py::gil_scoped_release release;
  if (item == 4)
    conv2d_backward_input<float>(g, carr<float>(DY), carr<float>(Wt),
                                 has_bias ? reinterpret_cast<const float*>(Bs.ptr) : nullptr,
                                 has_bias ? Bs.strides[0] : 0, DX.arr4<float>(), allow_tf32, as_stream(stream));
  else
    conv2d_backward_input<double>(g, carr<double>(DY), carr<double>(Wt),
                                  has_bias ? reinterpret_cast<const double*>(Bs.ptr) : nullptr,
                                  has_bias ? Bs.strides[0] : 0, DX.arr4<double>(), false, as_stream(stream));
}

void conv2d_backward_weight_py(const std::string& dtype, py::object input, py::object grad_output,
                               py::object grad_weight, py::object stride, py::object padding, py::object dilation,
                               long long groups, bool allow_tf32, bool deterministic, std::uintptr_t stream) {
  const std::string fn = "conv2d_backward_weight";
  const int item = itemsize_of(fn, dtype);
  Desc X = desc(fn, "input", input, 4, item), DY = desc(fn, "grad_output", grad_output, 4, item),
       DW = desc(fn, "grad_weight", grad_weight, 4, item);
  ConvArgs a = conv_args(fn, stride, padding, dilation, groups);
  ConvGeom g = conv_geom(fn, X, DW, DY, a);
  require_int32(fn, "batch * OH * OW + 16", g.N * g.OH * g.OW + 16);
  require_unaliased(fn, DW);
  require_no_overlap(fn, DW, X);
  require_no_overlap(fn, DW, DY);
  if (DW.numel() == 0) return;
  require_devices(fn, {&X, &DY, &DW});
  py::gil_scoped_release release;
  if (item == 4)
    conv2d_backward_weight<float>(g, carr<float>(X), carr<float>(DY), DW.arr4<float>(), allow_tf32, deterministic,
                                  as_stream(stream));
  else
    conv2d_backward_weight<double>(g, carr<double>(X), carr<double>(DY), DW.arr4<double>(), false, deterministic,
                                   as_stream(stream));
}

// ---------------------------------------------------------------- optimisers
template <typename T>
AdamScalars<T> adam_scalars(py::dict s) {
  auto f = [&](const char* k) { return (T)s[k].cast<double>(); };
  return {f("l2"), f("decay"), f("w"), f("one_minus_w"), f("beta2"), f("one_minus_beta2"), f("bias_correction2_sqrt"),
          f("eps"), f("step_size"), s["lerp_low"].cast<bool>(), s["maximize"].cast<bool>(), s["amsgrad"].cast<bool>()};
}

// Descriptors of the optimiser arrays (None skipped): 1-D, one length, contiguous, the written ones
// (all but the second, the gradient) overlapping nothing else.
std::vector<Desc> optim_arrays(const std::string& fn, int item, std::initializer_list<std::pair<const char*, py::object>> args) {
  std::vector<Desc> ds;
  for (const auto& [name, obj] : args)
    if (!obj.is_none()) ds.push_back(desc(fn, name, obj, 1, item));
  const long long n = ds[0].numel();
  for (const Desc& d : ds) {
    if (d.numel() != n)
      fail_value(fn, "argument '" + d.name + "' has shape " + d.shape_str() + " but 'param' has " + ds[0].shape_str());
    if (n > 1 && d.strides[0] != 1) fail_value(fn, "argument '" + d.name + "' must be contiguous");
  }
  for (size_t i = 0; i < ds.size(); ++i)
    for (size_t j = 0; j < ds.size(); ++j)
      if (i != j && i != 1) require_no_overlap(fn, ds[i], ds[j]);
  if (n > 0) {
    require_gpu(fn);
    for (const Desc& d : ds) require_device_ptr(fn, d);
  }
  return ds;
}

// launch(T{}, ptr) with T float or double by the item size; ptr(k) is array k of ds as T*, null past the end.
template <class Launch>
void for_float_type(int item, const std::vector<Desc>& ds, Launch&& launch) {
  auto run = [&](auto zero) {
    using T = decltype(zero);
    launch(zero, [&](size_t k) { return k < ds.size() ? reinterpret_cast<T*>(ds[k].ptr) : nullptr; });
  };
  if (item == 4) run(0.0f);
  else run(0.0);
}

template <typename T>
SgdScalars<T> sgd_scalars(py::dict s) {
  auto f = [&](const char* k) { return (T)s[k].cast<double>(); };
  auto b = [&](const char* k) { return s[k].cast<bool>(); };
  return {f("l2"), f("momentum"), f("one_minus_dampening"), f("lr"), b("dampened"), b("nesterov"), b("maximize"),
          b("first")};
}

void sgd_step_py(const std::string& dtype, py::object param, py::object grad, py::object momentum_buffer,
                 py::dict scalars, std::uintptr_t stream) {
  const std::string fn = "sgd_step";
  const int item = itemsize_of(fn, dtype);
  if ((scalars["momentum"].cast<double>() != 0) == momentum_buffer.is_none())
    fail_value(fn, "argument 'momentum_buffer' must be given exactly when momentum is not 0");
  std::vector<Desc> ds = optim_arrays(fn, item, {{"param", param}, {"grad", grad}, {"momentum_buffer", momentum_buffer}});
  const long long n = ds[0].numel();
  if (n == 0) return;
  for_float_type(item, ds, [&](auto zero, auto ptr) {
    using T = decltype(zero);
    const SgdScalars<T> sc = sgd_scalars<T>(scalars);
    py::gil_scoped_release release;
    sgd_step<T>(n, ptr(0), ptr(1), ptr(2), sc, as_stream(stream));
  });
}

void adam_step_py(const std::string& dtype, py::object param, py::object grad, py::object exp_avg, py::object exp_avg_sq,
                  py::object max_exp_avg_sq, py::dict scalars, std::uintptr_t stream) {
  const std::string fn = "adam_step";
  const int item = itemsize_of(fn, dtype);
  const bool amsgrad = scalars["amsgrad"].cast<bool>();
  if (amsgrad == max_exp_avg_sq.is_none())
    fail_value(fn, "argument 'max_exp_avg_sq' must be given exactly when amsgrad is set");
  std::vector<Desc> ds = optim_arrays(fn, item, {{"param", param}, {"grad", grad}, {"exp_avg", exp_avg},
                                                 {"exp_avg_sq", exp_avg_sq}, {"max_exp_avg_sq", max_exp_avg_sq}});
  const long long n = ds[0].numel();
  if (n == 0) return;
  for_float_type(item, ds, [&](auto zero, auto ptr) {
    using T = decltype(zero);
    const AdamScalars<T> sc = adam_scalars<T>(scalars);
    py::gil_scoped_release release;
    adam_step<T>(n, ptr(0), ptr(1), ptr(2), ptr(3), ptr(4), sc, as_stream(stream));
  });
}

// ---------------------------------------------------------------- pooling
// PyTorch's pooling output size along one dimension.
long long pool_out(long long in, long long k, long long s, long long p, long long d, bool ceil_mode) {
  const long long num = in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  long long o = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
  if (ceil_mode && (o - 1) * s >= in + p) --o;
  return o;
}

PoolGeom pool_geom(const std::string& fn, const Desc& x, const Desc& y, py::handle kernel_size, py::handle stride,
                   py::handle padding, py::handle dilation, bool ceil_mode) {
  auto k = pair_arg(fn, "kernel_size", kernel_size, 1);
  auto s = pair_arg(fn, "stride", stride, 1);
  auto p = pair_arg(fn, "padding", padding, 0);
  auto d = pair_arg(fn, "dilation", dilation, 1);
  // PyTorch's rule compares the padding with the undilated kernel size.
  if (p.first > k.first / 2 || p.second > k.second / 2)
    fail_value(fn, "argument 'padding' (" + std::to_string(p.first) + ", " + std::to_string(p.second) +
                       ") should be at most half of kernel_size (" + std::to_string(k.first) + ", " +
                       std::to_string(k.second) + ")");
  const long long OH = pool_out(x.dim(2), k.first, s.first, p.first, d.first, ceil_mode);
  const long long OW = pool_out(x.dim(3), k.second, s.second, p.second, d.second, ceil_mode);
  if (x.dim(2) < 1 || x.dim(3) < 1 || OH < 1 || OW < 1)
    fail_value(fn, "input " + x.shape_str() + " is too small for the kernel: output size would be " +
                       std::to_string(OH) + " x " + std::to_string(OW));
  require_shape(fn, y, {x.dim(0), x.dim(1), OH, OW}, "the pooling's output size");
  return {x.dim(0), x.dim(1), x.dim(2), x.dim(3), OH, OW, k.first, k.second, s.first, s.second,
          p.first, p.second, d.first, d.second};
}

void max_pool2d_forward_py(const std::string& dtype, py::object input, py::object out, py::object indices,
                           py::object kernel_size, py::object stride, py::object padding, py::object dilation,
                           bool ceil_mode, std::uintptr_t stream) {
  const std::string fn = "max_pool2d";
  const int item = itemsize_of(fn, dtype);
  Desc X = desc(fn, "input", input, 4, item), Y = desc(fn, "out", out, 4, item), I = desc(fn, "indices", indices, 4, 8);
  PoolGeom g = pool_geom(fn, X, Y, kernel_size, stride, padding, dilation, ceil_mode);
  require_shape(fn, I, Y.shape, "same as 'out'");
  require_unaliased(fn, Y);
  require_unaliased(fn, I);
  require_no_overlap(fn, Y, X);
  require_no_overlap(fn, I, X);
  require_no_overlap(fn, I, Y);
  if (Y.numel() == 0) return;
  require_devices(fn, {&X, &Y, &I});
  py::gil_scoped_release release;
  if (item == 4) max_pool2d_forward<float>(g, carr<float>(X), Y.arr4<float>(), I.arr4<int64_t>(), as_stream(stream));
  else max_pool2d_forward<double>(g, carr<double>(X), Y.arr4<double>(), I.arr4<int64_t>(), as_stream(stream));
}

// Backward of max_pool2d and adaptive_max_pool2d: scatter grad_output at the recorded indices.
void max_pool2d_backward_py(const std::string& dtype, py::object grad_output, py::object indices, py::object grad_input,
                            std::uintptr_t stream) {
  const std::string fn = "max_pool2d_backward";
  const int item = itemsize_of(fn, dtype);
  Desc DY = desc(fn, "grad_output", grad_output, 4, item), I = desc(fn, "indices", indices, 4, 8),
       DX = desc(fn, "grad_input", grad_input, 4, item);
  require_shape(fn, I, DY.shape, "same as 'grad_output'");
  if (DX.dim(0) != DY.dim(0) || DX.dim(1) != DY.dim(1))
    fail_value(fn, "'grad_input' " + DX.shape_str() + " and 'grad_output' " + DY.shape_str() +
                       " must agree in batch and channels");
  require_unaliased(fn, DX);
  require_no_overlap(fn, DX, DY);
  require_no_overlap(fn, DX, I);
  if (DX.numel() == 0) return;
  require_devices(fn, {&DY, &I, &DX});
  py::gil_scoped_release release;
  if (item == 4)
    max_pool2d_backward<float>(DX.dim(0), DX.dim(1), DX.dim(2), DX.dim(3), DY.dim(2), DY.dim(3), carr<float>(DY),
                               carr<int64_t>(I), DX.arr4<float>(), as_stream(stream));
  else
    max_pool2d_backward<double>(DX.dim(0), DX.dim(1), DX.dim(2), DX.dim(3), DY.dim(2), DY.dim(3), carr<double>(DY),
                                carr<int64_t>(I), DX.arr4<double>(), as_stream(stream));
}

long long divisor_arg(const std::string& fn, py::object divisor_override) {
  if (divisor_override.is_none()) return 0;
  if (!py::isinstance<py::int_>(divisor_override)) fail_type(fn, "argument 'divisor_override' must be an int or None");
  const long long d = divisor_override.cast<long long>();
  if (d == 0) fail_value(fn, "argument 'divisor_override' must not be zero");
  if (d < 0) fail_value(fn, "argument 'divisor_override' must be positive, got " + std::to_string(d));
  return d;
}

void avg_pool2d_forward_py(const std::string& dtype, py::object input, py::object out, py::object kernel_size,
                           py::object stride, py::object padding, bool ceil_mode, bool count_include_pad,
                           py::object divisor_override, std::uintptr_t stream) {
  const std::string fn = "avg_pool2d";
  const int item = itemsize_of(fn, dtype);
  Desc X = desc(fn, "input", input, 4, item), Y = desc(fn, "out", out, 4, item);
  PoolGeom g = pool_geom(fn, X, Y, kernel_size, stride, padding, py::make_tuple(1, 1), ceil_mode);
  const long long div = divisor_arg(fn, divisor_override);
  require_unaliased(fn, Y);
  require_no_overlap(fn, Y, X);
  if (Y.numel() == 0) return;
  require_devices(fn, {&X, &Y});
  py::gil_scoped_release release;
  if (item == 4) avg_pool2d_forward<float>(g, count_include_pad, div, carr<float>(X), Y.arr4<float>(), as_stream(stream));
  else avg_pool2d_forward<double>(g, count_include_pad, div, carr<double>(X), Y.arr4<double>(), as_stream(stream));
}

void avg_pool2d_backward_py(const std::string& dtype, py::object grad_output, py::object grad_input,
                            py::object kernel_size, py::object stride, py::object padding, bool ceil_mode,
                            bool count_include_pad, py::object divisor_override, std::uintptr_t stream) {
  const std::string fn = "avg_pool2d_backward";
  const int item = itemsize_of(fn, dtype);
  Desc DY = desc(fn, "grad_output", grad_output, 4, item), DX = desc(fn, "grad_input", grad_input, 4, item);
  PoolGeom g = pool_geom(fn, DX, DY, kernel_size, stride, padding, py::make_tuple(1, 1), ceil_mode);
  const long long div = divisor_arg(fn, divisor_override);
  require_unaliased(fn, DX);
  require_no_overlap(fn, DX, DY);
  if (DX.numel() == 0) return;
  require_devices(fn, {&DY, &DX});
  py::gil_scoped_release release;
  if (item == 4)
    avg_pool2d_backward<float>(g, count_include_pad, div, carr<float>(DY), DX.arr4<float>(), as_stream(stream));
  else
    avg_pool2d_backward<double>(g, count_include_pad, div, carr<double>(DY), DX.arr4<double>(), as_stream(stream));
}

void adaptive_check(const std::string& fn, const Desc& x, const Desc& y) {
  if (y.dim(0) != x.dim(0) || y.dim(1) != x.dim(1))
    fail_value(fn, "'" + y.name + "' " + y.shape_str() + " and '" + x.name + "' " + x.shape_str() +
                       " must agree in batch and channels");
  if (y.numel() > 0 && (x.dim(2) < 1 || x.dim(3) < 1))
    fail_value(fn, "'" + x.name + "' " + x.shape_str() + " must have non-empty spatial dimensions");
}

void adaptive_avg_pool2d_forward_py(const std::string& dtype, py::object input, py::object out, std::uintptr_t stream) {
  const std::string fn = "adaptive_avg_pool2d";
  const int item = itemsize_of(fn, dtype);
  Desc X = desc(fn, "input", input, 4, item), Y = desc(fn, "out", out, 4, item);
  adaptive_check(fn, X, Y);
  require_unaliased(fn, Y);
  require_no_overlap(fn, Y, X);
  if (Y.numel() == 0) return;
  require_devices(fn, {&X, &Y});
  py::gil_scoped_release release;
  if (item == 4)
    adaptive_avg_pool2d_forward<float>(X.dim(0), X.dim(1), X.dim(2), X.dim(3), Y.dim(2), Y.dim(3), carr<float>(X),
                                       Y.arr4<float>(), as_stream(stream));
  else
    adaptive_avg_pool2d_forward<double>(X.dim(0), X.dim(1), X.dim(2), X.dim(3), Y.dim(2), Y.dim(3), carr<double>(X),
                                        Y.arr4<double>(), as_stream(stream));
}

void adaptive_avg_pool2d_backward_py(const std::string& dtype, py::object grad_output, py::object grad_input,
                                     std::uintptr_t stream) {
  const std::string fn = "adaptive_avg_pool2d_backward";
  const int item = itemsize_of(fn, dtype);
  Desc DY = desc(fn, "grad_output", grad_output, 4, item), DX = desc(fn, "grad_input", grad_input, 4, item);
  adaptive_check(fn, DX, DY);
  if (DX.numel() > 0 && (DY.dim(2) < 1 || DY.dim(3) < 1))
    fail_value(fn, "'grad_output' " + DY.shape_str() + " must have non-empty spatial dimensions");
  require_unaliased(fn, DX);
  require_no_overlap(fn, DX, DY);
  if (DX.numel() == 0) return;
  require_devices(fn, {&DY, &DX});
  py::gil_scoped_release release;
  if (item == 4)
    adaptive_avg_pool2d_backward<float>(DX.dim(0), DX.dim(1), DX.dim(2), DX.dim(3), DY.dim(2), DY.dim(3),
                                        carr<float>(DY), DX.arr4<float>(), as_stream(stream));
  else
    adaptive_avg_pool2d_backward<double>(DX.dim(0), DX.dim(1), DX.dim(2), DX.dim(3), DY.dim(2), DY.dim(3),
                                         carr<double>(DY), DX.arr4<double>(), as_stream(stream));
}

void adaptive_max_pool2d_forward_py(const std::string& dtype, py::object input, py::object out, py::object indices,
                                    std::uintptr_t stream) {
  const std::string fn = "adaptive_max_pool2d";
  const int item = itemsize_of(fn, dtype);
  Desc X = desc(fn, "input", input, 4, item), Y = desc(fn, "out", out, 4, item), I = desc(fn, "indices", indices, 4, 8);
  adaptive_check(fn, X, Y);
  require_shape(fn, I, Y.shape, "same as 'out'");
  require_unaliased(fn, Y);
  require_unaliased(fn, I);
  require_no_overlap(fn, Y, X);
  require_no_overlap(fn, I, X);
  require_no_overlap(fn, I, Y);
  if (Y.numel() == 0) return;
  require_devices(fn, {&X, &Y, &I});
  py::gil_scoped_release release;
  if (item == 4)
    adaptive_max_pool2d_forward<float>(X.dim(0), X.dim(1), X.dim(2), X.dim(3), Y.dim(2), Y.dim(3), carr<float>(X),
                                       Y.arr4<float>(), I.arr4<int64_t>(), as_stream(stream));
  else
    adaptive_max_pool2d_forward<double>(X.dim(0), X.dim(1), X.dim(2), X.dim(3), Y.dim(2), Y.dim(3), carr<double>(X),
                                        Y.arr4<double>(), I.arr4<int64_t>(), as_stream(stream));
}

// ---------------------------------------------------------------- upsampling
double scale_arg(const std::string& fn, const char* name, py::object v) {
  if (v.is_none()) return 0.0;
  const double s = v.cast<double>();
  if (!(s > 0)) fail_value(fn, std::string("argument '") + name + "' must be positive or None");
  return s;
}

InterpGeom interp_geom(const std::string& fn, const Desc& x, const Desc& y, py::object scale_h, py::object scale_w) {
  if (y.dim(0) != x.dim(0) || y.dim(1) != x.dim(1))
    fail_value(fn, "'" + y.name + "' " + y.shape_str() + " and '" + x.name + "' " + x.shape_str() +
                       " must agree in batch and channels");
  if (y.numel() > 0 && (x.dim(2) < 1 || x.dim(3) < 1))
    fail_value(fn, "'" + x.name + "' " + x.shape_str() + " must have non-empty spatial dimensions");
  return {x.dim(0), x.dim(1), x.dim(2), x.dim(3), y.dim(2), y.dim(3), scale_arg(fn, "scale_h", scale_h),
          scale_arg(fn, "scale_w", scale_w)};
}

void upsample_py(const std::string& fn, bool backward, bool bilinear, const std::string& dtype, py::object src,
                 py::object dst, bool align_corners, py::object scale_h, py::object scale_w, std::uintptr_t stream) {
  const int item = itemsize_of(fn, dtype);
  // Forward: src = input (small), dst = out (large). Backward: src = grad_output (large), dst = grad_input.
  Desc S = desc(fn, backward ? "grad_output" : "input", src, 4, item);
  Desc D = desc(fn, backward ? "grad_input" : "out", dst, 4, item);
  const Desc& small = backward ? D : S;
  const Desc& large = backward ? S : D;
  InterpGeom g = interp_geom(fn, small, large, scale_h, scale_w);
  require_unaliased(fn, D);
  require_no_overlap(fn, D, S);
  if (D.numel() == 0) return;
  require_devices(fn, {&S, &D});
  py::gil_scoped_release release;
  cudaStream_t st = as_stream(stream);
  if (item == 4) {
    if (!bilinear && !backward) upsample_nearest2d_forward<float>(g, carr<float>(S), D.arr4<float>(), st);
    if (!bilinear && backward) upsample_nearest2d_backward<float>(g, carr<float>(S), D.arr4<float>(), st);
    if (bilinear && !backward) upsample_bilinear2d_forward<float>(g, align_corners, carr<float>(S), D.arr4<float>(), st);
    if (bilinear && backward) upsample_bilinear2d_backward<float>(g, align_corners, carr<float>(S), D.arr4<float>(), st);
  } else {
    if (!bilinear && !backward) upsample_nearest2d_forward<double>(g, carr<double>(S), D.arr4<double>(), st);
    if (!bilinear && backward) upsample_nearest2d_backward<double>(g, carr<double>(S), D.arr4<double>(), st);
    if (bilinear && !backward)
      upsample_bilinear2d_forward<double>(g, align_corners, carr<double>(S), D.arr4<double>(), st);
    if (bilinear && backward)
      upsample_bilinear2d_backward<double>(g, align_corners, carr<double>(S), D.arr4<double>(), st);
  }
}

}  // namespace

PYBIND11_MODULE(_C_cuda, m) {
  m.doc() = "fastnn CUDA kernels (arrays as (pointer, shape, element strides) descriptors; outputs preallocated)";
  m.def("device_count", &device_count, "Number of visible CUDA devices (0 without a driver or GPU).");
  m.def(
      "device_info",
      [](int device) {
        int n = device_count();
        if (device < 0 || device >= n)
          throw py::value_error("device_info: argument 'device' is " + std::to_string(device) + " but " +
                                std::to_string(n) + " CUDA device(s) are visible");
        DeviceInfo d = device_info(device);
        py::dict r;
        r["name"] = d.name;
        r["capability"] = py::make_tuple(d.major, d.minor);
        r["sm_count"] = d.sm_count;
        r["total_memory"] = d.total_memory;
        return r;
      },
      py::arg("device") = 0);
  m.def(
      "current_device",
      []() {
        require_gpu("current_device");
        return current_device();
      },
      "Index of the calling thread's current CUDA device.");
  m.def(
      "set_device",
      [](int device) {
        int n = device_count();
        if (device < 0 || device >= n)
          throw py::value_error("set_device: argument 'device' is " + std::to_string(device) + " but " +
                                std::to_string(n) + " CUDA device(s) are visible");
        set_device(device);
      },
      py::arg("device"));
  m.def(
      "synchronize",
      []() {
        require_gpu("synchronize");
        py::gil_scoped_release release;
        synchronize();
      },
      "Wait for all work on the current device.");
  m.def("axpby", &axpby_py, py::arg("dtype"), py::arg("n"), py::arg("alpha"), py::arg("x"), py::arg("beta"),
        py::arg("y"), py::arg("stream") = 0, "y = alpha * x + beta * y on contiguous device arrays.");

  m.def("gemm", &gemm_py, py::arg("dtype"), py::arg("a"), py::arg("b"), py::arg("out"), py::arg("alpha") = 1.0,
        py::arg("beta") = 0.0, py::arg("allow_tf32") = false, py::arg("stream") = 0,
        "out[i] = alpha * a[i] @ b[i] + beta * out[i] for (batch, M, K) @ (batch, K, N) of any strides.");
  m.def("gemm_path", &gemm_path_py, py::arg("dtype"), py::arg("a"), py::arg("b"), py::arg("allow_tf32") = false,
        "The kernel gemm would use for these operands: 'simt', 'simt-vec', 'tf32' or 'tf32-vec'.");

  m.def("conv2d_forward", &conv2d_forward_py, py::arg("dtype"), py::arg("input"), py::arg("weight"), py::arg("bias"),
        py::arg("out"), py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("groups") = 1,
        py::arg("allow_tf32") = false, py::arg("stream") = 0,
        "out = conv2d(input, weight) + bias; padding is (top, bottom, left, right).");
  m.def("conv2d_backward_input", &conv2d_backward_input_py, py::arg("dtype"), py::arg("grad_output"),
        py::arg("weight"), py::arg("bias"), py::arg("grad_input"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"), py::arg("groups") = 1, py::arg("allow_tf32") = false, py::arg("stream") = 0,
        "grad_input = conv2d's input gradient (+ bias per input channel: conv_transpose2d); padding is (top, left).");
  m.def("conv2d_backward_weight", &conv2d_backward_weight_py, py::arg("dtype"), py::arg("input"),
        py::arg("grad_output"), py::arg("grad_weight"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
        py::arg("groups") = 1, py::arg("allow_tf32") = false, py::arg("deterministic") = false, py::arg("stream") = 0,
        "grad_weight = conv2d's weight gradient; padding is (top, left); deterministic: no split reduction "
        "(bitwise reproducible).");

  m.def("max_pool2d_forward", &max_pool2d_forward_py, py::arg("dtype"), py::arg("input"), py::arg("out"),
        py::arg("indices"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
        py::arg("ceil_mode") = false, py::arg("stream") = 0);
  m.def("sgd_step", &sgd_step_py, py::arg("dtype"), py::arg("param"), py::arg("grad"), py::arg("momentum_buffer"),
        py::arg("scalars"), py::arg("stream") = 0,
        "One fused SGD update in place (1-D contiguous arrays; scalars computed by the caller).");
  m.def("adam_step", &adam_step_py, py::arg("dtype"), py::arg("param"), py::arg("grad"), py::arg("exp_avg"),
        py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq"), py::arg("scalars"), py::arg("stream") = 0,
        "One fused Adam/AdamW update in place (1-D contiguous arrays; scalars computed by the caller).");
  m.def("max_pool2d_backward", &max_pool2d_backward_py, py::arg("dtype"), py::arg("grad_output"), py::arg("indices"),
        py::arg("grad_input"), py::arg("stream") = 0);
  m.def("avg_pool2d_forward", &avg_pool2d_forward_py, py::arg("dtype"), py::arg("input"), py::arg("out"),
        py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, py::arg("divisor_override") = py::none(), py::arg("stream") = 0);
  m.def("avg_pool2d_backward", &avg_pool2d_backward_py, py::arg("dtype"), py::arg("grad_output"),
        py::arg("grad_input"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
        py::arg("ceil_mode") = false, py::arg("count_include_pad") = true, py::arg("divisor_override") = py::none(),
        py::arg("stream") = 0);
  m.def("adaptive_avg_pool2d_forward", &adaptive_avg_pool2d_forward_py, py::arg("dtype"), py::arg("input"),
        py::arg("out"), py::arg("stream") = 0);
  m.def("adaptive_avg_pool2d_backward", &adaptive_avg_pool2d_backward_py, py::arg("dtype"), py::arg("grad_output"),
        py::arg("grad_input"), py::arg("stream") = 0);
  m.def("adaptive_max_pool2d_forward", &adaptive_max_pool2d_forward_py, py::arg("dtype"), py::arg("input"),
        py::arg("out"), py::arg("indices"), py::arg("stream") = 0);

  m.def(
      "upsample_nearest2d_forward",
      [](const std::string& dtype, py::object input, py::object out, py::object scale_h, py::object scale_w,
         std::uintptr_t stream) {
        upsample_py("upsample_nearest2d", false, false, dtype, input, out, false, scale_h, scale_w, stream);
      },
      py::arg("dtype"), py::arg("input"), py::arg("out"), py::arg("scale_h") = py::none(),
      py::arg("scale_w") = py::none(), py::arg("stream") = 0);
  m.def(
      "upsample_nearest2d_backward",
      [](const std::string& dtype, py::object grad_output, py::object grad_input, py::object scale_h,
         py::object scale_w, std::uintptr_t stream) {
        upsample_py("upsample_nearest2d_backward", true, false, dtype, grad_output, grad_input, false, scale_h, scale_w,
                    stream);
      },
      py::arg("dtype"), py::arg("grad_output"), py::arg("grad_input"), py::arg("scale_h") = py::none(),
      py::arg("scale_w") = py::none(), py::arg("stream") = 0);
  m.def(
      "upsample_bilinear2d_forward",
      [](const std::string& dtype, py::object input, py::object out, bool align_corners, py::object scale_h,
         py::object scale_w, std::uintptr_t stream) {
        upsample_py("upsample_bilinear2d", false, true, dtype, input, out, align_corners, scale_h, scale_w, stream);
      },
      py::arg("dtype"), py::arg("input"), py::arg("out"), py::arg("align_corners") = false,
      py::arg("scale_h") = py::none(), py::arg("scale_w") = py::none(), py::arg("stream") = 0);
  m.def(
      "upsample_bilinear2d_backward",
      [](const std::string& dtype, py::object grad_output, py::object grad_input, bool align_corners,
         py::object scale_h, py::object scale_w, std::uintptr_t stream) {
        upsample_py("upsample_bilinear2d_backward", true, true, dtype, grad_output, grad_input, align_corners, scale_h,
                    scale_w, stream);
      },
      py::arg("dtype"), py::arg("grad_output"), py::arg("grad_input"), py::arg("align_corners") = false,
      py::arg("scale_h") = py::none(), py::arg("scale_w") = py::none(), py::arg("stream") = 0);
}
