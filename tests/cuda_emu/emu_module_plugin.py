"""pytest plugin: makes fastnn._C_cuda the emulated module built by run_gpu_tests_emulated.sh."""
import glob
import importlib.util
import os
import sys

import fastnn
from fastnn import backend

_path = glob.glob(os.path.join(os.environ["FASTNN_EMU_MODULE_DIR"], "_C_cuda*.so"))[0]
_spec = importlib.util.spec_from_file_location("fastnn._C_cuda", _path)
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
sys.modules["fastnn._C_cuda"] = _mod
fastnn._C_cuda = _mod
backend._cuda_module.cache_clear()
backend._cupy.cache_clear()
