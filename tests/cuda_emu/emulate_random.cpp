// Runs the CUDA random-fill kernels (csrc/ops/random/cuda.cu) on the CPU with the serial launcher
// of cuda_runtime.h (the grid capped at a few blocks so that the grid-stride loop runs). The test
// (tests/test_random.py) rewrites the file's <<<...>>> launch for that launcher into
// random_cuda_emu.cpp, builds this file and compares what it writes with the CPU kernels.
//
// Reads cases from stdin, one per line: "dist dtype n key offset p mean std" (dist uniform, normal
// or keep_mask; dtype float32 or float64); for each writes the n values to <dir>/case<k>.bin and
// prints the number of counters used.
#define FASTNN_EMU_MODULE 1
#include "cuda_runtime.h"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

thread_local uint3 threadIdx, blockIdx;
thread_local dim3 blockDim, gridDim;
std::barrier<>* g_bar;
std::mutex g_atomic_mu;
unsigned g_cap_x = 3;
int g_emu_sms = 4;

#include "random_cuda_emu.cpp"

using namespace fastnn;

template <typename T>
uint64_t run(const std::string& dist, long long n, uint64_t key, uint64_t offset, double p, double mean, double std,
             std::vector<T>& out) {
  random::Params<T> prm;
  prm.mean = mean;
  prm.std = std;
  prm.keep_threshold = random::keep_threshold(p);
  prm.scale = p < 1.0 ? (T)(1.0 / (1.0 - p)) : T(0);
  out.assign((size_t)n, T(-7));  // any element the kernel skips stays visible
  if (dist == "uniform") return cuda::random_fill<T, random::Dist::uniform>(n, out.data(), key, offset, prm, nullptr);
  if (dist == "normal") return cuda::random_fill<T, random::Dist::normal>(n, out.data(), key, offset, prm, nullptr);
  return cuda::random_fill<T, random::Dist::keep_mask>(n, out.data(), key, offset, prm, nullptr);
}

template <typename T>
void write(const std::string& path, const std::vector<T>& v) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + path);
  std::fwrite(v.data(), sizeof(T), v.size(), f);
  std::fclose(f);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output folder> < cases\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  std::string dist, dtype;
  long long n;
  unsigned long long key, offset;
  double p, mean, std;
  int k = 0;
  while (std::cin >> dist >> dtype >> n >> key >> offset >> p >> mean >> std) {
    const std::string path = dir + "/case" + std::to_string(k++) + ".bin";
    uint64_t used;
    if (dtype == "float32") {
      std::vector<float> out;
      used = run<float>(dist, n, key, offset, p, mean, std, out);
      write(path, out);
    } else {
      std::vector<double> out;
      used = run<double>(dist, n, key, offset, p, mean, std, out);
      write(path, out);
    }
    std::printf("%llu\n", (unsigned long long)used);
  }
  return 0;
}
