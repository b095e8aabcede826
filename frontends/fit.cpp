// Sequential's loops: fit() (batches, learning rate, metrics, callbacks,
// data parallelism), evaluate() and predict().
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <span>

#include <fmt/format.h>

#include <graphgrad/graph/op.h>

#include "batches.h"
#include "metrics.h"
#include "progress.h"
#include "sequential.h"

namespace gg {
namespace {
// Runs `exe` with those of `feeds` it takes: the step and the sample base feed
// only dropout's counter-based masks, so a model without dropout has no such inputs.
void run_taken(Executable& exe, std::span<const Feed> feeds) {
  std::vector<Feed> taken;
  for (const Feed& f : feeds)
    if (f.node != kNoNode && std::ranges::find(exe.inputs(), f.node) != exe.inputs().end()) taken.push_back(f);
  exe.run(taken);
}

// Float target rows of `width` for the items `indices` of d: its targets, or
// its class ids as one-hot rows (as the id itself for one output).
void fill_float_targets(const Dataset& d, std::span<const int64_t> indices, int64_t width, float* out) {
  for (size_t i = 0; i < indices.size(); ++i) {
    float* row = out + static_cast<int64_t>(i) * width;
    const int64_t k = indices[i];
    if (d.labels() == LabelKind::targets) {
      std::copy_n(d.target_at(k), width, row);
    } else if (width == 1) {
      row[0] = static_cast<float>(d.y[static_cast<size_t>(k)]);
    } else {
      std::fill_n(row, width, 0.0f);
      row[d.y[static_cast<size_t>(k)]] = 1.0f;
    }
  }
}

// Keras's names for what an epoch logs, in order: the loss, then the metrics.
std::vector<std::string> logged_names(const std::vector<MetricKind>& metrics) {
  std::vector<std::string> out{"loss"};
  for (MetricKind m : metrics) out.emplace_back(metric_name(m));
  return out;
}

std::string format_values(const std::vector<std::string>& names, const std::vector<double>& values, const char* prefix = "") {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += fmt::format("{}{}{}: {:.4f}", s.empty() ? "" : " - ", prefix, names[i], values[i]);
  return s;
}

struct ActiveCallbacks {
  std::vector<Callback*>& slot;
  ~ActiveCallbacks() { slot.clear(); }
};
}  // namespace

void Sequential::sync_layer_states() {
  // Each rank's batch norm statistics follow its own share of the batches;
  // like Keras's mirrored (sync-on-read, mean) variables, every rank takes
  // their mean, so validation, checkpoints and inference agree across ranks.
  if (comm_->size() == 1) return;
  std::vector<float> values;
  for (NodeId id : weight_nodes()) {
    if (graph_.node(id).op->role() != OpRole::state) continue;
    values.resize(static_cast<size_t>(graph_.node(id).shape.numel()));
    backend_->read_variable(id, values);
    comm_->allreduce_sum(values);
    for (float& v : values) v /= static_cast<float>(comm_->size());
    backend_->write_variable(id, values);
  }
}

bool Sequential::feeds_ids(const Dataset& d) const {
  return options_.loss.kind == LossKind::sparse_categorical_crossentropy && d.labels() == LabelKind::class_ids;
}

void Sequential::check_data(const Dataset& d, const char* what, bool needs_targets) const {
  if (d.item_shape != input_)
    throw GraphError(std::string(what) + ": data items of shape " + d.item_shape.str() + " do not fit the model input " + input_.str());
  try {
    d.validate(what);
  } catch (const DataError& e) {
    throw GraphError(e.what());  // the model's API reports bad data as it reports bad graphs
  }
  if (d.size() == 0) throw GraphError(std::string(what) + ": the data set is empty");
  if (!needs_targets) return;
  const LossKind loss = options_.loss.kind;
  const std::string lname(loss_name(loss));
  const int64_t width = output_width();
  switch (d.labels()) {
    case LabelKind::none:
      throw GraphError(std::string(what) + ": the data set has neither class ids nor targets, and " + lname + " needs them");
    case LabelKind::class_ids:
      if (loss == LossKind::mse || loss == LossKind::mae)
        throw GraphError(std::string(what) + ": " + lname + " needs float targets, and the data set holds class ids");
      if (width > 1 || loss != LossKind::binary_crossentropy)
        for (int32_t id : d.y)
          if (id < 0 || id >= std::max<int64_t>(width, 2))
            throw GraphError(fmt::format("{}: class id {} is outside the model's {} outputs", what, id, width));
      break;
    case LabelKind::targets:
      if (loss == LossKind::sparse_categorical_crossentropy)
        throw GraphError(std::string(what) + ": sparse_categorical_crossentropy takes class ids, and the data set holds float "
                                             "targets; use categorical_crossentropy");
      if (d.target_floats() != width)
        throw GraphError(fmt::format("{}: targets of shape {} do not fit the model output {}", what, d.target_shape.str(),
                                     graph_.node(output_).shape.str()));
      break;
  }
}

std::vector<EpochStats> Sequential::fit(const Dataset& given, const FitOptions& o) {
  require_compiled("fit()");
  if (o.batch_size < 1) throw GraphError("fit(): batch_size must be >= 1");
  if (o.epochs < 0) throw GraphError("fit(): epochs must be >= 0");
  if (o.validation_split != 0 && o.validation)
    throw GraphError("fit(): give validation data or a validation_split, not both");
  if (!(o.validation_split >= 0 && o.validation_split < 1)) throw GraphError("fit(): validation_split must be in [0, 1)");
  TrainValidation split;
  if (o.validation_split > 0) split = split_validation(given, o.validation_split);
  const Dataset& train = o.validation_split > 0 ? split.train : given;
  const Dataset* validation = o.validation_split > 0 ? &split.validation : o.validation;
  check_data(train, "fit()", true);
  if (validation) check_data(*validation, "fit() validation", true);

  std::ostream& log = o.log ? *o.log : std::cout;
  Communicator& comm = *comm_;
  const int rank = comm.rank(), ranks = comm.size();
  const int verbose = rank == 0 ? o.verbose : 0;  // rank 0 speaks for all
  BatchIterator it(train, {.batch_size = o.batch_size, .shuffle = o.shuffle, .seed = seed_, .rank = rank, .ranks = ranks,
                           .augment = o.augment});
  const int64_t local_max = it.capacity(), steps = it.steps(), item = train.item_floats(), width = output_width();
  Executable& exe = executable(o.check_numerics ? "train_checked" : "train", local_max);
  const bool ids = feeds_ids(train);

  // Batch buffers, reused by every step.
  std::vector<float> xb(static_cast<size_t>(local_max * item));
  std::vector<int32_t> yb(ids ? static_cast<size_t>(local_max) : 0);
  std::vector<float> tb(ids ? 0 : static_cast<size_t>(local_max * width));
  std::vector<float> out(static_cast<size_t>(local_max * width)), scores(out.size());
  int32_t step_value = 0, base_value = 0;
  float weight_value = 1, lr_value = 1, loss_v = 0;
  const std::vector<std::string> names = logged_names(options_.metrics);
  const bool binary = options_.loss.kind == LossKind::binary_crossentropy;

  active_callbacks_.clear();
  for (const auto& cb : o.callbacks) {
    if (!cb) throw GraphError("fit(): a null callback");
    if (!cb->key().empty() && callback_states_.count(cb->key())) {
      cb->restore(callback_states_[cb->key()]);
      const auto tensors = callback_tensors_.find(cb->key());
      cb->restore_tensors(tensors == callback_tensors_.end() ? std::vector<ckpt::Tensor>{} : tensors->second);
    }
    active_callbacks_.push_back(cb.get());
  }
  const ActiveCallbacks guard{active_callbacks_};
  stop_requested_ = false;
  for (Callback* cb : active_callbacks_) cb->on_train_begin(*this);

  std::vector<EpochStats> history;
  const int first_epoch = static_cast<int>(step_ / steps);  // continues the shuffle sequence on resume
  // A checkpoint written mid-epoch (on_step_end): that epoch goes on at its next step.
  const int64_t resume_step = step_ % steps;
  for (int e = 0; e < o.epochs && !stop_requested_; ++e) {
    const int epoch = first_epoch + e + 1;
    const int64_t first_step = e == 0 ? resume_step : 0;
    it.start_epoch(epoch);
    // A resumed epoch's on_epoch_begin ran before its checkpoint, which holds what it did (the learning rate).
    if (first_step == 0)
      for (Callback* cb : active_callbacks_) cb->on_epoch_begin(*this, epoch);
    if (verbose) {
      log << "Epoch " << (e + 1) << "/" << o.epochs;
      if (first_step) log << " (resumed at step " << (first_step + 1) << " of " << steps << ")";
      log << "\n" << std::flush;
    }
    ProgressBar bar(log, steps, verbose && is_terminal(log));
    EpochStats st;
    st.epoch = epoch;
    std::vector<double> totals(names.size(), 0.0);
    // Per step: the global batch's sums (and the stop flag), and the running means; reused, not reallocated.
    std::vector<double> sums(names.size() + 1), means(names.size());
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t s = first_step; s < steps; ++s) {
      const BatchStep b = it.step(s);
      it.fill_items(b, xb);
      if (ids) it.fill_class_ids(b, yb);
      else fill_float_targets(train, b.indices, width, tb.data());
      step_value = static_cast<int32_t>(step_);
      base_value = static_cast<int32_t>(b.first);  // dropout masks follow the sample's place in the global batch
      weight_value = b.weight;
      lr_value = lr_scale_for_step();
      const int64_t fed = b.fed;
      const Feed feeds[] = {{x_, graph_.node(x_).shape.resolved(fed), DType::f32, xb.data()},
                            {labels_, Shape{fed}, DType::i32, yb.data()},
                            {targets_, targets_ == kNoNode ? Shape{} : graph_.node(targets_).shape.resolved(fed), DType::f32, tb.data()},
                            {step_ph_, Shape{1}, DType::i32, &step_value},
                            {base_ph_, Shape{1}, DType::i32, &base_value},
                            {lr_ph_, Shape{1}, DType::f32, &lr_value},
                            {weight_ph_, Shape{1}, DType::f32, &weight_value}};
      run_taken(exe, feeds);
      st.learning_rate = learning_rate();
      ++step_;
      exe.fetch(loss_, {&loss_v, 1});
      if (o.check_numerics) check_numerics(exe, step_, epoch);
      const int64_t mine = b.count;
      // The global batch's sums, and whether any rank was asked to stop: every
      // rank takes the same decisions, so none is left waiting in a collective.
      std::fill(sums.begin(), sums.end(), 0.0);
      if (mine) {
        sums[0] = double(loss_v) * double(mine);
        if (!options_.metrics.empty()) {
          exe.fetch(train_metric_src_, {out.data(), static_cast<size_t>(fed * width)});
          if (train_argmax_src_ != train_metric_src_) exe.fetch(train_argmax_src_, {scores.data(), static_cast<size_t>(fed * width)});
          const metrics::Batch mb{.items = mine, .width = width, .out = out.data(),
                                  .argmax_scores = train_argmax_src_ != train_metric_src_ ? scores.data() : out.data(),
                                  .labels = ids ? yb.data() : nullptr, .targets = ids ? nullptr : tb.data(), .binary = binary};
          for (size_t m = 0; m < options_.metrics.size(); ++m) sums[m + 1] = metrics::sum(options_.metrics[m], mb);
        }
      }
      sums.back() = o.should_stop && o.should_stop() ? 1.0 : 0.0;
      if (ranks > 1) comm.allreduce_sum(sums);
      if (!std::isfinite(sums[0]))
        throw NumericsError(fmt::format("fit(): the loss became {} at step {} (epoch {}, batch {}){}; run with check_numerics "
                                        "(mnist train --check-numerics) to name the first node that produced it",
                                        std::isfinite(loss_v) ? float(sums[0]) : loss_v, step_, epoch, s + 1,
                                        ranks > 1 ? fmt::format(" on {} of {} ranks", std::isfinite(loss_v) ? "another" : "this one", ranks) : ""));
      for (size_t k = 0; k < names.size(); ++k) totals[k] += sums[k];
      st.images += b.global_size;
      for (size_t k = 0; k < names.size(); ++k) means[k] = totals[k] / double(st.images);
      bar.update(s + 1, format_values(names, means));
      if (o.on_step_end && s + 1 < steps) o.on_step_end(epoch, s + 1);
      if (sums.back() > 0) {
        if (verbose && is_terminal(log)) log << "\n";
        throw Interrupted(fmt::format("interrupted during epoch {} after step {} of {}", epoch, s + 1, steps));
      }
    }
    backend_->synchronize();
    sync_layer_states();
    st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (size_t k = 0; k < names.size(); ++k) st.values.emplace_back(names[k], means[k] = totals[k] / double(st.images));
    st.loss = means[0];
    if (st.has("accuracy")) st.accuracy = st.get("accuracy");
    std::string line = format_values(names, means);
    if (validation) {
      const Evaluation v = evaluate(*validation, o.batch_size);
      std::vector<double> vv;
      for (const auto& [k, value] : v.values) st.values.emplace_back("val_" + k, value), vv.push_back(value);
      st.val_loss = v.loss, st.val_accuracy = v.accuracy;
      line += " - " + format_values(names, vv, "val_");
    }
    st.values.emplace_back("learning_rate", st.learning_rate);
    if (verbose) bar.finish(line);
    for (Callback* cb : active_callbacks_) cb->on_epoch_end(*this, st);
    history.push_back(st);
    if (o.on_epoch_end) o.on_epoch_end(st);
  }
  for (Callback* cb : active_callbacks_) cb->on_train_end(*this);
  // The callbacks' states and tensors stay with the model for the next save() and fit().
  for (Callback* cb : active_callbacks_)
    if (!cb->key().empty()) callback_states_[cb->key()] = cb->state(), callback_tensors_[cb->key()] = cb->tensors();
  return history;
}

