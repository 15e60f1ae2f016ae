// Direct convolution. Each (image, group) pair copies its input channels into a zero-padded
// block whose rows are Wp = OW + (KW - 1) * dil_w / stride_w wide; in that layout every tap
// (c, kh, kw) is one constant offset, so an output "wide row" of length L = (OH - 1) * Wp + OW
// is a sum of shifted copies of the block: long contiguous vector loops with no im2col buffer.
// Columns ow >= OW of the wide result are discarded. Strides split the block into phases
// (see Geometry).
#include "ops/conv/cpu_direct.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "core/cpu_features.h"
#include "ops/conv/direct_kernels.h"

namespace fastnn {

namespace {

std::atomic<int> g_algo{0};

// Measured on 2-core Zen 3 against im2col + GEMM: the direct kernel wins on every stride-1
// layer of LeNet and ResNet (up to 128 channels, 3x3 and 5x5), since it reads the input block
// from cache instead of writing and re-reading a column buffer 9-25 times its size. The
// limits keep the per-thread block (and the tap table) bounded.
constexpr int64_t kMaxTaps = 4608;
constexpr int64_t kMaxBlock = int64_t(1) << 22;

// The micro-kernels of the CPU path in use (direct_simd.cpp).
template <typename T>
const ConvDirectKernels<T>& kernels() {
  return FASTNN_DISPATCH(conv::direct_kernels<T>)();
}

int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

// Rows of the wide buffers start on cache-line boundaries and hold whole vectors.
template <typename T>
int64_t row_align(int lanes) {
  return std::max<int64_t>(lanes, 64 / (int64_t)sizeof(T));
}

// A strided convolution reads input row sh * oh + kh * dil_h - pad_h. Splitting the padded input
// into sh * sw phase planes, plane (rh, rw) holding rows sh * i + rh and columns sw * j + rw,
// turns tap (kh, kw) into a constant offset inside plane ((kh * dil_h) % sh, (kw * dil_w) % sw)
// at row (kh * dil_h) / sh and column (kw * dil_w) / sw: the stride-1 wide-row scheme then
// applies unchanged, with exactly the original taps (stride 1 has a single phase).
//
// The positions computed are a list of vectors (of `lanes` elements) in the wide layout, the
// fewest of: the whole wide row (0, lanes, ..., covering L); ceil(OW / lanes) vectors per output
// row, which skips the discarded columns (an 8-wide output in 12-wide rows computes 8 vectors of 8
// instead of 12); or the same with half vectors, two to a register (split), for outputs narrower
// than a vector (8 x 8 outputs in vectors of 16: 4 vectors instead of 6 or 8). Row vectors must not
// reach into the next row: the adjoint and the weight gradient would count those positions twice.
struct Geometry {
  int64_t sh, sw, Hp, Wp, L, Lv, plane, buf;
  int lanes;
  bool split;
  std::vector<int64_t> starts;  // ns vectors: one start each, or two when split
  int64_t ns() const { return (int64_t)starts.size() / (split ? 2 : 1); }
};

void wide_starts(int64_t len, int lanes, std::vector<int64_t>& starts) {
  const int64_t nv = (len + lanes - 1) / lanes;
  starts.resize(nv);
  for (int64_t v = 0; v < nv; ++v) starts[v] = lanes * v;
}

// Starts of `width`-wide pieces covering each output row, or none when they would reach into the
// next row.
void row_starts(const Conv2dShape& s, int64_t Wp, int64_t width, std::vector<int64_t>& starts) {
  const int64_t per_row = (s.OW + width - 1) / width;
  starts.clear();
  if (width * per_row > Wp) return;
  for (int64_t oh = 0; oh < s.OH; ++oh)
    for (int64_t j = 0; j < per_row; ++j) starts.push_back(oh * Wp + width * j);
}

template <typename T>
Geometry geometry(const Conv2dShape& s, int lanes) {
  Geometry g;
  g.lanes = lanes;
  g.sh = s.stride_h;
  g.sw = s.stride_w;
  g.Hp = s.OH + ((s.KH - 1) * s.dil_h) / g.sh;
  g.Wp = s.OW + ((s.KW - 1) * s.dil_w) / g.sw;
  g.L = (s.OH - 1) * g.Wp + s.OW;
  // Room for the last vector of any list, which may end up to lanes - 1 past L.
  g.Lv = round_up(g.L + lanes - 1, row_align<T>(lanes));
  g.plane = g.Hp * g.Wp;
  g.split = false;
  wide_starts(g.L, lanes, g.starts);
  std::vector<int64_t> rows;
  row_starts(s, g.Wp, lanes, rows);
  if (!rows.empty() && rows.size() < g.starts.size()) g.starts = rows;
  // A split vector costs two loads (and an insert) where a whole one costs one: worth it only when
  // it saves at least an eighth of the vectors. Measured on Zen 4, one thread: LeNet's 8 x 8
  // outputs in vectors of 16 (4 split against 6 whole) run 1.3x faster in each pass; ResNet's 28 x 28
  // in vectors of 8 (98 against 105) ran 5% slower forward and 35% slower in the weight gradient.
  row_starts(s, g.Wp, lanes / 2, rows);
  if (lanes >= 4 && !rows.empty() && 8 * ((rows.size() + 1) / 2) <= 7 * (size_t)g.ns()) {
    // An odd last half reads at L, in the margin where the dy copies are zero: it adds nothing.
    if (rows.size() % 2) rows.push_back(g.L);
    g.starts = rows;
    g.split = true;
  }
  // The last vectors run Lv - L elements past the last tap's final element.
  g.buf = (s.C / s.groups) * g.sh * g.sw * g.plane + (g.Lv - g.L) + lanes;
  return g;
}

template <typename T>
bool within_limits(const Conv2dShape& s, int64_t taps) {
  const Geometry g = geometry<T>(s, kernels<T>().lanes);
  return taps <= kMaxTaps && g.buf <= kMaxBlock && (s.OC / s.groups) * g.Lv <= kMaxBlock;
}

// Forward and weight-gradient: any stride.
template <typename T>
bool eligible(const Conv2dShape& s, int64_t taps) {
  const int algo = g_algo.load(std::memory_order_relaxed);
  if (algo == 1) return false;
  if (algo == 2) return true;
  return within_limits<T>(s, taps);
}

// The channels of one image (and group) into Hq x Wq planes, plane element (i, j) being input element
// (i - pad_h, j - pad_w): only the input's elements are copied, row by row. The zero border is never
// written, so a block zeroed once when allocated serves every image (writing the border again, rows of 10
// with 2 zeros for an 8 x 8 input, took 6 % of a UNet layer's forward).
template <typename T>
void copy_interior(const Conv2dShape& s, int64_t Hq, int64_t Wq, const T* img, T* buf) {
  const int64_t h0 = std::max<int64_t>(0, -s.pad_h), h1 = std::min<int64_t>(s.H, Hq - s.pad_h);
  const int64_t w0 = std::max<int64_t>(0, -s.pad_w), w1 = std::min<int64_t>(s.W, Wq - s.pad_w);
  if (h1 <= h0 || w1 <= w0) return;
  for (int64_t c = 0; c < s.C / s.groups; ++c) {
    const T* chan = img + c * s.H * s.W;
    T* plane = buf + c * Hq * Wq;
    for (int64_t ih = h0; ih < h1; ++ih)
      std::memcpy(plane + (ih + s.pad_h) * Wq + w0 + s.pad_w, chan + ih * s.W + w0, sizeof(T) * (w1 - w0));
  }
}

// The phase planes of channels [c0, c0 + Cg) of one image (see Geometry). At stride 1 (one plane per channel)
// `buf` must have been zeroed when allocated: only the input's elements are written (copy_interior).
template <typename T>
void pad_block(const Conv2dShape& s, const Geometry& g, const ConvDirectKernels<T>& k, const T* img, T* buf) {
  if (g.sh == 1 && g.sw == 1) return copy_interior(s, g.Hp, g.Wp, img, buf);
  const int64_t Cg = s.C / s.groups;
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t rh = 0; rh < g.sh; ++rh)
      for (int64_t rw = 0; rw < g.sw; ++rw)
        k.pad_plane(img + c * s.H * s.W, s.H, s.W, g.sh, rh - s.pad_h, g.sw, rw - s.pad_w, g.Hp, g.Wp,
                    buf + ((c * g.sh + rh) * g.sw + rw) * g.plane);
  const int64_t used = Cg * g.sh * g.sw * g.plane;
  std::fill(buf + used, buf + g.buf, T(0));
}

void tap_offsets(const Conv2dShape& s, const Geometry& g, std::vector<int64_t>& off) {
  const int64_t Cg = s.C / s.groups;
  off.resize(Cg * s.KH * s.KW);
  for (int64_t c = 0, t = 0; c < Cg; ++c)
    for (int64_t kh = 0; kh < s.KH; ++kh)
      for (int64_t kw = 0; kw < s.KW; ++kw, ++t) {
        const int64_t uh = kh * s.dil_h, uw = kw * s.dil_w;
        const int64_t phase = (c * g.sh + uh % g.sh) * g.sw + uw % g.sw;
        off[t] = phase * g.plane + (uh / g.sh) * g.Wp + uw / g.sw;
      }
}

// ------------------------------------------------------------------ forward

// Vectors per pass come in whole groups of every tile width the kernels use (2, 3 and 4).
constexpr int64_t kChunkMultiple = 12;

// Vectors of positions computed per pass over the output-channel tiles. A pass reads, in every
// channel plane of the block, about the span of its positions: keeping that under half the L2
// cache lets every output-channel tile re-read it from L2 instead of streaming the whole block
// from L3 once per tile (the 64 -> 128 stride-2 layer: 256 planes of 29 x 29 floats).
template <typename T>
int64_t chunk_vectors(int64_t planes, int lanes) {
  const int64_t span = cache_sizes().l2 / 2 / (int64_t)sizeof(T);
  const int64_t v = span / std::max<int64_t>(planes, 1) / lanes;
  return std::max<int64_t>(kChunkMultiple, v / kChunkMultiple * kChunkMultiple);
}

// Positions per pass (chunk, in vectors) and taps per pass (tblock). When the block is too large
// for the L1 cache over a chunk's span, the taps are split into channel groups whose span fits
// (about 3/4 of L1 over 12 vectors): every output-channel tile then re-reads them from L1, at the
// cost of adding partial sums into the wide rows once per group. Measured on Zen 3 (32 KiB L1,
// 8-float vectors), one thread, CPU time: 64 -> 128 stride 2 (256 phase planes per image) 66 -> 77
// GFLOP/s, 64 -> 64 56x56 80 -> 88, 128 -> 128 28x28 77 -> 85; 6 or 24 vectors and 16 or 32 KB
// spans did no better.
template <typename T>
void forward_blocking(const Conv2dShape& s, const Geometry& g, int64_t& chunk, int64_t& tblock) {
  constexpr int64_t kBlockedChunk = 12;
  const int64_t l1 = cache_sizes().l1d * 3 / 4 / (int64_t)sizeof(T);
  const int64_t Cg = s.C / s.groups, planes = g.sh * g.sw, KK = s.KH * s.KW;
  chunk = chunk_vectors<T>(Cg * planes, g.lanes);
  tblock = Cg * KK;
  const int64_t extra = (g.Hp - s.OH) * g.Wp + (g.Wp - s.OW) + g.lanes;
  if (Cg * planes * (chunk * g.lanes + extra) <= l1) return;
  chunk = std::min<int64_t>(chunk, kBlockedChunk);
  const int64_t cb = std::max<int64_t>(1, l1 / (planes * (chunk * g.lanes + extra)));
  tblock = std::min(Cg, cb) * KK;
}

// wide[oc][p + j] = sum_t w[oc][t] * block[off[t] + p + j] for every oc < OCg and position vector,
// in passes of `chunk` vectors and `tblock` taps (see forward_blocking).
template <typename T>
void forward_wide(const ConvDirectKernels<T>& k, const T* block, const int64_t* off, int64_t taps, const T* w,
                  int64_t OCg, int64_t Lv, const int64_t* starts, int64_t ns, bool split, int64_t chunk,
                  int64_t tblock, T* wide) {
  for (int64_t c0 = 0; c0 < ns; c0 += chunk)
    for (int64_t t0 = 0; t0 < taps; t0 += tblock)
      k.forward(block, off + t0, std::min(tblock, taps - t0), w + t0, taps, OCg, Lv, starts + c0 * (split ? 2 : 1),
                std::min(chunk, ns - c0), split, t0 > 0, wide);
}

// ------------------------------------------------------------------ output channels in the vectors

// The wide rows compute every position of their vectors, useful or not: a 7 x 7 output of a stride-2
// 4 x 4 kernel sits in 8 x 8 phase planes, 49 positions in 4 vectors of 16 (77%). Vectorised over
// output channels instead (offset_gemm, positions broadcast from the block), only the output
// positions are computed and the waste is the padding of the channels to whole vectors. That form
// is chosen when it wastes clearly less (on Zen 4, one thread: the 64 -> 128 stride-2 layer of a
// DCGAN critic on 14 x 14 inputs ran 1.4x faster forward and 1.9x faster in the weight gradient).
// Few taps (a one-channel input layer) leave each register tile too short a sum to pay for loading
// and storing its accumulators: those keep the wide rows.
// `channels` are the vectorised (output) channels, `taps` the length of each sum.
bool channels_in_vectors(int lanes, int64_t channels, int64_t taps, int64_t useful, int64_t computed) {
  if (g_algo.load(std::memory_order_relaxed) == 1 || channels < lanes || taps < 64) return false;
  const double wide = double(useful) / double(computed), vec = double(channels) / double(round_up(channels, lanes));
  return vec > wide + 0.05;
}

// Split vectors (two half loads of the block, and of dy in the weight gradient, per product) count as
// 3/4 of a whole one: on Zen 4, 2 threads, the UNet's 8 x 8 layers (32 to 96 input channels, 32 or
// 64 output channels: 4 split vectors per image, every lane useful) ran 1.1 to 1.4x faster in each
// pass vectorised over output channels, LeNet's 16-channel 8 x 8 weight gradient 1.2x.
bool channels_in_vectors(const Conv2dShape& s, const Geometry& g) {
  const int64_t computed = g.ns() * g.lanes;
  return channels_in_vectors(g.lanes, s.OC / s.groups, (s.C / s.groups) * s.KH * s.KW, s.OH * s.OW,
                             g.split ? computed * 4 / 3 : computed);
}

// Taps per pass of offset_gemm over `taps`: one column group's slice of B (at most 4 vectors wide)
// re-read by every row tile from L2, up to a sixth of it, in passes of equal length. Each pass loads
// and stores the accumulators of every tile again: on Zen 4, 2 threads, one pass over the 576 taps
// of a 64-channel 3 x 3 layer ran the forward and input gradient 3 to 7% faster than passes of an
// L1-sized slice (128 taps) on every UNet, ResNet and DCGAN layer tried; slices of half of L2 were
// no faster and up to 3% slower at 256 and 512 channels.
template <typename T>
int64_t og_tap_block(int lanes, int64_t taps) {
  const int64_t most = std::max<int64_t>(8, cache_sizes().l2 / 6 / (4 * lanes * (int64_t)sizeof(T)));
  const int64_t passes = std::max<int64_t>(1, (taps + most - 1) / most);
  return std::max<int64_t>(1, (taps + passes - 1) / passes);
}

// dst[c * ldd + r] = src[r * lds + c] (+ add[c] when add is given) for r < rows and c < cols, in square
// blocks whose lines stay in L1: the weights and outputs of the channels form change layout on every call, and
// element by element down whole columns the stores of a 64 x 576 weight alone took 30 us (one thread).
template <typename T>
void transpose_into(const T* src, int64_t lds, T* dst, int64_t ldd, int64_t rows, int64_t cols,
                    const T* add = nullptr) {
  constexpr int64_t kB = 16;
  for (int64_t c0 = 0; c0 < cols; c0 += kB)
    for (int64_t r0 = 0; r0 < rows; r0 += kB) {
      const int64_t r1 = std::min(rows, r0 + kB), c1 = std::min(cols, c0 + kB);
      for (int64_t c = c0; c < c1; ++c) {
        const T a = add ? add[c] : T(0);
        for (int64_t r = r0; r < r1; ++r) dst[c * ldd + r] = src[r * lds + c] + a;
      }
    }
}

// The channels form broadcasts single elements, so it needs no phase planes: each channel is
// copied once into a zero-bordered Hq x Wq plane (stride-1 row copies), tap (c, kh, kw) is the
// offset c * Hq * Wq + kh * dil_h * Wq + kw * dil_w and output (oh, ow) the offset
// oh * sh * Wq + ow * sw.
struct PlainBlock {
  int64_t Hq, Wq, size;
  std::vector<int64_t> taps, positions;
};

PlainBlock plain_block(const Conv2dShape& s) {
  PlainBlock b;
  const int64_t Cg = s.C / s.groups;
  b.Hq = (s.OH - 1) * s.stride_h + (s.KH - 1) * s.dil_h + 1;
  b.Wq = (s.OW - 1) * s.stride_w + (s.KW - 1) * s.dil_w + 1;
  b.size = Cg * b.Hq * b.Wq;
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t kh = 0; kh < s.KH; ++kh)
      for (int64_t kw = 0; kw < s.KW; ++kw) b.taps.push_back((c * b.Hq + kh * s.dil_h) * b.Wq + kw * s.dil_w);
  for (int64_t oh = 0; oh < s.OH; ++oh)
    for (int64_t ow = 0; ow < s.OW; ++ow) b.positions.push_back(oh * s.stride_h * b.Wq + ow * s.stride_w);
  return b;
}

