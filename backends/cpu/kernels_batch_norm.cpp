// Batch normalization on the CPU: x viewed as [N, C, inner], M = N * inner
// values per channel. The per-channel sums run over (n, inner) in a fixed
// order for each channel, whatever the thread split (threads take whole
// channels), with float lanes within a short run and double across runs,
// so results do not depend on the thread count. The sums are of x - K with
// K the channel's first value (or a given mean): shifted, E[x^2] - E[x]^2
// does not cancel when |mean| >> std. Layouts: with inner >= kLanes a
// channel's runs are contiguous (per-channel loops); below, neighbouring
// channels are contiguous, so blocks of kBlock channels step through the
// batch together.
#include <algorithm>
#include <cmath>

#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::cpu {
namespace {

constexpr int64_t kLanes = 16;    // float lanes within a run
constexpr int64_t kRun = 1024;    // values summed in float before adding to double
constexpr int64_t kBlock = 64;    // channels per work item when inner < kLanes
constexpr int64_t kGrainValues = 32768;  // values per thread chunk, at least

struct View {
  int64_t n = 0, c = 0, inner = 1;
  int64_t m() const { return n * inner; }
};
View view_of(const KernelArgs& a, int input) {
  View v{a.in_dim(input, 0), a.in_dim(input, 1), 1};
  for (int d = 2; d < a.in_shape(input).rank(); ++d) v.inner *= a.in_dim(input, d);
  return v;
}

// Per channel: S0 = sum(x - K), S1 = sum((x - K)^2) and, with dy,
// S2 = sum(dy), S3 = sum(dy * (x - K)).
struct Sums {
  double s[4] = {0, 0, 0, 0};
};

// Adds one contiguous run of len values (lanes in float).
template <bool kDy>
void add_run(const float* x, const float* dy, int64_t len, float k, Sums& out) {
  for (int64_t j0 = 0; j0 < len; j0 += kRun) {
    const int64_t j1 = std::min(len, j0 + kRun);
    float l0[kLanes] = {}, l1[kLanes] = {}, l2[kLanes] = {}, l3[kLanes] = {};
    int64_t j = j0;
    for (; j + kLanes <= j1; j += kLanes)
      for (int64_t l = 0; l < kLanes; ++l) {
        const float v = x[j + l] - k;
        l0[l] += v;
        l1[l] += v * v;
        if constexpr (kDy) {
          const float d = dy[j + l];
          l2[l] += d;
          l3[l] += d * v;
        }
      }
    for (int64_t l = 0; j < j1; ++j, ++l) {
      const float v = x[j] - k;
      l0[l] += v;
      l1[l] += v * v;
      if constexpr (kDy) {
        l2[l] += dy[j];
        l3[l] += dy[j] * v;
      }
    }
    for (int64_t l = 0; l < kLanes; ++l) {
      out.s[0] += l0[l];
      out.s[1] += l1[l];
      if constexpr (kDy) {
        out.s[2] += l2[l];
        out.s[3] += l3[l];
      }
    }
  }
}

// Calls done(k, sums) for every channel, threaded over channels. shift(k)
// gives K; dy may be null (no S2, S3).
template <class Shift, class Done>
void channel_sums(const KernelArgs& a, const View& v, const float* x, const float* dy, Shift shift, Done done) {
  const int64_t per_channel = std::max<int64_t>(1, v.m());
  if (v.inner >= kLanes) {
    a.pool->parallel_for(v.c, [&](int64_t k0, int64_t k1, int) {
      for (int64_t k = k0; k < k1; ++k) {
        Sums s;
        const float kk = shift(k);
        for (int64_t i = 0; i < v.n; ++i) {
          const int64_t at = (i * v.c + k) * v.inner;
          if (dy) add_run<true>(x + at, dy + at, v.inner, kk, s);
          else add_run<false>(x + at, nullptr, v.inner, kk, s);
        }
        done(k, s);
      }
    }, std::max<int64_t>(1, kGrainValues / per_channel));
    return;
  }
  const int64_t blocks = (v.c + kBlock - 1) / kBlock;
  a.pool->parallel_for(blocks, [&](int64_t b0, int64_t b1, int) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t k0 = b * kBlock, w = std::min(kBlock, v.c - k0);
      double s0[kBlock] = {}, s1[kBlock] = {}, s2[kBlock] = {}, s3[kBlock] = {};
      float kk[kBlock];
      for (int64_t q = 0; q < w; ++q) kk[q] = shift(k0 + q);
      for (int64_t i = 0; i < v.n; ++i)
        for (int64_t j = 0; j < v.inner; ++j) {
          const int64_t at = (i * v.c + k0) * v.inner + j;  // channel k0 + q at at + q * inner
          for (int64_t q = 0; q < w; ++q) {
            const double d = double(x[at + q * v.inner] - kk[q]);
            s0[q] += d;
            s1[q] += d * d;
          }
          if (dy)
            for (int64_t q = 0; q < w; ++q) {
              const double g = dy[at + q * v.inner];
              s2[q] += g;
              s3[q] += g * double(x[at + q * v.inner] - kk[q]);
            }
        }
      for (int64_t q = 0; q < w; ++q) {
        Sums s;
        s.s[0] = s0[q], s.s[1] = s1[q], s.s[2] = s2[q], s.s[3] = s3[q];
        done(k0 + q, s);
      }
    }
  }, std::max<int64_t>(1, kGrainValues / (per_channel * kBlock)));
}

