// fuzz_graph's decoder: the fuzzer's bytes become graph-building calls drawn
// from the whole op table (Builder), and the rule for what ends a phase well
// (expect_ok: a GraphError or BackendError that names a node). See
// fuzz_graph.cpp for the target itself.
#pragma once
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <typeinfo>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/autodiff.h>
#include <graphgrad/graph/graph.h>
#include <graphgrad/ops/eltwise.h>
#include <graphgrad/ops/op_table.h>
#include <graphgrad/ops/ops.h>


namespace gg::fuzz_graph {


// Small enough that one input runs in well under 100 ms under ASan.
constexpr int kMaxOps = 12;
constexpr int kMaxNodes = 40;  // leaves made to fit included
constexpr int64_t kMaxDim = 5;
constexpr int64_t kLongDim = 40;  // at most one a leaf
constexpr int64_t kMaxElements = 1 << 14;  // per batch item, of any node an op may take

inline const bool kVerbose = std::getenv("GG_FUZZ_GRAPH_VERBOSE") != nullptr;

[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz_graph: invariant broken: %s\n", what.c_str());
  __builtin_trap();
}

// True when the message holds a double-quoted, non-empty name ('... "relu_3" ...').
inline bool names_a_node(const std::string& m) {
  for (size_t open = m.find('"'); open != std::string::npos;) {
    const size_t close = m.find('"', open + 1);
    if (close == std::string::npos) return false;
    if (close > open + 1) return true;
    open = m.find('"', close + 1);
  }
  return false;
}

// Runs one phase; false when it ended in an expected error.
template <class F>
bool expect_ok(const char* phase, F&& f) {
  try {
    f();
    return true;
  } catch (const GraphError& e) {
    if (kVerbose) std::fprintf(stderr, "  %s: GraphError: %s\n", phase, e.what());
    if (!names_a_node(e.what())) finding(std::string(phase) + ": a GraphError that names no node: " + e.what());
  } catch (const BackendError& e) {
    if (kVerbose) std::fprintf(stderr, "  %s: BackendError: %s\n", phase, e.what());
    if (!names_a_node(e.what())) finding(std::string(phase) + ": a BackendError that names no node: " + e.what());
  } catch (const std::exception& e) {
    finding(std::string(phase) + ": unexpected exception " + typeid(e).name() + ": " + e.what());
  } catch (...) {
    finding(std::string(phase) + ": unexpected exception of a non-std type");
  }
  return false;
}

// Decodes the fuzzer's bytes into graph-building calls.
class Builder {
 public:
  explicit Builder(FuzzedDataProvider& in) : in_(in), g_(in.ConsumeIntegral<uint32_t>()) {}

  Graph& graph() { return g_; }
  const std::vector<NodeId>& nodes() const { return nodes_; }
  // For an i32 placeholder made as labels: the class count they index (0: unknown).
  int64_t classes_of(NodeId id) const {
    auto it = classes_.find(id);
    return it == classes_.end() ? 0 : it->second;
  }

  void leaves() {
    const int n = in_.ConsumeIntegralInRange(1, 4);
    for (int i = 0; i < n; ++i) expect_ok("leaf", [&] { keep(leaf()); });
  }

  // One builder call; false when the input is used up or the graph is full.
  bool step() {
    if (in_.remaining_bytes() == 0 || g_.size() >= kMaxNodes || nodes_.empty()) return false;
    expect_ok("build", [&] { keep(apply()); });
    return true;
  }

  NodeId pick() { return nodes_[in_.ConsumeIntegralInRange<size_t>(0, nodes_.size() - 1)]; }
  // False once the input is used up (FuzzedDataProvider then gives 0s).
  bool chance(int percent) { return in_.ConsumeIntegralInRange(0, 99) >= 100 - percent; }
  // The last f32 node built (the deepest, most often), else any node.
  NodeId last_f32() const {
    for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it)
      if (g_.node(*it).dtype == DType::f32) return *it;
    return nodes_.back();
  }

 private:
  // A node later ops may take, unless it is too large to be quick (chains of
  // broadcasts multiply): then nothing reads it and it is never run.
  void keep(NodeId id) {
    if (id != kNoNode && g_.node(id).shape.numel(1) <= kMaxElements) nodes_.push_back(id);
  }