// Rows of offset_gemm per task: a few images' positions at once (blocks b.size apart), so that row
// tiles of 6 rarely end short (49 positions: 8 tiles and one of 1) and each slice of B serves more rows.
template <typename T>
int64_t images_per_task(const Conv2dShape& s, int64_t per_image_buf) {
  const int64_t fit = cache_sizes().l2 / 4 / (int64_t)sizeof(T) / std::max<int64_t>(per_image_buf, 1);
  return std::max<int64_t>(1, std::min<int64_t>({4, fit, s.N / (2 * std::max(1, get_num_threads()))}));
}

template <typename T>
void forward_channels(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const ConvDirectKernels<T>& k = kernels<T>();
  const int64_t Cg = s.C / s.groups, OCg = s.OC / s.groups, taps = Cg * s.KH * s.KW, OHW = s.OH * s.OW;
  const int64_t OCp = round_up(OCg, k.lanes), tb = og_tap_block<T>(k.lanes, taps);
  const PlainBlock pb = plain_block(s);
  const int64_t per_task = images_per_task<T>(s, pb.size + OHW * OCp);
  std::vector<int64_t> rows(per_task * OHW);
  for (int64_t b = 0; b < per_task; ++b)
    for (int64_t i = 0; i < OHW; ++i) rows[b * OHW + i] = b * pb.size + pb.positions[i];
  // Weights as [group][tap][output channel], the channels padded with zeros to whole vectors.
  std::vector<T> wt(s.groups * taps * OCp, T(0));
  for (int64_t gr = 0; gr < s.groups; ++gr)
    transpose_into(w + gr * OCg * taps, taps, wt.data() + gr * taps * OCp, OCp, OCg, taps);
  const int64_t chunks = (s.N + per_task - 1) / per_task, tasks = chunks * s.groups;
  const int team = (int)std::max<int64_t>(1, std::min<int64_t>(threads_for(s.N * s.groups * OCg * taps * OHW), tasks));
  std::vector<T> blocks(team * per_task * pb.size, T(0)), outs(team * per_task * OHW * OCp);
#pragma omp parallel num_threads(team)
  {
    T* block = blocks.data() + omp_get_thread_num() * per_task * pb.size;
    T* out = outs.data() + omp_get_thread_num() * per_task * OHW * OCp;
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t n0 = task / s.groups * per_task, gr = task % s.groups, nb = std::min(per_task, s.N - n0);
      for (int64_t b = 0; b < nb; ++b)
        copy_interior(s, pb.Hq, pb.Wq, x + ((n0 + b) * s.C + gr * Cg) * s.H * s.W, block + b * pb.size);
      for (int64_t t0 = 0; t0 < taps; t0 += tb)
        k.offset_gemm(block, rows.data(), nb * OHW, pb.taps.data() + t0, std::min(tb, taps - t0),
                      wt.data() + (gr * taps + t0) * OCp, OCp, OCp, out, OCp, t0 > 0);
      for (int64_t b = 0; b < nb; ++b)
        transpose_into(out + b * OHW * OCp, OCp, y + ((n0 + b) * s.OC + gr * OCg) * OHW, OHW, OHW, OCg,
                       bias ? bias + gr * OCg : nullptr);
    }
  }
}

