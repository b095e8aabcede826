// Writing ONNX nodes and initializers into a GraphProto: the exporter's
// vocabulary (onnx_export.cpp walks the graph, onnx_ops.cpp maps each op).
#pragma once
#include <onnx/onnx_pb.h>

#include <string>
#include <unordered_map>
#include <vector>

#include <graphgrad/graph/graph.h>

namespace gg::onnx_export {

class Builder {
 public:
  explicit Builder(onnx::GraphProto* out) : out_(out) {}

  // A node named after graph node n (plus suffix), whose output has that name.
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
  static void real(onnx::NodeProto* p, const char* name, float v) {
    auto* a = p->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
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
  // A scalar float initializer, named after node n.
  std::string scalar(const Node& n, const std::string& suffix, float v) {
    initializer(n.name + suffix, {}, {v});
    return n.name + suffix;
  }
  int count() const { return count_; }

 private:
  onnx::GraphProto* out_;
  int count_ = 0;
};

// The ONNX value that stands for each graph node.
using Names = std::unordered_map<NodeId, std::string>;

// Maps compute node n into ONNX nodes through b, its inputs named by `names`;
// sets names[n.id]. Throws ExportError (naming the node) where the op is refused.
void emit(Builder& b, const Graph& g, const Node& n, Names& names);

}  // namespace gg::onnx_export
