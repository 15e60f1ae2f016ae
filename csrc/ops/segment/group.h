// Host-side grouping and checks of index lists, used by the binding of both modules (on CUDA the
// list is read back first: the lists grouped here are a batch's ids, short beside the tables).
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace fastnn {
namespace segment {

// The positions of index[0, n) whose value is not `skip`, grouped by value: `order` lists them
// sorted by (value, position), `ids` the distinct values ascending, `offsets` (ids.size() + 1)
// where each group starts in `order`.
template <typename I>
void index_coalesce(int64_t n, const I* index, int64_t skip, std::vector<int64_t>& ids,
                    std::vector<int64_t>& offsets, std::vector<int64_t>& order) {
  order.clear();
  order.reserve((size_t)n);
  for (int64_t k = 0; k < n; ++k)
    if ((int64_t)index[k] != skip) order.push_back(k);
  // Stable in position, so the sums over a group run in position order.
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return index[a] < index[b]; });
  ids.clear();
  offsets.clear();
  for (size_t k = 0; k < order.size(); ++k) {
    const int64_t id = (int64_t)index[order[k]];
    if (ids.empty() || ids.back() != id) {
      ids.push_back(id);
      offsets.push_back((int64_t)k);
    }
  }
  offsets.push_back((int64_t)order.size());
}

// The first position whose value lies outside [lowest, rows) (or, with `increasing`, is not above
// the one before), or -1. Blocks are checked with a branch-free min / max first (vectorised by the
// compiler), and searched one by one only when they hold a bad value.
template <typename I>
int64_t first_bad_index(int64_t n, const I* index, int64_t rows, bool increasing, int64_t lowest = 0) {
  if (increasing) {
    for (int64_t k = 0; k < n; ++k) {
      const int64_t v = (int64_t)index[k];
      if (v < lowest || v >= rows || (k > 0 && v <= (int64_t)index[k - 1])) return k;
    }
    return -1;
  }
  constexpr int64_t kBlock = 4096;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = b + kBlock < n ? b + kBlock : n;
    I lo = index[b], hi = index[b];
    for (int64_t k = b; k < e; ++k) {
      lo = index[k] < lo ? index[k] : lo;
      hi = index[k] > hi ? index[k] : hi;
    }
    if ((int64_t)lo >= lowest && (int64_t)hi < rows) continue;
    for (int64_t k = b; k < e; ++k)
      if ((int64_t)index[k] < lowest || (int64_t)index[k] >= rows) return k;
  }
  return -1;
}

// Of an index list already known to lie in [0, rows): whether a value occurs twice, and whether every
// value of [0, rows) occurs.
struct IndexCover {
  bool repeats, covers_all;
};
template <typename I>
IndexCover index_cover(int64_t n, const I* index, int64_t rows) {
  std::vector<unsigned char> seen((size_t)rows, 0);
  int64_t distinct = 0;
  bool repeats = false;
  for (int64_t k = 0; k < n; ++k) {
    unsigned char& s = seen[(size_t)index[k]];
    repeats |= s != 0;
    distinct += s == 0;
    s = 1;
  }
  return {repeats, distinct == rows};
}

}  // namespace segment
}  // namespace fastnn
