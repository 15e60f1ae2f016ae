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
// the one before), or -1.
template <typename I>
int64_t first_bad_index(int64_t n, const I* index, int64_t rows, bool increasing, int64_t lowest = 0) {
  for (int64_t k = 0; k < n; ++k) {
    const int64_t v = (int64_t)index[k];
    if (v < lowest || v >= rows || (increasing && k > 0 && v <= (int64_t)index[k - 1])) return k;
  }
  return -1;
}

}  // namespace segment
}  // namespace fastnn
