// The binding of the attention family, compiled into both modules: the same functions and arguments
// on fastnn._C and fastnn._C_cuda (contract: attention.h). Every argument is checked here, before any
// kernel runs, with a message naming it and the shapes involved. fastnn._C takes float32/float64
// (the Python layer upcasts half precision); fastnn._C_cuda also float16, and bfloat16 when the array's
// dtype is ml_dtypes' bfloat16.
#include <cmath>
#include <string>

#include "core/device.h"
#include "ops/random/random.h"

#if FASTNN_CUDA_MODULE
#include "ops/attention/cuda.h"
#else
#include "ops/attention/cpu.h"
#endif

namespace fastnn {
namespace {

using attention::Grads;
using attention::MaskKind;
using attention::Problem;
using attention::Strides3;

enum class Elem { f32, f64, f16, bf16 };

constexpr DType kFloat16{'f', 2, true};
constexpr DType kBool{'b', 1, true};

// The element type of q (and so of k, v, dout, out and an additive mask).
Elem elem_of(Call& call, const ArrayView& v, py::handle obj) {
  if (v.dtype == kFloat32) return Elem::f32;
  if (v.dtype == kFloat64) return Elem::f64;
#if FASTNN_CUDA_MODULE
  if (v.dtype == kFloat16) return Elem::f16;
  if (v.dtype.itemsize == 2 && py::hasattr(obj, "dtype") && py::str(obj.attr("dtype")).cast<std::string>() == "bfloat16")
    return Elem::bf16;
  fail_type(call.fn, "argument '" + v.name + "' must be float32, float64, float16 or bfloat16, got " + v.dtype.name());
#else
  (void)obj;
  fail_type(call.fn, "argument '" + v.name + "' must be float32 or float64, got " + v.dtype.name() +
                         " (fastnn._C computes attention in float32 or float64: upcast half precision first)");
#endif
}

// The dtype lse has for element type e: float64 for float64 inputs, else float32.
DType lse_dtype(Elem e) { return e == Elem::f64 ? kFloat64 : kFloat32; }

// A 4-D array with unit stride on its last dimension (any strides on the others).
ArrayView head_array(Call& call, const char* name, py::handle obj) {
  ArrayView a = call.array(name, obj, 4);
  if (a.shape[3] > 1 && a.strides[3] != 1)
    fail_value(call.fn, "argument '" + a.name + "' " + a.shape_str() +
                            " must have unit stride on its last dimension, got element stride " +
                            std::to_string(a.strides[3]));
  require_aligned(call.fn, a);
  return a;
}

void require_same_elem(Call& call, const ArrayView& q, const ArrayView& a) {
  if (a.dtype != q.dtype)
    fail_type(call.fn, "arguments '" + a.name + "' (" + a.dtype.name() + ") and '" + q.name + "' (" + q.dtype.name() +
                           ") must have the same dtype");
}

Strides3 strides3(const ArrayView& a) { return {a.strides[0], a.strides[1], a.strides[2]}; }

struct Inputs {
  ArrayView q, k, v, mask;
  Elem elem = Elem::f32;
  int64_t B = 0, Hq = 0, Hk = 0, Lq = 0, Lk = 0, D = 0, Dv = 0;
  MaskKind mask_kind = MaskKind::none;
  bool causal = false;
  double scale = 1.0, dropout_p = 0.0;
  uint64_t key = 0, offset = 0;
};

Inputs read_inputs(Call& call, py::handle q_obj, py::handle k_obj, py::handle v_obj, py::handle mask_obj,
                   bool is_causal, double scale, double dropout_p, py::handle key, py::handle offset) {
  Inputs in;
  in.q = head_array(call, "q", q_obj);
  in.elem = elem_of(call, in.q, q_obj);
  in.k = head_array(call, "k", k_obj);
  in.v = head_array(call, "v", v_obj);
  require_same_elem(call, in.q, in.k);
  require_same_elem(call, in.q, in.v);
  const auto& qs = in.q.shape;
  const auto& ks = in.k.shape;
  const auto& vs = in.v.shape;
  in.B = qs[0], in.Hq = qs[1], in.Lq = qs[2], in.D = qs[3];
  in.Hk = ks[1], in.Lk = ks[2], in.Dv = vs[3];
  const std::string shapes =
      ": q " + in.q.shape_str() + ", k " + in.k.shape_str() + ", v " + in.v.shape_str() +
      " (expected q (B, Hq, Lq, D), k (B, Hk, Lk, D), v (B, Hk, Lk, Dv))";
  if (ks[0] != in.B || vs[0] != in.B) fail_value(call.fn, "arguments 'q', 'k' and 'v' must have the same batch size" + shapes);
  if (ks[3] != in.D) fail_value(call.fn, "arguments 'q' and 'k' must have the same head dim D" + shapes);
  if (vs[1] != in.Hk || vs[2] != in.Lk)
    fail_value(call.fn, "arguments 'k' and 'v' must have the same heads and length" + shapes);
  if (in.Hk == 0 ? in.Hq != 0 : in.Hq % in.Hk != 0)
    fail_value(call.fn, "the query heads of 'q' (" + std::to_string(in.Hq) + ") must be a multiple of the key/value heads of 'k' (" +
                            std::to_string(in.Hk) + ")" + shapes);
  if (!mask_obj.is_none()) {
    in.mask = call.array("mask", mask_obj, 4);
    if (in.mask.dtype == kBool) in.mask_kind = MaskKind::boolean;
    else if (in.mask.dtype == in.q.dtype) in.mask_kind = MaskKind::additive;
    else
      fail_type(call.fn, "argument 'mask' must be bool or the dtype of 'q' (" + in.q.dtype.name() + "), got " +
                             in.mask.dtype.name());
    require_aligned(call.fn, in.mask);
    const int64_t full[4] = {in.B, in.Hq, in.Lq, in.Lk};
    const auto& ms = in.mask.shape;
    for (int d = 0; d < 4; ++d)
      if (d == 3 ? ms[d] != in.Lk : (ms[d] != 1 && ms[d] != full[d]))
        fail_value(call.fn, "argument 'mask' of shape " + in.mask.shape_str() +
                                " does not broadcast to the scores' shape " + shape_str({in.B, in.Hq, in.Lq, in.Lk}) +
                                " (each of its first three dims 1 or full, the last Lk)");
  }
  if (!std::isfinite(scale)) fail_value(call.fn, "argument 'scale' must be finite, got " + std::to_string(scale));
  if (!(dropout_p >= 0.0 && dropout_p < 1.0))
    fail_value(call.fn, "argument 'dropout_p' must be in [0, 1), got " + std::to_string(dropout_p));
  in.causal = is_causal;
  in.scale = scale;
  in.dropout_p = dropout_p;
  in.key = unsigned_arg(call.fn, "key", key);
  in.offset = unsigned_arg(call.fn, "offset", offset);
  require_product_fits(call.fn, "the score count B * Hq * Lq * Lk", {in.B, in.Hq, in.Lq, in.Lk});
  return in;
}

template <typename T>
Problem<T> problem_of(const Inputs& in) {
  Problem<T> p;
  p.B = in.B, p.Hq = in.Hq, p.Hk = in.Hk, p.Lq = in.Lq, p.Lk = in.Lk, p.D = in.D, p.Dv = in.Dv;
  p.q = in.q.ptr<const T>();
  p.k = in.k.ptr<const T>();
  p.v = in.v.ptr<const T>();
  p.qs = strides3(in.q);
  p.ks = strides3(in.k);
  p.vs = strides3(in.v);
  p.mask_kind = in.mask_kind;
  if (in.mask_kind != MaskKind::none) {
    const auto& m = in.mask;
    p.mask = m.data;
    p.mask_sb = m.shape[0] == 1 ? 0 : m.strides[0];
    p.mask_sh = m.shape[1] == 1 ? 0 : m.strides[1];
    p.mask_sq = m.shape[2] == 1 ? 0 : m.strides[2];
    p.mask_sk = m.shape[3] == 1 ? 0 : m.strides[3];
  }
  p.causal = in.causal;
  p.scale = in.scale;
  p.dropout_p = in.dropout_p;
  p.key = in.key;
  p.offset = in.offset;
  return p;
}

// f(T{}, Acc{}) for the element type (T uint16_t for both 16-bit formats).
template <class F>
void with_elem(Elem e, F&& f) {
  switch (e) {
    case Elem::f32: return f(float{}, float{});
    case Elem::f64: return f(double{}, double{});
    default: return f(uint16_t{}, float{});
  }
}

py::tuple forward_impl(const char* fn, bool reference, py::handle q_obj, py::handle k_obj, py::handle v_obj,
                       py::handle mask_obj, bool is_causal, double scale, double dropout_p, py::handle key,
                       py::handle offset) {
  Call call(fn);
  const Inputs in = read_inputs(call, q_obj, k_obj, v_obj, mask_obj, is_causal, scale, dropout_p, key, offset);
  ArrayView out = call.empty("out", {in.B, in.Hq, in.Lq, in.Dv}, in.q.dtype);
  ArrayView lse = call.empty("lse", {in.B, in.Hq, in.Lq}, lse_dtype(in.elem));
  const uint64_t counters =
      in.dropout_p > 0 ? random::counters_for<float>(random::Dist::keep_mask, in.B * in.Hq * in.Lq * in.Lk) : 0;
  if (in.B * in.Hq * in.Lq > 0) {
    with_elem(in.elem, [&](auto zt, auto za) {
      using T = decltype(zt);
      using Acc = decltype(za);
      const Problem<T> p = problem_of<T>(in);
#if FASTNN_CUDA_MODULE
      (void)reference;
      cudaStream_t stream = call.stream();
      py::gil_scoped_release release;
      if constexpr (sizeof(T) == 2) {
        const auto f = in.elem == Elem::bf16 ? cuda::attention::Format16::bfloat16 : cuda::attention::Format16::float16;
        cuda::attention::forward_16(p, f, out.ptr<uint16_t>(), lse.ptr<float>(), stream);
      } else {
        cuda::attention::forward<T, Acc>(p, out.ptr<T>(), lse.ptr<Acc>(), stream);
      }
#else
      if constexpr (sizeof(T) == 2) {
        (void)p;
      } else {
        static_assert(sizeof(T) == sizeof(Acc));
        py::gil_scoped_release release;
        if (reference) attention::forward_reference<T>(p, out.ptr<T>(), lse.ptr<T>());
        else attention::forward_cpu<T>(p, out.ptr<T>(), lse.ptr<T>());
      }
#endif
    });
  }
  return py::make_tuple(out.object, lse.object, py::int_(counters));
}

py::tuple backward_impl(const char* fn, bool reference, py::handle dout_obj, py::handle q_obj, py::handle k_obj,
                        py::handle v_obj, py::handle out_obj, py::handle lse_obj, py::handle mask_obj, bool is_causal,
                        double scale, double dropout_p, py::handle key, py::handle offset) {
  Call call(fn);
  const Inputs in = read_inputs(call, q_obj, k_obj, v_obj, mask_obj, is_causal, scale, dropout_p, key, offset);
  const std::vector<int64_t> out_shape{in.B, in.Hq, in.Lq, in.Dv};
  const ArrayView dout = head_array(call, "dout", dout_obj);
  require_same_elem(call, in.q, dout);
  require_shape(call.fn, dout, out_shape, "the attention output's shape (B, Hq, Lq, Dv)");
  const ArrayView out = call.array("out", out_obj, 4);
  require_same_elem(call, in.q, out);
  require_shape(call.fn, out, out_shape, "the attention output's shape (B, Hq, Lq, Dv)");
  require_contiguous(call.fn, out);
  require_aligned(call.fn, out);
  const ArrayView lse = call.array("lse", lse_obj, 3);
  require_dtype(call.fn, lse, lse_dtype(in.elem));
  require_shape(call.fn, lse, {in.B, in.Hq, in.Lq}, "(B, Hq, Lq) of 'q'");
  require_contiguous(call.fn, lse);
  require_aligned(call.fn, lse);
  ArrayView dq = call.empty("dq", {in.B, in.Hq, in.Lq, in.D}, in.q.dtype);
  ArrayView dk = call.empty("dk", {in.B, in.Hk, in.Lk, in.D}, in.q.dtype);
  ArrayView dv = call.empty("dv", {in.B, in.Hk, in.Lk, in.Dv}, in.q.dtype);
  if (in.B * in.Hk > 0) {
    with_elem(in.elem, [&](auto zt, auto za) {
      using T = decltype(zt);
      using Acc = decltype(za);
      const Problem<T> p = problem_of<T>(in);
      Grads<T, Acc> g;
      g.out = out.ptr<const T>();
      g.lse = lse.ptr<const Acc>();
      g.dout = dout.ptr<const T>();
      g.dos = strides3(dout);
      g.dq = dq.ptr<T>();
      g.dk = dk.ptr<T>();
      g.dv = dv.ptr<T>();
#if FASTNN_CUDA_MODULE
      (void)reference;
      cudaStream_t stream = call.stream();
      py::gil_scoped_release release;
      if constexpr (sizeof(T) == 2) {
        const auto f = in.elem == Elem::bf16 ? cuda::attention::Format16::bfloat16 : cuda::attention::Format16::float16;
        cuda::attention::backward_16(p, f, g, stream);
      } else {
        cuda::attention::backward<T, Acc>(p, g, stream);
      }
#else
      if constexpr (sizeof(T) != 2) {
        py::gil_scoped_release release;
        if (reference) attention::backward_reference<T>(p, g);
        else attention::backward_cpu<T>(p, g);
      }
#endif
    });
  }
  return py::make_tuple(dq.object, dk.object, dv.object);
}

const char* kForwardDoc =
    "(out, lse, counters): scaled dot-product attention of q (B, Hq, Lq, D), k (B, Hk, Lk, D), v (B, Hk, Lk, Dv) "
    "(Hq a multiple of Hk; unit stride on the last dim): out (B, Hq, Lq, Dv) = softmax(scale q k^T + mask) v, "
    "lse (B, Hq, Lq) the rows' log-sum-exp (-inf, with out 0, for a fully masked row). mask: None or 4-D, "
    "broadcast over its size-1 dims, bool (True takes part) or q's dtype (added). is_causal masks j > i (top-left). "
    "Dropout p on the weights draws Philox (key, offset); counters is how many counters it used.";
const char* kBackwardDoc =
    "(dq, dk, dv): the gradients of attention_forward's out given dout, from the forward's out and lse "
    "(dropout's mask regenerated from key and offset); dk, dv summed over the query heads of a group.";

#define FASTNN_ATTENTION_FORWARD_ARGS                                                                          \
  py::arg("q"), py::arg("k"), py::arg("v"), py::arg("mask") = py::none(), py::arg("is_causal") = false,       \
      py::arg("scale") = 1.0, py::arg("dropout_p") = 0.0, py::arg("key") = 0, py::arg("offset") = 0
#define FASTNN_ATTENTION_BACKWARD_ARGS                                                                         \
  py::arg("dout"), py::arg("q"), py::arg("k"), py::arg("v"), py::arg("out"), py::arg("lse"),                   \
      py::arg("mask") = py::none(), py::arg("is_causal") = false, py::arg("scale") = 1.0,                      \
      py::arg("dropout_p") = 0.0, py::arg("key") = 0, py::arg("offset") = 0

template <bool Reference>
py::tuple forward_py(py::handle q, py::handle k, py::handle v, py::handle mask, bool is_causal, double scale,
                     double dropout_p, py::handle key, py::handle offset) {
  return forward_impl(Reference ? "attention_forward_reference" : "attention_forward", Reference, q, k, v, mask,
                      is_causal, scale, dropout_p, key, offset);
}
template <bool Reference>
py::tuple backward_py(py::handle dout, py::handle q, py::handle k, py::handle v, py::handle out, py::handle lse,
                      py::handle mask, bool is_causal, double scale, double dropout_p, py::handle key,
                      py::handle offset) {
  return backward_impl(Reference ? "attention_backward_reference" : "attention_backward", Reference, dout, q, k, v,
                       out, lse, mask, is_causal, scale, dropout_p, key, offset);
}

}  // namespace

void bind_attention(py::module_& m) {
  m.def("attention_forward", &forward_py<false>, FASTNN_ATTENTION_FORWARD_ARGS, kForwardDoc);
  m.def("attention_backward", &backward_py<false>, FASTNN_ATTENTION_BACKWARD_ARGS, kBackwardDoc);
#if !FASTNN_CUDA_MODULE
  m.def("attention_forward_reference", &forward_py<true>, FASTNN_ATTENTION_FORWARD_ARGS,
        "attention_forward's plain reference: one row at a time, sums in double, no SIMD, no threads.");
  m.def("attention_backward_reference", &backward_py<true>, FASTNN_ATTENTION_BACKWARD_ARGS,
        "attention_backward's plain reference: one row at a time, sums in double, no SIMD, no threads.");
#endif
}

}  // namespace fastnn
