// ONNX export of an inference graph: a graph pass maps each node that
// `output` needs to ONNX nodes (opset 13) and writes the model with the
// parameters as initializers, through Debian's ONNX protobuf schema.
#pragma once
#include <graphgrad/graph/error.h>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <graphgrad/graph/graph.h>
#include <graphgrad/graph/op.h>

namespace gg {

// A node the exporter cannot map; the message names the node and its op.
class ExportError : public Error {
 public:
  using Error::Error;
};

struct OnnxExportStats {
  int nodes = 0, initializers = 0;
};

// Whether the exporter maps an op, and where not, why (every op of the table
// has an answer: frontends/onnx_ops.cpp).
struct OnnxSupport {
  bool exported = false;
  std::string why_not;
};
OnnxSupport onnx_support(OpId op);

// Maps every node `output` needs to ONNX (onnx_support says which ops it
// takes; dropout maps to nothing: the identity at inference). `input` must be the only placeholder
// `output` depends on; its leading batch dimension becomes the symbolic "N".
// value_of(node) gives a parameter's or constant's values (a backend's read_variable).
OnnxExportStats export_onnx(const Graph& g, NodeId input, NodeId output,
                            const std::function<std::vector<float>(NodeId)>& value_of, const std::filesystem::path& path);

}  // namespace gg
