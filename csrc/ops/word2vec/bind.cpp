// The binding of the word2vec training kernel, compiled into both modules: one call trains the
// tables in place on a chunk of the corpus (contract: ops/word2vec/word2vec.h) and returns
// (counters used, words kept after subsampling, summed loss or 0).
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "core/device.h"
#include "core/threads.h"

#if FASTNN_CUDA_MODULE
#include "ops/word2vec/cuda.h"
#else
#include "ops/word2vec/cpu.h"
#endif

namespace fastnn {
namespace {

using word2vec::Arrays;
using word2vec::Config;
using word2vec::Totals;

// A 1-D input of `dtype` (any stride), or none.
ArrayView vector_arg(Call& call, const char* name, py::handle obj, DType dtype) {
  ArrayView v = call.array(name, obj, 1);
  require_dtype(call.fn, v, dtype);
  require_aligned(call.fn, v);
  return v;
}

std::string broken_message(uint32_t broken, const ArrayView& syn0, const ArrayView& tokens, const ArrayView& offsets) {
  const std::string V = std::to_string(syn0.shape[0]);
  if (broken & word2vec::kTokenOutOfRange)
    return "argument 'tokens' holds word ids outside [0, " + V + ") ('syn0' has shape " + syn0.shape_str() + ")";
  if (broken & word2vec::kOffsetsBad)
    return "argument 'offsets' " + offsets.shape_str() + " must be non-decreasing within [0, " +
           std::to_string(tokens.shape[0]) + "] (the length of 'tokens')";
  if (broken & word2vec::kKeepProbBad) return "argument 'keep_prob' must hold probabilities in [0, 1]";
  if (broken & word2vec::kCumDecreasing) return "argument 'cum_table' must be non-negative and non-decreasing";
  return "argument 'cum_table' must end with a total in (0, 2^32]";
}

template <typename T>
py::tuple run(Call& call, Config c, const ArrayView& syn0, const ArrayView& syn1neg, const ArrayView& tokens,
              const ArrayView& offsets, const ArrayView* keep, const ArrayView* cum, int threads) {
  const std::string& fn = call.fn;
  Arrays<T> a;
  a.syn0 = syn0.ptr<T>();
  a.syn1neg = syn1neg.ptr<T>();
  a.tokens = tokens.ptr<int64_t>();
  a.tokens_stride = tokens.strides[0];
  a.n_tokens = tokens.shape[0];
  a.offsets = offsets.ptr<int64_t>();
  a.offsets_stride = offsets.strides[0];
  a.sentences = offsets.shape[0] - 1;
  a.keep_prob = keep ? keep->ptr<double>() : nullptr;
  a.keep_stride = keep ? keep->strides[0] : 0;
  a.cum = cum ? cum->ptr<int64_t>() : nullptr;
  a.cum_stride = cum ? cum->strides[0] : 0;
  const int64_t checked = std::max({a.n_tokens, a.sentences + 1, c.vocab});
  Totals tot{0.0, 0};
#if FASTNN_CUDA_MODULE
  (void)threads;
  cudaStream_t stream = call.stream();
  ArrayView flag = call.empty("flag", {1}, kInt64);
  uint32_t broken;
  {
    py::gil_scoped_release release;
    broken = cuda::word2vec_check<T>(a, c.vocab, checked, flag.ptr<int64_t>(), stream);
  }
  if (broken) fail_value(fn, broken_message(broken, syn0, tokens, offsets));
  const int64_t lanes = cuda::word2vec_lanes(a.n_tokens);
  ArrayView kept = call.empty("kept", {a.n_tokens}, DType{'i', 1, true});
  ArrayView scratch = call.empty("scratch", {lanes, 2 * c.dim}, syn0.dtype);
  ArrayView sums = call.empty("sums", {2}, kFloat64);
  {
    py::gil_scoped_release release;
    tot = cuda::word2vec_train<T>(c, a, kept.ptr<uint8_t>(), scratch.ptr<T>(), lanes, sums.ptr<double>(), stream);
  }
#else
  uint32_t broken = 0;
  for (int64_t i = 0; i < checked; ++i) broken |= word2vec::check_at<T>(a, c.vocab, i);
  if (broken) fail_value(fn, broken_message(broken, syn0, tokens, offsets));
  int64_t longest = 0;
  for (int64_t s = 0; s < a.sentences; ++s)
    longest = std::max(longest, a.offsets[(s + 1) * a.offsets_stride] - a.offsets[s * a.offsets_stride]);
  if (threads == 0) threads = get_num_threads();
  if ((int64_t)threads > a.sentences) threads = (int)std::max<int64_t>(a.sentences, 1);
  std::vector<int64_t> positions((size_t)(threads * longest));
  std::vector<T> vectors((size_t)(threads * 2 * c.dim));
  word2vec::Scratch scratch{positions.data(), longest, vectors.data()};
  {
    py::gil_scoped_release release;
    tot = word2vec::train_cpu<T>(c, a, threads, scratch);
  }
#endif
  (void)fn;
  return py::make_tuple(py::int_(a.n_tokens), py::int_(tot.kept_words), py::float_(tot.loss));
}

py::tuple word2vec_train_py(py::handle syn0_obj, py::handle syn1neg_obj, py::handle tokens_obj, py::handle offsets_obj,
                            py::handle keep_obj, py::handle cum_obj, int64_t window, int64_t negative, bool sg,
                            bool cbow_mean, double alpha, double min_alpha, int64_t word_start, int64_t total_words,
                            py::handle key_obj, py::handle offset_obj, int64_t threads, bool compute_loss) {
  Call call("word2vec_train");
  const std::string& fn = call.fn;
  const ArrayView syn0 = call.float_array("syn0", syn0_obj, 2);
  const ArrayView syn1neg = call.float_array("syn1neg", syn1neg_obj, 2);
  require_same_dtype(fn, syn0, syn1neg);
  require_shape(fn, syn1neg, syn0.shape, "the shape of 'syn0'");
  for (const ArrayView* v : {&syn0, &syn1neg}) {
    require_contiguous(fn, *v);
    require_writeable(fn, *v);
    require_aligned(fn, *v);
  }
  require_no_overlap(fn, syn1neg, syn0);
  const ArrayView tokens = vector_arg(call, "tokens", tokens_obj, kInt64);
  const ArrayView offsets = vector_arg(call, "offsets", offsets_obj, kInt64);
  if (offsets.shape[0] < 1)
    fail_value(fn, "argument 'offsets' must hold at least one value (sentence s is tokens[offsets[s]:offsets[s + 1]])");
  ArrayView keep, cum;
  if (!keep_obj.is_none()) {
    keep = vector_arg(call, "keep_prob", keep_obj, kFloat64);
    require_shape(fn, keep, {syn0.shape[0]}, "one probability per row of 'syn0'");
  }
  if (negative > 0 && cum_obj.is_none()) fail_type(fn, "argument 'cum_table' must be an array when negative > 0");
  if (!cum_obj.is_none()) {
    cum = vector_arg(call, "cum_table", cum_obj, kInt64);
    require_shape(fn, cum, {syn0.shape[0]}, "one value per row of 'syn0'");
  }
  const bool has_keep = !keep_obj.is_none(), has_cum = !cum_obj.is_none();
  for (const ArrayView* in : std::initializer_list<const ArrayView*>{&tokens, &offsets, &keep, &cum})
    if ((in != &keep || has_keep) && (in != &cum || has_cum))
      for (const ArrayView* out : {&syn0, &syn1neg}) require_no_overlap(fn, *out, *in);
  if (window < 1 || window > word2vec::kMaxWindow)
    fail_value(fn, "argument 'window' must be in [1, " + std::to_string(word2vec::kMaxWindow) + "], got " +
                       std::to_string(window));
  if (negative < 0 || negative > word2vec::kMaxNegative)
    fail_value(fn, "argument 'negative' must be in [0, " + std::to_string(word2vec::kMaxNegative) + "], got " +
                       std::to_string(negative));
  if (!(std::isfinite(alpha) && alpha >= 0))
    fail_value(fn, "argument 'alpha' must be finite and >= 0, got " + std::to_string(alpha));
  if (!(std::isfinite(min_alpha) && min_alpha >= 0))
    fail_value(fn, "argument 'min_alpha' must be finite and >= 0, got " + std::to_string(min_alpha));
  if (word_start < 0) fail_value(fn, "argument 'word_start' must be >= 0, got " + std::to_string(word_start));
  if (total_words < 0) fail_value(fn, "argument 'total_words' must be >= 0, got " + std::to_string(total_words));
  if (threads < 0 || threads > 4096)
    fail_value(fn, "argument 'threads' must be in [0, 4096] (0: fastnn.get_num_threads()), got " +
                       std::to_string(threads));
  Config c;
  c.vocab = syn0.shape[0];
  c.dim = syn0.shape[1];
  c.window = window;
  c.negative = negative;
  c.sg = sg;
  c.cbow_mean = cbow_mean;
  c.compute_loss = compute_loss;
  c.alpha = alpha;
  c.min_alpha = min_alpha;
  c.word_start = word_start;
  c.total_words = total_words;
  c.key = unsigned_arg(fn, "key", key_obj);
  c.offset = unsigned_arg(fn, "offset", offset_obj);
  const ArrayView* keep_p = has_keep ? &keep : nullptr;
  const ArrayView* cum_p = negative > 0 ? &cum : nullptr;
  return with_float_type(syn0, [&](auto zero) {
    return run<decltype(zero)>(call, c, syn0, syn1neg, tokens, offsets, keep_p, cum_p, (int)threads);
  });
}

}  // namespace

void bind_word2vec(py::module_& m) {
  m.def("word2vec_train", &word2vec_train_py, py::arg("syn0"), py::arg("syn1neg"), py::arg("tokens"),
        py::arg("offsets"), py::arg("keep_prob"), py::arg("cum_table"), py::arg("window"), py::arg("negative"),
        py::arg("sg"), py::arg("cbow_mean"), py::arg("alpha"), py::arg("min_alpha"), py::arg("word_start"),
        py::arg("total_words"), py::arg("key"), py::arg("offset"), py::arg("threads") = 0,
        py::arg("compute_loss") = false,
        "word2vec with negative sampling (skip-gram when sg, else CBOW), in place on syn0/syn1neg (V, D) over "
        "the sentences tokens[offsets[s]:offsets[s + 1]]; returns (counters used, words kept, loss). "
        "Contract: csrc/ops/word2vec/word2vec.h.");
}

}  // namespace fastnn
