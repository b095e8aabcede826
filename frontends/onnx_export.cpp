#include "onnx_export.h"

#include <onnx/onnx_pb.h>

#include <fstream>
#include <unordered_map>

#include <graphgrad/graph/op.h>
#include <graphgrad/ops/conv_geometry.h>

namespace gg {
namespace {

constexpr int64_t kOpset = 13;

void set_type(onnx::ValueInfoProto* v, const std::string& name, const Shape& shape) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : shape.dims()) {
    auto* dim = t->mutable_shape()->add_dim();
    if (d == kBatch) dim->set_dim_param("N");
    else dim->set_dim_value(d);
  }
}

class Builder {
 public:
  explicit Builder(onnx::GraphProto* out) : out_(out) {}

  onnx::NodeProto* node(const char* op, const Node& n, std::vector<std::string> inputs, const std::string& suffix = {}) {
    auto* p = out_->add_node();
    p->set_op_type(op);
    p->set_name(n.name + suffix);
    for (const std::string& in : inputs) p->add_input(in);
    p->add_output(n.name + suffix);
    ++count_;
    return p;
  }
  static void ints(onnx::NodeProto* p, const char* name, std::vector<int64_t> v) {
    auto* a = p->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void integer(onnx::NodeProto* p, const char* name, int64_t v) {
    auto* a = p->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  void initializer(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& values) {
    auto* t = out_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    t->set_raw_data(values.data(), values.size() * sizeof(float));  // little-endian, as ONNX stores it
  }
  void int64_initializer(const std::string& name, const std::vector<int64_t>& values) {
    auto* t = out_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(values.size()));
    for (int64_t v : values) t->add_int64_data(v);
  }
  int count() const { return count_; }

 private:
  onnx::GraphProto* out_;
  int count_ = 0;
};

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
  Builder b(graph);
  OnnxExportStats stats;

  // ONNX name of each node's value: a node that maps to nothing (dropout) stands for its input.
  std::unordered_map<NodeId, std::string> name;
  auto in = [&](const Node& n, size_t i) { return name.at(n.inputs[i]); };
  auto refuse = [&](const Node& n, const std::string& why) {
    throw ExportError("onnx export: " + g.describe(n.id) + ": " + why);
  };

  for (NodeId id : g.schedule({output})) {
    const Node& n = g.node(id);
    const std::string op = n.op->name();
    name[id] = n.name;
    switch (n.op->role()) {
      case OpRole::input:
        if (id != input) refuse(n, "a second input; only the model input may be a placeholder here");
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
    if (op == "conv2d") {
      const ops::ConvGeometry c = ops::conv_geometry(n.attrs);
      const int64_t pb = std::max<int64_t>((c.oh - 1) * c.stride + c.kh - c.h - c.pad_top, 0);
      const int64_t pr = std::max<int64_t>((c.ow - 1) * c.stride + c.kw - c.w - c.pad_left, 0);
      std::vector<std::string> ins{in(n, 0), in(n, 1)};
      if (n.inputs.size() == 3) ins.push_back(in(n, 2));
      auto* p = b.node("Conv", n, ins);
      Builder::ints(p, "kernel_shape", {c.kh, c.kw});
      Builder::ints(p, "strides", {c.stride, c.stride});
      Builder::ints(p, "pads", {c.pad_top, c.pad_left, pb, pr});
    } else if (op == "relu") {
      b.node("Relu", n, {in(n, 0)});
    } else if (op == "max_pool2d") {
      auto* p = b.node("MaxPool", n, {in(n, 0)});
      Builder::ints(p, "kernel_shape", {n.attrs.i("pool"), n.attrs.i("pool")});
      Builder::ints(p, "strides", {n.attrs.i("stride"), n.attrs.i("stride")});
    } else if (op == "reshape") {
      std::vector<int64_t> dims = n.shape.dims();
      if (!dims.empty() && dims[0] == kBatch) dims[0] = 0;  // 0: copy the batch dimension from the input
      b.int64_initializer(n.name + "/shape", dims);
      b.node("Reshape", n, {in(n, 0), n.name + "/shape"});
    } else if (op == "dense") {
      std::vector<std::string> ins{in(n, 0), in(n, 1)};
      if (n.inputs.size() == 3) ins.push_back(in(n, 2));
      b.node("Gemm", n, ins);  // x [N,in] · w [in,out] + b
    } else if (op == "matmul") {
      b.node("MatMul", n, {in(n, 0), in(n, 1)});
    } else if (op == "accumulate") {
      b.node("Add", n, {in(n, 0), in(n, 1)});
    } else if (op == "softmax") {
      Builder::integer(b.node("Softmax", n, {in(n, 0)}), "axis", 1);
    } else if (op == "dropout") {
      name[id] = in(n, 0);  // the identity at inference
    } else {
      refuse(n, "op '" + op + "' has no ONNX mapping (export the inference graph: conv2d, relu, max_pool2d, reshape, "
                              "dense, matmul, add, softmax, dropout)");
    }
  }
  const Node& out = g.node(output);
  set_type(graph->add_output(), name.at(output), out.shape);
  stats.nodes = b.count();

  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw ExportError("onnx export: " + path.string() + ": cannot create the file");
  if (!model.SerializeToOstream(&f) || !f.flush())
    throw ExportError("onnx export: " + path.string() + ": write failed");
  return stats;
}

}  // namespace gg
