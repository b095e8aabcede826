// What each Sequential layer builds in the graph: its variables (checked
// against the shape it receives) and its nodes on the training path and the
// inference path. One function per question, one branch per layer kind.
#pragma once
#include <string>
#include <vector>

#include <graphgrad/graph/graph.h>

#include "layers.h"

namespace gg::layers {

// A layer's variables; kNoNode where the layer has none of that kind.
struct Vars {
  NodeId kernel = kNoNode, bias = kNoNode;              // Conv2D, Dense
  NodeId gamma = kNoNode, beta = kNoNode;               // BatchNormalization (trainable)
  NodeId moving_mean = kNoNode, moving_variance = kNoNode;  // BatchNormalization (states)
  std::vector<NodeId> all() const;  // in creation order
};

// Checks `layer` (named `name`) against the shape `in` it receives and creates
// its variables. Errors are GraphErrors that start with `where` and say what
// `from` (the previous layer, or the model input) gives.
Vars create(Graph& g, const Layer& layer, const std::string& name, const Shape& in, const std::string& where,
            const std::string& from);

// Where a layer's nodes go.
struct Path {
  Graph& g;
  bool training;
  NodeId step, sample_base;  // dropout's mask counters (i32 [1] placeholders)
  uint64_t seed;             // the model's seed: each dropout layer draws its own stream from it
  std::vector<NodeId>* updates;  // training: in-graph state updates (batch norm's moving statistics) go here
};

// Appends layer number `index` to `x` on `path`; returns its output. Its
// nodes are named after `name` (plus "/infer" on the inference path), its
// last node `output_name` when one is given.
NodeId apply(const Path& path, size_t index, const Layer& layer, const Vars& vars, const std::string& name, NodeId x,
             const std::string& output_name = {});

// The node of an activation of `kind` on x (x itself for linear).
NodeId activate(Graph& g, ActivationKind kind, NodeId x, const std::string& name, std::optional<double> alpha = {});

}  // namespace gg::layers