template <typename T>
void forward_impl(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const ConvDirectKernels<T>& k = kernels<T>();
  const Geometry g = geometry<T>(s, k.lanes);
  if (channels_in_vectors(s, g)) return forward_channels(s, x, w, bias, y);
  const int64_t Cg = s.C / s.groups, OCg = s.OC / s.groups, taps = Cg * s.KH * s.KW;
  std::vector<int64_t> off;
  tap_offsets(s, g, off);
  const int64_t tasks = s.N * s.groups;
  int64_t chunk, tblock;
  forward_blocking<T>(s, g, chunk, tblock);
  // Per-thread buffers are allocated here: an exception must not leave an OpenMP region.
  const int team = (int)std::max<int64_t>(1, std::min<int64_t>(threads_for(tasks * OCg * taps * g.Lv), tasks));
  std::vector<T> blocks(team * g.buf, T(0)), wides(team * OCg * g.Lv);
#pragma omp parallel num_threads(team)
  {
    T* block = blocks.data() + omp_get_thread_num() * g.buf;
    T* wide = wides.data() + omp_get_thread_num() * OCg * g.Lv;
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t n = task / s.groups, gr = task % s.groups;
      pad_block(s, g, k, x + (n * s.C + gr * Cg) * s.H * s.W, block);
      forward_wide(k, block, off.data(), taps, w + gr * OCg * taps, OCg, g.Lv, g.starts.data(), g.ns(), g.split,
                   chunk, tblock, wide);
      for (int64_t oc = 0; oc < OCg; ++oc)
        k.copy_rows(wide + oc * g.Lv, g.Wp, y + (n * s.OC + gr * OCg + oc) * s.OH * s.OW, s.OW, s.OH, s.OW,
                    bias ? bias[gr * OCg + oc] : T(0));
    }
  }
}

}  // namespace