// The batch mean and biased variance from the shifted sums.
struct Moments {
  double mean, var, d;  // d = mean - K
};
Moments moments(const Sums& s, double k, int64_t m) {
  if (m == 0) return {0, 0, 0};
  const double d = s.s[0] / double(m);
  return {k + d, std::max(0.0, s.s[1] / double(m) - d * d), d};
}

// y = (x - mean[k]) * scale[k] + beta[k] over [N, C, inner].
void apply(const KernelArgs& a, const View& v, const float* x, const float* mean, const float* scale, const float* beta,
           float* y) {
  if (v.inner >= kLanes) {
    a.pool->parallel_for(v.n * v.c, [&](int64_t r0, int64_t r1, int) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t k = r % v.c;
        const float mu = mean[k], s = scale[k], b = beta[k];
        const float* xr = x + r * v.inner;
        float* yr = y + r * v.inner;
        for (int64_t j = 0; j < v.inner; ++j) yr[j] = (xr[j] - mu) * s + b;
      }
    }, std::max<int64_t>(1, kGrainValues / v.inner));
    return;
  }
  a.pool->parallel_for(v.n, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t k = 0; k < v.c; ++k) {
        const float mu = mean[k], s = scale[k], b = beta[k];
        const int64_t at = (i * v.c + k) * v.inner;
        for (int64_t j = 0; j < v.inner; ++j) y[at + j] = (x[at + j] - mu) * s + b;
      }
  }, std::max<int64_t>(1, kGrainValues / std::max<int64_t>(1, v.c * v.inner)));
}

float inv_std(double var, double eps) { return static_cast<float>(1.0 / std::sqrt(var + eps)); }

// inputs: x, gamma, beta. Scratch: mean [C], scale [C].
void batch_norm(const KernelArgs& a) {
  const View v = view_of(a, 0);
  const float* x = a.input(0);
  const float* gamma = a.input(1);
  const double eps = a.node->attrs.f("epsilon");
  float* mean = a.scratch;
  float* scale = a.scratch + v.c;
  channel_sums(a, v, x, nullptr, [&](int64_t k) { return v.m() ? x[k * v.inner] : 0.0f; },
               [&](int64_t k, const Sums& s) {
                 const Moments mo = moments(s, v.m() ? x[k * v.inner] : 0.0f, v.m());
                 mean[k] = static_cast<float>(mo.mean);
                 scale[k] = gamma[k] * inv_std(mo.var, eps);
               });
  apply(a, v, x, mean, scale, a.input(2), a.out);
}

// inputs: x, gamma, beta, mean, variance. Scratch: scale [C].
void batch_norm_inference(const KernelArgs& a) {
  const View v = view_of(a, 0);
  const float* gamma = a.input(1);
  const float* var = a.input(4);
  const double eps = a.node->attrs.f("epsilon");
  for (int64_t k = 0; k < v.c; ++k) a.scratch[k] = gamma[k] * inv_std(var[k], eps);
  apply(a, v, a.input(0), a.input(3), a.scratch, a.input(2), a.out);
}

// inputs: dy, x [, mean, variance] -> [4,C]: dgamma, dbeta, mean, variance.
void backward_reduce(const KernelArgs& a) {
  const View v = view_of(a, 1);
  const float* dy = a.input(0);
  const float* x = a.input(1);
  const bool given = a.node->inputs.size() == 4;
  const float* gmean = given ? a.input(2) : nullptr;
  const float* gvar = given ? a.input(3) : nullptr;
  const double eps = a.node->attrs.f("epsilon");
  float* out = a.out;
  const int64_t c = v.c;
  auto shift = [&](int64_t k) { return given ? gmean[k] : (v.m() ? x[k * v.inner] : 0.0f); };
  channel_sums(a, v, x, dy, shift, [&](int64_t k, const Sums& s) {
    Moments mo = moments(s, shift(k), v.m());
    if (given) mo = {gmean[k], gvar[k], 0.0};
    // sum(dy * (x - mean)) = sum(dy * (x - K)) - (mean - K) * sum(dy)
    const double centred = s.s[3] - mo.d * s.s[2];
    out[k] = static_cast<float>(centred / std::sqrt(mo.var + eps));
    out[c + k] = static_cast<float>(s.s[2]);
    out[2 * c + k] = static_cast<float>(mo.mean);
    out[3 * c + k] = static_cast<float>(mo.var);
  });
}

