#include "sequential.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <span>
#include <iostream>
#include <numeric>
#include <random>
#include <sstream>

#include <fmt/format.h>

#include <graphgrad/graph/autodiff.h>
#include <graphgrad/graph/op.h>
#include <graphgrad/ops/counter_rng.h>
#include <graphgrad/ops/ops.h>

#include "checkpoint.h"
#include "progress.h"

namespace gg {

namespace {
const char* kind_of(const Layer& l) {
  static const char* names[] = {"Conv2D", "Activation", "MaxPooling2D", "Dropout", "Flatten", "Dense"};
  return names[l.index()];
}
const std::string& name_of(const Layer& l) {
  return std::visit([](const auto& x) -> const std::string& { return x.name; }, l);
}
// Runs `exe` with those of `feeds` it takes: the step and the sample base feed
// only dropout's counter-based masks, so a model without dropout has no such inputs.
void run_taken(Executable& exe, std::span<const Feed> feeds) {
  std::vector<Feed> taken;
  for (const Feed& f : feeds)
    if (std::ranges::find(exe.inputs(), f.node) != exe.inputs().end()) taken.push_back(f);
  exe.run(taken);
}

std::string base_name(const Layer& l) {
  static const char* names[] = {"conv2d", "activation", "max_pooling2d", "dropout", "flatten", "dense"};
  return names[l.index()];
}
}  // namespace

Sequential::Sequential(Shape input, uint64_t seed) : input_(std::move(input)), seed_(seed), graph_(seed) {
  std::vector<int64_t> dims{kBatch};
  dims.insert(dims.end(), input_.dims().begin(), input_.dims().end());
  x_ = graph_.placeholder("x", Shape(dims));
  y_ = graph_.placeholder("labels", Shape{kBatch}, DType::i32);
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
  std::string name = name_of(layer).empty() ? unique_name(base_name(layer)) : name_of(layer);
  if (graph_.find(name) != kNoNode) throw GraphError(std::string("layer ") + kind_of(layer) + " \"" + name + "\": the name is already used");
  const Shape in = graph_.node(train_out_).shape;
  const std::string where = std::string("layer \"") + name + "\" (" + kind_of(layer) + ")";
  const std::string from = layer_names_.empty() ? std::string("the model input") : "layer \"" + layer_names_.back() + "\"";
  auto mismatch = [&](const std::string& what) { throw GraphError(where + ": " + what + ", but " + from + " gives " + in.str()); };

  NodeId kernel = kNoNode, bias = kNoNode;
  if (auto* c = std::get_if<Conv2D>(&layer)) {
    if (in.rank() != 4) mismatch("needs an image input [N,C,H,W]");
    if (c->filters < 1 || c->kernel_size[0] < 1 || c->kernel_size[1] < 1 || c->stride < 1)
      throw GraphError(where + ": filters, kernel size and stride must be >= 1");
    if (c->padding == PaddingMode::valid && (c->kernel_size[0] > in[2] || c->kernel_size[1] > in[3]))
      mismatch(fmt::format("a {}x{} kernel does not fit", c->kernel_size[0], c->kernel_size[1]));
    const int64_t k = c->kernel_size[0] * c->kernel_size[1];
    kernel = graph_.parameter(name + "/kernel", Shape{c->filters, in[1], c->kernel_size[0], c->kernel_size[1]},
                              Init::glorot_uniform(double(in[1] * k), double(c->filters * k)));
    bias = graph_.parameter(name + "/bias", Shape{c->filters}, Init::zeros());
  } else if (auto* d = std::get_if<Dense>(&layer)) {
    if (in.rank() != 2) mismatch("needs a flat input [N,features]; add Flatten() before it");
    if (d->units < 1) throw GraphError(where + ": units must be >= 1");
    kernel = graph_.parameter(name + "/kernel", Shape{in[1], d->units}, Init::glorot_uniform(double(in[1]), double(d->units)));
    bias = graph_.parameter(name + "/bias", Shape{d->units}, Init::zeros());
  } else if (auto* p = std::get_if<MaxPooling2D>(&layer)) {
    if (in.rank() != 4) mismatch("needs an image input [N,C,H,W]");
    if (p->pool_size[0] != p->pool_size[1]) throw GraphError(where + ": only square pooling windows are supported");
    if (p->pool_size[0] < 1 || p->stride < 0) throw GraphError(where + ": pool size must be >= 1 and stride >= 0");
    if (p->pool_size[0] > in[2] || p->pool_size[0] > in[3]) mismatch(fmt::format("a {0}x{0} window does not fit", p->pool_size[0]));
  } else if (auto* a = std::get_if<Activation>(&layer)) {
    if (a->kind != "relu" && a->kind != "softmax")
      throw GraphError(where + ": unknown activation '" + a->kind + "' (known: relu, softmax)");
    if (a->kind == "softmax" && in.rank() != 2) mismatch("softmax needs a flat input [N,classes]");
  } else if (auto* d = std::get_if<Dropout>(&layer)) {
    if (!(d->rate >= 0 && d->rate < 1)) throw GraphError(where + ": rate must be in [0, 1), got " + std::to_string(d->rate));
  }
  std::visit([&](auto& x) { x.name = name; }, layer);
  layers_.push_back(std::move(layer));
  layer_params_.emplace_back(kernel, bias);
  layer_names_.push_back(name);
  try {
    train_out_ = apply(layers_.size() - 1, train_out_, true);
  } catch (const GraphError& e) {
    throw GraphError(where + ": " + e.what());
  }
  return *this;
}

NodeId Sequential::apply(size_t index, NodeId x, bool training) {
  const Layer& layer = layers_[index];
  const auto [kernel, bias] = layer_params_[index];
  const std::string name = layer_names_[index] + (training ? "" : "/infer");
  if (auto* c = std::get_if<Conv2D>(&layer))
    return ops::conv2d(graph_, x, kernel, bias, c->stride, c->padding == PaddingMode::same ? ops::Padding::same : ops::Padding::valid, name);
  if (std::get_if<Dense>(&layer)) return ops::dense(graph_, x, kernel, bias, name);
  if (auto* p = std::get_if<MaxPooling2D>(&layer)) return ops::max_pool2d(graph_, x, p->pool_size[0], p->stride, name);
  if (auto* a = std::get_if<Activation>(&layer))
    return a->kind == "relu" ? ops::relu(graph_, x, name) : ops::softmax(graph_, x, name);
  if (std::get_if<Flatten>(&layer)) return ops::flatten(graph_, x, name);
  auto& d = std::get<Dropout>(layer);
  if (!training || d.rate == 0) return x;
  // Each dropout layer draws its own mask stream from the model seed.
  const uint32_t seed = ops::mix32(static_cast<uint32_t>(seed_) ^ ops::mix32(static_cast<uint32_t>(index) + 0x9e3779b9U));
  return ops::dropout(graph_, x, step_ph_, base_ph_, d.rate, seed, name);
}

void Sequential::compile(const CompileOptions& options) {
  if (compiled_) throw GraphError("compile(): the model is already compiled");
  if (options.loss != "categorical_crossentropy" && options.loss != "sparse_categorical_crossentropy")
    throw GraphError("compile(): unknown loss '" + options.loss +
                     "' (known: categorical_crossentropy, sparse_categorical_crossentropy)");
  const auto* last = layers_.empty() ? nullptr : std::get_if<Activation>(&layers_.back());
  if (!last || last->kind != "softmax")
    throw GraphError("compile(): " + options.loss + " expects class probabilities: end the model with Activation(\"softmax\")");

  // Everything below is undone if any of it fails (an unknown backend, say), so
  // compile() can be called again.
  const int size_before = graph_.size();
  try {
  // Training path: the loss is fused with the final softmax, so it reads the logits.
  const NodeId logits = graph_.node(train_out_).inputs[0];
  loss_ = ops::softmax_cross_entropy(graph_, logits, y_, "loss");
  train_acc_ = ops::accuracy(graph_, logits, y_, "accuracy");
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
  if (auto* adam = std::get_if<Adam>(&options.optimizer))
    updates_ = ops::adam(graph_, params, grads, step_ph_, *adam);
  else
    updates_ = ops::sgd(graph_, params, grads, std::get<SGD>(options.optimizer));

  // Inference path over the same parameters, without dropout.
  NodeId z = x_;
  for (size_t i = 0; i + 1 < layers_.size(); ++i) z = apply(i, z, false);
  probs_ = ops::softmax(graph_, z, "probabilities");
  eval_loss_ = ops::softmax_cross_entropy(graph_, z, y_, "eval_loss");
  eval_acc_ = ops::accuracy(graph_, z, y_, "eval_accuracy");

  checked_ = checked_nodes();
  BackendOptions backend_options = options.backend_options;
  backend_options.comm = comm_;
  backend_ = make_backend(options.backend, graph_, backend_options);
  } catch (...) {
    graph_.truncate(size_before);
    updates_.clear();
    checked_.clear();
    weight_ph_ = kNoNode;
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
}

void Sequential::require_compiled(const char* what) const {
  if (!compiled_) throw GraphError(std::string(what) + ": call compile() first");
}

Backend& Sequential::backend() const {
  require_compiled("backend()");
  return *backend_;
}

int64_t Sequential::classes() const { return graph_.node(train_out_).shape[1]; }

int64_t Sequential::parameter_count() const {
  int64_t n = 0;
  for (NodeId p : graph_.parameters()) n += graph_.node(p).shape.numel();
  return n;
}

Executable& Sequential::executable(const std::string& which, int64_t max_batch) {
  auto& slot = executables_[{which, max_batch}];
  if (!slot) {
    std::vector<NodeId> targets;
    if (which == "train" || which == "train_checked") {
      targets = {loss_, train_acc_};
      targets.insert(targets.end(), updates_.begin(), updates_.end());
      if (which == "train_checked") {
        targets.insert(targets.end(), checked_.begin(), checked_.end());
      }
    } else if (which == "eval") {
      targets = {eval_loss_, eval_acc_};
    } else {
      targets = {probs_};
    }
    slot = backend_->compile(targets, max_batch);
  }
  return *slot;
}

std::vector<NodeId> Sequential::checked_nodes() const {
  std::vector<NodeId> train{loss_, train_acc_};
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

void Sequential::check_numerics(const Executable& exe, int64_t step, int epoch) const {
  std::vector<float> values;
  for (NodeId id : checked_) {
    const Node& n = graph_.node(id);
    values.resize(static_cast<size_t>(n.shape.numel(exe.batch())));
    exe.fetch(id, values);
    for (size_t i = 0; i < values.size(); ++i)
      if (!std::isfinite(values[i]))
        throw NumericsError(fmt::format("fit(): step {} (epoch {}): {} holds {} at element {}: the first non-finite value of the step",
                                        step, epoch, graph_.describe(id), values[i], i));
  }
}

void Sequential::check_data(const Dataset& d, const char* what) const {
  if (d.item_shape != input_)
    throw GraphError(std::string(what) + ": data items of shape " + d.item_shape.str() + " do not fit the model input " + input_.str());
  if (d.size() == 0) throw GraphError(std::string(what) + ": the data set is empty");
  if (!d.x.empty() && !d.pixels.empty())
    throw GraphError(std::string(what) + ": the data set holds both f32 items (x) and 8-bit items (pixels); keep one");
  if (d.stored_values() != d.size() * d.item_floats())
    throw GraphError(std::string(what) + ": the data set holds " + std::to_string(d.stored_values()) + " values for " +
                     std::to_string(d.size()) + " items of " + d.item_shape.str());
}

std::vector<EpochStats> Sequential::fit(const Dataset& train, const FitOptions& o) {
  require_compiled("fit()");
  check_data(train, "fit()");
  if (o.batch_size < 1) throw GraphError("fit(): batch_size must be >= 1");
  if (o.validation) check_data(*o.validation, "fit() validation");
  std::ostream& log = o.log ? *o.log : std::cout;
  Communicator& comm = *comm_;
  const int rank = comm.rank(), ranks = comm.size();
  const int verbose = rank == 0 ? o.verbose : 0;  // rank 0 speaks for all
  const int64_t batch = std::min<int64_t>(o.batch_size, train.size());  // global
  // Each rank takes [n*r/R, n*(r+1)/R) of every global batch of n samples.
  const int64_t local_max = std::max<int64_t>(1, (batch + ranks - 1) / ranks);
  Executable& exe = executable(o.check_numerics ? "train_checked" : "train", local_max);
  const int64_t item = train.item_floats();
  const int64_t steps = (train.size() + batch - 1) / batch;

  // Batch buffers, reused by every step.
  std::vector<float> xb(static_cast<size_t>(local_max * item));
  std::vector<int32_t> yb(static_cast<size_t>(local_max));
  int32_t step_value = 0, base_value = 0;
  float weight_value = 1;
  std::vector<int64_t> order(static_cast<size_t>(train.size()));
  std::iota(order.begin(), order.end(), 0);
  float loss_v = 0, acc_v = 0;

  std::vector<EpochStats> history;
  const int first_epoch = static_cast<int>(step_ / steps);  // continues the shuffle sequence on resume
  for (int e = 0; e < o.epochs; ++e) {
    const int epoch = first_epoch + e + 1;
    if (o.shuffle) {
      std::mt19937_64 rng(seed_ * 1000003ULL + static_cast<uint64_t>(epoch));
      std::shuffle(order.begin(), order.end(), rng);
    }
    if (verbose) log << "Epoch " << (e + 1) << "/" << o.epochs << "\n" << std::flush;
    ProgressBar bar(log, steps, verbose && is_terminal(log));
    EpochStats st;
    st.epoch = epoch;
    double loss_sum = 0, acc_sum = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t s = 0; s < steps; ++s) {
      const int64_t b0 = s * batch, n = std::min(batch, train.size() - b0);
      // This rank's share; a rank left without a sample (n < ranks) runs one
      // with weight 0, so it still joins the all-reduce but adds nothing.
      const int64_t lo = n * rank / ranks, hi = n * (rank + 1) / ranks;
      const int64_t mine = hi - lo, fed = std::max<int64_t>(mine, 1);
      for (int64_t i = 0; i < fed; ++i) {
        const int64_t src = order[static_cast<size_t>(b0 + (mine ? lo + i : 0))];
        train.copy_items(src, 1, xb.data() + i * item);
        yb[static_cast<size_t>(i)] = train.y[static_cast<size_t>(src)];
      }
      step_value = static_cast<int32_t>(step_);
      base_value = static_cast<int32_t>(lo);  // dropout masks follow the sample's place in the global batch
      weight_value = static_cast<float>(double(mine) / double(n));
      const Feed feeds[] = {{x_, graph_.node(x_).shape.resolved(fed), DType::f32, xb.data()},
                            {y_, Shape{fed}, DType::i32, yb.data()},
                            {step_ph_, Shape{1}, DType::i32, &step_value},
                            {base_ph_, Shape{1}, DType::i32, &base_value},
                            {weight_ph_, Shape{1}, DType::f32, &weight_value}};
      run_taken(exe, feeds);
      ++step_;
      exe.fetch(loss_, {&loss_v, 1});
      exe.fetch(train_acc_, {&acc_v, 1});
      if (o.check_numerics) check_numerics(exe, step_, epoch);
      // The global batch's sums, and whether any rank was asked to stop: every
      // rank takes the same decisions, so none is left waiting in a collective.
      const bool stop_here = o.should_stop && o.should_stop();
      double sums[3] = {mine ? double(loss_v) * double(mine) : 0.0, mine ? double(acc_v) * double(mine) : 0.0,
                        stop_here ? 1.0 : 0.0};
      if (ranks > 1) comm.allreduce_sum(sums);
      if (!std::isfinite(sums[0]))
        throw NumericsError(fmt::format("fit(): the loss became {} at step {} (epoch {}, batch {}){}; run with check_numerics "
                                        "(mnist train --check-numerics) to name the first node that produced it",
                                        std::isfinite(loss_v) ? float(sums[0]) : loss_v, step_, epoch, s + 1,
                                        ranks > 1 ? fmt::format(" on {} of {} ranks", std::isfinite(loss_v) ? "another" : "this one", ranks) : ""));
      loss_sum += sums[0], acc_sum += sums[1];
      st.images += n;
      bar.update(s + 1, fmt::format("loss: {:.4f} - accuracy: {:.4f}", loss_sum / double(st.images), acc_sum / double(st.images)));
      if (sums[2] > 0) {
        if (verbose && is_terminal(log)) log << "\n";
        throw Interrupted(fmt::format("interrupted during epoch {} after step {} of {}", epoch, s + 1, steps));
      }
    }
    backend_->synchronize();
    st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    st.loss = loss_sum / double(st.images);
    st.accuracy = acc_sum / double(st.images);
    std::string metrics = fmt::format("loss: {:.4f} - accuracy: {:.4f}", st.loss, st.accuracy);
    if (o.validation) {
      const Evaluation v = evaluate(*o.validation, o.batch_size);
      st.val_loss = v.loss, st.val_accuracy = v.accuracy;
      metrics += fmt::format(" - val_loss: {:.4f} - val_accuracy: {:.4f}", v.loss, v.accuracy);
    }
    if (verbose) bar.finish(metrics);
    history.push_back(st);
    if (o.on_epoch_end) o.on_epoch_end(st);
  }
  return history;
}

Evaluation Sequential::evaluate(const Dataset& data, int batch_size) {
  require_compiled("evaluate()");
  check_data(data, "evaluate()");
  if (batch_size < 1) throw GraphError("evaluate(): batch_size must be >= 1");
  const int64_t batch = std::min<int64_t>(batch_size, data.size());
  Executable& exe = executable("eval", batch);
  const int64_t item = data.item_floats();
  double sums[2] = {0, 0};  // loss, accuracy, each times its batch
  double& loss_sum = sums[0];
  double& acc_sum = sums[1];
  float lv = 0, av = 0;
  std::vector<float> xb(data.floats_at(0) ? 0 : static_cast<size_t>(batch * item));
  // Data-parallel: each rank evaluates its slice and the sums are reduced.
  const int64_t first = data.size() * comm_->rank() / comm_->size(), last = data.size() * (comm_->rank() + 1) / comm_->size();
  for (int64_t b0 = first; b0 < last; b0 += batch) {
    const int64_t n = std::min(batch, last - b0);
    const float* xs = data.floats_at(b0);
    if (!xs) data.copy_items(b0, n, xb.data()), xs = xb.data();
    const Feed feeds[] = {{x_, graph_.node(x_).shape.resolved(n), DType::f32, xs},
                          {y_, Shape{n}, DType::i32, data.y.data() + b0}};
    exe.run(feeds);
    exe.fetch(eval_loss_, {&lv, 1});
    exe.fetch(eval_acc_, {&av, 1});
    loss_sum += double(lv) * double(n), acc_sum += double(av) * double(n);
  }
  if (comm_->size() > 1) comm_->allreduce_sum(sums);
  return {loss_sum / double(data.size()), acc_sum / double(data.size())};
}

std::vector<float> Sequential::predict(const float* images, int64_t count, int batch_size) {
  const int64_t item = input_.numel();
  return predict_batches(count, batch_size, [&](int64_t b0, int64_t) { return images + b0 * item; });
}

std::vector<float> Sequential::predict(const Dataset& data, int batch_size) {
  require_compiled("predict()");
  check_data(data, "predict()");
  std::vector<float> xb;
  return predict_batches(data.size(), batch_size, [&](int64_t b0, int64_t n) {
    if (const float* xs = data.floats_at(b0)) return xs;
    xb.resize(static_cast<size_t>(n * data.item_floats()));
    data.copy_items(b0, n, xb.data());
    return static_cast<const float*>(xb.data());
  });
}

std::vector<float> Sequential::predict_batches(int64_t count, int batch_size,
                                               const std::function<const float*(int64_t, int64_t)>& batch_at) {
  require_compiled("predict()");
  if (count < 1) throw GraphError("predict(): needs at least one image");
  if (batch_size < 1) throw GraphError("predict(): batch_size must be >= 1");
  const int64_t batch = std::min<int64_t>(batch_size, count);
  Executable& exe = executable("predict", batch);
  const int64_t k = classes();
  std::vector<float> out(static_cast<size_t>(count * k));
  for (int64_t b0 = 0; b0 < count; b0 += batch) {
    const int64_t n = std::min(batch, count - b0);
    const Feed feeds[] = {{x_, graph_.node(x_).shape.resolved(n), DType::f32, batch_at(b0, n)}};
    exe.run(feeds);
    exe.fetch(probs_, {out.data() + b0 * k, static_cast<size_t>(n * k)});
  }
  return out;
}

std::string Sequential::architecture() const {
  std::ostringstream os;
  os << "input" << input_.str();
  for (size_t i = 0; i < layers_.size(); ++i) {
    os << " " << layer_names_[i] << ":";
    std::visit(
        [&](const auto& l) {
          using T = std::decay_t<decltype(l)>;
          if constexpr (std::is_same_v<T, Conv2D>)
            os << "Conv2D(" << l.filters << "," << l.kernel_size[0] << "x" << l.kernel_size[1] << ",s" << l.stride << ","
               << (l.padding == PaddingMode::same ? "same" : "valid") << ")";
          else if constexpr (std::is_same_v<T, Dense>) os << "Dense(" << l.units << ")";
          else if constexpr (std::is_same_v<T, Activation>) os << "Activation(" << l.kind << ")";
          else if constexpr (std::is_same_v<T, MaxPooling2D>) os << "MaxPooling2D(" << l.pool_size[0] << ")";
          else if constexpr (std::is_same_v<T, Dropout>) os << "Dropout(" << l.rate << ")";
          else os << "Flatten";
        },
        layers_[i]);
  }
  return os.str();
}

std::string Sequential::summary() const {
  std::string s = fmt::format("Model: \"sequential\"\n{:_<70}\n{:<33}{:<22}{:>15}\n{:=<70}\n", "", "Layer (type)",
                              "Output Shape", "Param #", "");
  NodeId z = x_;
  for (size_t i = 0; i < layers_.size(); ++i) {
    // The training path holds each layer's output under the layer's name (dropout: its own node).
    NodeId out = graph_.find(layer_names_[i]);
    if (out != kNoNode) z = out;
    const auto [k, b] = layer_params_[i];
    const int64_t params = (k == kNoNode ? 0 : graph_.node(k).shape.numel()) + (b == kNoNode ? 0 : graph_.node(b).shape.numel());
    std::string shape = graph_.node(z).shape.str();
    s += fmt::format("{:<33}{:<22}{:>15}\n", layer_names_[i] + " (" + kind_of(layers_[i]) + ")", shape, params);
  }
  s += fmt::format("{:=<70}\nTotal params: {}\n", "", parameter_count());
  return s;
}

void Sequential::save(const std::filesystem::path& path) const {
  require_compiled("save()");
  if (comm_->rank() != 0) return;  // every rank holds the same variables; one file
  ckpt::Checkpoint c;
  c.step = static_cast<uint64_t>(step_);
  c.architecture = architecture();
  for (NodeId v : graph_.variables()) {
    const Node& n = graph_.node(v);
    ckpt::Tensor t{n.name, n.shape, std::vector<float>(static_cast<size_t>(n.shape.numel()))};
    backend_->read_variable(v, t.values);
    c.tensors.push_back(std::move(t));
  }
  ckpt::save(path, c);
}

void Sequential::load(const std::filesystem::path& path) {
  require_compiled("load()");
  if (comm_->size() == 1) return load_here(path);
  // Rank 0 reads; the others learn whether it could, then receive what it read.
  std::exception_ptr failed;
  std::string why;
  if (comm_->rank() == 0) try {
      load_here(path);
    } catch (const std::exception& e) {
      failed = std::current_exception(), why = *e.what() ? e.what() : "unknown error";
    }
  int64_t length = static_cast<int64_t>(why.size());
  comm_->broadcast(std::as_writable_bytes(std::span<int64_t>(&length, 1)), 0);
  why.resize(static_cast<size_t>(length));
  comm_->broadcast(std::as_writable_bytes(std::span<char>(why.data(), why.size())), 0);
  if (failed) std::rethrow_exception(failed);
  if (length) throw ckpt::CheckpointError("rank 0 could not load the checkpoint: " + why);
  broadcast_variables();
}

void Sequential::load_here(const std::filesystem::path& path) {
  const ckpt::Checkpoint c = ckpt::load(path);
  const std::string p = path.string();
  const std::string archs = "\n  checkpoint: " + c.architecture + "\n  this model: " + architecture();
  const std::vector<NodeId> variables = graph_.variables();
  // Check everything before writing anything, so a bad file leaves the model as it was.
  for (const ckpt::Tensor& t : c.tensors) {
    const NodeId id = graph_.find(t.name);
    if (id == kNoNode || std::find(variables.begin(), variables.end(), id) == variables.end())
      throw ckpt::CheckpointError(p + ": tensor \"" + t.name + "\" is not part of this model (another architecture?)" + archs);
    if (graph_.node(id).shape != t.shape)
      throw ckpt::CheckpointError(p + ": tensor \"" + t.name + "\" has shape " + t.shape.str() + ", the model expects " +
                                  graph_.node(id).shape.str() + archs);
  }
  for (NodeId param : graph_.parameters())
    if (!c.find(graph_.node(param).name))
      throw ckpt::CheckpointError(p + ": no tensor for parameter \"" + graph_.node(param).name + "\" (another architecture?)" + archs);
  for (const ckpt::Tensor& t : c.tensors) backend_->write_variable(graph_.at(t.name), t.values);
  step_ = static_cast<int64_t>(c.step);
}

}  // namespace gg
