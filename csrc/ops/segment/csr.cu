// csr_from_index on the GPU (contract: segment.h): the offsets from a histogram of the values and an
// exclusive scan; the permutation from a stable least-significant-digit radix sort of the positions by
// value, 8 bits a pass, as many passes as the largest value needs. Each pass cuts the positions into
// tiles: a histogram per tile and digit, one scan of those counts (digit-major, so every tile gets
// its own slots within each digit's run), then each tile places its positions in position order,
// a chunk of 256 at a time, ranking equal digits within a warp by votes. No atomics decide a place,
// so the result is the same at every run, and stable.
#include "ops/segment/cuda.h"
#include "ops/segment/warp.cuh"

namespace fastnn::cuda::segment {
namespace {

constexpr int kDigitBits = 8, kDigits = 1 << kDigitBits;
constexpr int kTileChunks = 8;  // chunks of kBlock positions per tile
constexpr long long kTile = (long long)kBlock * kTileChunks;
constexpr int kScanItems = 16;  // per thread of a scan tile
static_assert(kDigits == kBlock, "one thread per digit");

// Exclusive prefix sums in place, a tile of kScanTile values per block step: each tile's total, the
// prefix sums of those totals (the same way, recursively), then each tile's own scan from its carry.
constexpr long long kScanTile = (long long)kBlock * kScanItems;

// Scans the tile at `base` from `carry` (writing it back when `write`); returns the tile's total.
__device__ long long scan_tile(long long base, long long n, long long* __restrict__ data, long long carry, bool write) {
  __shared__ long long tile[kScanTile];
  __shared__ long long warp_total[kBlockWarps];
  const int t = (int)threadIdx.x, warp = t >> 5, lane = t & 31;
  for (int i = t; i < kScanTile; i += kBlock) tile[i] = base + i < n ? data[base + i] : 0;
  __syncthreads();
  long long own = 0;
  for (int i = 0; i < kScanItems; ++i) own += tile[t * kScanItems + i];
  long long incl = own;  // inclusive scan over the warp's lanes
  for (int o = 1; o < 32; o <<= 1) {
    const long long up = __shfl_sync(kFullMask, incl, lane >= o ? lane - o : lane);
    if (lane >= o) incl += up;
  }
  if (lane == 31) warp_total[warp] = incl;
  __syncthreads();
  long long before = carry + incl - own, total = 0;
  for (int w = 0; w < kBlockWarps; ++w) {
    if (w < warp) before += warp_total[w];
    total += warp_total[w];
  }
  if (write) {
    for (int i = 0; i < kScanItems; ++i) {
      const long long v = tile[t * kScanItems + i];
      tile[t * kScanItems + i] = before;
      before += v;
    }
    __syncthreads();
    for (int i = t; i < kScanTile; i += kBlock)
      if (base + i < n) data[base + i] = tile[i];
  }
  __syncthreads();
  return total;
}

__global__ void __launch_bounds__(kBlock) tile_totals_kernel(long long n, long long* __restrict__ data,
                                                             long long tiles, long long* __restrict__ totals) {
  for (long long tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const long long total = scan_tile(tile * kScanTile, n, data, 0, false);
    if (threadIdx.x == 0) totals[tile] = total;
  }
}

__global__ void __launch_bounds__(kBlock) scan_tiles_kernel(long long n, long long* __restrict__ data, long long tiles,
                                                            const long long* __restrict__ carries) {
  for (long long tile = blockIdx.x; tile < tiles; tile += gridDim.x)
    scan_tile(tile * kScanTile, n, data, carries ? carries[tile] : 0, true);
}

template <typename I>
__global__ void count_kernel(long long n, const I* __restrict__ index, unsigned long long* __restrict__ counts) {
  for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < n; k += (long long)gridDim.x * blockDim.x)
    atomicAdd(counts + (long long)index[k], 1ULL);
}

template <typename I>
__global__ void iota_kernel(long long n, I* __restrict__ perm) {
  for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < n; k += (long long)gridDim.x * blockDim.x)
    perm[k] = (I)k;
}

// hist[digit * tiles + tile]: how many positions of the tile have that digit.
template <typename I>
__global__ void __launch_bounds__(kBlock) digit_hist_kernel(long long n, const I* __restrict__ keys, int shift,
                                                            long long tiles, long long* __restrict__ hist) {
  __shared__ unsigned count[kDigits];
  for (long long tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    count[threadIdx.x] = 0;
    __syncthreads();
    for (int c = 0; c < kTileChunks; ++c) {
      const long long k = tile * kTile + (long long)c * kBlock + threadIdx.x;
      if (k < n) atomicAdd(&count[((unsigned long long)keys[k] >> shift) & (kDigits - 1)], 1u);
    }
    __syncthreads();
    hist[(long long)threadIdx.x * tiles + tile] = count[threadIdx.x];
    __syncthreads();
  }
}