Evaluation Sequential::evaluate(const Dataset& data, int batch_size) {
  require_compiled("evaluate()");
  check_data(data, "evaluate()", true);
  if (batch_size < 1) throw GraphError("evaluate(): batch_size must be >= 1");
  const int64_t batch = std::min<int64_t>(batch_size, data.size()), item = data.item_floats(), width = output_width();
  Executable& exe = executable("eval", batch);
  const bool ids = feeds_ids(data);
  const std::vector<std::string> names = logged_names(options_.metrics);
  std::vector<double> sums(names.size(), 0.0);
  float lv = 0;
  std::vector<float> xb(data.floats_at(0) ? 0 : static_cast<size_t>(batch * item));
  std::vector<float> tb(ids ? 0 : static_cast<size_t>(batch * width));
  std::vector<float> out(static_cast<size_t>(batch * width)), scores(out.size());
  std::vector<int64_t> indices(static_cast<size_t>(batch));
  // Data-parallel: each rank evaluates its slice and the sums are reduced.
  const int64_t first = data.size() * comm_->rank() / comm_->size(), last = data.size() * (comm_->rank() + 1) / comm_->size();
  for (int64_t b0 = first; b0 < last; b0 += batch) {
    const int64_t n = std::min(batch, last - b0);
    const float* xs = data.floats_at(b0);
    if (!xs) data.copy_items(b0, n, xb.data()), xs = xb.data();
    for (int64_t i = 0; i < n; ++i) indices[static_cast<size_t>(i)] = b0 + i;
    if (!ids) fill_float_targets(data, std::span(indices).first(static_cast<size_t>(n)), width, tb.data());
    const Feed feeds[] = {{x_, graph_.node(x_).shape.resolved(n), DType::f32, xs},
                          {labels_, Shape{n}, DType::i32, ids ? data.y.data() + b0 : nullptr},
                          {targets_, targets_ == kNoNode ? Shape{} : graph_.node(targets_).shape.resolved(n), DType::f32, tb.data()}};
    run_taken(exe, feeds);
    exe.fetch(eval_loss_, {&lv, 1});
    sums[0] += double(lv) * double(n);
    if (options_.metrics.empty()) continue;
    exe.fetch(output_, {out.data(), static_cast<size_t>(n * width)});
    if (eval_argmax_src_ != output_) exe.fetch(eval_argmax_src_, {scores.data(), static_cast<size_t>(n * width)});
    const metrics::Batch mb{.items = n, .width = width, .out = out.data(),
                            .argmax_scores = eval_argmax_src_ != output_ ? scores.data() : out.data(),
                            .labels = ids ? data.y.data() + b0 : nullptr, .targets = ids ? nullptr : tb.data(),
                            .binary = options_.loss.kind == LossKind::binary_crossentropy};
    for (size_t m = 0; m < options_.metrics.size(); ++m) sums[m + 1] += metrics::sum(options_.metrics[m], mb);
  }
  if (comm_->size() > 1) comm_->allreduce_sum(sums);
  Evaluation ev;
  for (size_t k = 0; k < names.size(); ++k) ev.values.emplace_back(names[k], sums[k] / double(data.size()));
  ev.loss = ev.values[0].second;
  for (const auto& [k, v] : ev.values)
    if (k == "accuracy") ev.accuracy = v;
  return ev;
}

std::vector<float> Sequential::predict(const float* items, int64_t count, int batch_size) {
  require_compiled("predict()");
  if (!items) throw GraphError("predict(): the items pointer is null");
  const int64_t item = input_.numel();
  return predict_batches(count, batch_size, [&](int64_t b0, int64_t) { return items + b0 * item; });
}

std::vector<float> Sequential::predict(const Dataset& data, int batch_size) {
  require_compiled("predict()");
  check_data(data, "predict()", false);
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
  if (count < 1) throw GraphError("predict(): needs at least one item");
  if (batch_size < 1) throw GraphError("predict(): batch_size must be >= 1");
  const int64_t batch = std::min<int64_t>(batch_size, count);
  Executable& exe = executable("predict", batch);
  const int64_t k = output_width();
  std::vector<float> out(static_cast<size_t>(count * k));
  for (int64_t b0 = 0; b0 < count; b0 += batch) {
    const int64_t n = std::min(batch, count - b0);
    const Feed feeds[] = {{x_, graph_.node(x_).shape.resolved(n), DType::f32, batch_at(b0, n)}};
    exe.run(feeds);
    exe.fetch(output_, {out.data() + b0 * k, static_cast<size_t>(n * k)});
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

}  // namespace gg