  std::string name() {
    // Mostly the builders' own names ("<op>_<id>"); now and then one of ours,
    // which may clash with an earlier node.
    if (!chance(10)) return {};
    return "n" + std::to_string(in_.ConsumeIntegralInRange(0, g_.size()));
  }

  // A copy: adding a node reallocates the graph's node list.
  Shape shape_of(NodeId id) const { return g_.node(id).shape; }

  Shape random_shape(bool batch_ok) {
    const int rank = in_.ConsumeIntegralInRange(0, 4);
    std::vector<int64_t> d;
    for (int i = 0; i < rank; ++i) d.push_back(in_.ConsumeIntegralInRange<int64_t>(1, kMaxDim));
    // Now and then one long dimension: past the kernels' vector width and blocking.
    if (rank > 0 && chance(10)) d[in_.ConsumeIntegralInRange(0, rank - 1)] = in_.ConsumeIntegralInRange<int64_t>(6, kLongDim);
    if (batch_ok && rank > 0 && chance(40)) d[0] = kBatch;
    return Shape(std::move(d));
  }

  // A new leaf: an f32 placeholder or parameter, an i32 placeholder or a scalar constant.
  NodeId leaf() {
    switch (in_.ConsumeIntegralInRange(0, 5)) {
      case 0: return fresh(random_shape(false), DType::f32, true);
      case 1: return fresh(random_shape(true), DType::i32);
      case 2: return ops::scalar(g_, attr_float(), name());
      default: return fresh(random_shape(true), DType::f32);
    }
  }

  // A new leaf of the given shape: a placeholder (i32, or f32 with a batch or
  // when `param` is false) or a parameter.
  NodeId fresh(Shape s, DType t, bool param = false) {
    std::string n = "leaf" + std::to_string(g_.size());
    if (chance(3)) n = "n" + std::to_string(in_.ConsumeIntegralInRange(0, g_.size()));  // may clash
    if (t == DType::f32 && !s.has_batch() && (param || chance(30)))
      return g_.parameter(n, std::move(s), Init::uniform(-1, 1));
    return g_.placeholder(n, std::move(s), t);
  }

  // An input for an op: a node picked among the existing ones, or a new leaf
  // shaped like `like` with some dimensions set to 1 (broadcasting) or cut.
  NodeId operand(NodeId like, DType t = DType::f32) {
    if (chance(50)) return pick();
    std::vector<int64_t> d = shape_of(like).dims();
    if (chance(30))
      for (auto& x : d)
        if (chance(30)) x = 1;
    if (chance(15) && !d.empty()) d.erase(d.begin());
    return fresh(Shape(std::move(d)), t);
  }

  // A new leaf of exactly this shape (mostly), else a pick.
  NodeId fitting(std::vector<int64_t> d, DType t = DType::f32) {
    if (chance(15)) return pick();
    for (auto& x : d)
      if (x == 0) x = 1;
    return fresh(Shape(std::move(d)), t);
  }

  int64_t dim_of(NodeId id, int i) const {
    const Shape& s = shape_of(id);
    return i < s.rank() && s[i] > 0 ? s[i] : 1;
  }

  double attr_float() {
    static constexpr double kSpecial[] = {0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 20.0, 0.01, 1e-30, 1e30, -1e30,
                                          std::numeric_limits<double>::infinity(),
                                          -std::numeric_limits<double>::infinity(),
                                          std::numeric_limits<double>::quiet_NaN()};
    if (chance(50)) return kSpecial[in_.ConsumeIntegralInRange<size_t>(0, std::size(kSpecial) - 1)];
    return in_.ConsumeFloatingPointInRange(-5.0, 5.0);
  }

  int axis() { return in_.ConsumeIntegralInRange(-6, 5); }

  std::vector<int> axes() {
    std::vector<int> a;
    const int n = in_.ConsumeIntegralInRange(0, 3);
    for (int i = 0; i < n; ++i) a.push_back(axis());
    return a;
  }

  int64_t slice_index() {
    static constexpr int64_t kEdge[] = {0, -1, INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1};
    if (chance(20)) return kEdge[in_.ConsumeIntegralInRange<size_t>(0, std::size(kEdge) - 1)];
    return in_.ConsumeIntegralInRange<int64_t>(-7, 7);
  }

