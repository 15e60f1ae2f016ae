// ArrayView: what a kernel needs to know about an array argument, read from any Python object that
// describes its memory: a numpy array, anything exporting the buffer protocol or
// __array_interface__ (host memory), or anything exporting __cuda_array_interface__ (cupy arrays,
// torch CUDA tensors, ...: device memory). Nothing is copied; the view keeps the object alive.
// Every malformed description raises a Python exception naming the function and the argument.
#pragma once
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace fastnn {
namespace py = pybind11;

[[noreturn]] inline void fail_value(const std::string& fn, const std::string& msg) {
  throw py::value_error(fn + ": " + msg);
}
[[noreturn]] inline void fail_type(const std::string& fn, const std::string& msg) {
  throw py::type_error(fn + ": " + msg);
}

enum class DeviceKind { cpu, cuda };

// An element type as numpy's typestr describes it: kind ('f' float, 'i' signed, 'u' unsigned,
// 'b' bool, 'c' complex, ...), item size in bytes, and whether the byte order is the machine's.
struct DType {
  char kind = '?';
  int itemsize = 0;
  bool native = true;

  bool operator==(const DType& o) const { return kind == o.kind && itemsize == o.itemsize && native == o.native; }
  bool operator!=(const DType& o) const { return !(*this == o); }
  bool is_float() const { return native && kind == 'f' && (itemsize == 4 || itemsize == 8); }

  // numpy's name for it: float32, int64, bool, ... (a typestr such as '>f4' when it has none).
  std::string name() const {
    const std::string bits = std::to_string(itemsize * 8);
    std::string n;
    switch (kind) {
      case 'f': n = "float" + bits; break;
      case 'i': n = "int" + bits; break;
      case 'u': n = "uint" + bits; break;
      case 'c': n = "complex" + bits; break;
      case 'b': n = itemsize == 1 ? "bool" : "b" + std::to_string(itemsize); break;
      default: n = std::string(1, kind) + std::to_string(itemsize);
    }
    if (native) return n;
    return std::string(">") + kind + std::to_string(itemsize);
  }
};

constexpr DType kFloat32{'f', 4, true};
constexpr DType kFloat64{'f', 8, true};
constexpr DType kInt64{'i', 8, true};

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() { return kFloat32; }
template <>
constexpr DType dtype_of<double>() { return kFloat64; }
template <>
constexpr DType dtype_of<int64_t>() { return kInt64; }

inline std::string shape_str(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << "(";
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) s << ",";
  s << ")";
  return s.str();
}

struct ArrayView {
  std::string name;                      // the argument's name, for messages
  void* data = nullptr;
  DType dtype;
  std::vector<int64_t> shape, strides;   // strides in elements, any sign
  // The device kind comes from the interface; which GPU holds CUDA memory is read from the pointer
  // itself (__cuda_array_interface__ does not say) by the call, before anything is launched.
  DeviceKind device = DeviceKind::cpu;
  bool readonly = false;
  py::object object;                     // keeps the memory alive
  std::shared_ptr<py::buffer_info> buffer;  // held while in use, for buffer-protocol exporters

  int ndim() const { return (int)shape.size(); }
  int64_t dim(int i) const { return shape[i]; }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return n;
  }
  std::string shape_str() const { return fastnn::shape_str(shape); }
  // "'name' (2, 3)" for messages.
  std::string desc() const { return "'" + name + "' " + shape_str(); }
  bool c_contiguous() const {
    if (numel() == 0) return true;  // no element: any strides describe the same (empty) memory
    int64_t expect = 1;
    for (int i = ndim() - 1; i >= 0; --i) {
      if (shape[i] != 1 && strides[i] != expect) return false;
      expect *= shape[i];
    }
    return true;
  }
  bool aligned() const {
    return dtype.itemsize <= 1 || reinterpret_cast<std::uintptr_t>(data) % (std::uintptr_t)dtype.itemsize == 0;
  }
  template <typename T>
  T* ptr() const {
    return static_cast<T*>(data);
  }
  // The byte range [lo, hi) the array may touch (empty when it has no element).
  void byte_extent(std::intptr_t& lo, std::intptr_t& hi) const {
    lo = hi = reinterpret_cast<std::intptr_t>(data);
    if (numel() == 0) return;
    for (int i = 0; i < ndim(); ++i) {
      const std::intptr_t span = (std::intptr_t)(shape[i] - 1) * strides[i] * dtype.itemsize;
      if (span < 0) lo += span;
      else hi += span;
    }
    hi += dtype.itemsize;
  }
};

