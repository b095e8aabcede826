// The op test table's cases for transpose, concat, slice (see op_cases.h),
// and checks that these ops compute known values and refuse what they cannot
// express with errors naming the node and saying why.
#include <doctest/doctest.h>

#include <numeric>

#include <graphgrad/backends/backend.h>
#include <graphgrad/ops/ops.h>

#include "op_cases.h"
#include "test_util.h"

namespace gg::test {
namespace {

OpCase shape_case(std::string name, std::vector<ParityInput> inputs, Builder build) {
  OpCase c{make_case(std::move(name), std::move(inputs), std::move(build))};
  c.parity.tol.exact = true;  // data movement: bit for bit
  return c;
}

}  // namespace

void shape_cases(std::vector<OpCase>& out) {
  using P = const std::vector<NodeId>&;
  // transpose
  out.push_back(shape_case("transpose x[N,3,5] perm{0,2,1}", {ranged(Shape{kBatch, 3, 5}, -2, 2, 1)},
                           [](Graph& g, P p) { return ops::transpose(g, p[0], {0, 2, 1}); }));
  out.push_back(shape_case("transpose x[N,3,4,5] perm{0,-1,1,2}", {ranged(Shape{kBatch, 3, 4, 5}, -2, 2, 2)},
                           [](Graph& g, P p) { return ops::transpose(g, p[0], {0, -1, 1, 2}); }));
  out.push_back(shape_case("transpose x[2,3,4,5] perm{2,0,3,1}", {ranged(Shape{2, 3, 4, 5}, -2, 2, 3)},
                           [](Graph& g, P p) { return ops::transpose(g, p[0], {2, 0, 3, 1}); }));
  out.push_back(shape_case("transpose x[3,4,5] perm{} (reversed)", {ranged(Shape{3, 4, 5}, -2, 2, 4)},
                           [](Graph& g, P p) { return ops::transpose(g, p[0]); }));
  // Big enough for partial 32x32 tiles split between the two threads.
  out.push_back(shape_case("transpose x[N,70,301] perm{0,2,1} (tiled, threaded)", {ranged(Shape{kBatch, 70, 301}, -2, 2, 5)},
                           [](Graph& g, P p) { return ops::transpose(g, p[0], {0, 2, 1}); }));
  // concat
  out.push_back(shape_case("concat axis 1: [N,2,5] [N,3,5] [N,1,5]",
                           {ranged(Shape{kBatch, 2, 5}, -2, 2, 1), ranged(Shape{kBatch, 3, 5}, -2, 2, 2),
                            ranged(Shape{kBatch, 1, 5}, -2, 2, 3)},
                           [](Graph& g, P p) { return ops::concat(g, {p[0], p[1], p[2]}, 1); }));
  out.push_back(shape_case("concat axis -1: [N,3,2] [N,3,5] [N,3,1]",
                           {ranged(Shape{kBatch, 3, 2}, -2, 2, 1), ranged(Shape{kBatch, 3, 5}, -2, 2, 2),
                            ranged(Shape{kBatch, 3, 1}, -2, 2, 3)},
                           [](Graph& g, P p) { return ops::concat(g, {p[0], p[1], p[2]}, -1); }));
  out.push_back(shape_case("concat axis 0: [2,3] [1,3] (no batch)", {ranged(Shape{2, 3}, -2, 2, 1), ranged(Shape{1, 3}, -2, 2, 2)},
                           [](Graph& g, P p) { return ops::concat(g, {p[0], p[1]}, 0); }));
  out.push_back(shape_case("concat of one input [N,3]", {ranged(Shape{kBatch, 3}, -2, 2, 1)},
                           [](Graph& g, P p) { return ops::concat(g, {p[0]}, 1); }));
  {
    std::vector<ParityInput> in;
    for (int i = 0; i < 19; ++i) in.push_back(ranged(Shape{kBatch, 1 + i % 3, 3}, -2, 2, uint64_t(i + 1)));
    out.push_back(shape_case("concat of 19 inputs along axis 1 (nested: groups of 16)", std::move(in),
                             [](Graph& g, P p) { return ops::concat(g, p, 1); }));
  }
  // slice
  out.push_back(shape_case("slice x[N,7,5] axis 1 from -3", {ranged(Shape{kBatch, 7, 5}, -2, 2, 1)},
                           [](Graph& g, P p) { return ops::slice(g, p[0], {{.axis = 1, .start = -3}}); }));
  out.push_back(shape_case("slice x[N,9] 1:8:2", {ranged(Shape{kBatch, 9}, -2, 2, 2)},
                           [](Graph& g, P p) { return ops::slice(g, p[0], {{.axis = 1, .start = 1, .stop = 8, .step = 2}}); }));
  out.push_back(shape_case("slice x[N,5,6,7] [:,1:4,::2,-6:-1:3]", {ranged(Shape{kBatch, 5, 6, 7}, -2, 2, 3)},
                           [](Graph& g, P p) {
                             return ops::slice(g, p[0], {{.axis = 1, .start = 1, .stop = 4},
                                                         {.axis = -1, .start = -6, .stop = -1, .step = 3},
                                                         {.axis = 2, .step = 2}});
                           }));
  out.push_back(shape_case("slice x[6,4] axis 0 -100:100:4 (clamped), ONNX form", {ranged(Shape{6, 4}, -2, 2, 4)},
                           [](Graph& g, P p) { return ops::slice(g, p[0], {0}, {-100}, {100}, {4}); }));
  out.push_back(shape_case("slice x[N,64,600] [:,:,1:-1] (threaded rows)", {ranged(Shape{kBatch, 64, 600}, -2, 2, 5)},
                           [](Graph& g, P p) { return ops::slice(g, p[0], {{.axis = 2, .start = 1, .stop = -1}}); }));
  // slice_backward as a forward op: its gradient is again a slice (second derivatives).
  out.push_back(shape_case("x + slice_backward(dy) of x[N,5,6][:,1:5:2]",
                           {ranged(Shape{kBatch, 5, 6}, -2, 2, 1), ranged(Shape{kBatch, 2, 6}, -2, 2, 2)},
                           [](Graph& g, P p) {
                             const NodeId s = ops::slice(g, p[0], {{.axis = 1, .start = 1, .stop = 5, .step = 2}});
                             return ops::add(g, p[0], ops::slice_backward(g, p[1], g.node(s)));
                           }));
  // The three together, on labels (i32): moved as bits, no gradient.
  {
    ParityCase c = make_case("transpose(slice(concat)) on i32 [N,3,4] [N,2,4]",
                             {ParityInput::i32(Shape{kBatch, 3, 4}, 1000), ParityInput::i32(Shape{kBatch, 2, 4}, 1000)},
                             [](Graph& g, P p) {
                               const NodeId c = ops::concat(g, {p[0], p[1]}, 1);
                               return ops::transpose(g, ops::slice(g, c, {{.axis = 1, .start = 1, .step = 2}}), {0, 2, 1});
                             },
                             false);
    c.tol.exact = true;
    out.push_back({c, false});
  }
}

}  // namespace gg::test

