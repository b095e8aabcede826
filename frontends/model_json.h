// The architecture and the compile options as JSON (nlohmann-json), stored in
// format-2 checkpoints beside the weights so load_model() can rebuild a model
// without its code. Keras's layer class names and option names.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <graphgrad/graph/shape.h>

#include "layers.h"

namespace gg {

struct CompileOptions;

nlohmann::json layer_to_json(const Layer& layer);
// Throws GraphError naming the layer (by index and name) and the bad field.
Layer layer_from_json(const nlohmann::json& j, size_t index);

struct ModelConfig {
  Shape input;
  uint64_t seed = 0;
  std::vector<Layer> layers;
};
nlohmann::json model_to_json(const ModelConfig& m);
ModelConfig model_from_json(const nlohmann::json& j);

// Loss, metrics, optimizer (with its settings), schedule and clipping; not the
// backend or the communicator, which belong to the machine that loads.
nlohmann::json compile_to_json(const CompileOptions& o);
void compile_from_json(const nlohmann::json& j, CompileOptions& o);

// The first difference between two architectures, in words ("layer 3
// (dense_1): units 128 in the checkpoint, 64 in this model"), or "" when equal.
std::string first_difference(const ModelConfig& checkpoint, const ModelConfig& model);

}  // namespace gg