namespace detail {

inline bool host_little_endian() {
  const uint16_t one = 1;
  return *reinterpret_cast<const uint8_t*>(&one) == 1;
}

inline DType dtype_from_typestr(const std::string& fn, const std::string& arg, const std::string& ts) {
  // '<f4', '|b1', '>i8': byte order, kind, item size.
  if (ts.size() < 3) fail_type(fn, arg + " has an invalid typestr '" + ts + "'");
  DType d;
  const char order = ts[0];
  d.kind = ts[1];
  try {
    d.itemsize = std::stoi(ts.substr(2));
  } catch (...) {
    fail_type(fn, arg + " has an invalid typestr '" + ts + "'");
  }
  d.native = d.itemsize == 1 || order == '|' || order == '=' || order == (host_little_endian() ? '<' : '>');
  return d;
}

// The buffer protocol's struct-module format ('f', '<d', 'q', 'Zf', ...) with its item size.
inline DType dtype_from_format(const std::string& format, py::ssize_t itemsize) {
  DType d;
  d.itemsize = (int)itemsize;
  size_t i = 0;
  if (i < format.size() && std::string("@=<>!").find(format[i]) != std::string::npos) {
    const char order = format[i];
    d.native = itemsize == 1 || order == '@' || order == '=' ||
               (order == '<') == host_little_endian();
    ++i;
  }
  if (i >= format.size()) return d;
  const char c = format[i];
  if (c == 'Z') d.kind = 'c';
  else if (c == '?') d.kind = 'b';
  else if (c == 'e' || c == 'f' || c == 'd' || c == 'g') d.kind = 'f';
  else if (std::string("bhilqn").find(c) != std::string::npos) d.kind = 'i';
  else if (std::string("BHILQN").find(c) != std::string::npos) d.kind = 'u';
  if (i + 1 < format.size() && c != 'Z') d.kind = '?';  // records, sub-arrays, ...: not an element type
  return d;
}

inline int64_t as_int(const std::string& fn, const std::string& what, py::handle h) {
  if (!py::isinstance<py::int_>(h) || py::isinstance<py::bool_>(h))
    fail_type(fn, what + " must be an int, got " + std::string(py::str(py::type::of(h).attr("__name__"))));
  try {
    return h.cast<int64_t>();
  } catch (const py::cast_error&) {
    fail_value(fn, what + " does not fit in 64 bits");
  }
}

// Sizes and byte strides become the view's shape and element strides, with the checks every
// array description must pass whatever produced it.
inline void set_layout(const std::string& fn, ArrayView& v, const std::vector<int64_t>& shape,
                       const std::vector<int64_t>* byte_strides) {
  auto arg = [&] { return "argument '" + v.name + "'"; };  // for messages only
  if (v.dtype.itemsize <= 0) fail_type(fn, arg() + " has an element type of no size");
  if (shape.size() > 64) fail_value(fn, arg() + " has " + std::to_string(shape.size()) + " dimensions");
  v.shape = shape;
  int64_t numel = 1;
  for (int64_t s : shape) {
    if (s < 0) fail_value(fn, arg() + " has a negative dimension in shape " + shape_str(shape));
    if (__builtin_mul_overflow(numel, s, &numel))
      fail_value(fn, arg() + " has more elements than 64 bits count: shape " + shape_str(shape));
  }
  v.strides.assign(shape.size(), 0);
  if (byte_strides == nullptr) {
    int64_t acc = 1;
    for (int i = (int)shape.size() - 1; i >= 0; --i) {
      v.strides[i] = acc;
      acc *= shape[i] > 0 ? shape[i] : 1;
    }
  } else {
    if (byte_strides->size() != shape.size())
      fail_value(fn, arg() + " has " + std::to_string(byte_strides->size()) + " strides for shape " +
                         shape_str(shape));
    for (size_t i = 0; i < shape.size(); ++i) {
      const int64_t b = (*byte_strides)[i];
      if (b % v.dtype.itemsize != 0)
        fail_value(fn, arg() + " has a stride that is not a multiple of its item size (" + std::to_string(b) +
                           " bytes for " + std::to_string(v.dtype.itemsize) + "-byte items)");
      v.strides[i] = b / v.dtype.itemsize;
    }
  }
  if (numel > 0) {
    // Every element's byte offset must be representable: a description spanning more than
    // 2^62 bytes is malformed (or hostile) and would wrap the kernels' address arithmetic.
    __int128 span = 0;
    for (size_t i = 0; i < shape.size(); ++i) {
      const __int128 s = (__int128)(shape[i] - 1) * v.strides[i] * v.dtype.itemsize;
      span += s < 0 ? -s : s;
    }
    if (span > ((__int128)1 << 62)) fail_value(fn, arg() + " has strides spanning more memory than any array holds");
    if (v.data == nullptr) fail_value(fn, arg() + " is a null pointer with " + std::to_string(numel) + " elements");
  }
}

inline std::vector<int64_t> int_tuple(const std::string& fn, const std::string& what, py::handle h) {
  if (!py::isinstance<py::tuple>(h) && !py::isinstance<py::list>(h))
    fail_type(fn, what + " must be a tuple of ints");
  std::vector<int64_t> out;
  for (py::handle e : py::reinterpret_borrow<py::sequence>(h)) out.push_back(as_int(fn, what, e));
  return out;
}

// __array_interface__ / __cuda_array_interface__ (versions 2 and 3): shape, typestr, data =
// (pointer, read-only flag), strides (None: C order), offset.
inline void from_interface(const std::string& fn, ArrayView& v, py::handle iface, const char* which) {
  auto arg = [&] { return "argument '" + v.name + "'"; };  // for messages only
  if (!py::isinstance<py::dict>(iface)) fail_type(fn, arg() + ": " + which + " must be a dict");
  py::dict d = py::reinterpret_borrow<py::dict>(iface);
  if (!d.contains("shape") || !d.contains("typestr") || !d.contains("data"))
    fail_type(fn, arg() + ": " + which + " lacks 'shape', 'typestr' or 'data'");
  if (d.contains("mask") && !d["mask"].is_none()) fail_type(fn, arg() + " is a masked array");
  py::object ts = d["typestr"];
  if (!py::isinstance<py::str>(ts)) fail_type(fn, arg() + ": " + which + "['typestr'] must be a str");
  v.dtype = dtype_from_typestr(fn, arg(), ts.cast<std::string>());
  py::object data = d["data"];
  if (!py::isinstance<py::tuple>(data) || py::len(data) != 2)
    fail_type(fn, arg() + ": " + which + "['data'] must be a (pointer, read-only) tuple");
  py::tuple t = py::reinterpret_borrow<py::tuple>(data);
  const int64_t p = as_int(fn, arg() + " data pointer", t[0]);
  if (p < 0) fail_value(fn, arg() + " has a negative data pointer");
  v.readonly = py::bool_(t[1]);
  int64_t offset = 0;
  if (d.contains("offset") && !d["offset"].is_none()) offset = as_int(fn, arg() + " offset", d["offset"]);
  v.data = reinterpret_cast<void*>((std::uintptr_t)p + (std::uintptr_t)offset);
  const std::vector<int64_t> shape = int_tuple(fn, arg() + " shape", d["shape"]);
  if (d.contains("strides") && !d["strides"].is_none()) {
    const std::vector<int64_t> st = int_tuple(fn, arg() + " strides", d["strides"]);
    set_layout(fn, v, shape, &st);
  } else {
    set_layout(fn, v, shape, nullptr);
  }
}

inline PyTypeObject* numpy_ndarray_type() {
  static PyTypeObject* t = reinterpret_cast<PyTypeObject*>(py::module_::import("numpy").attr("ndarray").ptr());
  return t;
}

inline std::string type_name(py::handle h) {
  py::handle t = py::type::of(h);
  std::string mod = py::hasattr(t, "__module__") ? std::string(py::str(t.attr("__module__"))) : "";
  std::string name = py::str(t.attr("__qualname__"));
  return mod.empty() || mod == "builtins" ? name : mod + "." + name;
}

}  // namespace detail