void set_conv_algorithm(int algo) { g_algo.store(algo); }
int get_conv_algorithm() { return g_algo.load(); }

template <typename T>
bool conv_direct_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  if (!eligible<T>(s, (s.C / s.groups) * s.KH * s.KW)) return false;
  forward_impl(s, x, w, bias, y);
  return true;
}

// dy of image n, group gr: each output channel's rows copied g.Wp apart after `margin` zeros, channels
// `ld` apart (the zero-margined copy both strided input-gradient forms sum over).
template <typename T>
void copy_dy_rows(const Conv2dShape& s, const Geometry& g, const T* dy, int64_t n, int64_t gr, int64_t OCg, int64_t ld,
                  int64_t margin, T* dyp) {
  for (int64_t oc = 0; oc < OCg; ++oc) {
    const T* src = dy + (n * s.OC + gr * OCg + oc) * s.OH * s.OW;
    T* dst = dyp + oc * ld + margin;
    for (int64_t oh = 0; oh < s.OH; ++oh) std::memcpy(dst + oh * g.Wp, src + oh * s.OW, s.OW * sizeof(T));
  }
}

// backward_input_phases vectorised over the input channels: per phase, offset_gemm over the
// positions of that plane that are dx elements, with the phase's weights as [tap][channel].
template <typename T>
bool backward_input_phase_channels(const Conv2dShape& s, const Geometry& g, const T* dy, const T* w,
                                   const std::vector<std::vector<int64_t>>& offs,
                                   const std::vector<std::vector<int64_t>>& tap_k, int64_t margin, int64_t ld, T* dx) {
  const ConvDirectKernels<T>& k = kernels<T>();
  const int64_t Cg = s.C / s.groups, OCg = s.OC / s.groups, KK = s.KH * s.KW, phases = g.sh * g.sw;
  const int64_t Cp = round_up(Cg, g.lanes), HW = s.H * s.W;
  // Per phase: the plane positions that are dx elements and the elements they are.
  std::vector<std::vector<int64_t>> pos(phases), dst(phases);
  for (int64_t ph = 0; ph < phases; ++ph) {
    const int64_t rh = ph / g.sw, rw = ph % g.sw;
    for (int64_t i = 0; i < g.Hp; ++i) {
      const int64_t ih = g.sh * i + rh - s.pad_h;
      if (ih < 0 || ih >= s.H) continue;
      for (int64_t j = 0; j < g.Wp; ++j) {
        const int64_t iw = g.sw * j + rw - s.pad_w;
        if (iw < 0 || iw >= s.W) continue;
        pos[ph].push_back(i * g.Wp + j);
        dst[ph].push_back(ih * s.W + iw);
      }
    }
  }
  std::vector<std::vector<T>> wct(phases * s.groups);  // [tap][channel], channels padded to Cp
  for (int64_t gr = 0; gr < s.groups; ++gr)
    for (int64_t ph = 0; ph < phases; ++ph) {
      const int64_t nt = (int64_t)tap_k[ph].size();
      std::vector<T>& wt = wct[gr * phases + ph];
      wt.assign(nt * Cp, T(0));
      for (int64_t t = 0; t < nt; ++t) {
        const T* src = w + (gr * OCg + tap_k[ph][t] / KK) * Cg * KK + tap_k[ph][t] % KK;
        for (int64_t c = 0; c < Cg; ++c) wt[t * Cp + c] = src[c * KK];
      }
    }
  int64_t most = 1;
  for (const auto& p : pos) most = std::max<int64_t>(most, (int64_t)p.size());
  const int64_t tasks = s.N * s.groups;
  const int team = (int)std::max<int64_t>(1, std::min<int64_t>(threads_for(tasks * Cg * OCg * KK * g.plane), tasks));
  std::vector<T> dyps(team * OCg * ld, T(0)), outs(team * most * Cp);
#pragma omp parallel num_threads(team)
  {
    T* dyp = dyps.data() + omp_get_thread_num() * OCg * ld;
    T* out = outs.data() + omp_get_thread_num() * most * Cp;
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t n = task / s.groups, gr = task % s.groups;
      copy_dy_rows(s, g, dy, n, gr, OCg, ld, margin, dyp);
      T* dxg = dx + (n * s.C + gr * Cg) * HW;
      for (int64_t ph = 0; ph < phases; ++ph) {
        const int64_t nt = (int64_t)offs[ph].size(), np = (int64_t)pos[ph].size();
        if (np == 0) continue;
        if (nt == 0) {
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t r = 0; r < np; ++r) dxg[c * HW + dst[ph][r]] = T(0);
          continue;
        }
        const int64_t tb = og_tap_block<T>(g.lanes, nt);
        for (int64_t t0 = 0; t0 < nt; t0 += tb)
          k.offset_gemm(dyp, pos[ph].data(), np, offs[ph].data() + t0, std::min(tb, nt - t0),
                        wct[gr * phases + ph].data() + t0 * Cp, Cp, Cp, out, Cp, t0 > 0);
        for (int64_t c = 0; c < Cg; ++c)
          for (int64_t r = 0; r < np; ++r) dxg[c * HW + dst[ph][r]] = out[r * Cp + c];
      }
    }
  }
  return true;
}

