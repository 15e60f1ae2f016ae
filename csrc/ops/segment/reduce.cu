// segment_reduce on the GPU (contract: segment.h). Every kernel gives one warp one destination row at a
// time: the lanes own V consecutive columns each (float4 / float2 / double2 loads when the width and
// the alignment allow), and the warp walks the row's positions 32 at a time, each lane loading one
// index (and weight) that shuffles then broadcast, with four source rows in flight per step.
//
// Skewed degrees (a few rows holding most of the positions) are balanced in two ways:
// - deterministic, and always for max / min: rows longer than kLongRow positions are skipped by the
//   warp-per-row kernel and taken by long_rows_kernel, where a whole block owns the row, each warp
//   reduces one contiguous slice of it and warp 0 combines the slices in slice order (the same order
//   at every run, no atomics);
// - otherwise (sum, and mean without `skip`): a merge-path split. The rows' ends and the positions
//   form one merged list of segs + n items, cut into equal windows, one per warp in turn; a row whose
//   positions and end fall in one window is written directly, a row cut by a window boundary is
//   zeroed first (zero_cut_rows) and each window adds its share with atomicAdd.
#include "ops/segment/cuda.h"
#include "ops/segment/warp.cuh"

namespace fastnn::cuda::segment {
namespace {

// Rows with more positions than this go to one block (deterministic) instead of one warp.
constexpr long long kLongRow = 256;
// Merge-path windows per SM: enough to fill it several times over, so the windows stay short.
constexpr int kWindowsPerSm = 256;

template <typename T, typename I>
struct ReduceArgs {
  long long segs, d, heads, C, skip;  // C = d / heads: the width of one head's column block
  const T* src;
  const I* index;  // nullptr: position k reads row k
  const long long* offsets;
  const T* w;    // nullptr: unweighted
  const I* wi;   // nullptr: weight row k for position k
  Mode mode;
  T* out;
  long long* arg;  // max / min only
};

// One lane's running reduction of its V columns over some positions of a row.
template <typename T, int V>
struct Acc {
  T v[V];
  long long arg[V];
  long long kept;
  __device__ __forceinline__ void reset() {
    for (int i = 0; i < V; ++i) v[i] = T(0), arg[i] = -1;
    kept = 0;
  }
};

template <typename T, int V>
__device__ __forceinline__ void load_cols(const T* p, T (&x)[V]) {
  if constexpr (sizeof(T) == 4 && V == 4) {
    const float4 q = *reinterpret_cast<const float4*>(p);
    x[0] = q.x, x[1] = q.y, x[2] = q.z, x[3] = q.w;
  } else if constexpr (sizeof(T) == 4 && V == 2) {
    const float2 q = *reinterpret_cast<const float2*>(p);
    x[0] = q.x, x[1] = q.y;
  } else if constexpr (sizeof(T) == 8 && V == 2) {
    const double2 q = *reinterpret_cast<const double2*>(p);
    x[0] = q.x, x[1] = q.y;
  } else {
    for (int i = 0; i < V; ++i) x[i] = p[i];
  }
}

// Folds one source row x (row r, weight wt) into the lane's columns, as the CPU reference does:
// max / min keep the first extreme and let a NaN win.
template <typename T, int V>
__device__ __forceinline__ void fold(Mode mode, bool weighted, const T (&x)[V], long long r, T wt, Acc<T, V>& a) {
  if (mode == Mode::max || mode == Mode::min) {
    for (int i = 0; i < V; ++i) {
      const bool better = mode == Mode::max ? x[i] > a.v[i] : x[i] < a.v[i];
      if (a.kept == 0 || better || (x[i] != x[i] && a.v[i] == a.v[i])) a.v[i] = x[i], a.arg[i] = r;
    }
  } else if (weighted) {
    for (int i = 0; i < V; ++i) a.v[i] += wt * x[i];
  } else {
    for (int i = 0; i < V; ++i) a.v[i] += x[i];
  }
  ++a.kept;
}

// Positions [k0, k1) of a row into the lane's columns c0 .. c0 + V - 1 (`active`: c0 < d). Called by
// all 32 lanes with the same range (the shuffles need the whole warp).
template <typename T, typename I, int V>
__device__ void accumulate(const ReduceArgs<T, I>& p, long long k0, long long k1, long long c0, bool active,
                           Acc<T, V>& a) {
  const unsigned lane = lane_id();
  const bool weighted = p.w != nullptr, per_head = weighted && p.heads > 1;
  const long long h = per_head && active ? c0 / p.C : 0;
  constexpr int U = 4;  // source rows in flight per step
  for (long long kb = k0; kb < k1; kb += 32) {
    const int n = k1 - kb < 32 ? (int)(k1 - kb) : 32;
    long long my_r = 0, my_wr = 0;
    T my_w = T(1);
    if ((int)lane < n) {
      const long long k = kb + lane;
      my_r = p.index ? (long long)p.index[k] : k;
      if (weighted) {
        my_wr = p.wi ? (long long)p.wi[k] : k;
        if (!per_head) my_w = p.w[my_wr];
      }
    }
    for (int t = 0; t < n; t += U) {
      long long r[U];
      T wt[U], x[U][V] = {};
      for (int u = 0; u < U; ++u) {
        const int src_lane = t + u < n ? t + u : t;
        r[u] = __shfl_sync(kFullMask, my_r, src_lane);
        wt[u] = __shfl_sync(kFullMask, my_w, src_lane);
        if (per_head) {
          const long long wr = __shfl_sync(kFullMask, my_wr, src_lane);
          if (active && t + u < n) wt[u] = p.w[wr * p.heads + h];
        }
      }
      for (int u = 0; u < U; ++u)
        if (active && t + u < n && r[u] != p.skip) load_cols<T, V>(p.src + r[u] * p.d + c0, x[u]);
      for (int u = 0; u < U; ++u)
        if (t + u < n && r[u] != p.skip) fold<T, V>(p.mode, weighted, x[u], r[u], wt[u], a);
    }
  }
}

// Merges b, the reduction of positions that follow a's, into a (the same result as one pass).
template <typename T, int V>
__device__ __forceinline__ void merge_after(Mode mode, Acc<T, V>& a, const Acc<T, V>& b) {
  if (b.kept == 0) return;
  if (mode == Mode::max || mode == Mode::min) {
    for (int i = 0; i < V; ++i) {
      const bool better = mode == Mode::max ? b.v[i] > a.v[i] : b.v[i] < a.v[i];
      if (a.kept == 0 || better || (b.v[i] != b.v[i] && a.v[i] == a.v[i])) a.v[i] = b.v[i], a.arg[i] = b.arg[i];
    }
  } else {
    for (int i = 0; i < V; ++i) a.v[i] += b.v[i];
  }
  a.kept += b.kept;
}

// Writes row s's columns c0 .. c0 + V - 1: 0 for an empty row, the mean divided by the rows kept.
template <typename T, typename I, int V>
__device__ __forceinline__ void store_row(const ReduceArgs<T, I>& p, const Acc<T, V>& a, long long s, long long c0) {
  const long long at = s * p.d + c0;
  for (int i = 0; i < V; ++i) {
    T y = a.kept == 0 ? T(0) : a.v[i];
    if (p.mode == Mode::mean && a.kept > 0) y /= T(a.kept);
    p.out[at + i] = y;
    if (p.arg) p.arg[at + i] = a.arg[i];
  }
}

template <typename T, typename I, int V>
__global__ void __launch_bounds__(kBlock, 3) warp_rows_kernel(ReduceArgs<T, I> p, long long long_row) {
  const long long lane_col = (long long)lane_id() * V;
  for (long long s = global_warp(); s < p.segs; s += warp_count()) {
    const long long k0 = p.offsets[s], k1 = p.offsets[s + 1];
    if (long_row > 0 && k1 - k0 > long_row) continue;  // long_rows_kernel's
    for (long long cb = 0; cb < p.d; cb += 32 * V) {
      const long long c0 = cb + lane_col;
      Acc<T, V> a;
      a.reset();
      accumulate<T, I, V>(p, k0, k1, c0, c0 < p.d, a);
      if (c0 < p.d) store_row<T, I, V>(p, a, s, c0);
    }
  }
}

// The rows longer than long_row, one block each; the blocks find them 256 rows at a time.
template <typename T, typename I, int V>
__global__ void __launch_bounds__(kBlock, 3) long_rows_kernel(ReduceArgs<T, I> p, long long long_row) {
  __shared__ long long found[kBlock];
  __shared__ int nfound;
  __shared__ T part_v[kBlockWarps][32 * V];
  __shared__ long long part_arg[kBlockWarps][32 * V];
  __shared__ long long part_kept[kBlockWarps];
  const int warp = (int)(threadIdx.x >> 5);
  const unsigned lane = lane_id();
  for (long long base = (long long)blockIdx.x * kBlock; base < p.segs; base += (long long)gridDim.x * kBlock) {
    if (threadIdx.x == 0) nfound = 0;
    __syncthreads();
    const long long mine = base + threadIdx.x;
    // Each found row is reduced the same way whatever its place in the list.
    if (mine < p.segs && p.offsets[mine + 1] - p.offsets[mine] > long_row) found[atomicAdd(&nfound, 1)] = mine;
    __syncthreads();
    const int count = nfound;
    for (int f = 0; f < count; ++f) {
      const long long s = found[f], k0 = p.offsets[s], len = p.offsets[s + 1] - k0;
      const long long a0 = k0 + len * warp / kBlockWarps, a1 = k0 + len * (warp + 1) / kBlockWarps;
      for (long long cb = 0; cb < p.d; cb += 32 * V) {
        const long long c0 = cb + (long long)lane * V;
        Acc<T, V> a;
        a.reset();
        accumulate<T, I, V>(p, a0, a1, c0, c0 < p.d, a);
        for (int i = 0; i < V; ++i) part_v[warp][lane * V + i] = a.v[i], part_arg[warp][lane * V + i] = a.arg[i];
        if (lane == 0) part_kept[warp] = a.kept;
        __syncthreads();
        if (warp == 0) {
          for (int w = 1; w < kBlockWarps; ++w) {
            Acc<T, V> b;
            for (int i = 0; i < V; ++i) b.v[i] = part_v[w][lane * V + i], b.arg[i] = part_arg[w][lane * V + i];
            b.kept = part_kept[w];
            merge_after<T, V>(p.mode, a, b);
          }
          if (c0 < p.d) store_row<T, I, V>(p, a, s, c0);
        }
        __syncthreads();
      }
    }
    __syncthreads();  // `nfound` is read by every thread before thread 0 resets it
  }
}

// The merge path: item q of the merged list is a row end or a position; the number of row ends among
// the first `diag` items (Merrill & Garland's search; positions run from offsets[0]).
__device__ long long rows_before(const long long* offsets, long long segs, long long n, long long diag) {
  long long lo = diag > n ? diag - n : 0, hi = diag < segs ? diag : segs;
  const long long k_base = offsets[0];
  while (lo < hi) {
    const long long mid = (lo + hi) >> 1;
    if (offsets[mid + 1] <= k_base + diag - mid - 1) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

__device__ __forceinline__ long long window_items(const long long* offsets, long long segs, long long windows) {
  const long long total = segs + (offsets[segs] - offsets[0]);
  return (total + windows - 1) / windows;
}

// A row that a window boundary cuts (its first position before the boundary, its end after it) is
// summed by several windows with atomicAdd: zero it first.
template <typename T>
__global__ void zero_cut_rows(long long segs, long long d, const long long* __restrict__ offsets, long long windows,
                              T* __restrict__ out) {
  const long long n = offsets[segs] - offsets[0], per = window_items(offsets, segs, windows);
  for (long long b = 1 + (long long)blockIdx.x * blockDim.x + threadIdx.x; b < windows;
       b += (long long)gridDim.x * blockDim.x) {
    const long long diag = b * per < segs + n ? b * per : segs + n;
    const long long x = rows_before(offsets, segs, n, diag), y = offsets[0] + diag - x;
    if (x < segs && offsets[x] < y)
      for (long long j = 0; j < d; ++j) out[x * d + j] = T(0);
  }
}

template <typename T, typename I, int V>
__global__ void __launch_bounds__(kBlock, 3) merge_path_kernel(ReduceArgs<T, I> p, long long windows) {
  const long long n = p.offsets[p.segs] - p.offsets[0], total = p.segs + n;
  const long long per = window_items(p.offsets, p.segs, windows);
  const long long lane_col = (long long)lane_id() * V;
  for (long long win = global_warp(); win < windows; win += warp_count()) {
    const long long d0 = win * per < total ? win * per : total, d1 = d0 + per < total ? d0 + per : total;
    if (d0 >= d1) continue;
    const long long x0 = rows_before(p.offsets, p.segs, n, d0), y0 = p.offsets[0] + d0 - x0;
    const long long x1 = rows_before(p.offsets, p.segs, n, d1), y1 = p.offsets[0] + d1 - x1;
    for (long long s = x0; s <= x1 && s < p.segs; ++s) {
      const long long rb = p.offsets[s], re = p.offsets[s + 1];
      const long long k0 = rb > y0 ? rb : y0, k1 = re < y1 ? re : y1;
      const bool whole = s < x1 && rb >= y0;  // the row's positions and its end all in this window
      if (!whole && k0 >= k1) continue;
      for (long long cb = 0; cb < p.d; cb += 32 * V) {
        const long long c0 = cb + lane_col;
        Acc<T, V> a;
        a.reset();
        accumulate<T, I, V>(p, k0, k1, c0, c0 < p.d, a);
        if (c0 >= p.d) continue;
        if (whole) {
          store_row<T, I, V>(p, a, s, c0);
        } else if (a.kept > 0) {
          // mean reaches here only without `skip`: every position of the row is kept
          const T scale = p.mode == Mode::mean ? T(1) / T(re - rb) : T(1);
          for (int i = 0; i < V; ++i) atomicAdd(p.out + s * p.d + c0 + i, p.mode == Mode::mean ? a.v[i] * scale : a.v[i]);
        }
      }
    }
  }
}

int sm_count() {
  int dev = 0, n = 0;
  check(cudaGetDevice(&dev), "segment_reduce: cudaGetDevice");
  check(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev), "segment_reduce: cudaDeviceGetAttribute");
  return n > 0 ? n : 1;
}

template <typename T, typename I, int V>
void launch(const ReduceArgs<T, I>& p, bool balanced, cudaStream_t stream) {
  if (balanced) {
    const long long windows = (long long)sm_count() * kWindowsPerSm;
    zero_cut_rows<T><<<elementwise_blocks(windows, kBlock), kBlock, 0, stream>>>(p.segs, p.d, p.offsets, windows,
                                                                                 p.out);
    check_launch("segment_reduce (cut rows)");
    merge_path_kernel<T, I, V><<<dim3{grid_x(ceil_div(windows, kBlockWarps)), 1, 1}, block_dim(), 0, stream>>>(
        p, windows);
    check_launch("segment_reduce (merge path)");
    return;
  }
  warp_rows_kernel<T, I, V><<<warp_grid(p.segs), block_dim(), 0, stream>>>(p, kLongRow);
  check_launch("segment_reduce (rows)");
  long_rows_kernel<T, I, V><<<dim3{grid_x(ceil_div(p.segs, kBlock)), 1, 1}, block_dim(), 0, stream>>>(p, kLongRow);
  check_launch("segment_reduce (long rows)");
}

// The widest vector of V columns per lane that divides the row (and each head's block, which must not
// straddle two weights), keeps the loads aligned, and still gives every lane columns.
template <typename T>
int vector_width(long long d, long long C, bool per_head, const void* src, const void* out) {
  const bool aligned = aligned16(src) && aligned16(out);
  for (int v = (int)(16 / sizeof(T)); v > 1; v /= 2)
    if (aligned && d % v == 0 && (!per_head || C % v == 0) && d >= 32LL * v) return v;
  return 1;
}

}  // namespace

template <typename T, typename I>
void segment_reduce(int64_t segs, int64_t d, const T* src, const I* index, const int64_t* offsets, const T* w,
                    int64_t heads, const I* weight_index, Mode mode, int64_t skip, T* out, int64_t* argmax,
                    bool deterministic, cudaStream_t stream) {
  if (segs == 0 || d == 0) return;
  const bool extreme = mode == Mode::max || mode == Mode::min;
  if (heads < 1) heads = 1;
  const ReduceArgs<T, I> p{segs, d,  heads,        d / heads, skip, src,
                           index, (const long long*)offsets, w, weight_index, mode, out,
                           extreme ? (long long*)argmax : nullptr};
  const bool balanced = !deterministic && (mode == Mode::sum || (mode == Mode::mean && skip < 0));
  switch (vector_width<T>(d, d / heads, w != nullptr && heads > 1, src, out)) {
    case 4:
      if constexpr (sizeof(T) == 4) launch<T, I, 4>(p, balanced, stream);
      break;
    case 2: launch<T, I, 2>(p, balanced, stream); break;
    default: launch<T, I, 1>(p, balanced, stream); break;
  }
}

#define FASTNN_SEGMENT_REDUCE(T, I)                                                                                \
  template void segment_reduce<T, I>(int64_t, int64_t, const T*, const I*, const int64_t*, const T*, int64_t,     \
                                     const I*, Mode, int64_t, T*, int64_t*, bool, cudaStream_t);
FASTNN_SEGMENT_REDUCE(float, int32_t)
FASTNN_SEGMENT_REDUCE(float, int64_t)
FASTNN_SEGMENT_REDUCE(double, int32_t)
FASTNN_SEGMENT_REDUCE(double, int64_t)
#undef FASTNN_SEGMENT_REDUCE

}  // namespace fastnn::cuda::segment
