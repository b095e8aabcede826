// Row-major sgemm through OpenBLAS, split across the pool by row blocks of C
// (or column blocks when C has few rows). OpenBLAS itself runs single-threaded
// inside each worker: the pool owns every core, so nothing oversubscribes.
#pragma once
#include <cblas.h>

#include "thread_pool.h"

namespace gg::cpu {

// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
inline void sgemm1(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                   const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 1) {
    // One row (a dense layer on one image): OpenBLAS's sgemv is ~3x faster
    // than its sgemm at M = 1. c = op(B)^T x, x = op(A)'s row.
    const int incx = ta ? static_cast<int>(lda) : 1;
    // sgemm never reads C when beta is 0; make sure sgemv's scaling of C
    // (0 * whatever was in the buffer, NaN included in some OpenBLAS
    // versions) cannot leak through either, nor an untouched C when k is 0.
    if (beta == 0.0f)
      for (int64_t j = 0; j < n; ++j) c[j] = 0.0f;
    if (k == 0) {  // C = beta * C, which sgemv would skip
      for (int64_t j = 0; j < n; ++j) c[j] *= beta;
      return;
    }
    if (tb)  // B is [N,K]
      cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(n), static_cast<int>(k), alpha, b, static_cast<int>(ldb),
                  a, incx, beta, c, 1);
    else  // B is [K,N]
      cblas_sgemv(CblasRowMajor, CblasTrans, static_cast<int>(k), static_cast<int>(n), alpha, b, static_cast<int>(ldb),
                  a, incx, beta, c, 1);
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta, c,
              static_cast<int>(ldc));
}

inline void sgemm(ThreadPool& pool, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                  int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m >= n || m >= 64 * pool.size()) {
    pool.parallel_for(m, [&](int64_t r0, int64_t r1, int) {
      const float* ab = ta ? a + r0 : a + r0 * lda;  // rows of op(A)
      sgemm1(ta, tb, r1 - r0, n, k, alpha, ab, lda, b, ldb, beta, c + r0 * ldc, ldc);
    }, 16);
  } else {
    pool.parallel_for(n, [&](int64_t c0, int64_t c1, int) {
      const float* bb = tb ? b + c0 * ldb : b + c0;  // columns of op(B)
      sgemm1(ta, tb, m, c1 - c0, k, alpha, a, lda, bb, ldb, beta, c + c0, ldc);
    }, 16);
  }
}

}  // namespace gg::cpu