// The input-gradient of a strided convolution, phase by phase: the adjoint of
// y[oc][i] = sum_t w[oc][t] * block[phase(t)][i + q(t)] is
// dblock[phase][c][j] = sum over oc and the taps of that phase of w[oc][c][tap] * dy[oc][j - q(tap)],
// a stride-1 wide-row sum over a zero-margined copy of dy; each phase plane then lands on its
// own rows and columns of dx (every dx element belongs to exactly one phase position).
template <typename T>
bool backward_input_phases(const Conv2dShape& s, const T* dy, const T* w, T* dx) {
  const int algo = g_algo.load(std::memory_order_relaxed);
  const int64_t Cg = s.C / s.groups, OCg = s.OC / s.groups, KK = s.KH * s.KW;
  if (algo == 1 || s.OH * s.OW == 0) return false;
  const ConvDirectKernels<T>& k = kernels<T>();
  const Geometry g = geometry<T>(s, k.lanes);
  const int64_t qh_max = ((s.KH - 1) * s.dil_h) / g.sh, qw_max = ((s.KW - 1) * s.dil_w) / g.sw;
  const int64_t margin = qh_max * g.Wp + qw_max;
  const int64_t Lp = round_up(g.plane, row_align<T>(k.lanes));  // computed length of each phase plane
  const int64_t ld = margin + Lp + k.lanes;                      // per output channel of the dy copy
  if (algo != 2 && (OCg * KK > kMaxTaps || OCg * ld > kMaxBlock || Cg * Lp > kMaxBlock)) return false;
  // Per phase: its taps (oc, kh, kw), their offsets into the dy copy, and weights [c][tap].
  const int64_t phases = g.sh * g.sw;
  std::vector<std::vector<int64_t>> offs(phases);
  std::vector<std::vector<int64_t>> tap_k(phases);  // kh * KW + kw of each tap, per phase (oc-major)
  for (int64_t oc = 0; oc < OCg; ++oc)
    for (int64_t kh = 0; kh < s.KH; ++kh)
      for (int64_t kw = 0; kw < s.KW; ++kw) {
        const int64_t uh = kh * s.dil_h, uw = kw * s.dil_w;
        const int64_t ph = (uh % g.sh) * g.sw + uw % g.sw;
        offs[ph].push_back(oc * ld + margin - ((uh / g.sh) * g.Wp + uw / g.sw));
        tap_k[ph].push_back(oc * KK + kh * s.KW + kw);
      }
  const int64_t tasks = s.N * s.groups;
  const int team = (int)std::max<int64_t>(1, std::min<int64_t>(threads_for(tasks * Cg * OCg * KK * g.plane), tasks));
  // Every dx element is one position of one phase plane: vectorised over the input channels,
  // only those positions are computed (see channels_in_vectors), against Lp per phase plane.
  int64_t with_taps = 0;
  for (int64_t ph = 0; ph < phases; ++ph) with_taps += !offs[ph].empty();
  std::vector<std::vector<T>> wts(phases * s.groups);
  if (channels_in_vectors(k.lanes, Cg, OCg * KK / phases, s.H * s.W, std::max<int64_t>(1, with_taps * Lp)))
    return backward_input_phase_channels(s, g, dy, w, offs, tap_k, margin, ld, dx);
  for (int64_t gr = 0; gr < s.groups; ++gr)
    for (int64_t ph = 0; ph < phases; ++ph) {
      const int64_t nt = (int64_t)tap_k[ph].size();
      std::vector<T>& wt = wts[gr * phases + ph];
      wt.resize(Cg * nt);
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t t = 0; t < nt; ++t) {
          const int64_t oc = tap_k[ph][t] / KK, kk = tap_k[ph][t] % KK;
          wt[c * nt + t] = w[((gr * OCg + oc) * Cg + c) * KK + kk];
        }
    }
  std::vector<T> dyps(team * OCg * ld, T(0)), outs(team * Cg * Lp);
  std::vector<int64_t> starts;
  wide_starts(Lp, k.lanes, starts);
  const int64_t chunk = chunk_vectors<T>(OCg, k.lanes);
