// A central-difference gradient check of every differentiable op, through the
// graph's own autodiff and the CPU backend, on small random shapes including
// odd sizes and batch 1. Each op's backward-only ops (conv2d_backward_*,
// max_pool2d_backward, relu_backward, ...) are what these checks exercise.
#include <doctest/doctest.h>

#include <graphgrad/graph/autodiff.h>
#include <graphgrad/ops/ops.h>

#include "gradcheck.h"

using namespace gg;
using gg::test::GradInput;
using gg::test::grad_check;

namespace {
void expect_ok(const test::GradCheckResult& r) {
  INFO("checked " << r.checked << ", failed " << r.failed << ", max abs error " << r.max_abs_error << "; "
                  << r.first_failure);
  CHECK(r.checked > 0);
  CHECK(r.failed == 0);
}
}  // namespace

TEST_CASE("gradcheck conv2d: valid, same, strided, 1x1, direct, with and without bias") {
  struct Case {
    Shape x, w;
    int stride;
    ops::Padding pad;
    bool bias;
  };
  const Case cases[] = {
      {{kBatch, 3, 7, 6}, {4, 3, 3, 2}, 1, ops::Padding::valid, true},
      {{kBatch, 2, 7, 5}, {3, 2, 3, 3}, 2, ops::Padding::same, true},
      {{kBatch, 1, 5, 5}, {2, 1, 3, 3}, 1, ops::Padding::same, false},
      {{kBatch, 3, 4, 5}, {5, 3, 1, 1}, 1, ops::Padding::valid, true},
      {{kBatch, 2, 9, 8}, {3, 2, 4, 3}, 3, ops::Padding::valid, false},
      // 8+ channels, stride 1: the CPU backend's direct kernels (conv_direct.h)
      {{kBatch, 8, 6, 5}, {7, 8, 3, 3}, 1, ops::Padding::same, true},
      {{kBatch, 9, 5, 6}, {8, 9, 2, 3}, 1, ops::Padding::valid, false},
  };
  for (const Case& c : cases)
    for (int64_t batch : {1, 3}) {
      CAPTURE(c.x.str());
      CAPTURE(c.w.str());
      CAPTURE(batch);
      std::vector<GradInput> in{{c.x}, {c.w}};
      if (c.bias) in.push_back({Shape{c.w[0]}});
      expect_ok(grad_check(
          [&](Graph& g, const std::vector<NodeId>& p) {
            return ops::conv2d(g, p[0], p[1], c.bias ? p[2] : kNoNode, c.stride, c.pad);
          },
          in, batch));
    }
}

TEST_CASE("gradcheck max_pool2d (distinct values, so no window ties)") {
  struct Case {
    Shape x;
    int pool, stride;
  };
  for (const Case& c : {Case{{kBatch, 3, 6, 7}, 2, 0}, Case{{kBatch, 2, 7, 7}, 3, 2}, Case{{kBatch, 1, 5, 4}, 2, 1}})
    for (int64_t batch : {1, 2}) {
      CAPTURE(c.x.str());
      GradInput x{c.x};
      x.values = test::spread_values(c.x.numel(batch), 7);
      expect_ok(grad_check([&](Graph& g, const std::vector<NodeId>& p) { return ops::max_pool2d(g, p[0], c.pool, c.stride); },
                           {x}, batch));
    }
}