using namespace gg;

namespace {

// The target's values on the CPU, for one f32 input fed `x` (its shape at batch `batch`).
std::vector<float> run_cpu(const Graph& g, NodeId in, const Shape& shape, const std::vector<float>& x, NodeId target) {
  auto b = make_backend("cpu", g, BackendOptions{2, {}});
  auto exe = b->compile({target}, shape.rank() ? shape[0] : 1);
  const Feed f{.node = in, .shape = shape, .dtype = DType::f32, .data = x.data()};
  exe->run({&f, 1});
  std::vector<float> out(static_cast<size_t>(g.node(target).shape.numel(exe->batch())));
  exe->fetch(target, out);
  return out;
}

std::vector<float> iota(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

}  // namespace

TEST_SUITE("op_table") {

TEST_CASE("shape ops: known values on the CPU") {
  Graph g;
  const NodeId x = g.placeholder("x", Shape{kBatch, 2, 3});
  const std::vector<float> v = iota(12);  // batch 2: [[0 1 2][3 4 5]], [[6 7 8][9 10 11]]
  const Shape s{2, 2, 3};
  CHECK(run_cpu(g, x, s, v, ops::transpose(g, x, {0, 2, 1})) == std::vector<float>{0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11});
  CHECK(run_cpu(g, x, s, v, ops::slice(g, x, {{.axis = -1, .start = -2}})) == std::vector<float>{1, 2, 4, 5, 7, 8, 10, 11});
  CHECK(run_cpu(g, x, s, v, ops::slice(g, x, {{.axis = 2, .step = 2}, {.axis = 1, .start = 1}})) ==
        std::vector<float>{3, 5, 9, 11});
  CHECK(run_cpu(g, x, s, v, ops::concat(g, {x, ops::slice(g, x, {{.axis = 1, .stop = 1}})}, 1)) ==
        std::vector<float>{0, 1, 2, 3, 4, 5, 0, 1, 2, 6, 7, 8, 9, 10, 11, 6, 7, 8});
  CHECK(run_cpu(g, x, s, v, ops::concat(g, {x, x}, -1)) ==
        std::vector<float>{0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5, 6, 7, 8, 6, 7, 8, 9, 10, 11, 9, 10, 11});
  // slice_backward: dy into zeros of x's shape.
  const NodeId sl = ops::slice(g, x, {{.axis = 2, .start = 1, .step = 2}});
  const NodeId dy = ops::slice_backward(g, sl, g.node(sl), "dx");
  CHECK(run_cpu(g, x, s, v, dy) == std::vector<float>{0, 1, 0, 0, 4, 0, 0, 7, 0, 0, 10, 0});
  // A big 3-D permutation (tiles over the middle axis), against the index formula.
  Graph h;
  const NodeId y = h.placeholder("y", Shape{kBatch, 40, 3, 50});
  const NodeId t = ops::transpose(h, y, {0, 3, 2, 1});
  const std::vector<float> big = iota(2 * 40 * 3 * 50);
  const std::vector<float> got = run_cpu(h, y, Shape{2, 40, 3, 50}, big, t);
  bool ok = true;
  for (int n = 0; n < 2; ++n)
    for (int a = 0; a < 50; ++a)
      for (int b = 0; b < 3; ++b)
        for (int c = 0; c < 40; ++c)
          ok = ok && got[static_cast<size_t>(((n * 50 + a) * 3 + b) * 40 + c)] == float(((n * 40 + c) * 3 + b) * 50 + a);
  CHECK(ok);
}

TEST_CASE("shape ops refuse what a shape cannot say, naming the node and saying why") {
  using test::error_of;
  Graph g;
  const NodeId x = g.placeholder("x", Shape{kBatch, 3, 4});
  const NodeId f = g.placeholder("f", Shape{5, 3});
  std::string m = error_of<GraphError>([&] { ops::transpose(g, x, {1, 0, 2}, "tr"); });
  CHECK_MSG(m, "transpose \"tr\"");
  CHECK_MSG(m, "symbolic batch dimension N");
  CHECK_MSG(m, "only lead with N");
  m = error_of<GraphError>([&] { ops::transpose(g, x); });  // reversing moves N too
  CHECK_MSG(m, "transpose \"transpose_");
  CHECK_MSG(m, "symbolic batch dimension N");
  m = error_of<GraphError>([&] { ops::transpose(g, x, {0, 1, 1}, "dup"); });
  CHECK_MSG(m, "transpose \"dup\"");
  CHECK_MSG(m, "not a permutation");
  m = error_of<GraphError>([&] { ops::transpose(g, x, {0, 1}, "short"); });
  CHECK_MSG(m, "each of the 3 axes");
  m = error_of<GraphError>([&] { ops::transpose(g, x, {0, 1, 3}, "far"); });
  CHECK_MSG(m, "3 is out of range");

  m = error_of<GraphError>([&] { ops::slice(g, x, {{.axis = 0, .start = 1}}, "sb"); });
  CHECK_MSG(m, "slice \"sb\"");
  CHECK_MSG(m, "symbolic batch dimension N");
  m = error_of<GraphError>([&] { ops::slice(g, x, {{.axis = 1, .step = 0}}, "s0"); });
  CHECK_MSG(m, "slice \"s0\"");
  CHECK_MSG(m, "step 0 on axis 1 must be >= 1");
  m = error_of<GraphError>([&] { ops::slice(g, x, {{.axis = -1, .step = -1}}, "sneg"); });
  CHECK_MSG(m, "slice \"sneg\"");
  CHECK_MSG(m, "step -1 on axis 2 must be >= 1");
  m = error_of<GraphError>([&] { ops::slice(g, x, {{.axis = 1, .start = 2, .stop = 1}}, "sempty"); });
  CHECK_MSG(m, "slice \"sempty\"");
  CHECK_MSG(m, "is empty");
  m = error_of<GraphError>([&] { ops::slice(g, x, {{.axis = 3}}, "sax"); });
  CHECK_MSG(m, "axis 3 is out of range");
  m = error_of<GraphError>([&] { ops::slice(g, x, {{.axis = 1}, {.axis = -2}}, "stwice"); });
  CHECK_MSG(m, "sliced twice");

  m = error_of<GraphError>([&] { ops::concat(g, {x, x}, 0, "cb"); });
  CHECK_MSG(m, "concat \"cb\"");
  CHECK_MSG(m, "cannot say 2N");
  m = error_of<GraphError>([&] { ops::concat(g, {x, ops::transpose(g, x, {0, 2, 1})}, 1, "cd"); });
  CHECK_MSG(m, "concat \"cd\"");
  CHECK_MSG(m, "differ in dimension 2");
  m = error_of<GraphError>([&] { ops::concat(g, {f, x}, 1, "cr"); });
  CHECK_MSG(m, "differ in rank");
  m = error_of<GraphError>([&] { ops::concat(g, {f, f}, 2, "ca"); });
  CHECK_MSG(m, "axis 2 is out of range");
  // What is allowed: a fixed batch moves and is cut freely.
  CHECK(g.node(ops::transpose(g, f)).shape == Shape{3, 5});
  CHECK(g.node(ops::concat(g, {f, f}, 0)).shape == Shape{10, 3});
  CHECK(g.node(ops::slice(g, f, {{.axis = 0, .start = -4, .step = 3}})).shape == Shape{2, 3});
}

}  // TEST_SUITE
