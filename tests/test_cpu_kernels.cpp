// CPU kernels with hand-vectorised paths, against plain references.
//
// The direct convolution kernels (backends/cpu/conv_direct.h) against a plain
// double-precision convolution: forward, input gradient and
// weight gradient, over geometries that hit every register-tile tail (output
// channel counts that are not multiples of 6, widths whose wide rows end
// mid-tile), both ways of laying out the output (wide rows, or row by row
// where the width is a multiple of 8), 'same' padding (even windows pad
// unevenly), batch 1 and batches split over 1-3 threads, with each
// instruction set this CPU runs; and the AVX-512 kernels against the AVX2
// ones, which they must match bit for bit. The gradient checks cover the same
// path through the graph; these pin the kernels down tightly and name the
// element at fault.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/autodiff.h>
#include <graphgrad/ops/ops.h>

#include "cpu/conv_direct.h"
#include "cpu/cpu_isa.h"
#include "cpu/thread_pool.h"

namespace {
using gg::cpu::Isa;
using gg::ops::ConvGeometry;

// The instruction sets this CPU runs, each made the active one in turn.
std::vector<Isa> runnable_isas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::avx2, Isa::avx512})
    if (gg::cpu::cpu_has(isa)) isas.push_back(isa);
  return isas;
}
struct ActiveIsa {
  explicit ActiveIsa(Isa isa) { gg::cpu::set_active_isa(isa); }
  ~ActiveIsa() { gg::cpu::set_active_isa(std::nullopt); }
  ActiveIsa(const ActiveIsa&) = delete;
  ActiveIsa& operator=(const ActiveIsa&) = delete;
};

struct Geometry {
  int64_t c, h, w, oc, kh, kw, pad_top, pad_left, pad_bottom, pad_right;
};

ConvGeometry geometry(const Geometry& s) {
  ConvGeometry g;
  g.c = s.c, g.h = s.h, g.w = s.w, g.oc = s.oc, g.kh = s.kh, g.kw = s.kw;
  g.pad_top = s.pad_top, g.pad_left = s.pad_left, g.stride = 1;
  g.oh = s.h + s.pad_top + s.pad_bottom - s.kh + 1;
  g.ow = s.w + s.pad_left + s.pad_right - s.kw + 1;
  return g;
}

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// x at (n, c, iy, ix), zero outside the image (the padding).
double at(const std::vector<float>& x, const ConvGeometry& g, int64_t n, int64_t c, int64_t iy, int64_t ix) {
  if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) return 0.0;
  return x[static_cast<size_t>(((n * g.c + c) * g.h + iy) * g.w + ix)];
}

// Every element within 1e-5 of the double-precision reference, relative to the
// largest reference magnitude; names the first one that is not.
void expect_close(const std::string& what, const std::vector<float>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  double scale = 1e-30;
  for (double v : want) scale = std::max(scale, std::fabs(v));
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(got[i] - want[i]) <= 1e-5 * scale)) {
      FAIL(what << " element " << i << ": " << got[i] << " vs reference " << want[i]);
      return;
    }
}

