// A Keras-style Sequential model over the graph API:
//
//   Sequential model(Shape{1, 28, 28});
//   model.add(Conv2D(32, {3, 3}));
//   model.add(Activation("relu"));
//   ...
//   model.add(Dense(10));
//   model.add(Activation("softmax"));
//   model.compile({.loss = "categorical_crossentropy", .optimizer = Adam{}});
//   model.fit(train, {.batch_size = 128, .epochs = 10, .validation = &test});
//
// add() builds the training forward graph as it goes, so a layer that does not
// fit its input fails there, naming the layer. compile() derives the gradient
// graph, appends the optimizer's update nodes and an inference path (dropout
// left out) over the same parameters, and hands the graph to a backend.
#pragma once
#include <graphgrad/graph/error.h>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/graph.h>
#include <graphgrad/ops/data_parallel.h>
#include <graphgrad/ops/optimizers.h>

#include "dataset.h"
#include "layers.h"

namespace gg {

using Adam = ops::AdamConfig;
using SGD = ops::SgdConfig;
using Optimizer = std::variant<Adam, SGD>;

struct CompileOptions {
  // "categorical_crossentropy" or "sparse_categorical_crossentropy": both take
  // integer labels here (one-hot rows are never materialised) and are fused
  // with the final softmax for stability.
  std::string loss = "categorical_crossentropy";
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
};

struct EpochStats {
  int epoch = 0;
  double loss = 0, accuracy = 0;          // training, averaged over the epoch (dropout on)
  double val_loss = 0, val_accuracy = 0;  // on the validation set, when given
  double seconds = 0;                     // training time of the epoch, validation excluded
  int64_t images = 0;
};

struct FitOptions {
  int batch_size = 128;  // the global batch: across all ranks
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
  // Polled after every step; when it returns true, fit() stops there and
  // throws Interrupted (the model keeps the steps it took).
  std::function<bool()> should_stop = {};
};

// A NaN or infinity in training; the message names the step and, with
// check_numerics, the first node that produced it.
class NumericsError : public Error {
 public:
  using Error::Error;
};

// fit() was stopped by FitOptions::should_stop (a signal, say).
class Interrupted : public Error {
 public:
  using Error::Error;
};

struct Evaluation {
  double loss = 0, accuracy = 0;
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
  // Class probabilities, `count` rows of classes() values.
  std::vector<float> predict(const float* images, int64_t count, int batch_size = 128);
  std::vector<float> predict(const Dataset& data, int batch_size = 128);  // every item of `data`

  // Parameters, optimizer state, step. Data-parallel: rank 0 writes, the other ranks do nothing.
  void save(const std::filesystem::path& path) const;
  // Loads a checkpoint written for the same architecture (checked by names and
  // shapes); the optimizer state too when the checkpoint has it. Data-parallel:
  // rank 0 reads the file and broadcasts it; every rank throws if it fails.
  void load(const std::filesystem::path& path);

  std::string summary() const;       // a Keras-like table
  std::string architecture() const;  // one line, stored in checkpoints
  const Graph& graph() const { return graph_; }
  NodeId input_node() const { return x_; }       // the images placeholder [N, ...input shape]
  NodeId output_node() const { return probs_; }  // the inference path's class probabilities (after compile)
  Backend& backend() const;
  const Shape& input_shape() const { return input_; }
  int64_t classes() const;
  int64_t step() const { return step_; }
  int64_t parameter_count() const;
  Communicator& comm() const;  // after compile(): single-process unless one was given

 private:
  // Appends layer `index` to the path ending at x (training: with dropout).
  NodeId apply(size_t index, NodeId x, bool training);
  std::string unique_name(const std::string& base);
  Executable& executable(const std::string& which, int64_t max_batch);
  // The nodes the "train_checked" executable keeps: every f32 value of a
  // training step but the updates, in execution order (set by compile()).
  std::vector<NodeId> checked_nodes() const;
  // Throws NumericsError naming the first non-finite value of the last run.
  void check_numerics(const Executable& exe, int64_t step, int epoch) const;
  void require_compiled(const char* what) const;
  void check_data(const Dataset& d, const char* what) const;
  void load_here(const std::filesystem::path& path);
  // Rank 0's variables and step to every rank.
  void broadcast_variables();
  // predict()'s loop: batch_at(first, n) gives the f32 images [first, first + n).
  std::vector<float> predict_batches(int64_t count, int batch_size,
                                     const std::function<const float*(int64_t, int64_t)>& batch_at);

  Shape input_;
  uint64_t seed_;
  Graph graph_;
  NodeId x_, y_, step_ph_, base_ph_;
  NodeId weight_ph_ = kNoNode;  // data-parallel: this rank's share of the global batch, scaling its gradients
  NodeId train_out_;  // the training path's current last node
  std::vector<Layer> layers_;
  std::vector<std::pair<NodeId, NodeId>> layer_params_;  // (kernel, bias) per layer, kNoNode when none
  std::vector<std::string> layer_names_;
  std::map<std::string, int> name_counts_;

  bool compiled_ = false;
  NodeId loss_ = kNoNode, train_acc_ = kNoNode, probs_ = kNoNode, eval_loss_ = kNoNode, eval_acc_ = kNoNode;
  std::vector<NodeId> updates_;
  std::vector<NodeId> checked_;  // checked_nodes(), computed once
  std::shared_ptr<Communicator> comm_;
  std::unique_ptr<Backend> backend_;
  std::map<std::pair<std::string, int64_t>, std::unique_ptr<Executable>> executables_;
  int64_t step_ = 0;
};

}  // namespace gg