#pragma omp parallel num_threads(team)
  {
    T* dyp = dyps.data() + omp_get_thread_num() * OCg * ld;
    T* out = outs.data() + omp_get_thread_num() * Cg * Lp;
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t n = task / s.groups, gr = task % s.groups;
      copy_dy_rows(s, g, dy, n, gr, OCg, ld, margin, dyp);
      T* dxg = dx + (n * s.C + gr * Cg) * s.H * s.W;
      std::fill(dxg, dxg + Cg * s.H * s.W, T(0));
      for (int64_t ph = 0; ph < phases; ++ph) {
        const int64_t nt = (int64_t)offs[ph].size();
        if (nt == 0) continue;
        forward_wide(k, dyp, offs[ph].data(), nt, wts[gr * phases + ph].data(), Cg, Lp, starts.data(),
                     (int64_t)starts.size(), false, chunk, nt, out);
        const int64_t rh = ph / g.sw, rw = ph % g.sw;
        for (int64_t c = 0; c < Cg; ++c)
          for (int64_t i = 0; i < g.Hp; ++i) {
            const int64_t ih = g.sh * i + rh - s.pad_h;
            if (ih < 0 || ih >= s.H) continue;
            const T* o = out + c * Lp + i * g.Wp;
            T* d = dxg + (c * s.H + ih) * s.W;
            for (int64_t j = 0; j < g.Wp; ++j) {
              const int64_t iw = g.sw * j + rw - s.pad_w;
              if (iw >= 0 && iw < s.W) d[iw] = o[j];
            }
          }
      }
    }
  }
  return true;
}

// dx (the channels of one image and group) from the gradient of its block, the adjoint of
// pad_block at stride 1: input element (ih, iw) is block element (ih + pad_h, iw + pad_w); rows and
// columns beyond the block are read by no tap.
template <typename T>
void unpad_block(const Conv2dShape& s, const Geometry& g, const ConvDirectKernels<T>& k, const T* dblock, T* dx) {
  const int64_t Cg = s.C / s.groups, rows = std::max<int64_t>(0, std::min(s.H, g.Hp - s.pad_h));
  const int64_t cols = std::max<int64_t>(0, std::min(s.W, g.Wp - s.pad_w));
  std::fill(dx, dx + Cg * s.H * s.W, T(0));
  for (int64_t c = 0; c < Cg; ++c)
    k.add_rows(dblock + c * g.plane + s.pad_h * g.Wp + s.pad_w, g.Wp, dx + c * s.H * s.W, s.W, rows, cols);
}

// ------------------------------------------------------------------ input-gradient as the forward's adjoint

