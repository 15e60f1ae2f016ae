// CPU stand-in for <cuda_runtime.h>: just enough of CUDA for the GEMM (SIMT and TF32), the
// implicit-GEMM convolution and the attention kernels to run on the host, one std::thread per CUDA
// thread of a block (emu_run_threaded).
// __shared__ arrays become static storage shared by those threads (blocks run one at a time),
// __syncthreads() a std::barrier and __syncwarp() one barrier per warp, so a missing barrier or a
// wrong shared-memory index shows up as a wrong result. Used by tests/test_cuda_emulated.py and the emulated
// module of run_gpu_tests_emulated.sh; never part of the package.
#pragma once
#include <barrier>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <cstdint>
#include <thread>
#include <vector>
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
typedef void* cudaStream_t;
enum cudaError_t { cudaSuccess = 0, cudaErrorUnknown = 1 };
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16, cudaDevAttrComputeCapabilityMajor = 75 };
inline const char* cudaGetErrorString(cudaError_t) { return "emulated error"; }
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline cudaError_t cudaGetDevice(int* d) { *d = 0; return cudaSuccess; }
extern int g_emu_sms;
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int) { *v = a == cudaDevAttrMultiProcessorCount ? g_emu_sms : 9; return cudaSuccess; }
struct uint3 { unsigned x, y, z; };
struct dim3 { unsigned x = 1, y = 1, z = 1; };
extern thread_local uint3 threadIdx, blockIdx;
extern thread_local dim3 blockDim, gridDim;
extern std::barrier<>* g_bar;
inline void __syncthreads() { g_bar->arrive_and_wait(); }
inline std::barrier<>* g_warp_bar[32];  // one per warp of the running block
inline void __syncwarp(unsigned = 0xffffffffu) { g_warp_bar[threadIdx.x / 32]->arrive_and_wait(); }
// Warp shuffles: each lane posts its value in its warp's exchange row, then reads its source lane's,
// with a warp barrier on either side (so they need the threaded launch, as __syncwarp does).
inline unsigned char g_warp_xchg[32][32][8];
template <class T> inline T emu_shfl(T v, unsigned src) {
  static_assert(sizeof(T) <= 8, "shuffles move at most 8 bytes");
  const unsigned w = threadIdx.x / 32;
  std::memcpy(g_warp_xchg[w][threadIdx.x % 32], &v, sizeof(T));
  __syncwarp();
  T r;
  std::memcpy(&r, g_warp_xchg[w][src % 32], sizeof(T));
  __syncwarp();
  return r;
}
template <class T> inline T __shfl_sync(unsigned, T v, int src, int = 32) { return emu_shfl(v, (unsigned)src); }
template <class T> inline T __shfl_xor_sync(unsigned, T v, int lane_mask, int = 32) { return emu_shfl(v, (threadIdx.x % 32) ^ (unsigned)lane_mask); }
// A vote: each lane posts its predicate, then every lane reads all of its warp's (warp barriers as above).
inline unsigned __ballot_sync(unsigned, int pred) {
  const unsigned w = threadIdx.x / 32;
  g_warp_xchg[w][threadIdx.x % 32][0] = pred != 0;
  __syncwarp();
  unsigned bits = 0;
  for (unsigned l = 0; l < 32; ++l) bits |= (unsigned)g_warp_xchg[w][l][0] << l;
  __syncwarp();
  return bits;
}
inline int __popc(unsigned x) { return __builtin_popcount(x); }
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) float2 { float x, y; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
struct alignas(16) double2 { double x, y; };
using std::fma;
// Correctly rounded arithmetic: the host's IEEE operations (no FMA contraction at -std=c++20).
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __dsqrt_rn(double a) { return std::sqrt(a); }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline double __longlong_as_double(long long i) { double f; std::memcpy(&f, &i, 8); return f; }
extern std::mutex g_atomic_mu;
template <class T> inline T atomicAdd(T* p, T v) { std::lock_guard<std::mutex> l(g_atomic_mu); T o = *p; *p = o + v; return o; }
template <class T> inline T atomicOr(T* p, T v) { std::lock_guard<std::mutex> l(g_atomic_mu); T o = *p; *p = o | v; return o; }

// A launch with real threads: one std::thread per CUDA thread of a block, real block and warp barriers,
// the blocks of `grid` one after another (so __shared__ statics are each block's own in turn).
template <class Kernel>
void emu_run_threaded(dim3 grid, unsigned threads, Kernel&& kernel) {
  std::barrier<> bar(threads);
  std::vector<std::unique_ptr<std::barrier<>>> warps;
  for (unsigned w = 0; w < (threads + 31) / 32; ++w) {
    warps.push_back(std::make_unique<std::barrier<>>(threads - 32 * w < 32 ? threads - 32 * w : 32));
    g_warp_bar[w] = warps.back().get();
  }
  g_bar = &bar;
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      threadIdx = {t, 0, 0};
      blockDim.x = threads;
      gridDim = grid;
      for (unsigned z = 0; z < grid.z; ++z)
        for (unsigned y = 0; y < grid.y; ++y)
          for (unsigned x = 0; x < grid.x; ++x) {
            blockIdx = {x, y, z};
            kernel();
            bar.arrive_and_wait();
          }
    });
  for (auto& th : ts) th.join();
}