  int64_t slice_step() {
    return chance(80) ? in_.ConsumeIntegralInRange<int64_t>(1, 3) : in_.ConsumeIntegralInRange<int64_t>(-2, 0);
  }

  // A shape near x's for broadcast_to and reshape: x's own, stretched, or random.
  Shape target_shape(NodeId x, bool reshape) {
    std::vector<int64_t> d;
    if (reshape) {
      // Mostly a shape with x's element count (one dimension maybe -1), else random.
      const Shape s = shape_of(x);
      if (chance(70)) {
        int64_t count = 1;
        for (int i = s.has_batch() ? 1 : 0; i < s.rank(); ++i) count *= s[i];
        if (s.has_batch()) d.push_back(kBatch);
        // Split count into factors in a random order.
        while (count > 1) {
          int64_t f = 2;
          while (count % f) ++f;
          if (d.empty() || d.back() == kBatch || chance(50)) d.push_back(f);
          else d.back() *= f;
          count /= f;
        }
        if (chance(30)) d.push_back(1);
        if (!d.empty() && chance(30)) d[in_.ConsumeIntegralInRange<size_t>(0, d.size() - 1)] = -1;
        if (chance(5) && !d.empty()) d[0] = in_.ConsumeIntegralInRange<int64_t>(-3, 0);
        return Shape(std::move(d));
      }
    } else if (chance(70)) {
      d = shape_of(x).dims();
      for (auto& v : d)
        if (v == 1 && chance(60)) v = in_.ConsumeIntegralInRange<int64_t>(1, kMaxDim);
      const int extra = in_.ConsumeIntegralInRange(0, 2);
      for (int i = 0; i < extra; ++i) {
        const auto at = d.begin() + (d.empty() || d[0] != kBatch ? 0 : 1);  // after a leading N
        d.insert(at, in_.ConsumeIntegralInRange<int64_t>(1, kMaxDim));
      }
      if (chance(10)) d.insert(d.begin(), kBatch);
      return Shape(std::move(d));
    }
    const int rank = in_.ConsumeIntegralInRange(0, 5);
    for (int i = 0; i < rank; ++i) d.push_back(in_.ConsumeIntegralInRange<int64_t>(-1, kMaxDim));
    return Shape(std::move(d));
  }

  // i32 labels for logits: [N] matching the logits' batch, classes recorded.
  NodeId labels_for(NodeId logits) {
    if (chance(15)) return pick();
    const Shape s = shape_of(logits);
    const NodeId id = fresh(Shape{s.rank() ? s[0] : 1}, DType::i32);
    classes_[id] = s.rank() >= 2 ? s[1] : 1;
    return id;
  }

  NodeId i32_scalar_input() {
    if (chance(20)) return pick();
    return fresh(Shape{1}, DType::i32);
  }

  enum Kind {
    kUnary, kBinary, kLeakyRelu, kElu, kSoftplus, kClip, kLeaf, kReduceSum, kReduceMean, kReduceMax,
    kBroadcastTo, kSumTo, kReshape, kFlatten, kTranspose, kConcat, kSlice, kSliceOnnx, kSoftmax, kLogSoftmax,
    kMatmul, kDense, kConv2d, kMaxPool, kAvgPool, kGlobalAvgPool, kSoftmaxCe, kSoftmaxCeSoft, kBce, kNll, kMse,
    kAccuracy, kDropout,
    // The backward-only builders, given a forward node (mostly one of the right op).
    kConvBackInput, kConvBackWeight, kBiasGrad, kMaxPoolBack, kAvgPoolBack, kSoftmaxBack, kLogSoftmaxBack,
    kSoftmaxCeBack, kSoftmaxCeSoftBack, kBceBack, kNllBack, kSliceBack,
    kAccumulate,  // gg::add (graph/autodiff.h): the sum autodiff writes
    kKindCount
  };

  // A node of op `op` built so far (mostly), else any node.
  NodeId forward_node(OpId op) {
    std::vector<NodeId> of;
    for (NodeId id : g_.nodes_with_role(OpRole::compute))
      if (g_.node(id).op->id() == op) of.push_back(id);
    if (of.empty() || chance(20)) return pick();
    return of[in_.ConsumeIntegralInRange<size_t>(0, of.size() - 1)];
  }
  // A gradient dy for node `y`: of its shape (mostly), else any node.
  NodeId dy_for(NodeId y) { return fitting(shape_of(y).dims()); }
  // A scalar dloss.
  NodeId dloss() { return chance(80) ? fitting({}) : pick(); }