// The forward computes wide[oc][p] = sum_t w[oc][t] * block[off[t] + p]; its adjoint scatters
// dblock[off[t] + p] += sum_oc w[oc][t] * dyw[oc][p] over the same vector starts p. A register
// tile holds TB taps x NV vectors, reduced over the output channels and then added into the
// block: the work is that of the forward, with none of the zero rows and columns that the
// flipped-kernel form computes around a small dy (8 x 8 with a 5 x 5 kernel: 144 outputs of 25
// taps for 64 x 25 products). Taps are ordered (kw, kh, c) so that the TB taps of a tile lie in
// different channels or rows: their vectors never partly overlap, which would stall the loads of
// the additions on the stores before them.
// Vectors the adjoint form computes per (image, group), against the flipped-kernel form (whose
// sum has the same taps per vector): the adjoint is chosen when it computes fewer, or when the
// padding is too large for the flipped form.
template <typename T>
bool backward_input_adjoint(const Conv2dShape& s, const T* dy, const T* w, T* dx) {
  const ConvDirectKernels<T>& k = kernels<T>();
  const Geometry g = geometry<T>(s, k.lanes);
  const int64_t Cg = s.C / s.groups, OCg = s.OC / s.groups, KK = s.KH * s.KW, taps = Cg * KK;
  std::vector<int64_t> off0;
  tap_offsets(s, g, off0);
  // Tap order (kw, kh, c); weights transposed to [tap][oc] per group.
  std::vector<int64_t> perm, off;
  for (int64_t kw = 0; kw < s.KW; ++kw)
    for (int64_t kh = 0; kh < s.KH; ++kh)
      for (int64_t c = 0; c < Cg; ++c) perm.push_back(c * KK + kh * s.KW + kw);
  for (int64_t t : perm) off.push_back(off0[t]);
  std::vector<T> wt(s.groups * taps * OCg);
  for (int64_t gr = 0; gr < s.groups; ++gr)
    for (int64_t i = 0; i < taps; ++i)
      for (int64_t oc = 0; oc < OCg; ++oc) wt[(gr * taps + i) * OCg + oc] = w[(gr * OCg + oc) * taps + perm[i]];
  const int64_t tasks = s.N * s.groups, ns = g.ns();
  const int team = (int)std::max<int64_t>(1, std::min<int64_t>(threads_for(tasks * OCg * taps * ns * k.lanes), tasks));
  std::vector<T> blocks(team * g.buf), dyws(team * OCg * g.Lv, T(0));
#pragma omp parallel num_threads(team)
  {
    const int tid = omp_get_thread_num();
    T* dblock = blocks.data() + tid * g.buf;
    T* dyw = dyws.data() + tid * OCg * g.Lv;
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t n = task / s.groups, gr = task % s.groups;
      // dy in the wide layout; the discarded columns stay zero so they add nothing.
      for (int64_t oc = 0; oc < OCg; ++oc)
        k.copy_rows(dy + (n * s.OC + gr * OCg + oc) * s.OH * s.OW, s.OW, dyw + oc * g.Lv, g.Wp, s.OH, s.OW, T(0));
      std::fill(dblock, dblock + g.buf, T(0));
      k.adjoint(dyw, g.Lv, OCg, wt.data() + gr * taps * OCg, off.data(), taps, g.starts.data(), ns, g.split, dblock);
      unpad_block(s, g, k, dblock, dx + (n * s.C + gr * Cg) * s.H * s.W);
    }
  }
  return true;
}

// The input-gradient of a stride-1 convolution is a stride-1 convolution of dy with the
// kernel flipped and its channel axes swapped, padded by dil * (K - 1) - pad.
template <typename T>
bool conv_direct_backward_input(const Conv2dShape& s, const T* dy, const T* w, T* dx) {
  Conv2dShape t = s;
  t.C = s.OC;
  t.H = s.OH;
  t.W = s.OW;
  t.OC = s.C;
  t.OH = s.H;
  t.OW = s.W;
  t.pad_h = (s.KH - 1) * s.dil_h - s.pad_h;
  t.pad_w = (s.KW - 1) * s.dil_w - s.pad_w;
  if (s.stride_h != 1 || s.stride_w != 1) return backward_input_phases(s, dy, w, dx);
  if (s.OH * s.OW == 0) return false;
  const int lanes = kernels<T>().lanes;
  const bool flipped_ok = t.pad_h >= 0 && t.pad_w >= 0 && eligible<T>(t, (t.C / t.groups) * t.KH * t.KW);
  if (eligible<T>(s, (s.C / s.groups) * s.KH * s.KW) &&
      (!flipped_ok || geometry<T>(s, lanes).ns() < geometry<T>(t, lanes).ns()))
    return backward_input_adjoint(s, dy, w, dx);
  if (!flipped_ok) return false;
  const int64_t Cg = s.C / s.groups, OCg = s.OC / s.groups, KK = s.KH * s.KW;
  std::vector<T> wt(s.OC * Cg * KK);
  for (int64_t g = 0; g < s.groups; ++g)
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t oc = 0; oc < OCg; ++oc)
        for (int64_t k = 0; k < KK; ++k)
          wt[((g * Cg + c) * OCg + oc) * KK + k] = w[((g * OCg + oc) * Cg + c) * KK + (KK - 1 - k)];
  forward_impl(t, dy, wt.data(), static_cast<const T*>(nullptr), dx);
  return true;
}

// dw[oc][t] = sum over images and positions p of block[off[t] + p] * dy[oc][p], as offset_gemm with
// the taps as rows and the positions of a few images (plain blocks pb.size apart) as the sum: dy is
// copied transposed, [position][output channel], and each thread keeps its own [tap][channel] sums.
template <typename T>
void backward_weight_channels(const Conv2dShape& s, const T* x, const T* dy, T* dw) {
  const ConvDirectKernels<T>& k = kernels<T>();
  const int64_t Cg = s.C / s.groups, OCg = s.OC / s.groups, taps = Cg * s.KH * s.KW, OHW = s.OH * s.OW;
  const int64_t OCp = round_up(OCg, k.lanes);
  const PlainBlock pb = plain_block(s);
  // Images per task: their dy rows for one column group (4 vectors) within half of L1, re-read
  // by every row tile of taps.
  const int64_t per_task = std::max<int64_t>(
      1, std::min<int64_t>(s.N, cache_sizes().l1d / 2 / (OHW * 4 * k.lanes * (int64_t)sizeof(T))));
  std::vector<int64_t> ck(per_task * OHW);
  for (int64_t b = 0; b < per_task; ++b)
    for (int64_t i = 0; i < OHW; ++i) ck[b * OHW + i] = b * pb.size + pb.positions[i];
  const int64_t chunks = (s.N + per_task - 1) / per_task, tasks = chunks * s.groups;
  const int64_t local_size = s.groups * taps * OCp;
  const int team = (int)std::max<int64_t>(1, std::min<int64_t>(threads_for(s.N * OCg * taps * OHW), tasks));
  std::vector<T> blocks(team * per_task * pb.size, T(0)), dyts(team * per_task * OHW * OCp, T(0)),
      locals(team * local_size, T(0));
#pragma omp parallel num_threads(team)
  {
    const int tid = omp_get_thread_num();
    T* block = blocks.data() + tid * per_task * pb.size;
    T* dyt = dyts.data() + tid * per_task * OHW * OCp;
    T* local = locals.data() + tid * local_size;
    // A static split and the per-thread sums added in thread order after the region: the same
    // bits on every run (an exactly resumed training run depends on it).
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t n0 = task / s.groups * per_task, gr = task % s.groups;
      const int64_t nb = std::min(per_task, s.N - n0);
      for (int64_t b = 0; b < nb; ++b) {
        const int64_t n = n0 + b;
        copy_interior(s, pb.Hq, pb.Wq, x + (n * s.C + gr * Cg) * s.H * s.W, block + b * pb.size);
        transpose_into(dy + (n * s.OC + gr * OCg) * OHW, OHW, dyt + b * OHW * OCp, OCp, OCg, OHW);
      }
      k.offset_gemm(block, pb.taps.data(), taps, ck.data(), nb * OHW, dyt, OCp, OCp, local + gr * taps * OCp, OCp,
                    true);
    }
  }
  // the threads' sums added in thread order, then written as [oc][tap]
  T* total = locals.data();
  for (int tid = 1; tid < team; ++tid) {
    const T* local = locals.data() + tid * local_size;
    for (int64_t i = 0; i < local_size; ++i) total[i] += local[i];
  }
  for (int64_t gr = 0; gr < s.groups; ++gr)
    transpose_into(total + gr * taps * OCp, OCp, dw + gr * OCg * taps, taps, taps, OCg);
}

