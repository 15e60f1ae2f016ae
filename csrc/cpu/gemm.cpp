#include "cpu/gemm.h"

#include "cpu/cpu_features.h"

namespace fastnn {

template <typename T>
void gemm_batched(int64_t batch, int64_t M, int64_t N, int64_t K, T alpha,
                  const T* A, int64_t sAb, int64_t sAm, int64_t sAk,
                  const T* B, int64_t sBb, int64_t sBk, int64_t sBn, T beta,
                  T* C, int64_t sCb, int64_t sCm, int64_t sCn) {
#pragma omp parallel for collapse(2) num_threads(get_num_threads())
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < M; ++i) {
      const T* a = A + b * sAb + i * sAm;
      T* c = C + b * sCb + i * sCm;
      for (int64_t j = 0; j < N; ++j) {
        const T* bb = B + b * sBb + j * sBn;
        T acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += a[k * sAk] * bb[k * sBk];
        T prev = beta == T(0) ? T(0) : beta * c[j * sCn];
        c[j * sCn] = alpha * acc + prev;
      }
    }
}

template void gemm_batched<float>(int64_t, int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t,
                                  int64_t, const float*, int64_t, int64_t, int64_t, float, float*, int64_t,
                                  int64_t, int64_t);
template void gemm_batched<double>(int64_t, int64_t, int64_t, int64_t, double, const double*, int64_t, int64_t,
                                   int64_t, const double*, int64_t, int64_t, int64_t, double, double*, int64_t,
                                   int64_t, int64_t);

}  // namespace fastnn
