// A Keras-style Sequential model over the graph API:
//
//   Sequential model(Shape{1, 28, 28});
//   model.add(Conv2D{32, {3, 3}, .activation = ActivationKind::relu});
//   model.add(BatchNormalization{});
//   ...
//   model.add(Dense{10});
//   model.add(Activation("softmax"));
//   model.compile({.loss = LossKind::sparse_categorical_crossentropy, .optimizer = Adam{}});
//   model.fit(train, {.batch_size = 128, .epochs = 10, .validation = &test});
//
// add() builds the training forward graph as it goes, so a layer that does not
// fit its input fails there, naming the layer. compile() derives the gradient
// graph, appends the optimizer's update nodes (and batch norm's moving
// statistics updates) and an inference path (dropout left out, batch norm on
// its moving statistics) over the same variables, and hands the graph to a
// backend. The learning rate is fed at every step, so schedules, callbacks
// and set_learning_rate() change it without recompiling.
//
// The parts live in: layer_rules.cpp (what each layer builds), sequential.cpp
// (building and compiling), fit.cpp (fit, evaluate, predict), model_io.cpp
// (checkpoints, load_model), model_json.cpp (the architecture as JSON).
#pragma once
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/error.h>
#include <graphgrad/graph/graph.h>
#include <graphgrad/ops/data_parallel.h>
#include <graphgrad/ops/optimizers.h>

#include "augment.h"
#include "callbacks.h"
#include "dataset.h"
#include "layer_rules.h"
#include "layers.h"
#include "schedules.h"
#include "training_types.h"

namespace gg {

using Adam = ops::AdamConfig;
using AdamW = ops::AdamWConfig;
using SGD = ops::SgdConfig;
using RMSprop = ops::RmspropConfig;
using Optimizer = std::variant<Adam, SGD, AdamW, RMSprop>;
std::string_view optimizer_name(const Optimizer& o);  // "adam", "sgd", "adamw", "rmsprop"
double optimizer_lr(const Optimizer& o);

struct CompileOptions {
  Loss loss = {};
  Optimizer optimizer = Adam{};
  std::string backend = "cpu";
  BackendOptions backend_options = {};
  // Data-parallel training: with a communicator of more than one rank, the
  // gradients are all-reduced (in buckets, overlapping the backward pass)
  // before the update, fit() trains each rank on its share of every global
  // batch, evaluate() shards the data, rank 0's variables are broadcast at
  // compile() and load(), and only rank 0 logs and saves. Null: one process.
  std::shared_ptr<Communicator> comm = {};
  ops::AllreduceOptions allreduce = {};
  std::vector<MetricKind> metrics = {MetricKind::accuracy};
  // The learning rate by optimizer step (else the optimizer's lr, which
  // set_learning_rate() and the callbacks may change).
  std::optional<LearningRateSchedule> lr_schedule = {};
  double clip_norm = 0;  // > 0: gradients are clipped to this global norm (TF's clip_by_global_norm)
};

struct FitOptions {
  int batch_size = 128;  // the global batch: across all ranks
  // Epochs to run. A model whose step count stops inside an epoch (loaded from
  // a checkpoint written by on_step_end) first finishes that epoch, from the
  // next step in the same order, with the same dropout and augmentation, and
  // that counts as the first of them; its EpochStats average over the steps run.
  int epochs = 10;
  const Dataset* validation = nullptr;
  bool shuffle = true;
  // After every step, scan every value of the step (inputs, forward, backward)
  // in execution order and stop at the first non-finite one, naming its node.
  // Costs memory (no buffer reuse) and time; without it only the loss is checked.
  bool check_numerics = false;
  int verbose = 1;             // 0: silent; 1: Keras-style lines (a progress bar on a terminal)
  std::ostream* log = nullptr; // default std::cout
  std::function<void(const EpochStats&)> on_epoch_end = {};
  // After every step that leaves its epoch unfinished (the last step of an
  // epoch is followed by validation, the callbacks and on_epoch_end instead),
  // with the epoch (from 1) and the steps of it done. A save() here writes a
  // mid-epoch checkpoint: fit() on the loaded model goes on at the next step
  // and ends bit for bit where an uninterrupted run ends.
  std::function<void(int epoch, int64_t steps_done)> on_step_end = {};
  // Polled after every step; when it returns true, fit() stops there and
  // throws Interrupted (the model keeps the steps it took).
  std::function<bool()> should_stop = {};
  std::vector<std::shared_ptr<Callback>> callbacks = {};
  // Keras's validation_split: the last fraction of `train` (before shuffling)
  // validates instead of training; not with `validation`.
  double validation_split = 0;
  // Image augmentation of every training batch, drawn per (seed, epoch, sample).
  std::optional<Augmentation> augment = {};
};

// load() and load_model() options.
struct LoadOptions {
  // Parameters and batch-norm statistics only: the optimizer's slots and the
  // step are left as they are (fresh after compile()).
  bool weights_only = false;
  std::ostream* log = nullptr;  // where a load says what it skipped (default std::cerr); rank 0 only
};

class Sequential {
 public:
  // input: the shape of one item, e.g. [1,28,28]; seed: initialisers, shuffling and dropout.
  explicit Sequential(Shape input, uint64_t seed = 0);
  ~Sequential();
  Sequential(const Sequential&) = delete;
  Sequential& operator=(const Sequential&) = delete;

