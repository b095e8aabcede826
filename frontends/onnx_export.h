// ONNX export of an inference graph: a graph pass maps each node that
// `output` needs to ONNX nodes (opset 13) and writes the model with the
// parameters as initializers, through Debian's ONNX protobuf schema.
#pragma once
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <graphgrad/graph/graph.h>

namespace gg {

// A node the exporter cannot map; the message names the node and its op.
class ExportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct OnnxExportStats {
  int nodes = 0, initializers = 0;
};

// Maps conv2d (Conv), relu (Relu), max_pool2d (MaxPool), reshape (Reshape),
// dense (Gemm), matmul (MatMul), add (Add), softmax (Softmax) and dropout
// (nothing: the identity at inference). `input` must be the only placeholder
// `output` depends on; its leading batch dimension becomes the symbolic "N".
// value_of(node) gives a parameter's or constant's values (a backend's read_variable).
OnnxExportStats export_onnx(const Graph& g, NodeId input, NodeId output,
                            const std::function<std::vector<float>(NodeId)>& value_of, const std::filesystem::path& path);

}  // namespace gg
