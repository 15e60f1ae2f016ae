// The whole of fastnn._C_cuda, kernels included, built for the CPU (see run_gpu_tests_emulated.sh):
// the SIMT GEMM runs with one std::thread per CUDA thread and real barriers, the other kernels
// serially, the TF32 kernel not at all (it raises). device_emu.cpp is device.cu with its launches
// rewritten for the serial launcher.
#include "cuda_runtime.h"

#include <algorithm>
#include <stdexcept>
#include <thread>
#include <vector>

#include "cuda/gemm_core.cuh"

unsigned g_cap_x = 3;
int g_emu_sms = 4;
thread_local uint3 threadIdx, blockIdx;
thread_local dim3 blockDim, gridDim;
std::barrier<>* g_bar;
std::mutex g_atomic_mu;
unsigned g_cap_yz = 2;


namespace fastnn::cuda::gemm_detail {
template <typename T, typename AAcc, typename BAcc, typename CAcc>
inline void launch_gemm(long long batch, long long M, long long N, long long K, T alpha, AAcc a, int amode, BAcc b,
                        int bmode, T beta, CAcc c, bool tf32, cudaStream_t) {
  if (batch == 0 || M == 0 || N == 0) return;
  if (tf32) throw std::runtime_error("tf32 not emulated");
  using Cfg = SimtConfig<T>;
  dim3 grid;
  grid.x = (unsigned)ceil_div(N, Cfg::BN);
  grid.y = (unsigned)std::min<long long>(ceil_div(M, Cfg::BM), g_cap_yz);
  grid.z = (unsigned)std::min<long long>(batch, g_cap_yz);
  std::barrier<> bar(Cfg::THREADS);
  g_bar = &bar;
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < (unsigned)Cfg::THREADS; ++t)
    ts.emplace_back([&, t] {
      threadIdx = {t, 0, 0};
      blockDim.x = Cfg::THREADS;
      gridDim = grid;
      for (unsigned z = 0; z < grid.z; ++z)
        for (unsigned y = 0; y < grid.y; ++y)
          for (unsigned x = 0; x < grid.x; ++x) {
            blockIdx = {x, y, z};
            gemm_simt<T, AAcc, BAcc, CAcc>(batch, M, N, K, alpha, a, amode, b, bmode, beta, c);
            bar.arrive_and_wait();
          }
    });
  for (auto& th : ts) th.join();
}
template <typename T, typename AAcc, typename BAcc, typename CAcc>
inline void launch_gemm_simt(long long batch, long long M, long long N, long long K, T alpha, AAcc a, int amode, BAcc b,
                             int bmode, T beta, CAcc c, cudaStream_t stream) {
  launch_gemm<T>(batch, M, N, K, alpha, a, amode, b, bmode, beta, c, false, stream);
}
}  // namespace fastnn::cuda::gemm_detail

#include "device_emu.cpp"
#include "cuda/gemm.cu"
#include "cuda/conv.cu"