  // Adds a layer; throws GraphError naming the layer when it does not fit.
  Sequential& add(Layer layer);
  void compile(const CompileOptions& options = {});

  std::vector<EpochStats> fit(const Dataset& train, const FitOptions& options = {});
  Evaluation evaluate(const Dataset& data, int batch_size = 128);
  // The model's outputs, `count` rows of output_width() values.
  std::vector<float> predict(const float* items, int64_t count, int batch_size = 128);
  std::vector<float> predict(const Dataset& data, int batch_size = 128);  // every item of `data`

  // The learning rate the next step uses; set_learning_rate() changes it
  // (not while a schedule drives it: GraphError).
  double learning_rate() const;
  void set_learning_rate(double lr);
  // Asks fit() to end after the current epoch (Keras's model.stop_training).
  void stop_training() { stop_requested_ = true; }

  // Parameters and batch-norm statistics (Keras's get_weights), in variable order.
  std::vector<std::vector<float>> get_weights() const;
  void set_weights(const std::vector<std::vector<float>>& weights);
  // get_weights() with each tensor's variable name and shape.
  std::vector<ckpt::Tensor> get_named_weights() const;

  // Architecture (JSON), compile options, variables, optimizer slots, step and
  // the callbacks' state and tensors. Data-parallel: rank 0 writes, the other ranks do nothing.
  void save(const std::filesystem::path& path) const;
  // Loads a checkpoint of the same architecture; a load error names the first
  // layer or tensor that differs. Optimizer slots of another optimizer are
  // skipped (fresh state, with a line saying so). Data-parallel: rank 0 reads
  // the file and broadcasts its bytes, every rank loads them (so the callbacks'
  // states and tensors, step and learning rate agree), and every rank throws
  // if it fails.
  void load(const std::filesystem::path& path, const LoadOptions& options = {});

  std::string summary() const;       // a Keras-like table
  std::string architecture() const;  // one line, shown beside load errors
  std::string to_json() const;       // the architecture (input, seed, layers), as load_model() reads it
  const std::vector<Layer>& layers() const { return layers_; }
  const CompileOptions& compile_options() const { return options_; }
  bool compiled() const { return compiled_; }
  const Graph& graph() const { return graph_; }
  NodeId input_node() const { return x_; }        // the items placeholder [N, ...input shape]
  NodeId output_node() const { return output_; }  // the inference path's output (after compile)
  Backend& backend() const;
  const Shape& input_shape() const { return input_; }
  uint64_t seed() const { return seed_; }
  int64_t classes() const { return output_width(); }
  int64_t output_width() const;  // values per item of the model's output
  int64_t step() const { return step_; }
  int64_t parameter_count() const;
  Communicator& comm() const;  // after compile(): single-process unless one was given