TEST_CASE("gradcheck dense and matmul in every transpose combination") {
  for (int64_t batch : {1, 5}) {
    expect_ok(grad_check([](Graph& g, const std::vector<NodeId>& p) { return ops::dense(g, p[0], p[1], p[2]); },
                         {{Shape{kBatch, 7}}, {Shape{7, 5}}, {Shape{5}}}, batch));
    expect_ok(grad_check([](Graph& g, const std::vector<NodeId>& p) { return ops::dense(g, p[0], p[1], kNoNode); },
                         {{Shape{kBatch, 3}}, {Shape{3, 4}}}, batch));
  }
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      CAPTURE(ta);
      CAPTURE(tb);
      Shape a = ta ? Shape{4, 3} : Shape{3, 4}, b = tb ? Shape{5, 4} : Shape{4, 5};
      expect_ok(grad_check([&](Graph& g, const std::vector<NodeId>& p) { return ops::matmul(g, p[0], p[1], ta, tb); },
                           {{a}, {b}}, 1));
    }
  // The batch as the inner dimension: x^T dy, the shape of a dense weight gradient.
  expect_ok(grad_check([](Graph& g, const std::vector<NodeId>& p) { return ops::matmul(g, p[0], p[1], true, false); },
                       {{Shape{kBatch, 3}}, {Shape{kBatch, 2}}}, 4));
}

TEST_CASE("gradcheck relu, add, reshape, flatten, softmax") {
  for (int64_t batch : {1, 3}) {
    GradInput x{Shape{kBatch, 3, 5}};
    x.values = test::spread_values(Shape{kBatch, 3, 5}.numel(batch), 3);
    expect_ok(grad_check([](Graph& g, const std::vector<NodeId>& p) { return ops::relu(g, p[0]); }, {x}, batch));
    expect_ok(grad_check([](Graph& g, const std::vector<NodeId>& p) { return add(g, p[0], p[1]); },
                         {{Shape{kBatch, 4}}, {Shape{kBatch, 4}}}, batch));
    expect_ok(grad_check([](Graph& g, const std::vector<NodeId>& p) { return ops::flatten(g, p[0]); },
                         {{Shape{kBatch, 2, 3, 2}}}, batch));
    expect_ok(grad_check([](Graph& g, const std::vector<NodeId>& p) { return ops::reshape(g, p[0], Shape{kBatch, 3, 4}); },
                         {{Shape{kBatch, 12}}}, batch));
    expect_ok(grad_check([](Graph& g, const std::vector<NodeId>& p) { return ops::softmax(g, p[0]); },
                         {{Shape{kBatch, 7}}}, batch));
  }
}

TEST_CASE("gradcheck a value used twice sums its gradients") {
  // y = relu(x) + x: dy/dx = 1 + (x > 0)
  GradInput x{Shape{kBatch, 6}};
  x.values = test::spread_values(12, 5);
  expect_ok(grad_check([](Graph& g, const std::vector<NodeId>& p) { return add(g, ops::relu(g, p[0]), p[0]); }, {x}, 2));
}

TEST_CASE("gradcheck dropout: its mask is fixed by (seed, step, sample_base)") {
  for (int64_t batch : {1, 4}) {
    GradInput step{Shape{1}, DType::i32, false, {}, {3}};
    GradInput base{Shape{1}, DType::i32, false, {}, {17}};
    expect_ok(grad_check([](Graph& g, const std::vector<NodeId>& p) { return ops::dropout(g, p[0], p[1], p[2], 0.3, 42); },
                         {{Shape{kBatch, 5, 3}}, step, base}, batch));
  }
}

TEST_CASE("gradcheck softmax_cross_entropy with integer labels") {
  for (int64_t batch : {1, 6}) {
    GradInput labels{Shape{kBatch}, DType::i32, false};
    for (int64_t i = 0; i < batch; ++i) labels.ivalues.push_back(static_cast<int32_t>((i * 7 + 3) % 10));
    GradInput logits{Shape{kBatch, 10}};
    for (int64_t i = 0; i < batch * 10; ++i) logits.values.push_back(static_cast<float>(((i * 37) % 23) - 11) * 0.3f);
    expect_ok(grad_check(
        [](Graph& g, const std::vector<NodeId>& p) { return ops::softmax_cross_entropy(g, p[0], p[1]); }, {logits, labels},
        batch, 1, 1e-2, 1e-3, 1e-2));
  }
}