void check(const Geometry& s, int64_t batch, int threads) {
  const ConvGeometry g = geometry(s);
  INFO("C=" << s.c << " H=" << s.h << " W=" << s.w << " OC=" << s.oc << " window " << s.kh << "x" << s.kw
            << " pads t/l/b/r " << s.pad_top << "/" << s.pad_left << "/" << s.pad_bottom << "/" << s.pad_right);
  CAPTURE(batch);
  CAPTURE(threads);
  REQUIRE(gg::cpu::direct::applicable(g));
  gg::cpu::ThreadPool pool(threads);
  const auto x = random_values(static_cast<size_t>(batch * g.c * g.h * g.w), 1);
  const auto w = random_values(static_cast<size_t>(g.oc * g.c * g.kh * g.kw), 2);
  const auto b = random_values(static_cast<size_t>(g.oc), 3);
  const auto dy = random_values(static_cast<size_t>(batch * g.oc * g.oh * g.ow), 4);
  auto widx = [&](int64_t o, int64_t c, int64_t i, int64_t j) { return static_cast<size_t>(((o * g.c + c) * g.kh + i) * g.kw + j); };

  std::vector<double> y_ref(dy.size()), dx_ref(x.size(), 0.0), dw_ref(w.size(), 0.0);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t o = 0; o < g.oc; ++o)
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const size_t yi = static_cast<size_t>(((n * g.oc + o) * g.oh + oy) * g.ow + ox);
          double sum = b[static_cast<size_t>(o)];
          for (int64_t c = 0; c < g.c; ++c)
            for (int64_t i = 0; i < g.kh; ++i)
              for (int64_t j = 0; j < g.kw; ++j) {
                const int64_t iy = oy - g.pad_top + i, ix = ox - g.pad_left + j;
                sum += w[widx(o, c, i, j)] * at(x, g, n, c, iy, ix);
                dw_ref[widx(o, c, i, j)] += dy[yi] * at(x, g, n, c, iy, ix);
                if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w)
                  dx_ref[static_cast<size_t>(((n * g.c + c) * g.h + iy) * g.w + ix)] += dy[yi] * w[widx(o, c, i, j)];
              }
          y_ref[yi] = sum;
        }

  // The scratch is poisoned with NaN: a kernel that read scratch it did not write would show it.
  const size_t scratch_floats = std::max({gg::cpu::direct::forward_scratch(g, threads),
                                          gg::cpu::direct::backward_input_scratch(g, threads),
                                          gg::cpu::direct::backward_weight_scratch(g, threads)});
  std::vector<float> scratch(scratch_floats + 16, std::nanf(""));
  float* s64 = scratch.data() + (16 - reinterpret_cast<uintptr_t>(scratch.data()) / 4 % 16) % 16;

  std::vector<float> y(y_ref.size(), std::nanf("")), dx(x.size(), std::nanf("")), dw(w.size(), std::nanf(""));
  gg::cpu::direct::forward(g, batch, x.data(), w.data(), b.data(), y.data(), s64, pool);
  expect_close("forward", y, y_ref);
  std::fill(scratch.begin(), scratch.end(), std::nanf(""));
  gg::cpu::direct::backward_input(g, batch, dy.data(), w.data(), dx.data(), s64, pool);
  expect_close("backward_input", dx, dx_ref);
  std::fill(scratch.begin(), scratch.end(), std::nanf(""));
  gg::cpu::direct::backward_weight(g, batch, dy.data(), x.data(), dw.data(), s64, pool);
  expect_close("backward_weight", dw, dw_ref);
}

// The direct kernels' outputs under one instruction set: forward, forward
// with relu, input gradient, weight gradient.
constexpr const char* kPassNames[] = {"forward", "forward + relu", "backward_input", "backward_weight"};
std::vector<std::vector<float>> run_direct(const ConvGeometry& g, int64_t batch, int threads, Isa isa) {
  const ActiveIsa active(isa);
  gg::cpu::ThreadPool pool(threads);
  const auto x = random_values(static_cast<size_t>(batch * g.c * g.h * g.w), 11);
  const auto w = random_values(static_cast<size_t>(g.oc * g.c * g.kh * g.kw), 12);
  const auto b = random_values(static_cast<size_t>(g.oc), 13);
  const auto dy = random_values(static_cast<size_t>(batch * g.oc * g.oh * g.ow), 14);
  std::vector<float> scratch(std::max({gg::cpu::direct::forward_scratch(g, threads),
                                       gg::cpu::direct::backward_input_scratch(g, threads),
                                       gg::cpu::direct::backward_weight_scratch(g, threads)}) + 16);
  float* s64 = scratch.data() + (16 - reinterpret_cast<uintptr_t>(scratch.data()) / 4 % 16) % 16;
  std::vector<std::vector<float>> out{std::vector<float>(dy.size()), std::vector<float>(dy.size()),
                                      std::vector<float>(x.size()), std::vector<float>(w.size())};
  gg::cpu::direct::forward(g, batch, x.data(), w.data(), b.data(), out[0].data(), s64, pool);
  gg::cpu::direct::forward(g, batch, x.data(), w.data(), b.data(), out[1].data(), s64, pool, true);
  gg::cpu::direct::backward_input(g, batch, dy.data(), w.data(), out[2].data(), s64, pool);
  gg::cpu::direct::backward_weight(g, batch, dy.data(), x.data(), out[3].data(), s64, pool);
  return out;
}

// Bitwise equal, or the first element that is not.
void expect_bitwise(const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  if (std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0) return;
  for (size_t i = 0; i < got.size(); ++i)
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0) {
      FAIL("element " << i << ": AVX-512 gives " << got[i] << ", AVX2 " << want[i] << " (differ by "
                      << got[i] - want[i] << ")");
      return;
    }
}
}  // namespace

