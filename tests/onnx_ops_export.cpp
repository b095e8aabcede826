// The per-op ONNX check's first half: for every op that onnx_support() says is
// exported, tiny inference graphs around it (odd sizes, non-trivial
// attributes, broadcasting operands), each exported to OUTDIR/<case>.onnx and
// run on the CPU backend at batch 3 with random inputs; OUTDIR/<case>.json
// holds the input and our output, for tests/onnx_ops_ort.mjs to compare with
// onnxruntime. Exits non-zero when an exported op has no case (so a newly
// exported op must get one here) or when a case fails to build, run or export.
//
//   onnx_ops_export OUTDIR
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/frontends/onnx_export.h>
#include <graphgrad/graph/autodiff.h>
#include <graphgrad/ops/eltwise.h>
#include <graphgrad/ops/op_table.h>
#include <graphgrad/ops/ops.h>

using namespace gg;
namespace id = ops::id;

namespace {

constexpr int64_t kRunBatch = 3;

// What a case's builder gets: the graph, its input x, and operands made from
// the case's own random stream (parameters draw from the graph's seed).
struct Ctx {
  Graph& g;
  NodeId x;
  std::mt19937& rng;
  NodeId param(const std::string& name, Shape s, float lo = -1, float hi = 1) {
    return g.parameter(name, std::move(s), Init::uniform(lo, hi));
  }
  // discrete: values on a grid of 0.5, so that ties with a discrete x occur (equal, maximum, minimum)
  NodeId constant(const std::string& name, Shape s, float lo = -1, float hi = 1, bool discrete = false) {
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(static_cast<size_t>(s.numel()));
    for (float& e : v) e = discrete ? snap(u(rng), lo, hi) : u(rng);
    return g.constant(name, std::move(s), std::move(v));
  }
  static float snap(float v, float lo, float hi) {
    return std::clamp(std::round(v * 2) / 2, std::ceil(lo * 2) / 2, std::floor(hi * 2) / 2);
  }
};

struct Case {
  std::string name;
  Shape x;  // the placeholder's shape; a leading kBatch takes the run's batch
  float lo = -2, hi = 2;
  std::function<NodeId(Ctx&)> build;
  bool discrete = false;  // x's values on a grid of 0.5 (ties)
};

Shape batched(std::vector<int64_t> dims) {
  dims.insert(dims.begin(), kBatch);
  return Shape(std::move(dims));
}

std::vector<Case> cases() {
  std::vector<Case> out;
  const Shape x34 = batched({3, 4});

  // Every line of eltwise.def: the plain unary ops over their test range; the
  // ones with attributes with non-default values (and softplus with PyTorch's too).
  for (const ops::UnaryInfo& u : ops::unary_ops()) {
    if (u.params) continue;
    out.push_back({u.name.data(), batched({3, 5}), u.lo, u.hi, [op = u.op](Ctx& c) { return ops::unary(c.g, op, c.x); }});
  }
  out.push_back({"leaky_relu_a0.2", x34, -2, 2, [](Ctx& c) { return ops::leaky_relu(c.g, c.x, 0.2); }});
  out.push_back({"elu_a0.7", x34, -2, 2, [](Ctx& c) { return ops::elu(c.g, c.x, 0.7); }});
  out.push_back({"softplus_b2_t1", batched({4, 5}), -3, 3, [](Ctx& c) { return ops::softplus(c.g, c.x, 2.0, 1.0); }});
  out.push_back({"softplus_default", batched({4, 5}), -30, 30, [](Ctx& c) { return ops::softplus(c.g, c.x); }});
  out.push_back({"clip_-0.3_0.4", x34, -1, 1, [](Ctx& c) { return ops::clip(c.g, c.x, -0.3, 0.4); }});

  // Binary ops: x op a broadcast parameter, and a broadcast constant op x (the other side, the other way).
  for (const ops::BinaryInfo& b : ops::binary_ops()) {
    const std::string n(b.name);
    const bool ties = b.op == id::equal || b.op == id::maximum || b.op == id::minimum;
    const float lo = b.lo, hi = b.hi;
    out.push_back({n + "_x_param4", x34, lo, hi,
                   [op = b.op, lo, hi, ties](Ctx& c) {
                     const NodeId w = ties ? c.constant("c", Shape{4}, lo, hi, true) : c.param("w", Shape{4}, lo, hi);
                     return ops::binary(c.g, op, c.x, w);
                   },
                   ties});
    out.push_back({n + "_const31_x", x34, lo, hi,
                   [op = b.op, lo, hi, ties](Ctx& c) { return ops::binary(c.g, op, c.constant("c", Shape{3, 1}, lo, hi, ties), c.x); },
                   ties});
  }
  out.push_back({"accumulate", x34, -2, 2, [](Ctx& c) { return gg::add(c.g, c.x, ops::neg(c.g, c.x)); }});
  out.push_back({"accumulate_relu", x34, -2, 2, [](Ctx& c) { return gg::add(c.g, ops::relu(c.g, c.x), c.x); }});

  // Convolution and pooling: odd sizes, 'same' with stride 2 and with an even kernel (the padding split unevenly).
  out.push_back({"conv2d_same_s2_bias", batched({2, 7, 6}), -1, 1, [](Ctx& c) {
                   return ops::conv2d(c.g, c.x, c.param("w", Shape{3, 2, 3, 3}), c.param("b", Shape{3}), 2, ops::Padding::same);
                 }});
  out.push_back({"conv2d_valid_nobias", batched({3, 6, 5}), -1, 1, [](Ctx& c) {
                   return ops::conv2d(c.g, c.x, c.param("w", Shape{4, 3, 2, 3}), kNoNode, 1, ops::Padding::valid);
                 }});
  out.push_back({"conv2d_same_k2", batched({1, 5, 5}), -1, 1, [](Ctx& c) {
                   return ops::conv2d(c.g, c.x, c.param("w", Shape{2, 1, 2, 2}), c.param("b", Shape{2}), 1, ops::Padding::same);
                 }});
  out.push_back({"conv2d_same_s2_even", batched({2, 8, 6}), -1, 1, [](Ctx& c) {
                   return ops::conv2d(c.g, c.x, c.param("w", Shape{2, 2, 4, 4}), kNoNode, 2, ops::Padding::same);
                 }});
  out.push_back({"max_pool2d_2", batched({2, 7, 6}), -2, 2, [](Ctx& c) { return ops::max_pool2d(c.g, c.x, 2); }});
  out.push_back({"max_pool2d_3s2", batched({2, 7, 6}), -2, 2, [](Ctx& c) { return ops::max_pool2d(c.g, c.x, 3, 2); }});
  out.push_back({"avg_pool2d_valid_3s2", batched({2, 7, 6}), -2, 2, [](Ctx& c) {
                   return ops::avg_pool2d(c.g, c.x, 3, 2, ops::Padding::valid);
                 }});
  out.push_back({"avg_pool2d_same_3s2", batched({2, 7, 6}), -2, 2, [](Ctx& c) {
                   return ops::avg_pool2d(c.g, c.x, 3, 2, ops::Padding::same);
                 }});

  out.push_back({"avg_pool2d_same_2s1", batched({1, 5, 4}), -2, 2, [](Ctx& c) {
                   return ops::avg_pool2d(c.g, c.x, 2, 1, ops::Padding::same);
                 }});

  out.push_back({"dense_bias", batched({5}), -1, 1, [](Ctx& c) {
                   return ops::dense(c.g, c.x, c.param("w", Shape{5, 3}), c.param("b", Shape{3}));
                 }});
  out.push_back({"dense_nobias", batched({5}), -1, 1, [](Ctx& c) { return ops::dense(c.g, c.x, c.param("w", Shape{5, 3}), kNoNode); }});
  out.push_back({"matmul_3d_2d", batched({3, 4}), -1, 1, [](Ctx& c) { return ops::matmul(c.g, c.x, c.param("w", Shape{4, 5})); }});
  out.push_back({"matmul_trans_b", batched({4}), -1, 1, [](Ctx& c) {
                   return ops::matmul(c.g, c.x, c.param("w", Shape{5, 4}), false, true);
                 }});
  out.push_back({"matmul_trans_a", batched({3, 4}), -1, 1, [](Ctx& c) {
                   return ops::matmul(c.g, c.x, c.param("w", Shape{3, 2}), true, false);
                 }});
  out.push_back({"matmul_inner_batch", batched({4}), -1, 1, [](Ctx& c) { return ops::matmul(c.g, c.x, c.x, true, false); }});
  out.push_back({"matmul_batched_bcast", batched({2, 3, 4}), -1, 1, [](Ctx& c) {
                   return ops::matmul(c.g, c.x, c.param("w", Shape{2, 4, 5}));
                 }});

  // Dropout is the identity at inference; at rate 0 our training-mode run is too. (Skipped while
  // onnx_support refuses dropout: its step and sample_base placeholders are second inputs.)
  out.push_back({"dropout", x34, -2, 2, [](Ctx& c) {
                   const NodeId step = c.g.placeholder("step", Shape{1}, DType::i32);
                   const NodeId base = c.g.placeholder("sample_base", Shape{1}, DType::i32);
                   return ops::relu(c.g, ops::dropout(c.g, c.x, step, base, 0.0, 7));
                 }});

  // Inference-mode batch normalization on moving statistics (states: initializers), rank 4 and rank 2.
  out.push_back({"batch_norm_inference_4d", batched({3, 4, 5}), -2, 2, [](Ctx& c) {
                   const NodeId mean = c.g.state("moving_mean", Shape{3});
                   const NodeId var = c.g.state("moving_variance", Shape{3}, 1.7f);
                   return ops::batch_norm_inference(c.g, c.x, c.param("gamma", Shape{3}), c.param("beta", Shape{3}), mean, var, 0.01);
                 }});
  out.push_back({"batch_norm_inference_2d", batched({5}), -2, 2, [](Ctx& c) {
                   return ops::batch_norm_inference(c.g, c.x, c.param("gamma", Shape{5}), c.param("beta", Shape{5}),
                                                    c.constant("mean", Shape{5}), c.constant("var", Shape{5}, 0.2f, 2.0f));
                 }});

  out.push_back({"softmax_axis1_3d", batched({4, 5}), -3, 3, [](Ctx& c) { return ops::softmax(c.g, c.x, 1); }});
  out.push_back({"softmax_last", batched({7}), -3, 3, [](Ctx& c) { return ops::softmax(c.g, c.x); }});
  out.push_back({"log_softmax_axis1_3d", batched({4, 5}), -3, 3, [](Ctx& c) { return ops::log_softmax(c.g, c.x, 1); }});
  out.push_back({"log_softmax_last", batched({7}), -3, 3, [](Ctx& c) { return ops::log_softmax(c.g, c.x, -1); }});

  out.push_back({"reshape_batch", x34, -2, 2, [](Ctx& c) { return ops::reshape(c.g, c.x, Shape{-1, 2, 6}); }});
  out.push_back({"reshape_fixed_infer", Shape{3, 4}, -2, 2, [](Ctx& c) { return ops::reshape(c.g, c.x, Shape{2, -1}); }});
  out.push_back({"flatten", batched({2, 3, 2}), -2, 2, [](Ctx& c) { return ops::flatten(c.g, c.x); }});
  out.push_back({"broadcast_to_batch", batched({1, 4}), -2, 2, [](Ctx& c) { return ops::broadcast_to(c.g, c.x, batched({3, 4})); }});
  out.push_back({"broadcast_to_rank", Shape{3, 1}, -2, 2, [](Ctx& c) { return ops::broadcast_to(c.g, c.x, Shape{2, 3, 4}); }});
  out.push_back({"broadcast_to_mean", batched({1, 4}), -2, 2, [](Ctx& c) {
                   return ops::broadcast_to(c.g, c.x, batched({3, 4}), {}, true);
                 }});

  using Reduce = NodeId (*)(Graph&, NodeId, std::vector<int>, bool, const std::string&);
  const std::pair<const char*, Reduce> reductions[] = {
      {"reduce_sum", ops::reduce_sum}, {"reduce_mean", ops::reduce_mean}, {"reduce_max", ops::reduce_max}};
  for (const auto& reduction : reductions) {
    const std::string name(reduction.first);
    const Reduce f = reduction.second;  // not a structured binding: clang 14 cannot capture one
    out.push_back({name + "_axis1_keep", batched({3, 5}), -2, 2, [f](Ctx& c) { return f(c.g, c.x, {1}, true, {}); }});
    out.push_back({name + "_axis1_drop", batched({3, 5}), -2, 2, [f](Ctx& c) { return f(c.g, c.x, {1}, false, {}); }});
    out.push_back({name + "_all", batched({3, 5}), -2, 2, [f](Ctx& c) { return f(c.g, c.x, {}, false, {}); }});
    out.push_back({name + "_axes-1,0_keep", batched({3, 5}), -2, 2, [f](Ctx& c) { return f(c.g, c.x, {-1, 0}, true, {}); }});
  }

  out.push_back({"transpose_3d", Shape{2, 3, 4}, -2, 2, [](Ctx& c) { return ops::transpose(c.g, c.x, {2, 0, 1}); }});
  out.push_back({"transpose_reverse", Shape{2, 3, 4}, -2, 2, [](Ctx& c) { return ops::transpose(c.g, c.x); }});
  out.push_back({"transpose_batch", batched({2, 3, 4}), -2, 2, [](Ctx& c) { return ops::transpose(c.g, c.x, {0, 3, -3, 2}); }});
  out.push_back({"concat_const", Shape{3, 4}, -2, 2, [](Ctx& c) {
                   return ops::concat(c.g, {c.x, c.constant("c", Shape{3, 2})}, -1);
                 }});
  out.push_back({"concat_batch_axis1", batched({2, 3}), -2, 2, [](Ctx& c) {
                   return ops::concat(c.g, {c.x, ops::neg(c.g, c.x), c.x}, 1);
                 }});
  out.push_back({"slice_neg_start_step2", batched({7, 5}), -2, 2, [](Ctx& c) {
                   return ops::slice(c.g, c.x, {1, 2}, {-6, 1}, {INT64_MAX, -1}, {2, 1});
                 }});
  out.push_back({"slice_clamped_step3", batched({8}), -2, 2, [](Ctx& c) {
                   return ops::slice(c.g, c.x, {-1}, {-100}, {100}, {3});
                 }});
  return out;
}

std::string json_floats(const std::vector<float>& v) {
  std::string s = "[";
  char buf[32];
  for (size_t i = 0; i < v.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s%.9g", i ? "," : "", static_cast<double>(v[i]));
    s += buf;
  }
  return s + "]";
}
std::string json_ints(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: onnx_ops_export OUTDIR\n";
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  std::set<OpId> covered;
  int failed = 0, written = 0;
  uint64_t seed = 1;
  for (const Case& cs : cases()) {
    ++seed;
    try {
      Graph g(seed);
      std::mt19937 rng(static_cast<uint32_t>(seed));
      const NodeId x = g.placeholder("x", cs.x);
      Ctx ctx{g, x, rng};
      const NodeId y = cs.build(ctx);

      std::vector<OpId> used;
      std::string why_skip;
      for (NodeId id : g.schedule({y})) {
        const Node& n = g.node(id);
        if (ops::op_info(n.op->id()).kind == ops::OpKind::leaf) continue;
        if (const OnnxSupport s = onnx_support(n.op->id()); !s.exported) {
          why_skip = std::string(n.op->name()) + " is not exported: " + s.why_not;
          break;
        }
        used.push_back(n.op->id());
      }
      if (!why_skip.empty()) {
        std::cout << "skip " << cs.name << ": " << why_skip << "\n";
        continue;
      }

      auto backend = make_backend("cpu", g, {.threads = 1});
      auto exe = backend->compile({y}, kRunBatch);
      const Shape xs = cs.x.resolved(kRunBatch);
      std::uniform_real_distribution<float> u(cs.lo, cs.hi);
      std::vector<float> xv(static_cast<size_t>(xs.numel()));
      for (float& e : xv) e = cs.discrete ? Ctx::snap(u(rng), cs.lo, cs.hi) : u(rng);
      const int32_t zero = 0;  // dropout's step and sample_base
      std::vector<Feed> feeds;
      for (NodeId in : exe->inputs()) {
        if (in == x) feeds.push_back({x, xs, DType::f32, xv.data()});
        else feeds.push_back({in, Shape{1}, DType::i32, &zero});
      }
      exe->run(feeds);
      const Shape ys = g.node(y).shape.resolved(kRunBatch);
      std::vector<float> yv(static_cast<size_t>(ys.numel()));
      exe->fetch(y, yv);

      export_onnx(g, x, y, [&](NodeId id) {
        std::vector<float> v(static_cast<size_t>(g.node(id).shape.numel()));
        backend->read_variable(id, v);
        return v;
      }, dir / (cs.name + ".onnx"));

      std::string ops_list;
      for (OpId op : used) {
        covered.insert(op);
        ops_list += std::string(ops_list.empty() ? "" : ",") + "\"" + std::string(ops::op_info(op).name) + "\"";
      }
      std::ofstream f(dir / (cs.name + ".json"));
      f << "{\"case\":\"" << cs.name << "\",\"ops\":[" << ops_list << "],\n\"input\":{\"shape\":" << json_ints(xs.dims())
        << ",\"data\":" << json_floats(xv) << "},\n\"output\":{\"shape\":" << json_ints(ys.dims()) << ",\"data\":" << json_floats(yv)
        << "}}\n";
      if (!f.flush()) throw std::runtime_error("cannot write " + (dir / (cs.name + ".json")).string());
      ++written;
      std::cout << "case " << cs.name << ": " << g.node(x).shape.str() << " -> " << g.node(y).shape.str() << "\n";
    } catch (const std::exception& e) {
      std::cout << "FAIL " << cs.name << ": " << e.what() << "\n";
      ++failed;
    }
  }

  std::string missing;
  for (OpId op = 0; op < id::builtin_count; ++op) {
    if (ops::op_info(op).kind == ops::OpKind::leaf || !onnx_support(op).exported || covered.count(op)) continue;
    missing += std::string(missing.empty() ? "" : ", ") + std::string(ops::op_info(op).name);
  }
  std::cout << written << " cases written to " << dir.string() << ", " << failed << " failed\n";
  if (!missing.empty()) std::cout << "FAIL exported ops without a case here (add one to tests/onnx_ops_export.cpp): " << missing << "\n";
  return failed || !missing.empty() ? 1 : 0;
}
