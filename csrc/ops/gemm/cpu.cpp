// GotoBLAS/BLIS-style GEMM driver: column panels of B (nc), depth blocks (kc) packed into
// nr-wide strips, row blocks of A (mc) packed into mr-tall strips, then the micro-kernel of the
// CPU path in use (cpu_simd.cpp). Block sizes follow the cache sizes read at run time.
// Packing reads any strides, so transposed, sliced and broadcast operands need no copy.
#include "ops/gemm/cpu.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <vector>

#include "core/cpu_features.h"
#include "ops/gemm/cpu_kernel.h"

namespace fastnn {
namespace {

using gemm_detail::Kernel;

// Packing buffers kept per thread and reused across calls: allocating megabytes on every
// call costs page faults that show up in small and medium products.
class PackBuffer {
 public:
  ~PackBuffer() { std::free(ptr_); }
  void* get(size_t bytes) {
    if (bytes > cap_) {
      std::free(ptr_);
      cap_ = (bytes + 4095) / 4096 * 4096;
      ptr_ = std::aligned_alloc(64, cap_);
      if (!ptr_) {
        cap_ = 0;
        throw std::bad_alloc();
      }
    }
    return ptr_;
  }

 private:
  void* ptr_ = nullptr;
  size_t cap_ = 0;
};

thread_local PackBuffer tl_pack_a, tl_pack_b;

template <typename T>
struct Problem {
  int64_t M, N, K;
  T alpha, beta;
  const T* A;
  int64_t sAm, sAk;
  const T* B;
  int64_t sBk, sBn;
  T* C;
  int64_t sCm, sCn;
};

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Cache blocks for this machine, after BLIS: the kc x nr strip of B is reused from the nearest
// cache while the row strips of A stream past it, the mc x kc block of A stays in L2, the
// kc x nc panel of B in the L3. Measured on Zen 4 (32 KiB L1d, 1 MiB L2; 14 x 32 float tiles,
// 2 threads): a B strip of twice L1 (kc = 512) beat one of L1 (kc = 256) by 3-6 % at 1024^2 to
// 2048^3 and 128 x 784 x 256 for float and double: L2 feeds the strip fast enough, and fewer
// depth blocks mean fewer C tile updates, packings and barriers. Past 512 nothing was gained.
// The A block takes half of L2, the B panel half of L3.
struct Blocks {
  int64_t mc, kc, nc;
};

template <typename T>
Blocks cache_blocks(const Kernel<T>& kr) {
  const CacheSizes& c = cache_sizes();
  const int64_t sz = sizeof(T);
  Blocks b;
  b.kc = std::clamp<int64_t>(2 * c.l1d / (kr.nr * sz) / 8 * 8, 128, 512);
  b.mc = std::max<int64_t>(kr.mr, std::min<int64_t>(c.l2 / 2 / (b.kc * sz), 4096) / kr.mr * kr.mr);
  b.nc = std::max<int64_t>(kr.nr, std::min<int64_t>(c.l3 / 2 / (b.kc * sz), 1 << 16) / kr.nr * kr.nr);
  return b;
}

// How one product is cut into blocks and shared by a team of threads.
struct Plan {
  int64_t mc, kc, nc;  // block sizes, balanced so that the last block is not a sliver
  bool split_rows;     // each thread owns a range of rows of C (else threads share the nr strips)
};

template <typename T>
Plan make_plan(const Kernel<T>& kr, int64_t M, int64_t N, int64_t K, int nt) {
  const Blocks cb = cache_blocks(kr);
  Plan p;
  const int64_t nk = ceil_div(K, cb.kc);
  p.kc = ceil_div(K, nk);
  const int64_t nn = ceil_div(N, cb.nc);
  p.nc = round_up(ceil_div(N, nn), kr.nr);
  // Row ranges are the cheapest unit to share (no synchronisation inside a range); use them
  // whenever every thread gets at least two micro-tile rows.
  const int64_t mstrips = ceil_div(M, kr.mr);
  p.split_rows = nt == 1 || mstrips >= 2 * nt;
  const int64_t rows = p.split_rows ? ceil_div(M, nt) : M;  // rows per thread
  p.mc = round_up(ceil_div(rows, ceil_div(rows, cb.mc)), kr.mr);
  return p;
}

template <typename T>
void scale_only(const Problem<T>& p) {
  for (int64_t i = 0; i < p.M; ++i)
    for (int64_t j = 0; j < p.N; ++j) {
      T& c = p.C[i * p.sCm + j * p.sCn];
      c = p.beta == T(0) ? T(0) : p.beta * c;
    }
}

// One product computed by a team of nt threads (thread tid). Every thread runs the same
// loops and meets the same barriers; the B panel and, when rows are not split, the A block
// are packed cooperatively into the shared buffers. Abuf is this thread's own A buffer when
// rows are split, else the shared one. Nothing in here allocates or throws.
template <typename T>
void gemm_team(const Kernel<T>& kr, const Problem<T>& p, const Plan& pl, int tid, int nt, T* Bbuf, T* Abuf) {
  const int mr = kr.mr, nr = kr.nr;
  T* const Abuf_own = Abuf;
  T* const Abuf_shared = Abuf;
  for (int64_t jc = 0; jc < p.N; jc += pl.nc) {
    const int64_t nc = std::min(pl.nc, p.N - jc);
    const int64_t strips = ceil_div(nc, nr);
    for (int64_t pc = 0; pc < p.K; pc += pl.kc) {
      const int64_t kc = std::min(pl.kc, p.K - pc);
      const T beta = pc == 0 ? p.beta : T(1);
      const int64_t s0 = strips * tid / nt, s1 = strips * (tid + 1) / nt;
      if (pl.split_rows) {
        // Each thread packs its share of B strip by strip and runs its first row block on
        // each strip while the strip is still in L1; after the barrier it runs that block on
        // the other threads' strips, then the rest of its rows on the whole panel.
        // Equal row counts: a thread's last strip may be partial, which the edge kernels
        // handle at nearly full speed, and no thread waits at the barriers for a whole strip.
        const int64_t row0 = p.M * tid / nt, row1 = p.M * (tid + 1) / nt;
        const int64_t mc0 = std::min(pl.mc, row1 - row0);
        T* C0 = p.C + row0 * p.sCm + jc * p.sCn;
        if (mc0 > 0) kr.pack_a(mc0, kc, p.A + row0 * p.sAm + pc * p.sAk, p.sAm, p.sAk, Abuf_own);
        for (int64_t s = s0; s < s1; ++s) {
          kr.pack_b(kc, std::min<int64_t>(nr, nc - s * nr), p.B + pc * p.sBk + (jc + s * nr) * p.sBn, p.sBk, p.sBn,
                    Bbuf + s * nr * kc);
          if (mc0 > 0) kr.block(mc0, nc, kc, Abuf_own, Bbuf, s, s + 1, C0, p.sCm, p.sCn, p.alpha, beta);
        }
        if (nt > 1) {
#pragma omp barrier
        }
        if (mc0 > 0) {
          kr.block(mc0, nc, kc, Abuf_own, Bbuf, 0, s0, C0, p.sCm, p.sCn, p.alpha, beta);
          kr.block(mc0, nc, kc, Abuf_own, Bbuf, s1, strips, C0, p.sCm, p.sCn, p.alpha, beta);
        }
        for (int64_t ic = row0 + mc0; ic < row1; ic += pl.mc) {
          const int64_t mc = std::min(pl.mc, row1 - ic);
          kr.pack_a(mc, kc, p.A + ic * p.sAm + pc * p.sAk, p.sAm, p.sAk, Abuf_own);
          kr.block(mc, nc, kc, Abuf_own, Bbuf, 0, strips, p.C + ic * p.sCm + jc * p.sCn, p.sCm, p.sCn,
                       p.alpha, beta);
        }
      } else {
        if (s1 > s0)
          kr.pack_b(kc, std::min(nc, s1 * nr) - s0 * nr, p.B + pc * p.sBk + (jc + s0 * nr) * p.sBn, p.sBk, p.sBn,
                    Bbuf + s0 * nr * kc);
#pragma omp barrier
        for (int64_t ic = 0; ic < p.M; ic += pl.mc) {
          const int64_t mc = std::min(pl.mc, p.M - ic);
          const int64_t mstrips = ceil_div(mc, mr);
          const int64_t r0 = mstrips * tid / nt, r1 = mstrips * (tid + 1) / nt;
          if (r1 > r0)
            kr.pack_a(std::min(mc, r1 * mr) - r0 * mr, kc, p.A + (ic + r0 * mr) * p.sAm + pc * p.sAk, p.sAm, p.sAk,
                      Abuf_shared + r0 * mr * kc);
#pragma omp barrier
          kr.block(mc, nc, kc, Abuf_shared, Bbuf, s0, s1, p.C + ic * p.sCm + jc * p.sCn, p.sCm, p.sCn,
                       p.alpha, beta);
#pragma omp barrier
        }
      }
      if (nt > 1) {
#pragma omp barrier
      }
    }
  }
}

template <typename T>
void gemm_single(const Kernel<T>& kr, const Problem<T>& p) {
  const Plan pl = make_plan(kr, p.M, p.N, p.K, 1);
  T* Bbuf = static_cast<T*>(tl_pack_b.get(sizeof(T) * pl.kc * pl.nc));
  T* Abuf = static_cast<T*>(tl_pack_a.get(sizeof(T) * pl.mc * pl.kc));
  gemm_team(kr, p, pl, 0, 1, Bbuf, Abuf);
}

// Below this many multiply-adds per call (about 10 us on one core), waking a team of threads
// costs more than it saves.
constexpr double kMinParallelMacs = 80.0 * 80.0 * 80.0;
// Matrices smaller than this are computed whole by one thread each when a batch is split.
constexpr double kSmallMatrixMacs = 256.0 * 256.0 * 256.0;

// Matrix-vector products (M == 1 or N == 1) would waste most of a packed micro-tile, and
// packing the matrix would cost as much as the product: the kernel's gemv rows read the
// matrix in place, each thread a range of rows.
template <typename T>
void gemv(const Kernel<T>& kr, int64_t R, int64_t K, T alpha, const T* X, int64_t sr, int64_t sk, const T* v,
          int64_t sv, T beta, T* y, int64_t sy, T* acc, int nt) {
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int tid = omp_get_thread_num(), team = omp_get_num_threads();
    kr.gemv_rows(R * tid / team, R * (tid + 1) / team, K, alpha, X, sr, sk, v, sv, beta, y, sy, acc);
  }
}

// The same product as C^T = B^T A^T: M and N, A and B (with their batch strides) trade places.
template <typename T>
void transpose(Problem<T>& p, int64_t& sAb, int64_t& sBb) {
  std::swap(p.M, p.N);
  std::swap(p.A, p.B);
  const int64_t am = p.sAm, ak = p.sAk;
  p.sAm = p.sBn;
  p.sAk = p.sBk;
  p.sBk = ak;
  p.sBn = am;
  std::swap(p.sCm, p.sCn);
  std::swap(sAb, sBb);
}

// Products with at most one vector of columns (N <= kr.w): the kernel's narrow rows read A in
// place against B packed once into a kc x w panel per depth block (the panel stays in half of L2;
// each thread packs its own, which costs 1/narrow_mr of its share of the product). Threads own
// ranges of whole register tiles of rows or, for a batch, whole matrices. buf: nt panels.
template <typename T>
void narrow(const Kernel<T>& kr, int64_t batch, const Problem<T>& p, int64_t sAb, int64_t sBb, int64_t sCb, int nt,
            bool split_batch, T* buf, int64_t kcb) {
  const int64_t w = kr.w, tiles = ceil_div(p.M, kr.narrow_mr);
  const int64_t panel = round_up(kcb * w, 64 / sizeof(T));  // cache-line apart
  auto part = [&](int64_t b, int64_t r0, int64_t r1, T* Bp) {
    const T* A = p.A + b * sAb;
    const T* B = p.B + b * sBb;
    for (int64_t pc = 0; pc < p.K; pc += kcb) {
      const int64_t kc = std::min(kcb, p.K - pc);
      for (int64_t k = 0; k < kc; ++k) {
        const T* src = B + (pc + k) * p.sBk;
        T* dst = Bp + k * w;
        if (p.sBn == 1) std::memcpy(dst, src, sizeof(T) * p.N);
        else
          for (int64_t j = 0; j < p.N; ++j) dst[j] = src[j * p.sBn];
        std::fill(dst + p.N, dst + w, T(0));
      }
      kr.narrow_rows(r0, r1, kc, p.alpha, A + pc * p.sAk, p.sAm, p.sAk, Bp, pc == 0 ? p.beta : T(1),
                     p.C + b * sCb, p.sCm, p.sCn, int(p.N));
    }
  };
  if (nt == 1) {  // a small product: not even a serial region's entry
    for (int64_t b = 0; b < batch; ++b) part(b, 0, p.M, buf);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    const int tid = omp_get_thread_num(), team = omp_get_num_threads();
    T* Bp = buf + tid * panel;
    if (split_batch) {
      for (int64_t b = batch * tid / team; b < batch * (tid + 1) / team; ++b) part(b, 0, p.M, Bp);
    } else {
      const int64_t r0 = std::min(p.M, tiles * tid / team * kr.narrow_mr);
      const int64_t r1 = std::min(p.M, tiles * (tid + 1) / team * kr.narrow_mr);
      for (int64_t b = 0; b < batch && r1 > r0; ++b) part(b, r0, r1, Bp);
    }
  }
}

// A small C over a long depth (a linear layer's weight gradient: 64 x 64 summed over 1024 rows)
// gives the team too few tiles of C to share: each thread instead computes the whole C over its
// slice of the depth, and the slices are added in thread order (the same bits on every run at a
// fixed thread count). On Zen 4, 2 threads: 64 x 1024 @ 1024 x 64 in 54-59 us against 114.
template <typename T>
bool split_depth(const Problem<T>& p, int nt) {
  return p.K >= 256 * nt && p.K >= 8 * std::max(p.M, p.N) && p.M * p.N <= 128 * 128;
}

template <typename T>
void depth_split(const Kernel<T>& kr, const Problem<T>& p, int nt) {
  const int64_t MN = p.M * p.N;
  std::vector<T> partial((nt - 1) * MN);  // threads 1.. write their slices here, thread 0 into C
  std::exception_ptr error;
#pragma omp parallel num_threads(nt)
  {
    const int tid = omp_get_thread_num(), team = omp_get_num_threads();
    const int64_t k0 = p.K * tid / team, k1 = p.K * (tid + 1) / team;
    Problem<T> q = p;
    q.K = k1 - k0;
    q.A += k0 * p.sAk;
    q.B += k0 * p.sBk;
    if (tid > 0) {
      q.beta = T(0);
      q.C = partial.data() + (tid - 1) * MN;
      q.sCm = p.N;
      q.sCn = 1;
    }
    try {
      if (q.K > 0) gemm_single(kr, q);
      else scale_only(q);
    } catch (...) {
#pragma omp critical(fastnn_gemm_error)
      if (!error) error = std::current_exception();
    }
#pragma omp barrier
    if (!error)
      for (int64_t i = p.M * tid / team; i < p.M * (tid + 1) / team; ++i)
        for (int u = 1; u < team; ++u) {
          const T* src = partial.data() + (u - 1) * MN + i * p.N;
          T* dst = p.C + i * p.sCm;
          for (int64_t j = 0; j < p.N; ++j) dst[j * p.sCn] += src[j];
        }
  }
  if (error) std::rethrow_exception(error);
}

template <typename T>
void run(const Kernel<T>& kr, int64_t batch, Problem<T> p, int64_t sAb, int64_t sBb, int64_t sCb, int max_threads) {
  // The micro-kernel stores rows of C with vector stores: keep C's unit stride on columns by
  // computing C^T = B^T A^T when C is column-major.
  if (std::llabs(p.sCm) < std::llabs(p.sCn)) transpose(p, sAb, sBb);
  auto at = [&](int64_t b) {
    Problem<T> q = p;
    q.A += b * sAb;
    q.B += b * sBb;
    q.C += b * sCb;
    return q;
  };
  if (p.K == 0 || p.alpha == T(0)) {
    for (int64_t b = 0; b < batch; ++b) scale_only(at(b));
    return;
  }
  const double macs = double(p.M) * double(p.N) * double(p.K);
  int nt = max_threads > 0 && max_threads < get_num_threads() ? max_threads : get_num_threads();
  if (macs * double(batch) < kMinParallelMacs) nt = 1;
  if (p.M == 1 || p.N == 1) {
    const int64_t R = p.N == 1 ? p.M : p.N;
    T* acc = static_cast<T*>(tl_pack_a.get(sizeof(T) * R));
    const int team = macs < kMinParallelMacs ? 1 : nt;
    for (int64_t b = 0; b < batch; ++b) {
      const Problem<T> q = at(b);
      if (q.N == 1)  // y = A x: rows of A against the column of B
        gemv(kr, q.M, q.K, q.alpha, q.A, q.sAm, q.sAk, q.B, q.sBk, q.beta, q.C, q.sCm, acc, team);
      else  // y = x B: columns of B against the row of A
        gemv(kr, q.N, q.K, q.alpha, q.B, q.sBn, q.sBk, q.A, q.sAk, q.beta, q.C, q.sCn, acc, team);
    }
    return;
  }
  const bool split_batch =
      nt > 1 && batch >= nt && (batch % nt == 0 || batch >= 4 * nt || macs < kSmallMatrixMacs);
  // A narrow side of at most one vector: the narrow rows (C's unit stride stays on its columns
  // when both sides are narrow; otherwise C^T = B^T A^T makes the narrow side the columns).
  // Through C^T, C is stored element by element and the lanes past M are wasted: measured
  // (Zen 4, float, 2 threads, M = 2..16 by N, K = 64..1024) the packed path, whose edge tiles
  // cost only their own rows, is faster below half a vector of rows, the narrow rows above; and
  // at a shallow depth those element stores outweigh the products (16 x 64 @ 64 x 1024: 39 us
  // against 25; 16 x 128 @ 128 x 1024: 49 against 38), which from K = 256 on they no longer do.
  if (p.N <= kr.w || (p.M <= kr.w && 2 * p.M >= kr.w && p.K >= 256)) {
    if (p.N > kr.w) transpose(p, sAb, sBb);
    const int64_t kcb = std::max<int64_t>(1, std::min<int64_t>(p.K, cache_sizes().l2 / 2 / (kr.w * sizeof(T))));
    const int64_t kc = ceil_div(p.K, ceil_div(p.K, kcb));
    const int64_t panel = round_up(kc * kr.w, 64 / sizeof(T));
    T* buf = static_cast<T*>(tl_pack_b.get(sizeof(T) * panel * nt));
    narrow(kr, batch, p, sAb, sBb, sCb, nt, split_batch, buf, kc);
    return;
  }
  if (nt == 1) {
    for (int64_t b = 0; b < batch; ++b) gemm_single(kr, at(b));
    return;
  }
  if (batch == 1 && split_depth(p, nt)) return depth_split(kr, p, nt);
  if (split_batch) {
    // An exception must not leave an OpenMP region: keep the first, rethrow after it.
    std::exception_ptr error;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t b = 0; b < batch; ++b) {
      try {
        gemm_single(kr, at(b));
      } catch (...) {
#pragma omp critical(fastnn_gemm_error)
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
    return;
  }
  // All buffers of the team are taken here, before the region, so nothing inside it throws.
  const Plan pl = make_plan(kr, p.M, p.N, p.K, nt);
  const int64_t a_stride = round_up(pl.mc * pl.kc, 64 / sizeof(T));  // cache-line apart
  T* Bbuf = static_cast<T*>(tl_pack_b.get(sizeof(T) * pl.kc * pl.nc));
  T* Abufs = static_cast<T*>(tl_pack_a.get(sizeof(T) * a_stride * (pl.split_rows ? nt : 1)));
#pragma omp parallel num_threads(nt)
  {
    const int tid = omp_get_thread_num(), team = omp_get_num_threads();
    T* Abuf = pl.split_rows ? Abufs + tid * a_stride : Abufs;
    for (int64_t b = 0; b < batch; ++b) gemm_team(kr, at(b), pl, tid, team, Bbuf, Abuf);
  }
}

}  // namespace

template <typename T>
PackedB<T>::PackedB(int64_t K, int64_t N, const T* B, int64_t sBk, int64_t sBn)
    : kr_(&FASTNN_DISPATCH(gemm_kernel<T>)()), src_(B), K_(K), N_(N), sBk_(sBk), sBn_(sBn) {
  const Blocks cb = cache_blocks(*kr_);
  kc_ = K > 0 ? ceil_div(K, ceil_div(K, cb.kc)) : 1;
  mc_ = cb.mc;
  const int64_t width = round_up(std::max<int64_t>(N, 1), kr_->nr);
  data_ = static_cast<T*>(std::aligned_alloc(64, round_up(sizeof(T) * width * std::max<int64_t>(K, 1), 64)));
  if (!data_) throw std::bad_alloc();
  if (N > 0)
    for (int64_t pc = 0; pc < K; pc += kc_) kr_->pack_b(std::min(kc_, K - pc), N, B + pc * sBk, sBk, sBn, data_ + pc * width);
}

template <typename T>
PackedB<T>::~PackedB() {
  std::free(data_);
}

// Nothing to share but the read-only packed B: a few rows of C are split by B's strips (each thread
// packs all of A, which is small then), more by rows; no barrier either way.
template <typename T>
void PackedB<T>::multiply(int max_threads, int64_t M, T alpha, const T* A, int64_t sAm, int64_t sAk, T beta, T* C,
                          int64_t sCm, int64_t sCn) const {
  if (M <= 0 || N_ <= 0) return;
  if (K_ == 0 || alpha == T(0)) {
    scale_only(Problem<T>{M, N_, K_, alpha, beta, A, sAm, sAk, src_, sBk_, sBn_, C, sCm, sCn});
    return;
  }
  const Kernel<T>& kr = *kr_;
  const int64_t width = round_up(N_, kr.nr), strips = width / kr.nr;
  int nt = max_threads > 0 && max_threads < get_num_threads() ? max_threads : get_num_threads();
  if (double(M) * double(N_) * double(K_) < kMinParallelMacs) nt = 1;
  const bool split_rows = ceil_div(M, kr.mr) >= 2 * nt;
  const int64_t mc = std::min(mc_, round_up(M, kr.mr));
  std::exception_ptr error;
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int tid = omp_get_thread_num(), team = omp_get_num_threads();
    const int64_t row0 = split_rows ? M * tid / team : 0, row1 = split_rows ? M * (tid + 1) / team : M;
    const int64_t s0 = split_rows ? 0 : strips * tid / team, s1 = split_rows ? strips : strips * (tid + 1) / team;
    try {
      T* Abuf = static_cast<T*>(tl_pack_a.get(sizeof(T) * mc * kc_));
      for (int64_t pc = 0; pc < K_; pc += kc_) {
        const int64_t kc = std::min(kc_, K_ - pc);
        const T b = pc == 0 ? beta : T(1);
        for (int64_t ic = row0; ic < row1 && s1 > s0; ic += mc) {
          const int64_t m = std::min(mc, row1 - ic);
          kr.pack_a(m, kc, A + ic * sAm + pc * sAk, sAm, sAk, Abuf);
          kr.block(m, N_, kc, Abuf, data_ + pc * width, s0, s1, C + ic * sCm, sCm, sCn, alpha, b);
        }
      }
    } catch (...) {
#pragma omp critical(fastnn_gemm_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

template class PackedB<float>;
template class PackedB<double>;

template <typename T>
void gemm_batched(int64_t batch, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t sAb, int64_t sAm,
                  int64_t sAk, const T* B, int64_t sBb, int64_t sBk, int64_t sBn, T beta, T* C, int64_t sCb,
                  int64_t sCm, int64_t sCn) {
  gemm_batched_threads<T>(0, batch, M, N, K, alpha, A, sAb, sAm, sAk, B, sBb, sBk, sBn, beta, C, sCb, sCm, sCn);
}

template <typename T>
void gemm_batched_threads(int max_threads, int64_t batch, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                          int64_t sAb, int64_t sAm, int64_t sAk, const T* B, int64_t sBb, int64_t sBk, int64_t sBn,
                          T beta, T* C, int64_t sCb, int64_t sCm, int64_t sCn) {
  if (batch <= 0 || M <= 0 || N <= 0) return;
  Problem<T> p{M, N, K, alpha, beta, A, sAm, sAk, B, sBk, sBn, C, sCm, sCn};
  run(FASTNN_DISPATCH(gemm_kernel<T>)(), batch, p, sAb, sBb, sCb, max_threads);
}

template void gemm_batched<float>(int64_t, int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t,
                                  int64_t, const float*, int64_t, int64_t, int64_t, float, float*, int64_t,
                                  int64_t, int64_t);
template void gemm_batched<double>(int64_t, int64_t, int64_t, int64_t, double, const double*, int64_t, int64_t,
                                   int64_t, const double*, int64_t, int64_t, int64_t, double, double*, int64_t,
                                   int64_t, int64_t);
template void gemm_batched_threads<float>(int, int64_t, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                          int64_t, int64_t, const float*, int64_t, int64_t, int64_t, float, float*,
                                          int64_t, int64_t, int64_t);
template void gemm_batched_threads<double>(int, int64_t, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                           int64_t, int64_t, const double*, int64_t, int64_t, int64_t, double,
                                           double*, int64_t, int64_t, int64_t);

}  // namespace fastnn