  NodeId apply() {
    const int kind = in_.ConsumeIntegralInRange(0, kKindCount - 1);
    const NodeId x = pick();
    const Shape xs = shape_of(x);
    switch (kind) {
      case kUnary: {
        // Every unary row, the attribute ops too (through unary(): no attributes set).
        const auto table = ops::unary_ops();
        const auto& u = table[in_.ConsumeIntegralInRange<size_t>(0, table.size() - 1)];
        return ops::unary(g_, u.op, x, name());
      }
      case kBinary: {
        const auto table = ops::binary_ops();
        const auto& b = table[in_.ConsumeIntegralInRange<size_t>(0, table.size() - 1)];
        const NodeId y = operand(x);
        return chance(50) ? ops::binary(g_, b.op, x, y, name()) : ops::binary(g_, b.op, y, x, name());
      }
      case kLeakyRelu: return ops::leaky_relu(g_, x, attr_float(), name());
      case kElu: return ops::elu(g_, x, attr_float(), name());
      case kSoftplus: {
        const double beta = attr_float();
        return ops::softplus(g_, x, beta, attr_float(), name());
      }
      case kClip: {
        const double lo = attr_float();
        return ops::clip(g_, x, lo, attr_float(), name());
      }
      case kLeaf: return leaf();
      case kReduceSum: {
        auto a = axes();
        return ops::reduce_sum(g_, x, std::move(a), chance(50), name());
      }
      case kReduceMean: {
        auto a = axes();
        return ops::reduce_mean(g_, x, std::move(a), chance(50), name());
      }
      case kReduceMax: {
        auto a = axes();
        return ops::reduce_max(g_, x, std::move(a), chance(50), name());
      }
      case kBroadcastTo: {
        Shape t = target_shape(x, false);
        return ops::broadcast_to(g_, x, std::move(t), name(), chance(30));
      }
      case kSumTo: {
        // The reverse of a broadcast: to y's shape.
        return ops::sum_to(g_, x, shape_of(pick()), name());
      }
      case kReshape: {
        Shape t = target_shape(x, true);
        return ops::reshape(g_, x, std::move(t), name());
      }
      case kFlatten: return ops::flatten(g_, x, name());
      case kTranspose: {
        std::vector<int> perm;
        if (chance(80)) {
          for (int i = 0; i < xs.rank(); ++i) perm.push_back(i);
          for (int i = xs.rank() - 1; i > 0; --i) std::swap(perm[i], perm[in_.ConsumeIntegralInRange(0, i)]);
          if (chance(20) && !perm.empty()) perm[in_.ConsumeIntegralInRange<size_t>(0, perm.size() - 1)] = axis();
          if (chance(10)) perm.push_back(axis());
        }
        return ops::transpose(g_, x, std::move(perm), name());
      }
      case kConcat: {
        std::vector<NodeId> xs_in{x};
        // Past 16 inputs the builder nests concat nodes.
        const int n = chance(10) ? in_.ConsumeIntegralInRange(15, 20) : in_.ConsumeIntegralInRange(0, 3);
        for (int i = 0; i < n; ++i) xs_in.push_back(chance(30) || i >= 3 ? x : operand(x, g_.node(x).dtype));
        return ops::concat(g_, std::move(xs_in), axis(), name());
      }
      case kSlice: {
        std::vector<ops::SliceSpec> specs;
        const int n = in_.ConsumeIntegralInRange(0, 2);
        for (int i = 0; i < n; ++i) {
          const int a = axis();
          const int64_t start = slice_index(), stop = slice_index();
          specs.push_back({.axis = a, .start = start, .stop = stop, .step = slice_step()});
        }
        return ops::slice(g_, x, std::move(specs), name());
      }
      case kSliceOnnx: {
        // ONNX's form: the lists may differ in length.
        std::vector<int> ax;
        std::vector<int64_t> starts, stops, steps;
        const int n = in_.ConsumeIntegralInRange(0, 2);
        for (int i = 0; i < n; ++i) ax.push_back(axis());
        for (int i = n + (chance(10) ? 1 : 0); i > 0; --i) starts.push_back(slice_index());
        for (int i = n + (chance(10) ? -1 : 0); i > 0; --i) stops.push_back(slice_index());
        if (chance(50))
          for (int i = n + (chance(10) ? 1 : 0); i > 0; --i) steps.push_back(slice_step());
        return ops::slice(g_, x, std::move(ax), std::move(starts), std::move(stops), std::move(steps), name());
      }
      case kSoftmax: return ops::softmax(g_, x, axis(), name());
      case kLogSoftmax: return ops::log_softmax(g_, x, axis(), name());
      case kMatmul: {
        const bool ta = chance(30), tb = chance(30);
        NodeId b;
        if (chance(60) && xs.rank() >= 2) {
          // [..., K, N] with K fitting a's (maybe transposed) inner dimension.
          std::vector<int64_t> d(xs.dims().begin(), xs.dims().end() - 2);
          if (chance(30) && !d.empty()) d.erase(d.begin());  // broadcast the batch dims
          const int64_t k = xs[xs.rank() - (ta ? 2 : 1)], n = in_.ConsumeIntegralInRange<int64_t>(1, kMaxDim);
          d.push_back(tb ? n : k);
          d.push_back(tb ? k : n);
          b = fitting(std::move(d));
        } else {
          b = pick();
        }
        return ops::matmul(g_, x, b, ta, tb, name());
      }
      case kDense: {
        const int64_t out = in_.ConsumeIntegralInRange<int64_t>(1, kMaxDim);
        const NodeId w = fitting({dim_of(x, 1), out});
        const NodeId b = chance(30) ? kNoNode : fitting({out});
        return ops::dense(g_, x, w, b, name());
      }
      case kConv2d: {
        const int64_t oc = in_.ConsumeIntegralInRange<int64_t>(1, 4), k = in_.ConsumeIntegralInRange<int64_t>(1, 4);
        const NodeId w = fitting({oc, dim_of(x, 1), k, chance(90) ? k : in_.ConsumeIntegralInRange<int64_t>(1, 4)});
        const NodeId b = chance(40) ? kNoNode : fitting({oc});
        const int stride = in_.ConsumeIntegralInRange(-1, 3);
        return ops::conv2d(g_, x, w, b, stride, chance(50) ? ops::Padding::same : ops::Padding::valid, name());
      }
      case kMaxPool: {
        const int pool = in_.ConsumeIntegralInRange(-1, 4);
        return ops::max_pool2d(g_, x, pool, in_.ConsumeIntegralInRange(-1, 3), name());
      }
      case kAvgPool: {
        const int pool = in_.ConsumeIntegralInRange(-1, 4), stride = in_.ConsumeIntegralInRange(-1, 3);
        return ops::avg_pool2d(g_, x, pool, stride, chance(50) ? ops::Padding::same : ops::Padding::valid, name());
      }
      case kGlobalAvgPool: return ops::global_avg_pool2d(g_, x, name());
      case kSoftmaxCe: {
        const NodeId labels = labels_for(x);
        return ops::softmax_cross_entropy(g_, x, labels, name());
      }
      case kSoftmaxCeSoft: {
        const NodeId t = chance(70) ? fitting(xs.dims()) : operand(x);
        return ops::softmax_cross_entropy_soft(g_, x, t, name());
      }
      case kBce: {
        const NodeId t = chance(70) ? fitting(xs.dims()) : operand(x);
        return ops::bce_with_logits(g_, x, t, name());
      }
      case kNll: {
        const NodeId labels = labels_for(x);
        return ops::nll_loss(g_, x, labels, name());
      }
      case kMse: {
        const NodeId y = operand(x);
        return ops::mse(g_, x, y, name());
      }
      case kAccuracy: {
        const NodeId labels = labels_for(x);
        return ops::accuracy(g_, x, labels, name());
      }
      case kDropout: {
        static constexpr double kRates[] = {0.0, 0.25, 0.5, 0.99, 1.0, -0.5, 1.5,
                                            std::numeric_limits<double>::quiet_NaN()};
        const NodeId step = i32_scalar_input(), base = i32_scalar_input();
        const double rate = kRates[in_.ConsumeIntegralInRange<size_t>(0, std::size(kRates) - 1)];
        return ops::dropout(g_, x, step, base, rate, in_.ConsumeIntegral<uint32_t>(), name());
      }
      // The forward node is passed as the graph's own reference (g.node()), as
      // a caller would: a builder must not hold it across adding a node.
      case kConvBackInput: {
        const NodeId conv = forward_node(ops::id::conv2d);
        const NodeId dy = dy_for(conv);
        const NodeId w = g_.node(conv).inputs.size() > 1 && chance(80) ? g_.node(conv).inputs[1] : pick();
        return ops::conv2d_backward_input(g_, dy, w, g_.node(conv), name());
      }
      case kConvBackWeight: {
        const NodeId conv = forward_node(ops::id::conv2d);
        const NodeId dy = dy_for(conv);
        const NodeId xin = !g_.node(conv).inputs.empty() && chance(80) ? g_.node(conv).inputs[0] : pick();
        return ops::conv2d_backward_weight(g_, dy, xin, g_.node(conv), name());
      }
      case kBiasGrad: return ops::bias_grad(g_, x, name());
      case kMaxPoolBack: {
        const NodeId pool = forward_node(ops::id::max_pool2d);
        const NodeId dy = dy_for(pool);
        const NodeId xin = !g_.node(pool).inputs.empty() && chance(80) ? g_.node(pool).inputs[0] : pick();
        return ops::max_pool2d_backward(g_, dy, xin, g_.node(pool), name());
      }
      case kAvgPoolBack: {
        const NodeId pool = forward_node(ops::id::avg_pool2d);
        const NodeId dy = dy_for(pool);
        return ops::avg_pool2d_backward(g_, dy, g_.node(pool), name());
      }
      case kSoftmaxBack:
      case kLogSoftmaxBack: {
        const bool log = kind == kLogSoftmaxBack;
        const NodeId y = forward_node(log ? ops::id::log_softmax : ops::id::softmax);
        const NodeId dy = dy_for(y);
        const int a = g_.node(y).attrs.has("axis") && chance(80) ? int(g_.node(y).attrs.i("axis")) : axis();
        return log ? ops::log_softmax_backward(g_, dy, y, a, name()) : ops::softmax_backward(g_, dy, y, a, name());
      }
      case kSoftmaxCeBack:
      case kNllBack: {
        const NodeId loss = forward_node(kind == kNllBack ? ops::id::nll_loss : ops::id::softmax_cross_entropy);
        const std::vector<NodeId> in = g_.node(loss).inputs;  // a copy: labels_for may add a node
        const NodeId logits = in.size() == 2 && chance(80) ? in[0] : pick();
        const NodeId labels = in.size() == 2 && chance(80) ? in[1] : labels_for(logits);
        const NodeId d = dloss();
        return kind == kNllBack ? ops::nll_loss_backward(g_, logits, labels, d, name())
                                : ops::softmax_cross_entropy_backward(g_, logits, labels, d, name());
      }
      case kSoftmaxCeSoftBack:
      case kBceBack: {
        const NodeId loss = forward_node(kind == kBceBack ? ops::id::bce_with_logits : ops::id::softmax_cross_entropy_soft);
        const std::vector<NodeId> in = g_.node(loss).inputs;
        const NodeId logits = in.size() == 2 && chance(80) ? in[0] : pick();
        const NodeId t = in.size() == 2 && chance(80) ? in[1] : operand(logits);
        const NodeId d = dloss();
        const int wrt = in_.ConsumeIntegralInRange(-1, 2);
        return kind == kBceBack ? ops::bce_with_logits_backward(g_, logits, t, d, wrt, name())
                                : ops::softmax_cross_entropy_soft_backward(g_, logits, t, d, wrt, name());
      }
      case kAccumulate: return gg::add(g_, x, operand(x), name());
      case kSliceBack: {
        const NodeId s = forward_node(ops::id::slice);
        const NodeId dy = dy_for(s);  // first: it may add a node, which moves g_.node(s)
        return ops::slice_backward(g_, dy, g_.node(s), name());
      }
    }
    return kNoNode;
  }

  FuzzedDataProvider& in_;
  Graph g_;
  std::vector<NodeId> nodes_;
  std::map<NodeId, int64_t> classes_;
};

}  // namespace gg::fuzz_graph
