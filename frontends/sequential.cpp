// Sequential: building the layers' graph and compiling it (loss, gradients,
// optimizer, inference path, backend). fit.cpp runs it; model_io.cpp saves
// and loads it.
#include "sequential.h"
#include "overload.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include <graphgrad/graph/autodiff.h>
#include <graphgrad/graph/op.h>
#include <graphgrad/ops/op_table.h>
#include <graphgrad/ops/ops.h>

namespace gg {

namespace {
using detail::Overload;

bool is_op(const Graph& g, NodeId id, OpId op) { return g.node(id).op->id() == op; }
}  // namespace

std::string_view optimizer_name(const Optimizer& o) {
  static constexpr std::string_view names[] = {"adam", "sgd", "adamw", "rmsprop"};
  static_assert(std::size(names) == std::variant_size_v<Optimizer>);
  return names[o.index()];
}

double optimizer_lr(const Optimizer& o) {
  return std::visit([](const auto& c) { return c.lr; }, o);
}

Sequential::Sequential(Shape input, uint64_t seed) : input_(std::move(input)), seed_(seed), graph_(seed) {
  std::vector<int64_t> dims{kBatch};
  dims.insert(dims.end(), input_.dims().begin(), input_.dims().end());
  x_ = graph_.placeholder("x", Shape(dims));
  labels_ = graph_.placeholder("labels", Shape{kBatch}, DType::i32);
  step_ph_ = graph_.placeholder("step", Shape{1}, DType::i32);
  base_ph_ = graph_.placeholder("sample_base", Shape{1}, DType::i32);
  train_out_ = x_;
}

Sequential::~Sequential() = default;

std::string Sequential::unique_name(const std::string& base) {
  std::string name;
  do name = base + "_" + std::to_string(++name_counts_[base]);
  while (graph_.find(name) != kNoNode);  // skip names the user took explicitly
  return name;
}

Sequential& Sequential::add(Layer layer) {
  if (compiled_) throw GraphError("add(): the model is already compiled; add every layer before compile()");
  const std::string kind(layer_kind(layer));
  std::string name = layer_name(layer).empty() ? unique_name(std::string(layer_base_name(layer))) : layer_name(layer);
  if (graph_.find(name) != kNoNode) throw GraphError("layer " + kind + " \"" + name + "\": the name is already used");
  const std::string where = "layer \"" + name + "\" (" + kind + ")";
  const std::string from = layer_names_.empty() ? std::string("the model input") : "layer \"" + layer_names_.back() + "\"";
  // Everything the layer adds is undone if it fails, so the model stays usable.
  const int size_before = graph_.size();
  const size_t updates_before = layer_updates_.size();
  try {
    layers::Vars vars = layers::create(graph_, layer, name, graph_.node(train_out_).shape, where, from);
    std::visit([&](auto& l) { l.name = name; }, layer);
    const layers::Path path{graph_, true, step_ph_, base_ph_, seed_, &layer_updates_};
    const NodeId out = layers::apply(path, layers_.size(), layer, vars, name, train_out_);
    layers_.push_back(std::move(layer));
    layer_vars_.push_back(vars);
    layer_names_.push_back(name);
    train_out_ = out;
  } catch (const GraphError& e) {
    graph_.truncate(size_before);
    layer_updates_.resize(updates_before);
    const std::string what = e.what();
    throw GraphError(what.rfind(where, 0) == 0 ? what : where + ": " + what);
  }
  return *this;
}

void Sequential::build_loss(const CompileOptions& o) {
  const LossKind kind = o.loss.kind;
  const NodeId out = train_out_;
  const Node last = graph_.node(out);  // a copy: adding nodes below moves the graph's node list
  const bool softmax_out = is_op(graph_, out, ops::id::softmax) && last.shape.rank() == 2;
  const bool sigmoid_out = is_op(graph_, out, ops::id::sigmoid);
  const bool categorical = kind == LossKind::sparse_categorical_crossentropy || kind == LossKind::categorical_crossentropy;
  if (categorical && last.shape.rank() != 2)
    throw GraphError(fmt::format("compile(): {} needs a model output [N,classes], but it gives {}", loss_name(kind), last.shape.str()));
  if (o.loss.from_logits && (softmax_out || sigmoid_out))
    throw GraphError(fmt::format("compile(): {} with from_logits, but the model ends in {}: drop the final activation, or from_logits",
                                 loss_name(kind), last.op->name()));
  if (kind != LossKind::sparse_categorical_crossentropy) {
    std::vector<int64_t> dims = last.shape.dims();
    targets_ = graph_.placeholder("targets", Shape(dims));
  }

  // Builds the loss on one path: `y` is its output node (after any final activation).
  auto loss_on = [&](NodeId y, const std::string& name) -> NodeId {
    const NodeId pre = graph_.node(y).inputs.empty() ? kNoNode : graph_.node(y).inputs[0];
    const bool fused_softmax = categorical && is_op(graph_, y, ops::id::softmax);
    const bool fused_sigmoid = kind == LossKind::binary_crossentropy && is_op(graph_, y, ops::id::sigmoid);
    const bool logits = o.loss.from_logits;
    // log(clip(p)) for cross-entropies after an output that is not fused.
    auto log_clipped = [&](NodeId p) { return ops::log(graph_, ops::clip(graph_, p, 1e-7, 1.0 - 1e-7, name + "/clip"), name + "/log"); };
    switch (kind) {
      case LossKind::sparse_categorical_crossentropy:
        if (fused_softmax) return ops::softmax_cross_entropy(graph_, pre, labels_, name);
        if (logits) return ops::softmax_cross_entropy(graph_, y, labels_, name);
        return ops::nll_loss(graph_, log_clipped(y), labels_, name);
      case LossKind::categorical_crossentropy: {
        if (fused_softmax) return ops::softmax_cross_entropy_soft(graph_, pre, targets_, name);
        if (logits) return ops::softmax_cross_entropy_soft(graph_, y, targets_, name);
        const NodeId per_item = ops::reduce_sum(graph_, ops::mul(graph_, targets_, log_clipped(y), name + "/tlogp"), {1}, false, name + "/sum");
        return ops::neg(graph_, ops::reduce_mean(graph_, per_item, {}, false, name + "/mean"), name);
      }
      case LossKind::binary_crossentropy: {
        if (fused_sigmoid) return ops::bce_with_logits(graph_, pre, targets_, name);
        if (logits) return ops::bce_with_logits(graph_, y, targets_, name);
        // -(t log p + (1 - t) log(1 - p)), p clipped as Keras does.
        const NodeId one = ops::scalar(graph_, 1.0f, name + "/one");
        const NodeId p = ops::clip(graph_, y, 1e-7, 1.0 - 1e-7, name + "/clip");
        const NodeId a = ops::mul(graph_, targets_, ops::log(graph_, p, name + "/logp"), name + "/tlogp");
        const NodeId b = ops::mul(graph_, ops::sub(graph_, one, targets_, name + "/1-t"),
                                  ops::log(graph_, ops::sub(graph_, one, p, name + "/1-p"), name + "/log1-p"), name + "/tlog1-p");
        return ops::neg(graph_, ops::reduce_mean(graph_, ops::add(graph_, a, b, name + "/sum"), {}, false, name + "/mean"), name);
      }
      case LossKind::mse: return ops::mse(graph_, y, targets_, name);
      case LossKind::mae:
        return ops::reduce_mean(graph_, ops::abs(graph_, ops::sub(graph_, y, targets_, name + "/diff"), name + "/abs"), {}, false, name);
      case LossKind::count_: break;
    }
    throw GraphError("compile(): loss kind out of range");
  };
  loss_ = loss_on(out, "loss");
  // Metrics read the output; argmax accuracy reads the logits where the softmax is fused (ties as before).
  train_metric_src_ = out;
  train_argmax_src_ = softmax_out ? last.inputs[0] : out;

  // Inference path over the same variables, without dropout, batch norm on its moving statistics.
  NodeId z = x_;
  const layers::Path infer{graph_, false, step_ph_, base_ph_, seed_, nullptr};
  // The model's output keeps one name whatever its last layer: "probabilities"
  // after a softmax (the ONNX export's output, as before the zoo), else "output".
  const std::string output_name = softmax_out ? "probabilities" : "output";
  for (size_t i = 0; i < layers_.size(); ++i)
    z = layers::apply(infer, i, layers_[i], layer_vars_[i], layer_names_[i], z, i + 1 == layers_.size() ? output_name : "");
  output_ = z;
  eval_loss_ = loss_on(z, "eval_loss");
  eval_argmax_src_ = softmax_out ? graph_.node(z).inputs[0] : z;
}

void Sequential::compile(const CompileOptions& options) {
  if (compiled_) throw GraphError("compile(): the model is already compiled");
  if (layers_.empty()) throw GraphError("compile(): the model has no layers");
  if (options.lr_schedule) check_schedule(*options.lr_schedule);
  if (!(options.clip_norm >= 0)) throw GraphError("compile(): clip_norm must be >= 0 (0: no clipping)");
  if (!(optimizer_lr(options.optimizer) > 0)) throw GraphError("compile(): the optimizer's learning rate must be > 0");
  for (MetricKind m : options.metrics)
    if (m == MetricKind::count_) throw GraphError("compile(): metric kind out of range");

  // Everything below is undone if any of it fails (an unknown backend, say), so
  // compile() can be called again.
  const int size_before = graph_.size();
  try {
    build_loss(options);
    std::vector<NodeId> params = graph_.parameters();
    if (params.empty())
      throw GraphError("compile(): the loss reaches no trainable parameter, so fit() could learn nothing; "
                       "add a Dense or Conv2D layer");
    std::vector<NodeId> grads = grad(graph_, loss_, params);
    comm_ = options.comm ? options.comm : single_process_communicator();
    if (comm_->size() > 1) {
      weight_ph_ = graph_.placeholder("grad_weight", Shape{1});
      grads = ops::allreduce_gradients(graph_, grads, weight_ph_, options.allreduce);
    }
    if (options.clip_norm > 0) grads = ops::clip_by_global_norm(graph_, grads, options.clip_norm);
    lr_ph_ = graph_.placeholder("lr_scale", Shape{1});
    const int before_optimizer = graph_.size();
    updates_ = std::visit(
        Overload{
            [&](const Adam& c) { return ops::adam(graph_, params, grads, step_ph_, c, lr_ph_); },
            [&](const AdamW& c) { return ops::adamw(graph_, params, grads, step_ph_, c, lr_ph_); },
            [&](const SGD& c) { return ops::sgd(graph_, params, grads, c, lr_ph_); },
            [&](const RMSprop& c) { return ops::rmsprop(graph_, params, grads, c, lr_ph_); },
        },
        options.optimizer);
    optimizer_slots_.clear();
    for (NodeId id = before_optimizer; id < graph_.size(); ++id)
      if (graph_.node(id).op->role() == OpRole::state) optimizer_slots_.push_back(id);
    updates_.insert(updates_.end(), layer_updates_.begin(), layer_updates_.end());

    options_ = options;
    lr_ = optimizer_lr(options.optimizer);
    checked_ = checked_nodes();
    BackendOptions backend_options = options.backend_options;
    backend_options.comm = comm_;
    backend_ = make_backend(options.backend, graph_, backend_options);
  } catch (...) {
    graph_.truncate(size_before);
    updates_.clear();
    optimizer_slots_.clear();
    checked_.clear();
    weight_ph_ = targets_ = lr_ph_ = kNoNode;
    loss_ = output_ = eval_loss_ = kNoNode;
    throw;
  }
  compiled_ = true;
  // The initialisers drew the same values on every rank (same seed), but a
  // user's own initial values need not agree: rank 0's win.
  broadcast_variables();
}

Communicator& Sequential::comm() const {
  require_compiled("comm()");
  return *comm_;
}

void Sequential::broadcast_variables() {
  if (comm_->size() == 1) return;
  std::vector<float> values;
  for (NodeId v : graph_.variables()) {
    values.resize(static_cast<size_t>(graph_.node(v).shape.numel()));
    if (comm_->rank() == 0) backend_->read_variable(v, values);
    comm_->broadcast(values, 0);
    if (comm_->rank() != 0) backend_->write_variable(v, values);
  }
  comm_->broadcast(std::as_writable_bytes(std::span<int64_t>(&step_, 1)), 0);
  comm_->broadcast(std::as_writable_bytes(std::span<double>(&lr_, 1)), 0);
}

void Sequential::require_compiled(const char* what) const {
  if (!compiled_) throw GraphError(std::string(what) + ": call compile() first");
}

Backend& Sequential::backend() const {
  require_compiled("backend()");
  return *backend_;
}

int64_t Sequential::output_width() const {
  const Shape& s = graph_.node(train_out_).shape;
  int64_t n = 1;
  for (int i = 1; i < s.rank(); ++i) n *= s[i];
  return n;
}

int64_t Sequential::parameter_count() const {
  int64_t n = 0;
  for (NodeId p : graph_.parameters()) n += graph_.node(p).shape.numel();
  return n;
}

double Sequential::learning_rate() const {
  if (options_.lr_schedule) return learning_rate_at(*options_.lr_schedule, step_);
  return compiled_ ? lr_ : optimizer_lr(options_.optimizer);
}

void Sequential::set_learning_rate(double lr) {
  require_compiled("set_learning_rate()");
  if (options_.lr_schedule)
    throw GraphError("set_learning_rate(): the learning rate follows the schedule " + describe(*options_.lr_schedule));
  if (!(lr > 0) || !std::isfinite(lr)) throw GraphError("set_learning_rate(): the learning rate must be > 0, got " + std::to_string(lr));
  lr_ = lr;
}

float Sequential::lr_scale_for_step() const {
  // The update kernels multiply the optimizer's configured rate (in double) by
  // this f32 factor: exactly 1 for a constant rate, so its updates are bit for
  // bit those of a rate baked into the graph.
  const double base = optimizer_lr(options_.optimizer);
  const double lr = learning_rate();
  return lr == base ? 1.0f : static_cast<float>(lr / base);
}

std::vector<NodeId> Sequential::weight_nodes() const {
  std::vector<NodeId> out;
  for (const layers::Vars& v : layer_vars_)
    for (NodeId id : v.all())
      if (graph_.node(id).op->role() != OpRole::constant) out.push_back(id);
  return out;
}

std::vector<std::vector<float>> Sequential::get_weights() const {
  require_compiled("get_weights()");
  std::vector<std::vector<float>> out;
  for (NodeId id : weight_nodes()) {
    std::vector<float> v(static_cast<size_t>(graph_.node(id).shape.numel()));
    backend_->read_variable(id, v);
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<ckpt::Tensor> Sequential::get_named_weights() const {
  require_compiled("get_named_weights()");
  std::vector<ckpt::Tensor> out;
  for (NodeId id : weight_nodes()) {
    const Node& n = graph_.node(id);
    ckpt::Tensor t{n.name, n.shape, std::vector<float>(static_cast<size_t>(n.shape.numel()))};
    backend_->read_variable(id, t.values);
    out.push_back(std::move(t));
  }
  return out;
}

void Sequential::set_weights(const std::vector<std::vector<float>>& weights) {
  require_compiled("set_weights()");
  const std::vector<NodeId> nodes = weight_nodes();
  if (weights.size() != nodes.size())
    throw GraphError(fmt::format("set_weights(): the model has {} weight tensors, {} given", nodes.size(), weights.size()));
  for (size_t i = 0; i < nodes.size(); ++i)
    if (static_cast<int64_t>(weights[i].size()) != graph_.node(nodes[i]).shape.numel())
      throw GraphError(fmt::format("set_weights(): {} holds {} values, {} given", graph_.describe(nodes[i]),
                                   graph_.node(nodes[i]).shape.numel(), weights[i].size()));
  for (size_t i = 0; i < nodes.size(); ++i) backend_->write_variable(nodes[i], weights[i]);
}

Executable& Sequential::executable(const std::string& which, int64_t max_batch) {
  auto& slot = executables_[{which, max_batch}];
  if (!slot) {
    std::vector<NodeId> targets;
    if (which == "train" || which == "train_checked") {
      targets = {loss_, train_metric_src_};
      if (train_argmax_src_ != train_metric_src_) targets.push_back(train_argmax_src_);
      targets.insert(targets.end(), updates_.begin(), updates_.end());
      if (which == "train_checked") targets.insert(targets.end(), checked_.begin(), checked_.end());
    } else if (which == "eval") {
      targets = {eval_loss_, output_};
      if (eval_argmax_src_ != output_) targets.push_back(eval_argmax_src_);
    } else {
      targets = {output_};
    }
    slot = backend_->compile(targets, max_batch);
  }
  return *slot;
}

std::vector<NodeId> Sequential::checked_nodes() const {
  std::vector<NodeId> train{loss_};
  train.insert(train.end(), updates_.begin(), updates_.end());
  std::vector<NodeId> out;
  for (NodeId id : graph_.schedule(train)) {
    const Node& n = graph_.node(id);
    const OpRole role = n.op->role();
    if (n.dtype == DType::f32 && n.op->mutated_inputs().empty() && (role == OpRole::compute || role == OpRole::input))
      out.push_back(id);
  }
  return out;
}

std::string Sequential::architecture() const {
  std::ostringstream os;
  os << "input" << input_.str();
  for (size_t i = 0; i < layers_.size(); ++i) {
    os << " " << layer_names_[i] << ":";
    std::visit(Overload{
                   [&](const Conv2D& l) {
                     os << "Conv2D(" << l.filters << "," << l.kernel_size[0] << "x" << l.kernel_size[1] << ",s" << l.stride
                        << "," << padding_name(l.padding);
                     if (l.activation != ActivationKind::linear) os << "," << activation_name(l.activation);
                     if (!l.use_bias) os << ",no_bias";
                     os << ")";
                   },
                   [&](const Dense& l) {
                     os << "Dense(" << l.units;
                     if (l.activation != ActivationKind::linear) os << "," << activation_name(l.activation);
                     if (!l.use_bias) os << ",no_bias";
                     os << ")";
                   },
                   [&](const Activation& l) { os << "Activation(" << activation_name(l.kind) << ")"; },
                   [&](const MaxPooling2D& l) { os << "MaxPooling2D(" << l.pool_size[0] << ")"; },
                   [&](const AveragePooling2D& l) { os << "AveragePooling2D(" << l.pool_size[0] << "," << padding_name(l.padding) << ")"; },
                   [&](const GlobalAveragePooling2D&) { os << "GlobalAveragePooling2D"; },
                   [&](const BatchNormalization& l) { os << "BatchNormalization(" << l.momentum << "," << l.epsilon << ")"; },
                   [&](const Dropout& l) { os << "Dropout(" << l.rate << ")"; },
                   [&](const Flatten&) { os << "Flatten"; },
               },
               layers_[i]);
  }
  return os.str();
}

std::string Sequential::summary() const {
  std::string s = fmt::format("Model: \"sequential\"\n{:_<75}\n{:<38}{:<22}{:>15}\n{:=<75}\n", "", "Layer (type)",
                              "Output Shape", "Param #", "");
  NodeId z = x_;
  int64_t trainable = 0, fixed = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    // The training path holds each layer's output under the layer's name (dropout: its own node).
    NodeId out = graph_.find(layer_names_[i]);
    if (out != kNoNode) z = out;
    int64_t params = 0;
    for (NodeId v : layer_vars_[i].all()) {
      const int64_t n = graph_.node(v).shape.numel();
      params += n;
      (graph_.node(v).op->role() == OpRole::parameter ? trainable : fixed) += n;
    }
    s += fmt::format("{:<38}{:<22}{:>15}\n", layer_names_[i] + " (" + std::string(layer_kind(layers_[i])) + ")",
                     graph_.node(z).shape.str(), params);
  }
  s += fmt::format("{:=<75}\nTotal params: {}\n", "", trainable + fixed);
  if (fixed) s += fmt::format("Trainable params: {}\nNon-trainable params: {}\n", trainable, fixed);
  return s;
}

}  // namespace gg