 private:
  friend class FitLoop;
  std::string unique_name(const std::string& base);
  Executable& executable(const std::string& which, int64_t max_batch);
  std::vector<NodeId> checked_nodes() const;
  void check_numerics(const Executable& exe, int64_t step, int epoch) const;
  void require_compiled(const char* what) const;
  void check_data(const Dataset& d, const char* what, bool needs_targets) const;
  // load()'s work on a checkpoint in memory; `p` names its file in errors.
  void load_checkpoint(const ckpt::Checkpoint& c, const std::string& p, const LoadOptions& options);
  void broadcast_variables();
  void sync_layer_states();  // data-parallel: every rank takes the mean of the batch norm statistics
  void build_loss(const CompileOptions& options);
  std::vector<float> predict_batches(int64_t count, int batch_size,
                                     const std::function<const float*(int64_t, int64_t)>& batch_at);
  // The weights get_weights() covers: parameters and layer states (not optimizer slots).
  std::vector<NodeId> weight_nodes() const;
  float lr_scale_for_step() const;
  // How the targets of `d` are fed: as class ids, or as float rows (ids expanded to one-hot).
  bool feeds_ids(const Dataset& d) const;

  Shape input_;
  uint64_t seed_;
  Graph graph_;
  NodeId x_, labels_, step_ph_, base_ph_;
  NodeId targets_ = kNoNode;    // f32 [N, ...output] when the loss takes float targets
  NodeId lr_ph_ = kNoNode;      // f32 [1]: the learning rate over the optimizer's configured one
  NodeId weight_ph_ = kNoNode;  // data-parallel: this rank's share of the global batch, scaling its gradients
  NodeId train_out_;            // the training path's current last node
  std::vector<Layer> layers_;
  std::vector<layers::Vars> layer_vars_;
  std::vector<std::string> layer_names_;
  std::vector<NodeId> layer_updates_;  // batch norm's moving statistics, on the training path
  std::map<std::string, int> name_counts_;

  bool compiled_ = false;
  CompileOptions options_;
  NodeId loss_ = kNoNode, train_metric_src_ = kNoNode, train_argmax_src_ = kNoNode;
  NodeId output_ = kNoNode, eval_loss_ = kNoNode, eval_argmax_src_ = kNoNode;
  std::vector<NodeId> updates_;         // optimizer updates and layer updates: the training step's side effects
  std::vector<NodeId> optimizer_slots_; // states created by the optimizer
  std::vector<NodeId> checked_;
  std::shared_ptr<Communicator> comm_;
  std::unique_ptr<Backend> backend_;
  std::map<std::pair<std::string, int64_t>, std::unique_ptr<Executable>> executables_;
  int64_t step_ = 0;
  double lr_ = 0;  // the current learning rate when no schedule drives it
  bool stop_requested_ = false;
  // Callback states and tensors read from a checkpoint (or kept from the last
  // fit), handed to callbacks of the same key at fit() and written by save().
  std::map<std::string, std::string> callback_states_;
  std::map<std::string, std::vector<ckpt::Tensor>> callback_tensors_;
  std::vector<Callback*> active_callbacks_;  // during fit(): whose state save() writes
};

// Rebuilds the model a checkpoint describes (format 2), compiles it with the
// stored compile options on `backend`, and loads its variables: it predicts,
// evaluates and trains on without the architecture in code.
struct LoadModelOptions {
  std::string backend = "cpu";
  BackendOptions backend_options = {};
  std::shared_ptr<Communicator> comm = {};
  std::ostream* log = nullptr;
};
std::unique_ptr<Sequential> load_model(const std::filesystem::path& path, const LoadModelOptions& options = {});

}  // namespace gg
