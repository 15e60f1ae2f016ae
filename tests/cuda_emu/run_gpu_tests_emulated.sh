#!/usr/bin/env bash
# Runs tests/test_cuda_kernels.py, test_native_convention.py, test_cuda_build.py and the families'
# test_*_cuda.py files on a machine without a GPU: fastnn._C_cuda is built from the real sources for
# the CPU (tests/cuda_emu/cuda_runtime.h stands in for the CUDA runtime; kernel launches with an
# integer grid are rewritten for a serial launcher, those with a dim3 grid (the attention kernels) and
# the GEMM kernels, TF32 included, run with emulated threads, barriers, warp shuffles and wmma
# fragments; each family's bind.cpp is compiled
# for the CUDA module) and cupy is replaced by a host-memory stand-in whose arrays export
# __cuda_array_interface__. Checks the bindings and the kernels against the CPU module; the
# device-memory checks need a real GPU and are deselected.
#
#   tools/dev_build.sh first (the CPU module in python/fastnn is the reference), then
#   bash tests/cuda_emu/run_gpu_tests_emulated.sh            [extra pytest args]
#   ASAN=1 bash tests/cuda_emu/run_gpu_tests_emulated.sh     AddressSanitizer + UBSan (memcheck-like)
set -euo pipefail
cd "$(dirname "$0")/../.."
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
python3 - "$W" <<'PY'
# Every .cu file of csrc/core and of each kernel family under csrc/ops/ is discovered here. Files
# with <<<...>>> launches are rewritten for the serial launcher and compiled on their own; files
# that launch only through the GEMM core (gemm_core.cuh, emulated with real threads and barriers
# by emu_gemm_launch.h) are included into emulated_module.cpp as they are.
import glob, os, re, sys
w = sys.argv[1]
launch = re.compile(r"([\w:]+(?:<[^<>;]*>)?)<<<(.*?)>>>\((.*?)\);", re.S)
threaded, serial = [], []
for path in sorted(glob.glob("csrc/core/*.cu")) + sorted(glob.glob("csrc/ops/*/*.cu")):
    name = os.path.relpath(path, "csrc").replace("/", "_").replace(".cu", "")
    src = open(path).read()
    out, n = launch.subn(lambda m: "emu_launch(%s, [&]{ %s(%s); });" % (m.group(2), m.group(1), m.group(3)), src)
    if n == 0:
        threaded.append(os.path.relpath(path, "csrc"))
        continue
    open(f"{w}/{name}_emu.cpp", "w").write(out)
    if path.startswith("csrc/core/"):
        # Core device helpers are included into emulated_module.cpp (the GEMM launchers use them).
        open(f"{w}/core_emu.inc", "a").write(f'#include "{name}_emu.cpp"\n')
    else:
        open(f"{w}/{name}_tu.cpp", "w").write(f'#include "cuda_runtime.h"\n#include "{name}_emu.cpp"\n')
        serial.append(f"{w}/{name}_tu.cpp")
open(f"{w}/threaded.inc", "w").write("".join(f'#include "{p}"\n' for p in threaded))
# The module's families, as CMakeLists.txt finds them: a folder with a bind.cpp and .cu files.
fams = sorted(os.path.basename(d) for d in glob.glob("csrc/ops/*")
              if os.path.exists(f"{d}/bind.cpp") and glob.glob(f"{d}/*.cu"))
open(f"{w}/fastnn_families_cuda.inc", "w").write("".join(f"FASTNN_FAMILY({f})\n" for f in fams))
serial += [f"csrc/ops/{f}/bind.cpp" for f in fams]
open(f"{w}/serial_tus.txt", "w").write("\n".join(serial))
PY
FLAGS=(-std=c++20 -O1 -w -pthread -fPIC -shared -DFASTNN_EMU_MODULE -DFASTNN_CUDA_MODULE=1)
PRELOAD=""
if [ "${ASAN:-0}" = 1 ]; then
  FLAGS+=(-g -fsanitize=address,undefined -fno-sanitize-recover=all)
  PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
fi
echo "building the emulated module (about a minute)..." >&2
g++ "${FLAGS[@]}" -I tests/cuda_emu -I csrc -I "$W" $(python3 -m pybind11 --includes) \
  tests/cuda_emu/emulated_module.cpp $(cat "$W/serial_tus.txt") csrc/module_cuda.cpp \
  -o "$W/_C_cuda$(python3-config --extension-suffix)"
export FASTNN_EMU_MODULE_DIR="$W"
LD_PRELOAD="$PRELOAD" ASAN_OPTIONS=detect_leaks=0 \
  PYTHONPATH="tests/cuda_emu/fake_cupy:tests/cuda_emu:python${PYTHONPATH:+:$PYTHONPATH}" \
  python3 -m pytest -p emu_module_plugin -q -p no:cacheprovider tests/test_cuda_kernels.py \
  tests/test_native_convention.py tests/test_cuda_build.py tests/test_rnn_cuda.py tests/test_attention_cuda.py \
  tests/test_norm_cuda.py tests/test_segment_cuda.py tests/test_diffusion_cuda.py \
  -k "${EMU_TESTS:-not many_row and not errors_on_gpu and not broadcast_batch}" "$@"