template <typename T>
bool conv_direct_backward_weight(const Conv2dShape& s, const T* x, const T* dy, T* dw) {
  const int64_t Cg = s.C / s.groups, OCg = s.OC / s.groups, taps = Cg * s.KH * s.KW;
  if (!eligible<T>(s, taps)) return false;
  const ConvDirectKernels<T>& k = kernels<T>();
  const Geometry g = geometry<T>(s, k.lanes);
  // Not on the portable path (4 lanes, no FMA): there the lane-wise sums of the wide rows ran the
  // DCGAN critic's 64 -> 128 stride-2 weight gradient in 34 ms against 62 (one thread, Zen 4).
  if (cpu_path() != CpuPath::portable && channels_in_vectors(s, g)) {
    backward_weight_channels(s, x, dy, dw);
    return true;
  }
  std::vector<int64_t> off;
  tap_offsets(s, g, off);
  // A few images per task when they are small: each tile then sums over the vectors of all of them
  // before adding its accumulators out (an 8 x 8 output has only 8 vectors of 8 per image, against
  // 12 accumulators to add out per tile). Block and dy copy of image b sit at b * S in their
  // buffers, so one list of starts serves both.
  const int64_t S = std::max<int64_t>(g.buf, OCg * g.Lv), ns = g.ns();
  // About 384 positions per pass, with the images' blocks and dy copies within a quarter of L2:
  // more would move their working set from L1 to L2.
  const int64_t pass = (384 / k.lanes + ns - 1) / ns, fit = cache_sizes().l2 / 4 / (int64_t)sizeof(T) / S;
  const int64_t per_task =
      std::max<int64_t>(1, std::min({pass, fit, s.N / (4 * std::max(1, get_num_threads()))}));
  const int64_t chunks = (s.N + per_task - 1) / per_task;
  const int64_t per_image = (int64_t)g.starts.size();
  std::vector<int64_t> starts(per_task * per_image);
  for (int64_t b = 0; b < per_task; ++b)
    for (int64_t i = 0; i < per_image; ++i) starts[b * per_image + i] = b * S + g.starts[i];
  const int64_t tasks = chunks * s.groups, total = s.OC * taps, lanes = k.lanes;
  std::fill(dw, dw + total, T(0));
  const int team = (int)std::max<int64_t>(
      1, std::min<int64_t>(threads_for(s.N * s.groups * OCg * taps * ns * lanes), tasks));
  std::vector<T> blocks(team * per_task * S, T(0)), dyws(team * per_task * S, T(0)), locals(team * total * lanes, T(0));
#pragma omp parallel num_threads(team)
  {
    const int tid = omp_get_thread_num();
    T* block = blocks.data() + tid * per_task * S;
    T* dyw = dyws.data() + tid * per_task * S;
    T* local = locals.data() + tid * total * lanes;
    // Static split, thread-ordered sum after the region: the same bits on every run.
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t n0 = task / s.groups * per_task, gr = task % s.groups;
      const int64_t nb = std::min(per_task, s.N - n0);
      for (int64_t b = 0; b < nb; ++b) {
        const int64_t n = n0 + b;
        pad_block(s, g, k, x + (n * s.C + gr * Cg) * s.H * s.W, block + b * S);
        // dy in the wide layout; the discarded columns stay zero so they add nothing.
        for (int64_t oc = 0; oc < OCg; ++oc)
          k.copy_rows(dy + (n * s.OC + gr * OCg + oc) * s.OH * s.OW, s.OW, dyw + b * S + oc * g.Lv, g.Wp, s.OH, s.OW,
                      T(0));
      }
      k.wgrad(dyw, OCg, block, off.data(), taps, g.Lv, starts.data(), nb * ns, g.split,
              local + gr * OCg * taps * lanes);
    }
    // Each thread sums its lanes (in place: weight i's sum lands below the lanes still to read).
    for (int64_t i = 0; i < total; ++i) {
      T sum = 0;
      for (int64_t l = 0; l < lanes; ++l) sum += local[i * lanes + l];
      local[i] = sum;
    }
  }
  for (int tid = 0; tid < team; ++tid) {
    const T* local = locals.data() + tid * total * lanes;
    for (int64_t i = 0; i < total; ++i) dw[i] += local[i];
  }
  return true;
}

template bool conv_direct_forward<float>(const Conv2dShape&, const float*, const float*, const float*, float*);
template bool conv_direct_forward<double>(const Conv2dShape&, const double*, const double*, const double*, double*);
template bool conv_direct_backward_input<float>(const Conv2dShape&, const float*, const float*, float*);
template bool conv_direct_backward_input<double>(const Conv2dShape&, const double*, const double*, double*);
template bool conv_direct_backward_weight<float>(const Conv2dShape&, const float*, const float*, float*);
template bool conv_direct_backward_weight<double>(const Conv2dShape&, const double*, const double*, double*);

}  // namespace fastnn