// Places the tile's positions at slot[digit] onwards in position order. vals_in == nullptr: the
// values are the positions themselves (the first pass); keys_out == nullptr: the last pass.
template <typename I>
__global__ void __launch_bounds__(kBlock) digit_place_kernel(long long n, const I* __restrict__ keys_in,
                                                             const I* __restrict__ vals_in, int shift, long long tiles,
                                                             const long long* __restrict__ slots,
                                                             I* __restrict__ keys_out, I* __restrict__ vals_out) {
  __shared__ long long next[kDigits];
  __shared__ int warp_count_of[kBlockWarps][kDigits];
  const int t = (int)threadIdx.x, warp = t >> 5;
  const unsigned lane = lane_id(), lower = (1u << lane) - 1u;
  for (long long tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    next[t] = slots[(long long)t * tiles + tile];
    for (int w = 0; w < kBlockWarps; ++w) warp_count_of[w][t] = 0;
    __syncthreads();
    for (int c = 0; c < kTileChunks; ++c) {
      const long long k = tile * kTile + (long long)c * kBlock + t;
      const bool valid = k < n;
      const I key = valid ? keys_in[k] : I(0);
      const unsigned digit = (unsigned)(((unsigned long long)key >> shift) & (kDigits - 1));
      // The lanes holding the same digit: agree on every bit of it.
      unsigned peers = __ballot_sync(kFullMask, valid);
      for (int b = 0; b < kDigitBits; ++b) {
        const unsigned bit = (digit >> b) & 1u, votes = __ballot_sync(kFullMask, bit);
        peers &= bit ? votes : ~votes;
      }
      const int rank = __popc(peers & lower);
      if (valid && rank == 0) warp_count_of[warp][digit] = __popc(peers);
      __syncthreads();
      if (valid) {
        long long at = next[digit] + rank;
        for (int w = 0; w < warp; ++w) at += warp_count_of[w][digit];
        vals_out[at] = vals_in ? vals_in[k] : (I)k;
        if (keys_out) keys_out[at] = key;
      }
      __syncthreads();
      long long placed = 0;
      for (int w = 0; w < kBlockWarps; ++w) placed += warp_count_of[w][t], warp_count_of[w][t] = 0;
      next[t] += placed;
      __syncthreads();
    }
  }
}

struct Scratch {
  void* p = nullptr;
  cudaStream_t stream;
  Scratch(size_t bytes, cudaStream_t s) : stream(s) {
    if (bytes) check(cudaMallocAsync(&p, bytes, s), "csr_from_index: scratch memory");
  }
  ~Scratch() {
    if (p) cudaFreeAsync(p, stream);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename U>
  U* at(size_t offset_elems = 0) {
    return static_cast<U*>(p) + offset_elems;
  }
};


void exclusive_scan(long long n, long long* data, cudaStream_t stream) {
  const long long tiles = ceil_div(n, kScanTile);
  if (tiles <= 1) {
    scan_tiles_kernel<<<dim3{1, 1, 1}, block_dim(), 0, stream>>>(n, data, tiles, nullptr);
    check_launch("csr_from_index (scan)");
    return;
  }
  Scratch totals((size_t)tiles * sizeof(long long), stream);
  const dim3 grid{grid_x(tiles), 1, 1};
  tile_totals_kernel<<<grid, block_dim(), 0, stream>>>(n, data, tiles, totals.at<long long>());
  check_launch("csr_from_index (scan totals)");
  exclusive_scan(tiles, totals.at<long long>(), stream);
  scan_tiles_kernel<<<grid, block_dim(), 0, stream>>>(n, data, tiles, totals.at<long long>());
  check_launch("csr_from_index (scan)");
}

}  // namespace

template <typename I>
void csr_from_index(int64_t n, const I* index, int64_t rows, int64_t* offsets, I* perm, cudaStream_t stream) {
  check(cudaMemsetAsync(offsets, 0, (size_t)(rows + 1) * sizeof(int64_t), stream), "csr_from_index");
  if (n == 0) return;
  count_kernel<I><<<elementwise_blocks(n, kBlock), kBlock, 0, stream>>>(n, index, (unsigned long long*)offsets);
  check_launch("csr_from_index (counts)");
  exclusive_scan(rows + 1, (long long*)offsets, stream);
  int bits = 0;
  while (bits < 63 && (1LL << bits) < rows) ++bits;  // values lie in [0, rows)
  const int passes = (bits + kDigitBits - 1) / kDigitBits;
  if (passes == 0) {
    iota_kernel<I><<<elementwise_blocks(n, kBlock), kBlock, 0, stream>>>(n, perm);
    check_launch("csr_from_index (one row)");
    return;
  }
  const long long tiles = ceil_div(n, kTile);
  Scratch hist((size_t)kDigits * tiles * sizeof(long long), stream);
  Scratch buf(passes > 1 ? (size_t)4 * n * sizeof(I) : 0, stream);  // keys and values, twice
  const dim3 grid{grid_x(tiles), 1, 1};
  const I *keys_in = index, *vals_in = nullptr;
  for (int pass = 0; pass < passes; ++pass) {
    const bool last = pass == passes - 1;
    I* keys_out = last ? nullptr : buf.at<I>((size_t)(pass % 2) * 2 * n);
    I* vals_out = last ? perm : buf.at<I>((size_t)(pass % 2) * 2 * n + n);
    const int shift = pass * kDigitBits;
    digit_hist_kernel<I><<<grid, block_dim(), 0, stream>>>(n, keys_in, shift, tiles, hist.at<long long>());
    check_launch("csr_from_index (digit counts)");
    exclusive_scan((long long)kDigits * tiles, hist.at<long long>(), stream);
    digit_place_kernel<I><<<grid, block_dim(), 0, stream>>>(n, keys_in, vals_in, shift, tiles, hist.at<long long>(),
                                                            keys_out, vals_out);
    check_launch("csr_from_index (placement)");
    keys_in = keys_out;
    vals_in = vals_out;
  }
}

template void csr_from_index<int32_t>(int64_t, const int32_t*, int64_t, int64_t*, int32_t*, cudaStream_t);
template void csr_from_index<int64_t>(int64_t, const int64_t*, int64_t, int64_t*, int64_t*, cudaStream_t);

}  // namespace fastnn::cuda::segment
