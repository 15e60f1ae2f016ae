#include "core/cpu_features.h"

#include <omp.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

#if FASTNN_HAVE_X86
#include <cpuid.h>
#endif

namespace fastnn {
namespace {

struct Features {
  bool avx2 = false, fma = false, avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false;
  bool os_ymm = false, os_zmm = false;  // the OS saves the YMM / opmask+ZMM state (XCR0)
  std::vector<std::string> names;
};

#if FASTNN_HAVE_X86
// XCR0 through xgetbv, which exists only when CPUID says OSXSAVE; written as bytes so that the
// file needs no -mxsave flag.
uint64_t read_xcr0() {
  uint32_t lo, hi;
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}
#endif

Features detect() {
  Features f;
#if FASTNN_HAVE_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27), has_fma = c & (1u << 12), has_avx = c & (1u << 28);
  const bool has_sse42 = c & (1u << 20);
  if (has_sse42) f.names.push_back("sse4.2");
  uint64_t xcr0 = osxsave ? read_xcr0() : 0;
  f.os_ymm = (xcr0 & 0x6) == 0x6;             // SSE and AVX state
  f.os_zmm = f.os_ymm && (xcr0 & 0xe0) == 0xe0;  // opmask, ZMM_Hi256, Hi16_ZMM
  if (has_avx) f.names.push_back("avx");
  f.fma = has_fma;
  if (has_fma) f.names.push_back("fma");
  if (__get_cpuid_max(0, nullptr) >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = b & (1u << 5);
    f.avx512f = b & (1u << 16);
    f.avx512dq = b & (1u << 17);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
    if (f.avx2) f.names.push_back("avx2");
    if (f.avx512f) f.names.push_back("avx512f");
    if (b & (1u << 28)) f.names.push_back("avx512cd");
    if (f.avx512dq) f.names.push_back("avx512dq");
    if (f.avx512bw) f.names.push_back("avx512bw");
    if (f.avx512vl) f.names.push_back("avx512vl");
    if (c & (1u << 11)) f.names.push_back("avx512vnni");
    __cpuid_count(7, 1, a, b, c, d);
    if (a & (1u << 5)) f.names.push_back("avx512bf16");
  }
  f.names.push_back(f.os_ymm ? "os-saves-ymm" : "os-does-not-save-ymm");
  if (f.avx512f) f.names.push_back(f.os_zmm ? "os-saves-zmm" : "os-does-not-save-zmm");
#endif
  return f;
}

const Features& features() {
  static const Features f = detect();
  return f;
}

bool built(CpuPath p) {
  switch (p) {
#if defined(FASTNN_HAVE_PATH_AVX512)
    case CpuPath::avx512: return true;
#endif
#if defined(FASTNN_HAVE_PATH_AVX2)
    case CpuPath::avx2: return true;
#endif
    case CpuPath::portable: return true;
    default: return false;
  }
}

CpuPath widest() {
  if (cpu_path_supported(CpuPath::avx512)) return CpuPath::avx512;
  if (cpu_path_supported(CpuPath::avx2)) return CpuPath::avx2;
  return CpuPath::portable;
}

CpuPath choose() {
  const char* forced = std::getenv("FASTNN_CPU_PATH");
  if (!forced || !*forced || std::strcmp(forced, "auto") == 0) return widest();
  for (CpuPath p : {CpuPath::avx512, CpuPath::avx2, CpuPath::portable}) {
    if (std::strcmp(forced, cpu_path_label(p)) != 0) continue;
    const std::string why = cpu_path_unsupported_reason(p);
    if (!why.empty())
      throw std::invalid_argument(std::string("FASTNN_CPU_PATH=") + forced + " cannot run here: " + why);
    return p;
  }
  throw std::invalid_argument(std::string("FASTNN_CPU_PATH must be one of avx512, avx2, portable or auto, got '") +
                              forced + "'");
}

std::atomic<int> g_path{-1};

}  // namespace

const char* cpu_path_label(CpuPath p) {
  switch (p) {
    case CpuPath::avx512: return "avx512";
    case CpuPath::avx2: return "avx2";
    default: return "portable";
  }
}

std::string cpu_path_unsupported_reason(CpuPath p) {
  if (!built(p)) return std::string("this build has no ") + cpu_path_label(p) + " path (not an x86-64 build)";
  const Features& f = features();
  if (p == CpuPath::avx2 && !(f.avx2 && f.fma)) return "the CPU lacks AVX2 or FMA";
  if (p == CpuPath::avx2 && !f.os_ymm) return "the OS does not save the AVX (YMM) register state";
  if (p == CpuPath::avx512) {
    if (!(f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl && f.avx2 && f.fma))
      return "the CPU lacks one of AVX-512F/BW/DQ/VL";
    if (!f.os_zmm) return "the OS does not save the AVX-512 (opmask and ZMM) register state";
  }
  return "";
}

bool cpu_path_supported(CpuPath p) { return cpu_path_unsupported_reason(p).empty(); }

std::vector<CpuPath> cpu_paths_built() {
  std::vector<CpuPath> v;
  for (CpuPath p : {CpuPath::avx512, CpuPath::avx2, CpuPath::portable})
    if (built(p)) v.push_back(p);
  return v;
}

CpuPath cpu_path() {
  int v = g_path.load(std::memory_order_relaxed);
  if (v < 0) {
    // An invalid FASTNN_CPU_PATH is reported by refresh_cpu_path() at import; here the kernels
    // fall back to the widest path rather than throw from inside a kernel.
    CpuPath p;
    try {
      p = choose();
    } catch (const std::invalid_argument&) {
      p = widest();
    }
    v = int(p);
    g_path.store(v, std::memory_order_relaxed);
  }
  return CpuPath(v);
}

void refresh_cpu_path() { g_path.store(int(choose())); }

const char* cpu_path_name() { return cpu_path_label(cpu_path()); }

std::vector<std::string> cpu_extensions() { return features().names; }

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
#if FASTNN_HAVE_X86
  unsigned r[12];
  if (__get_cpuid_max(0x80000000, nullptr) >= 0x80000004) {
    for (unsigned i = 0; i < 3; ++i) __get_cpuid(0x80000002 + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
    std::string s(reinterpret_cast<const char*>(r), 48);
    s = s.c_str();
    return s.substr(0, s.find_last_not_of(' ') + 1);
  }
#endif
  return "unknown";
}

namespace {

// "48K", "1024K", "32M" as sysfs writes them.
int64_t parse_size(const std::string& s) {
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (end == s.c_str() || v <= 0) return 0;
  if (*end == 'K' || *end == 'k') return v * 1024;
  if (*end == 'M' || *end == 'm') return v * 1024 * 1024;
  return v;
}

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

CacheSizes detect_caches() {
  CacheSizes c{0, 0, 0};
  for (int i = 0; i < 8; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    const std::string level = read_line(dir + "level"), type = read_line(dir + "type");
    if (level.empty()) break;
    const int64_t size = parse_size(read_line(dir + "size"));
    if (level == "1" && type == "Data") c.l1d = size;
    if (level == "2" && type != "Instruction") c.l2 = size;
    if (level == "3" && type != "Instruction") c.l3 = size;
  }
#if FASTNN_HAVE_X86
  // cpuid leaf 4 (Intel) / 0x8000001D (AMD): deterministic cache parameters.
  for (unsigned leaf : {4u, 0x8000001Du}) {
    if (c.l1d && c.l2) break;
    const unsigned max = leaf >= 0x80000000u ? __get_cpuid_max(0x80000000u, nullptr) : __get_cpuid_max(0, nullptr);
    if (max < leaf) continue;
    for (unsigned sub = 0; sub < 8; ++sub) {
      unsigned a, b, cc, d;
      __cpuid_count(leaf, sub, a, b, cc, d);
      const unsigned type = a & 0x1f, level = (a >> 5) & 0x7;
      if (type == 0) break;
      const int64_t size = int64_t((b >> 22) + 1) * (((b >> 12) & 0x3ff) + 1) * ((b & 0xfff) + 1) * (int64_t(cc) + 1);
      if (level == 1 && type == 1 && !c.l1d) c.l1d = size;
      if (level == 2 && !c.l2) c.l2 = size;
      if (level == 3 && !c.l3) c.l3 = size;
    }
  }
#endif
  if (c.l1d <= 0) c.l1d = 32 * 1024;
  if (c.l2 <= 0) c.l2 = 512 * 1024;
  if (c.l3 <= 0) c.l3 = 8 * 1024 * 1024;
  return c;
}

}  // namespace

const CacheSizes& cache_sizes() {
  static const CacheSizes c = detect_caches();
  return c;
}

std::atomic<int> g_threads{0};

int get_num_threads() {
  int n = g_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : omp_get_max_threads();
}

void set_num_threads(int n) { g_threads.store(n < 1 ? 1 : n); }

}  // namespace fastnn
