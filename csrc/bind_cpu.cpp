// fastnn._C: the CPU kernels. Each kernel family registers its functions from
// csrc/bind/cpu_<family>.cpp, where every argument is validated before the kernel runs.
#include <pybind11/pybind11.h>

#include "cpu/cpu_features.h"

namespace py = pybind11;

namespace fastnn {
void bind_gemm(py::module_& m);
void bind_conv(py::module_& m);
void bind_pool(py::module_& m);
void bind_interp(py::module_& m);
}

PYBIND11_MODULE(_C, m) {
  m.doc() = "fastnn CPU kernels";
  m.attr("__version__") = FASTNN_VERSION;
  m.def("cpu_path", &fastnn::cpu_path_name, "The CPU code path in use: 'avx2' or 'portable'.");
  m.def("refresh_cpu_path", &fastnn::refresh_cpu_path, "Re-read FASTNN_CPU_PATH.");
  m.def("get_num_threads", &fastnn::get_num_threads);
  m.def("set_num_threads", &fastnn::set_num_threads, py::arg("n"));
  fastnn::bind_gemm(m);
  fastnn::bind_conv(m);
  fastnn::bind_pool(m);
  fastnn::bind_interp(m);
}
