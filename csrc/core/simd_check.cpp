// fastnn._C._simd_eval / _simd_lanes: the SIMD layer of any CPU path this machine can run,
// for tests/test_simd.py. Not part of the library's interface.
#include "core/simd_check.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstring>
#include <string>
#include <vector>

namespace py = pybind11;

namespace fastnn {
namespace {

using simd_check::Args;
using simd_check::DT;
using simd_check::Op;

enum class Out { same, chunk, bits, gathered, f32, f64, i32 };

struct OpInfo {
  const char* name;
  Op op;
  int operands;
  Out out;
};

const OpInfo kOps[] = {
#define FASTNN_SIMD_CHECK_INFO(name, n, out) {#name, Op::name##_, n, Out::out},
    FASTNN_SIMD_CHECK_OPS(FASTNN_SIMD_CHECK_INFO)
#undef FASTNN_SIMD_CHECK_INFO
};

using RunFn = bool (*)(const Args&);
using LanesFn = int (*)(int);

CpuPath parse_path(const std::string& path) {
  for (CpuPath p : cpu_paths_built()) {
    if (path != cpu_path_label(p)) continue;
    if (!cpu_path_supported(p))
      throw py::value_error("_simd_eval: path '" + path + "' cannot run here: " + cpu_path_unsupported_reason(p));
    return p;
  }
  throw py::value_error("_simd_eval: unknown or unbuilt path '" + path + "'");
}

template <typename F>
F for_path(CpuPath p, F avx512, F avx2, F portable) {
  (void)avx512;
  (void)avx2;
  switch (p) {
#if defined(FASTNN_HAVE_PATH_AVX512)
    case CpuPath::avx512: return avx512;
#endif
#if defined(FASTNN_HAVE_PATH_AVX2)
    case CpuPath::avx2: return avx2;
#endif
    default: return portable;
  }
}

RunFn run_for(CpuPath p) {
  return for_path<RunFn>(p, &isa_avx512::simd_check_run, &isa_avx2::simd_check_run, &isa_portable::simd_check_run);
}
LanesFn lanes_for(CpuPath p) {
  return for_path<LanesFn>(p, &isa_avx512::simd_check_lanes, &isa_avx2::simd_check_lanes,
                           &isa_portable::simd_check_lanes);
}

DT dtype_code(const py::array& a, const char* name) {
  if (a.dtype().is(py::dtype::of<float>())) return DT::f32;
  if (a.dtype().is(py::dtype::of<double>())) return DT::f64;
  if (a.dtype().is(py::dtype::of<int32_t>())) return DT::i32;
  if (a.dtype().is(py::dtype::of<int64_t>())) return DT::i64;
  throw py::type_error(std::string("_simd_eval: '") + name + "' must be float32, float64, int32 or int64, got " +
                       py::str(a.dtype()).cast<std::string>());
}

py::dtype dtype_of(DT d) {
  switch (d) {
    case DT::f32: return py::dtype::of<float>();
    case DT::f64: return py::dtype::of<double>();
    case DT::i32: return py::dtype::of<int32_t>();
    default: return py::dtype::of<int64_t>();
  }
}

py::array operand(py::object x, const char* name) {
  if (x.is_none()) throw py::value_error(std::string("_simd_eval: this operation needs '") + name + "'");
  py::array a = py::array::ensure(x, py::array::c_style);
  if (!a || a.ndim() != 1) throw py::value_error(std::string("_simd_eval: '") + name + "' must be a 1-D array");
  return a;
}

// Runs one operation and checks that nothing was stored past the result: the output is
// allocated with a guard zone of a known byte pattern behind it.
py::object simd_eval(const std::string& name, const std::string& path, py::object a_obj, py::object b_obj,
                    py::object c_obj, int arg) {
  const OpInfo* info = nullptr;
  for (const OpInfo& o : kOps)
    if (name == o.name) info = &o;
  if (!info) throw py::value_error("_simd_eval: unknown operation '" + name + "'");
  const CpuPath p = parse_path(path);
  py::array a = operand(a_obj, "a");
  const DT dt = dtype_code(a, "a");
  py::array b, c;
  DT dt_b = dt;
  if (info->operands >= 2) {
    b = operand(b_obj, "b");
    dt_b = dtype_code(b, "b");
    if (info->out == Out::gathered) {
      if (dt_b != DT::i32 && dt_b != DT::i64) throw py::type_error("_simd_eval: gather indices must be int32 or int64");
      for (py::ssize_t i = 0; i < b.size(); ++i) {
        const int64_t k = dt_b == DT::i32 ? static_cast<const int32_t*>(b.data())[i]
                                          : static_cast<const int64_t*>(b.data())[i];
        if (k < 0 || k >= a.size()) throw py::value_error("_simd_eval: gather index out of range");
      }
    } else if (dt_b != dt || b.size() != a.size()) {
      throw py::value_error("_simd_eval: 'b' must have the dtype and length of 'a'");
    }
  }
  if (info->operands >= 3) {
    c = operand(c_obj, "c");
    if (dtype_code(c, "c") != dt || c.size() != a.size())
      throw py::value_error("_simd_eval: 'c' must have the dtype and length of 'a'");
  }
  const int64_t n = info->out == Out::gathered ? b.size() : a.size();
  DT out_dt = dt;
  int64_t out_n = n;
  switch (info->out) {
    case Out::same: case Out::gathered: break;
    case Out::chunk: out_n = n / lanes_for(p)(dt == DT::f32 || dt == DT::i32 ? 4 : 8); break;
    case Out::bits:
      out_dt = dt == DT::f32 ? DT::i32 : dt == DT::f64 ? DT::i64 : dt == DT::i32 ? DT::f32 : DT::f64;
      break;
    case Out::f32: out_dt = DT::f32; break;
    case Out::f64: out_dt = DT::f64; break;
    case Out::i32: out_dt = DT::i32; break;
  }
  constexpr int64_t kGuard = 256;
  const py::dtype odt = dtype_of(out_dt);
  py::array out(odt, std::vector<py::ssize_t>{py::ssize_t(out_n + kGuard / odt.itemsize())});
  unsigned char* bytes = static_cast<unsigned char*>(out.mutable_data());
  std::memset(bytes, 0xA5, out.nbytes());
  Args args{info->op, dt, dt_b, a.data(), b ? b.data() : nullptr, c ? c.data() : nullptr, out.mutable_data(), n, arg};
  if (!run_for(p)(args))
    throw py::value_error("_simd_eval: '" + name + "' is not defined for " + py::str(a.dtype()).cast<std::string>() +
                          (info->out == Out::gathered ? " with " + py::str(b.dtype()).cast<std::string>() + " indices"
                                                      : std::string()));
  for (int64_t i = out_n * odt.itemsize(); i < out.nbytes(); ++i)
    if (bytes[i] != 0xA5) throw std::runtime_error("_simd_eval: '" + name + "' stored past the end of its result");
  return out[py::slice(0, out_n, 1)];
}

}  // namespace

void bind_simd_check(py::module_& m) {
  m.def("_simd_eval", &simd_eval, py::arg("name"), py::arg("path"), py::arg("a"), py::arg("b") = py::none(),
        py::arg("c") = py::none(), py::arg("arg") = 0,
        "Test-only: the SIMD layer's operation `name` applied by the given CPU path to 1-D arrays.");
  m.def("_simd_lanes", [](const std::string& path, int itemsize) { return lanes_for(parse_path(path))(itemsize); },
        py::arg("path"), py::arg("itemsize"), "Test-only: lanes of one vector of the given path for an element size.");
}

}  // namespace fastnn
