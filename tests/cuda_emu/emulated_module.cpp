// The whole of fastnn._C_cuda, kernels included, built for the CPU (see run_gpu_tests_emulated.sh):
// the GEMM kernels (SIMT and TF32) run with one std::thread per CUDA thread and real barriers
// (emu_gemm_launch.h), the other kernels serially. device_emu.cpp is device.cu with its launches
// rewritten for the serial launcher.
#include "cuda_runtime.h"

#include <algorithm>
#include <stdexcept>
#include <thread>
#include <vector>

#include "emu_gemm_launch.h"

unsigned g_cap_x = 3;
int g_emu_sms = 4;
thread_local uint3 threadIdx, blockIdx;
thread_local dim3 blockDim, gridDim;
std::barrier<>* g_bar;
std::mutex g_atomic_mu;

#include "device_emu.cpp"
#include "cuda/gemm.cu"
#include "cuda/conv.cu"
