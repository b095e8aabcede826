// ONNX export: the graph pass and the model around it; each op's mapping is in onnx_ops.cpp.
#include "onnx_export.h"

#include <onnx/onnx_pb.h>

#include <unordered_map>

#include <graphgrad/graph/op.h>
#include <graphgrad/ops/op_table.h>

#include "atomic_file.h"
#include "onnx_builder.h"

namespace gg {
namespace {

constexpr int64_t kOpset = 13;

void set_type(onnx::ValueInfoProto* v, const std::string& name, const Shape& shape) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  t->mutable_shape();  // a scalar's shape has no dims, but ONNX requires the field (onnx.checker)
  for (int64_t d : shape.dims()) {
    auto* dim = t->mutable_shape()->add_dim();
    if (d == kBatch) dim->set_dim_param("N");
    else dim->set_dim_value(d);
  }
}

}  // namespace

OnnxExportStats export_onnx(const Graph& g, NodeId input, NodeId output,
                            const std::function<std::vector<float>(NodeId)>& value_of, const std::filesystem::path& path) {
  onnx::ModelProto model;
  model.set_ir_version(onnx::IR_VERSION_2020_5_8);  // IR 7, the version of opset 13
  model.set_producer_name("graphgrad");
  model.set_producer_version("0.1");
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  onnx::GraphProto* graph = model.mutable_graph();
  graph->set_name("graphgrad");
  onnx_export::Builder b(graph);
  OnnxExportStats stats;

  // ONNX name of each node's value: a node that maps to nothing (dropout) stands for its input.
  onnx_export::Names name;
  auto refuse = [&](const Node& n, const std::string& why) {
    throw ExportError("onnx export: " + g.describe(n.id) + ": " + why);
  };

  const std::vector<NodeId> order = g.schedule({output});
  // Dropout's step and sample_base placeholders key its training-time mask: at inference it is the
  // identity (onnx_ops.cpp), so where nothing else reads them they are no model inputs.
  std::unordered_map<NodeId, int> other_uses;
  for (NodeId id : order)
    for (size_t i = 0; i < g.node(id).inputs.size(); ++i)
      other_uses[g.node(id).inputs[i]] += !(g.node(id).op->id() == ops::id::dropout && i > 0);
  for (NodeId id : order) {
    const Node& n = g.node(id);
    name[id] = n.name;
    switch (n.op->role()) {
      case OpRole::input:
        if (id != input && other_uses[id] == 0) continue;  // only a dropout's mask input
        if (id != input) refuse(n, "a second input; only the model input may be a placeholder here");
        if (n.dtype != DType::f32) refuse(n, "an i32 model input; the exporter declares float inputs only");
        set_type(graph->add_input(), n.name, n.shape);
        continue;
      case OpRole::parameter:
      case OpRole::constant:
      case OpRole::state:
        b.initializer(n.name, n.shape.dims(), value_of(id));
        ++stats.initializers;
        continue;
      case OpRole::compute: break;
    }
    onnx_export::emit(b, g, n, name);
  }
  const Node& out = g.node(output);
  set_type(graph->add_output(), name.at(output), out.shape);
  stats.nodes = b.count();

  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw ExportError("onnx export: " + path.string() + ": protobuf could not serialize the model");
  // Atomically: an export over an existing model leaves it whole if the write fails.
  try {
    io::write_file_atomically(path, bytes);
  } catch (const io::IoError& e) {
    throw ExportError(std::string("onnx export: ") + e.what());
  }
  return stats;
}

}  // namespace gg