TEST_SUITE("cpu_kernels") {
  TEST_CASE("direct conv kernels match a double-precision convolution") {
    if (!gg::cpu::direct::supported()) {
      MESSAGE("skipped: this CPU has no AVX2+FMA, so the backend uses im2col (covered by the gradient checks)");
      return;
    }
    const Geometry cases[] = {
        {32, 26, 26, 32, 3, 3, 0, 0, 0, 0},  // conv2d_2 of the MNIST net
        {8, 7, 6, 13, 3, 2, 0, 0, 0, 0},     // 13 = 6 + 6 + 1 output channels; a 3x2 window
        {9, 5, 7, 8, 3, 3, 1, 1, 1, 1},      // 'same', odd channel count
        {8, 6, 6, 11, 2, 2, 0, 0, 1, 1},     // 'same' with an even window pads bottom/right only
        {10, 9, 4, 8, 5, 1, 2, 0, 2, 0},     // a 5x1 window, rows narrower than a vector
        {8, 3, 3, 8, 3, 3, 0, 0, 0, 0},      // a single output pixel
        // Widths that are multiples of 8 take the row-by-row mode (no garbage
        // columns; a 'valid' input read in place), the rest the wide mode.
        {9, 5, 10, 10, 3, 3, 0, 0, 0, 0},    // valid, 8 wide: 3 output vectors, an odd count
        {8, 7, 8, 9, 3, 3, 1, 1, 1, 1},      // 'same', 8 wide: padded input; the input gradient in rows too
        {8, 10, 16, 13, 3, 3, 1, 1, 1, 1},   // 'same', 16 wide
    };
    for (Isa isa : runnable_isas()) {
      const ActiveIsa active(isa);
      INFO("instruction set " << gg::cpu::isa_name(isa));
      for (const Geometry& s : cases)
        for (int64_t batch : {1, 5})
          for (int threads : {1, 2, 3}) check(s, batch, threads);
    }
  }

  // The Keras CNN must train bit for bit the same on every host, so the
  // AVX-512 kernels must reproduce the AVX2 ones exactly, not merely closely:
  // every geometry class (row and wide modes, the scatter and the padded
  // input gradient, odd channel and column counts, tile tails, the forward
  // split by rows for batches smaller than the pool) compared bitwise.
  TEST_CASE("the AVX-512 direct conv kernels agree with the AVX2 ones bit for bit") {
    if (!gg::cpu::cpu_has(Isa::avx512)) {
      MESSAGE("skipped: this CPU has no AVX-512");
      return;
    }
    const Geometry cases[] = {
        {32, 26, 26, 32, 3, 3, 0, 0, 0, 0},   // conv2d_2: rows mode (3 vectors a row), scatter
        {9, 11, 13, 13, 3, 3, 0, 0, 0, 0},    // wide mode, padded input gradient, 81 weight columns
        {13, 10, 18, 17, 3, 3, 0, 0, 0, 0},   // rows mode with 2 vectors a row, 13-row scatter tiles
        {9, 5, 10, 10, 3, 3, 0, 0, 0, 0},     // 3 output vectors in all
        {8, 7, 8, 9, 3, 3, 1, 1, 1, 1},       // 'same', 8 wide: the input gradient in rows mode
        {11, 12, 40, 19, 3, 3, 1, 1, 1, 1},   // 'same', 40 wide: 5 vectors a row
        {10, 9, 4, 8, 5, 1, 2, 0, 2, 0},      // a 5x1 window, rows narrower than a vector
        {8, 6, 6, 11, 2, 2, 0, 0, 1, 1},      // an even window padding bottom/right only
        {12, 9, 26, 20, 3, 5, 0, 0, 0, 0},    // a 3x5 window, wide mode
        // The scatter's adds into dx in the AVX2 order where window rows overlap:
        {8, 6, 8, 9, 2, 1, 0, 0, 0, 0},       // a pair spanning two rows 8 apart, added as one segment
        {9, 7, 12, 10, 2, 5, 0, 0, 0, 0},     // one vector a row: each half's segments touch the other's
        {8, 4, 17, 9, 2, 10, 0, 0, 0, 0},     // a window 10 wide: added tap by tap
    };
    for (const Geometry& s : cases) {
      const ConvGeometry g = geometry(s);
      INFO("C=" << s.c << " H=" << s.h << " W=" << s.w << " OC=" << s.oc << " window " << s.kh << "x" << s.kw
                << " pads t/l/b/r " << s.pad_top << "/" << s.pad_left << "/" << s.pad_bottom << "/" << s.pad_right);
      REQUIRE(gg::cpu::direct::applicable(g));
      for (int64_t batch : {1, 3})
        for (int threads : {1, 2}) {
          CAPTURE(batch);
          CAPTURE(threads);
          const auto avx2 = run_direct(g, batch, threads, Isa::avx2), avx512 = run_direct(g, batch, threads, Isa::avx512);
          for (size_t i = 0; i < avx2.size(); ++i) {
            INFO(kPassNames[i]);
            expect_bitwise(avx512[i], avx2[i]);
          }
        }
    }
  }

  TEST_CASE("GRAPHGRAD_CPU_ISA: the best instruction set by default, the one named, or an error naming the variable") {
    CHECK(gg::cpu::isa_from_env(nullptr) == gg::cpu::best_isa());
    CHECK(gg::cpu::isa_from_env("") == gg::cpu::best_isa());
    for (Isa isa : {Isa::avx2, Isa::avx512}) {
      const std::string name(gg::cpu::isa_name(isa));
      if (gg::cpu::cpu_has(isa)) {
        CHECK(gg::cpu::isa_from_env(name.c_str()) == isa);
      } else {
        CHECK_THROWS_WITH_AS(gg::cpu::isa_from_env(name.c_str()), doctest::Contains(("GRAPHGRAD_CPU_ISA=" + name).c_str()),
                             gg::BackendError);
        CHECK_THROWS_AS(gg::cpu::set_active_isa(isa), gg::BackendError);
      }
    }
    CHECK_THROWS_WITH_AS(gg::cpu::isa_from_env("avx1024"), doctest::Contains("GRAPHGRAD_CPU_ISA=avx1024: unknown"),
                         gg::BackendError);
  }

  TEST_CASE("the direct path declines what it does not handle") {
    ConvGeometry g = geometry({32, 26, 26, 32, 3, 3, 0, 0, 0, 0});
    g.stride = 2, g.oh = 12, g.ow = 12;
    CHECK_FALSE(gg::cpu::direct::applicable(g));  // strided
    CHECK_FALSE(gg::cpu::direct::applicable(geometry({1, 28, 28, 32, 3, 3, 0, 0, 0, 0})));  // one input channel
    CHECK_FALSE(gg::cpu::direct::applicable(geometry({8, 8, 8, 8, 3, 3, 3, 0, 0, 0})));     // padding past the window
    CHECK_FALSE(gg::cpu::direct::applicable(geometry({16, 12, 17, 20, 1, 1, 0, 0, 0, 0})));  // 1x1: a plain GEMM already
  }

  // The 2x2 max-pool backward's AVX2 path (8 windows at a time) and its scalar
  // tail must both follow window_argmax's rule: the gradient goes to the first
  // maximum in row-major order. Values from {0, 1, 2} make most windows tie.
  TEST_CASE("max_pool2d_backward 2x2 breaks ties to the first maximum, on the vector path and its tail") {
    for (int64_t w : {4, 16, 21, 26}) {
      CAPTURE(w);
      const int64_t n = 2, c = 3, h = 5, oh = h / 2, ow = w / 2;
      gg::Graph g;
      const gg::NodeId x = g.placeholder("x", gg::Shape{gg::kBatch, c, h, w});
      const gg::NodeId dy = g.placeholder("dy", gg::Shape{gg::kBatch, c, oh, ow});
      const gg::NodeId pool = gg::ops::max_pool2d(g, x, 2);
      const gg::NodeId dx = gg::ops::max_pool2d_backward(g, dy, x, g.node(pool));
      std::mt19937 rng(7);
      std::vector<float> xv(static_cast<size_t>(n * c * h * w)), dyv(static_cast<size_t>(n * c * oh * ow));
      for (float& v : xv) v = static_cast<float>(rng() % 3);
      for (size_t i = 0; i < dyv.size(); ++i) dyv[i] = 1.0f + static_cast<float>(i);
      auto backend = gg::make_backend("cpu", g, gg::BackendOptions{2, {}});
      auto exe = backend->compile({dx}, n);
      const gg::Feed feeds[] = {{x, gg::Shape{n, c, h, w}, gg::DType::f32, xv.data()},
                                {dy, gg::Shape{n, c, oh, ow}, gg::DType::f32, dyv.data()}};
      exe->run(feeds);
      std::vector<float> got(xv.size());
      exe->fetch(dx, got);
      std::vector<float> want(xv.size(), 0.0f);
      for (int64_t p = 0; p < n * c; ++p)
        for (int64_t oy = 0; oy < oh; ++oy)
          for (int64_t ox = 0; ox < ow; ++ox) {
            int64_t best = p * h * w + 2 * oy * w + 2 * ox;
            for (int64_t i = 0; i < 2; ++i)
              for (int64_t j = 0; j < 2; ++j) {
                const int64_t at = p * h * w + (2 * oy + i) * w + 2 * ox + j;
                if (xv[static_cast<size_t>(at)] > xv[static_cast<size_t>(best)]) best = at;
              }
            want[static_cast<size_t>(best)] = dyv[static_cast<size_t>((p * oh + oy) * ow + ox)];
          }
      for (size_t i = 0; i < got.size(); ++i)
        if (got[i] != want[i]) {
          FAIL("dx element " << i << ": " << got[i] << ", the rule says " << want[i]);
          break;
        }
    }
  }

  // The CPU backend applies a relu inside the conv that feeds it when the relu
  // is the conv output's only reader. Checked on every conv path (im2col,
  // direct wide, direct row by row), against the conv output fetched on its own:
  // the fused result must be exactly std::max(conv, 0); a conv whose output
  // has a second reader must not be fused (the add would see relu'd values).
  TEST_CASE("conv2d + relu fused in the CPU backend: exact, and only where the relu alone reads the conv") {
    // (channels, width): im2col; direct in wide rows; direct row by row
    for (const std::pair<int64_t, int64_t>& channels_width : {std::pair<int64_t, int64_t>{1, 12}, {8, 12}, {8, 16}}) {
      // (plain variables, not a structured binding: clang 14 cannot capture those in a lambda)
      const int64_t c = channels_width.first, w = channels_width.second;
      CAPTURE(c);
      CAPTURE(w);
      const int64_t n = 3, h = 10;
      gg::Graph g;
      const gg::NodeId x = g.placeholder("x", gg::Shape{gg::kBatch, c, h, w});
      const gg::NodeId wt = g.constant("w", gg::Shape{9, c, 3, 3}, random_values(static_cast<size_t>(9 * c * 9), 5));
      const gg::NodeId b = g.constant("b", gg::Shape{9}, random_values(9, 6));
      const gg::NodeId conv_alone = gg::ops::conv2d(g, x, wt, b, 1, gg::ops::Padding::same);
      // relu's output read by an add (+0): a target would get its own buffer,
      // and the relu would then run as a copy and hide the conv's epilogue
      const gg::NodeId zero = g.placeholder("zero", gg::Shape{gg::kBatch, 9, h, w});
      const gg::NodeId fused =
          gg::add(g, gg::ops::relu(g, gg::ops::conv2d(g, x, wt, b, 1, gg::ops::Padding::same)), zero);
      const gg::NodeId shared_conv = gg::ops::conv2d(g, x, wt, b, 1, gg::ops::Padding::same);
      const gg::NodeId both = gg::add(g, gg::ops::relu(g, shared_conv), shared_conv);
      const auto xv = random_values(static_cast<size_t>(n * c * h * w), 7);
      auto backend = gg::make_backend("cpu", g, gg::BackendOptions{2, {}});
      const size_t count = static_cast<size_t>(n * 9 * h * w);
      const std::vector<float> zeros(count, 0.0f);
      auto value_of = [&](gg::NodeId target) {
        auto exe = backend->compile({target}, n);
        std::vector<gg::Feed> feeds{{x, gg::Shape{n, c, h, w}, gg::DType::f32, xv.data()}};
        if (target == fused) feeds.push_back({zero, gg::Shape{n, 9, h, w}, gg::DType::f32, zeros.data()});
        exe->run(feeds);
        std::vector<float> v(count);
        exe->fetch(target, v);
        return v;
      };
      const auto conv = value_of(conv_alone), relu = value_of(fused), sum = value_of(both);
      int negatives = 0;
      for (size_t i = 0; i < count; ++i) {
        negatives += conv[i] < 0;
        REQUIRE(relu[i] == std::max(conv[i], 0.0f));
        REQUIRE(sum[i] == std::max(conv[i], 0.0f) + conv[i]);
      }
      CHECK(negatives > 0);  // the relu had something to do
    }
  }
}