// The view of argument `name` of function `fn`. Device arrays are recognised first: the objects of
// some libraries (cupy's stand-ins, for one) export host interfaces too.
inline ArrayView view_of(const std::string& fn, const std::string& name, py::handle obj) {
  ArrayView v;
  v.name = name;
  v.object = py::reinterpret_borrow<py::object>(obj);
  auto arg = [&] { return "argument '" + name + "'"; };  // for messages only
  if (Py_TYPE(obj.ptr()) == detail::numpy_ndarray_type()) {
    // The common case, read without the buffer protocol's formatting.
    py::array a = py::reinterpret_borrow<py::array>(obj);
    const py::dtype dt = a.dtype();
    v.dtype.kind = dt.kind();
    v.dtype.itemsize = (int)dt.itemsize();
    // numpy writes '=' for the machine's byte order, '<' or '>' only for the other one.
    const char order = dt.byteorder();
    v.dtype.native = v.dtype.itemsize == 1 || order == '=' || order == '|' ||
                     (order == '<') == detail::host_little_endian();
    v.data = const_cast<void*>(a.data());
    v.readonly = !a.writeable();
    std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim()), st(a.strides(), a.strides() + a.ndim());
    if (dt.kind() == 'V' || dt.kind() == 'O' || dt.kind() == 'U' || dt.kind() == 'S') v.dtype.kind = '?';
    detail::set_layout(fn, v, shape, &st);
    return v;
  }
  if (py::hasattr(obj, "__cuda_array_interface__")) {
    v.device = DeviceKind::cuda;
    detail::from_interface(fn, v, obj.attr("__cuda_array_interface__"), "__cuda_array_interface__");
    return v;
  }
  if (PyObject_CheckBuffer(obj.ptr())) {
    py::buffer_info info;
    try {
      info = py::reinterpret_borrow<py::buffer>(obj).request();
    } catch (const std::exception& e) {
      PyErr_Clear();
      fail_type(fn, arg() + " (" + detail::type_name(obj) + ") cannot export a strided buffer: " + e.what());
    }
    v.dtype = detail::dtype_from_format(info.format, info.itemsize);
    v.data = info.ptr;
    v.readonly = info.readonly;
    std::vector<int64_t> shape(info.shape.begin(), info.shape.end()), st(info.strides.begin(), info.strides.end());
    v.buffer = std::make_shared<py::buffer_info>(std::move(info));
    detail::set_layout(fn, v, shape, &st);
    return v;
  }
  if (py::hasattr(obj, "__array_interface__")) {
    detail::from_interface(fn, v, obj.attr("__array_interface__"), "__array_interface__");
    return v;
  }
  fail_type(fn, arg() + " must be an array (numpy, cupy, or any object with the buffer protocol, "
                      "__array_interface__ or __cuda_array_interface__), got " + detail::type_name(obj));
}

}  // namespace fastnn