// inputs: dy, x, gamma, reduction [4,C]. Scratch: per channel mean, inv_std,
// gamma * inv_std, dbeta / M, dgamma / M.
// dx = gamma * inv_std * (dy - dbeta / M - (x - mean) * inv_std * dgamma / M)
void backward(const KernelArgs& a) {
  const View v = view_of(a, 1);
  const float* dy = a.input(0);
  const float* x = a.input(1);
  const float* gamma = a.input(2);
  const float* red = a.input(3);
  const double eps = a.node->attrs.f("epsilon");
  const int64_t c = v.c;
  float* mean = a.scratch;
  float* inv = mean + c;
  float* scale = inv + c;
  float* db = scale + c;
  float* dg = db + c;
  const float per = v.m() ? 1.0f / static_cast<float>(v.m()) : 0.0f;
  for (int64_t k = 0; k < c; ++k) {
    mean[k] = red[2 * c + k];
    inv[k] = inv_std(red[3 * c + k], eps);
    scale[k] = gamma[k] * inv[k];
    db[k] = red[c + k] * per;
    dg[k] = red[k] * per;
  }
  float* dx = a.out;
  auto row = [&](int64_t at, int64_t k) {
    const float mu = mean[k], is = inv[k], s = scale[k], b = db[k], gk = dg[k];
    for (int64_t j = 0; j < v.inner; ++j) dx[at + j] = s * (dy[at + j] - b - (x[at + j] - mu) * is * gk);
  };
  if (v.inner >= kLanes) {
    a.pool->parallel_for(v.n * c, [&](int64_t r0, int64_t r1, int) {
      for (int64_t r = r0; r < r1; ++r) row(r * v.inner, r % c);
    }, std::max<int64_t>(1, kGrainValues / v.inner));
    return;
  }
  a.pool->parallel_for(v.n, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t k = 0; k < c; ++k) row((i * c + k) * v.inner, k);
  }, std::max<int64_t>(1, kGrainValues / std::max<int64_t>(1, c * v.inner)));
}

// inputs: x, moving_mean, moving_variance (written in place). Scratch: the
// batch mean and variance [2C].
void moving_update(const KernelArgs& a) {
  const View v = view_of(a, 0);
  const float* x = a.input(0);
  float* stats = a.scratch;
  channel_sums(a, v, x, nullptr, [&](int64_t k) { return v.m() ? x[k * v.inner] : 0.0f; },
               [&](int64_t k, const Sums& s) {
                 const Moments mo = moments(s, v.m() ? x[k * v.inner] : 0.0f, v.m());
                 stats[k] = static_cast<float>(mo.mean);
                 stats[v.c + k] = static_cast<float>(mo.var);
               });
  const auto mom = static_cast<float>(a.node->attrs.f("momentum"));
  float* mm = a.inout(1);
  float* mv = a.inout(2);
  for (int64_t k = 0; k < v.c; ++k) {
    mm[k] = mom * mm[k] + (1.0f - mom) * stats[k];
    mv[k] = mom * mv[k] + (1.0f - mom) * stats[v.c + k];
  }
}

// Scratch: `per_channel` floats per channel of input `input`'s axis 1.
template <int input, int per_channel>
size_t channel_scratch(const Graph& g, const Node& n, int64_t, int) {
  return static_cast<size_t>(per_channel * g.node(n.inputs[input]).shape[1]);
}

const KernelEntry kEntries[] = {
    {ops::id::batch_norm, batch_norm, channel_scratch<0, 2>, false},
    {ops::id::batch_norm_inference, batch_norm_inference, channel_scratch<0, 1>, true},
    {ops::id::batch_norm_backward_reduce, backward_reduce, nullptr, false},
    {ops::id::batch_norm_backward, backward, channel_scratch<1, 5>, true},
    {ops::id::batch_norm_moving_update, moving_update, channel_scratch<0, 2>, false},
};
}  // namespace

KernelTable batch_norm_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::cpu
