// The binding of the recurrent family, compiled into both modules (core/device.h): one layer and
// direction of an RNN / LSTM / GRU over a whole packed sequence, forward and backward, with the
// same functions and arguments on fastnn._C and fastnn._C_cuda. Contract: ops/rnn/rnn.h.
#include <optional>
#include <string>
#include <vector>

#include "core/device.h"
#include "ops/rnn/driver.h"

#if FASTNN_CUDA_MODULE
#include "ops/rnn/cuda.h"
#else
#include "ops/rnn/cpu.h"
#endif

namespace fastnn {
namespace {

using rnn::Mode;

Mode parse_mode(const std::string& fn, py::handle obj) {
  if (!py::isinstance<py::str>(obj)) fail_type(fn, "argument 'mode' must be a str, got " + detail::type_name(obj));
  const std::string m = obj.cast<std::string>();
  if (m == "rnn_tanh") return Mode::rnn_tanh;
  if (m == "rnn_relu") return Mode::rnn_relu;
  if (m == "lstm") return Mode::lstm;
  if (m == "gru") return Mode::gru;
  fail_value(fn, "argument 'mode' must be 'rnn_tanh', 'rnn_relu', 'lstm' or 'gru', got '" + m + "'");
}

// The arguments both directions of the computation share, checked once.
struct Layer {
  Mode mode;
  int64_t G, H, P, B, N;
  std::vector<int64_t> batch_sizes;
  ArrayView w_hh;
  std::optional<ArrayView> w_hr, h0, c0;
};

// A float array of the call's dtype, contiguous, of exactly `shape`.
void check_input(Call& call, const ArrayView& v, const ArrayView* like, const std::vector<int64_t>& shape,
                 const char* why) {
  require_float(call.fn, v);
  if (like) require_same_dtype(call.fn, *like, v);
  require_shape(call.fn, v, shape, why);
  require_contiguous(call.fn, v);
  require_aligned(call.fn, v);
}

ArrayView input(Call& call, const char* name, py::handle obj, const ArrayView* like,
                const std::vector<int64_t>& shape, const char* why) {
  ArrayView v = call.array(name, obj);
  check_input(call, v, like, shape, why);
  return v;
}

std::optional<ArrayView> optional_input(Call& call, const char* name, py::handle obj, const ArrayView* like,
                                        const std::vector<int64_t>& shape, const char* why) {
  if (obj.is_none()) return std::nullopt;
  return input(call, name, obj, like, shape, why);
}

// mode, w_hh (G H, P), w_hr (P, H) or None, h0 (B, P) or None, c0 (B, H) or None (LSTM only) and
// batch_sizes: the layer's sizes. B is h0's batch, else batch_sizes[0].
Layer layer_args(Call& call, py::handle mode, py::handle w_hh, py::handle w_hr, py::handle h0, py::handle c0,
                 py::handle batch_sizes) {
  const std::string& fn = call.fn;
  Layer l{parse_mode(fn, mode), 0, 0, 0, 0, 0, {}, call.float_array("w_hh", w_hh, 2), {}, {}, {}};
  l.G = rnn::gate_count(l.mode);
  require_contiguous(fn, l.w_hh);
  require_aligned(fn, l.w_hh);
  if (l.w_hh.dim(0) == 0 || l.w_hh.dim(0) % l.G != 0 || l.w_hh.dim(1) == 0)
    fail_value(fn, "argument 'w_hh' must have shape (" + std::to_string(l.G) +
                       " * hidden_size, hidden or projection size) with both sizes > 0, got " + l.w_hh.shape_str());
  l.H = l.w_hh.dim(0) / l.G;
  l.P = l.w_hh.dim(1);
  if (!w_hr.is_none()) {
    if (l.mode != Mode::lstm) fail_value(fn, "argument 'w_hr' (a projection) is for mode 'lstm' only");
    if (l.P >= l.H)
      fail_value(fn, "argument 'w_hr': the projection size (w_hh's columns, " + std::to_string(l.P) +
                         ") must be smaller than hidden_size " + std::to_string(l.H));
    l.w_hr = input(call, "w_hr", w_hr, &l.w_hh, {l.P, l.H}, "(projection size, hidden_size)");
  } else if (l.P != l.H) {
    fail_value(fn, "argument 'w_hh' " + l.w_hh.shape_str() + " must have hidden_size " + std::to_string(l.H) +
                       " columns when there is no projection 'w_hr'");
  }
  l.batch_sizes = int_seq(fn, "batch_sizes", batch_sizes, 0);
  for (size_t t = 1; t < l.batch_sizes.size(); ++t)
    if (l.batch_sizes[t] > l.batch_sizes[t - 1])
      fail_value(fn, "argument 'batch_sizes' must be non-increasing, got " + shape_str(l.batch_sizes));
  for (int64_t b : l.batch_sizes)
    if (__builtin_add_overflow(l.N, b, &l.N)) fail_value(fn, "argument 'batch_sizes' sums past 2^63");
  const int64_t first = l.batch_sizes.empty() ? 0 : l.batch_sizes[0];
  if (!h0.is_none()) {
    ArrayView v = call.array("h0", h0);
    require_ndim(fn, v, 2);
    l.B = v.dim(0);
    check_input(call, v, &l.w_hh, {l.B, l.P}, "(batch, hidden or projection size)");
    l.h0 = v;
  } else {
    l.B = first;
  }
  if (first > l.B)
    fail_value(fn, "argument 'batch_sizes' starts with " + std::to_string(first) + " rows but 'h0' has batch " +
                       std::to_string(l.B));
  if (!c0.is_none() && l.mode != Mode::lstm) fail_value(fn, "argument 'c0' is for mode 'lstm' only");
  l.c0 = optional_input(call, "c0", c0, &l.w_hh, {l.B, l.H}, "(batch, hidden_size)");
  return l;
}

// The data of an optional array argument or output, null when absent.
template <typename T>
T* ptr_or_null(const std::optional<ArrayView>& v) {
  return v ? v->ptr<T>() : nullptr;
}

void fill_seq(rnn::Seq& s, const Layer& l, bool reverse) {
  s.mode = l.mode;
  s.steps = (int64_t)l.batch_sizes.size();
  s.B = l.B;
  s.H = l.H;
  s.P = l.P;
  s.N = l.N;
  s.batch_sizes = l.batch_sizes.data();
  s.reverse = reverse;
}

py::tuple rnn_forward_py(py::handle mode, py::handle xg_obj, py::handle w_hh, py::handle b_ih_obj,
                         py::handle b_hh_obj, py::handle w_hr, py::handle h0, py::handle c0, py::handle batch_sizes,
                         bool reverse, bool training) {
  Call call("rnn_forward");
  const std::string& fn = call.fn;
  Layer l = layer_args(call, mode, w_hh, w_hr, h0, c0, batch_sizes);
  const int64_t GH = l.G * l.H;
  ArrayView xg = input(call, "xg", xg_obj, &l.w_hh, {l.N, GH}, "(sum of batch_sizes, gates * hidden_size)");
  auto b_ih = optional_input(call, "b_ih", b_ih_obj, &l.w_hh, {GH}, "(gates * hidden_size,)");
  auto b_hh = optional_input(call, "b_hh", b_hh_obj, &l.w_hh, {GH}, "(gates * hidden_size,)");
  const bool lstm = l.mode == Mode::lstm, proj = l.P != l.H;
  const int planes = rnn::saved_planes(l.mode, proj);
  checked_product(fn, "the saved state", {planes, l.N, l.H});
  const DType dt = l.w_hh.dtype;
  ArrayView out = call.empty("out", {l.N, l.P}, dt);
  ArrayView hn = call.empty("h_n", {l.B, l.P}, dt);
  std::optional<ArrayView> cn, saved, hc;
  if (lstm) cn = call.empty("c_n", {l.B, l.H}, dt);
  if (training) saved = call.empty("saved", {planes, l.N, l.H}, dt);
  ArrayView hg = call.empty("hg", {l.B, GH}, dt);
  if (proj && !training) hc = call.empty("hc", {l.B, l.H}, dt);
  with_float_type(l.w_hh, [&](auto zero) {
    using T = decltype(zero);
    rnn::SeqFwd<T> s{};
    fill_seq(s, l, reverse);
    s.xg = xg.ptr<const T>();
    s.w_hh = l.w_hh.ptr<const T>();
    s.b_ih = ptr_or_null<T>(b_ih);
    s.b_hh = ptr_or_null<T>(b_hh);
    s.w_hr = ptr_or_null<T>(l.w_hr);
    s.h0 = ptr_or_null<T>(l.h0);
    s.c0 = ptr_or_null<T>(l.c0);
    s.out = out.ptr<T>();
    s.hn = hn.ptr<T>();
    s.cn = ptr_or_null<T>(cn);
    s.saved = ptr_or_null<T>(saved);
    s.hg = hg.ptr<T>();
    s.hc = ptr_or_null<T>(hc);
#if FASTNN_CUDA_MODULE
    cudaStream_t stream = call.stream();
    py::gil_scoped_release release;
    rnn::sequence_forward_cuda<T>(s, stream);
#else
    py::gil_scoped_release release;
    rnn::sequence_forward_cpu<T>(s);
#endif
  });
  return py::make_tuple(out.object, hn.object, cn ? cn->object : py::none(), saved ? saved->object : py::none());
}

py::tuple rnn_backward_py(py::handle mode, py::handle w_hh, py::handle w_hr, py::handle h0, py::handle c0,
                          py::handle batch_sizes, bool reverse, py::handle out_obj, py::handle saved_obj,
                          py::handle dy_obj, py::handle dhn_obj, py::handle dcn_obj) {
  Call call("rnn_backward");
  const std::string& fn = call.fn;
  Layer l = layer_args(call, mode, w_hh, w_hr, h0, c0, batch_sizes);
  const int64_t GH = l.G * l.H;
  const bool lstm = l.mode == Mode::lstm, gru = l.mode == Mode::gru, proj = l.P != l.H;
  const int planes = rnn::saved_planes(l.mode, proj);
  ArrayView out = input(call, "out", out_obj, &l.w_hh, {l.N, l.P}, "rnn_forward's output");
  ArrayView saved = input(call, "saved", saved_obj, &l.w_hh, {planes, l.N, l.H}, "rnn_forward's saved state");
  ArrayView dy = input(call, "dy", dy_obj, &l.w_hh, {l.N, l.P}, "the output's shape");
  auto dhn = optional_input(call, "dh_n", dhn_obj, &l.w_hh, {l.B, l.P}, "h_n's shape");
  if (!dcn_obj.is_none() && !lstm) fail_value(fn, "argument 'dc_n' is for mode 'lstm' only");
  auto dcn = optional_input(call, "dc_n", dcn_obj, &l.w_hh, {l.B, l.H}, "c_n's shape");
  const DType dt = l.w_hh.dtype;
  ArrayView dgx = call.empty("dgx", {l.N, GH}, dt);
  std::optional<ArrayView> dgh, dc0, dw_hr, cprev, dH, dhc;
  if (gru) dgh = call.empty("dgh", {l.N, GH}, dt);
  ArrayView dh0 = call.empty("dh0", {l.B, l.P}, dt);
  if (lstm) dc0 = call.empty("dc0", {l.B, l.H}, dt);
  ArrayView dw_hh = call.empty("dw_hh", {GH, l.P}, dt);
  if (proj) dw_hr = call.empty("dw_hr", {l.P, l.H}, dt);
  const int64_t prev = rnn::prev_rows(l.batch_sizes.data(), (int64_t)l.batch_sizes.size(), l.B, l.N);
  ArrayView hprev = call.empty("hprev", {prev, l.P}, dt);
  if (lstm) cprev = call.empty("cprev", {prev, l.H}, dt);
  if (proj) {
    dH = call.empty("dH", {l.N, l.P}, dt);
    dhc = call.empty("dhc", {l.B, l.H}, dt);
  }
  with_float_type(l.w_hh, [&](auto zero) {
    using T = decltype(zero);
    rnn::SeqBwd<T> s{};
    fill_seq(s, l, reverse);
    s.w_hh = l.w_hh.ptr<const T>();
    s.w_hr = ptr_or_null<T>(l.w_hr);
    s.h0 = ptr_or_null<T>(l.h0);
    s.c0 = ptr_or_null<T>(l.c0);
    s.out = out.ptr<const T>();
    s.saved = saved.ptr<const T>();
    s.dy = dy.ptr<const T>();
    s.dhn = ptr_or_null<T>(dhn);
    s.dcn = ptr_or_null<T>(dcn);
    s.dgx = dgx.ptr<T>();
    s.dgh = dgh ? dgh->ptr<T>() : s.dgx;
    s.dh0 = dh0.ptr<T>();
    s.dc0 = ptr_or_null<T>(dc0);
    s.dw_hh = dw_hh.ptr<T>();
    s.dw_hr = ptr_or_null<T>(dw_hr);
    s.hprev = hprev.ptr<T>();
    s.cprev = ptr_or_null<T>(cprev);
    s.dH = ptr_or_null<T>(dH);
    s.dhc = ptr_or_null<T>(dhc);
#if FASTNN_CUDA_MODULE
    cudaStream_t stream = call.stream();
    py::gil_scoped_release release;
    rnn::sequence_backward_cuda<T>(s, stream);
#else
    py::gil_scoped_release release;
    rnn::sequence_backward_cpu<T>(s);
#endif
  });
  return py::make_tuple(dgx.object, dgh ? dgh->object : dgx.object, dh0.object, dc0 ? dc0->object : py::none(),
                        dw_hh.object, dw_hr ? dw_hr->object : py::none());
}

}  // namespace

void bind_rnn(py::module_& m) {
  m.def("rnn_forward", &rnn_forward_py, py::arg("mode"), py::arg("xg"), py::arg("w_hh"), py::arg("b_ih"),
        py::arg("b_hh"), py::arg("w_hr"), py::arg("h0"), py::arg("c0"), py::arg("batch_sizes"),
        py::arg("reverse") = false, py::arg("training") = true,
        "One recurrent layer and direction over a packed, time-major sequence. mode: 'rnn_tanh', 'rnn_relu', "
        "'lstm' or 'gru'; xg (rows, G*H) = x @ w_ih.T for every step's rows (no bias); w_hh (G*H, P); b_ih, b_hh "
        "(G*H,) or None; w_hr (P, H) or None (LSTM projection); h0 (B, P), c0 (B, H) or None (zeros); "
        "batch_sizes: rows per time step, non-increasing. reverse runs the steps last to first. Returns (out "
        "(rows, P), h_n (B, P), c_n (B, H) or None, saved or None): saved (what rnn_backward needs) only when "
        "training. The GIL is released while it runs.");
  m.def("rnn_backward", &rnn_backward_py, py::arg("mode"), py::arg("w_hh"), py::arg("w_hr"), py::arg("h0"),
        py::arg("c0"), py::arg("batch_sizes"), py::arg("reverse"), py::arg("out"), py::arg("saved"), py::arg("dy"),
        py::arg("dh_n"), py::arg("dc_n"),
        "The backward of rnn_forward from the gradients of out (dy), h_n and c_n (None: zero). Returns (dgx, dgh, "
        "dh0, dc0 or None, dw_hh, dw_hr or None): dgx (rows, G*H) the gradient of xg (and of b_ih summed over "
        "rows), dgh that of the hidden projection (of b_hh summed; the same array as dgx except for 'gru').");
}

}  // namespace fastnn