#ifdef FASTNN_EMU_MODULE
// The rest of the runtime API that the whole module (bindings, device.cu, pool.cu, interp.cu)
// calls: one device, every pointer reported as its memory, and a serial launcher for the kernels
// without barriers (grid-stride loops; the grid is capped so the loops are exercised).
#include <string>
#include <functional>
struct cudaDeviceProp { char name[256]; int major, minor, multiProcessorCount; size_t totalGlobalMem; };
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) { std::strcpy(p->name, "emulated"); p->major = 9; p->minor = 0; p->multiProcessorCount = 4; p->totalGlobalMem = 1; return cudaSuccess; }
inline cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return cudaSuccess; }
inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
inline cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t) { std::memset(p, v, n); return cudaSuccess; }
enum cudaMemcpyKind { cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3, cudaMemcpyDefault = 4 };
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind, cudaStream_t) { std::memcpy(d, s, n); return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaMallocAsync(void** p, size_t n, cudaStream_t) { *p = ::operator new(n); return cudaSuccess; }
inline cudaError_t cudaFreeAsync(void* p, cudaStream_t) { ::operator delete(p); return cudaSuccess; }
template <class T> inline T atomicMin(T* p, T v) { std::lock_guard<std::mutex> l(g_atomic_mu); T o = *p; if (v < o) *p = v; return o; }
enum cudaMemoryType { cudaMemoryTypeUnregistered = 0, cudaMemoryTypeHost = 1, cudaMemoryTypeDevice = 2, cudaMemoryTypeManaged = 3 };
struct cudaPointerAttributes { cudaMemoryType type; int device; };
inline cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* a, const void*) { a->type = cudaMemoryTypeDevice; a->device = 0; return cudaSuccess; }
extern unsigned g_cap_x;
template <class F>
void emu_launch(unsigned blocks, int threads, int, cudaStream_t, F&& f) {
  unsigned nb = blocks < g_cap_x ? blocks : g_cap_x;
  gridDim.x = nb; blockDim.x = threads;
  for (unsigned b = 0; b < nb; ++b)
    for (int t = 0; t < threads; ++t) { blockIdx = {b, 0, 0}; threadIdx = {(unsigned)t, 0, 0}; f(); }
}
// A launch whose grid is a dim3 runs threaded (emu_run_threaded: barriers, shuffles and shared
// memory work), with each grid dimension capped at g_cap_x so that the kernels' grid-stride loops run.
template <class F>
void emu_launch(dim3 grid, dim3 block, size_t, cudaStream_t, F&& f) {
  grid.x = grid.x < g_cap_x ? grid.x : g_cap_x;
  grid.y = grid.y < g_cap_x ? grid.y : g_cap_x;
  grid.z = grid.z < g_cap_x ? grid.z : g_cap_x;
  emu_run_threaded(grid, block.x * block.y * block.z, f);
}
using std::min;
using std::max;
#endif
