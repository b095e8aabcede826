// ONNX export: the node types and initializers of an exported net, read back
// through the ONNX schema, and a clear refusal for an op with no mapping.
#include <doctest/doctest.h>

#include <onnx/onnx_pb.h>

#include <fstream>
#include <string>
#include <vector>

#include <graphgrad/frontends/onnx_export.h>
#include <graphgrad/frontends/sequential.h>
#include <graphgrad/ops/op_table.h>
#include <graphgrad/ops/ops.h>

#include "test_util.h"

using namespace gg;

TEST_SUITE("onnx_export") {

TEST_CASE("a small CNN exports to the ONNX ops it is made of, with its weights") {
  Sequential m(Shape{1, 8, 8}, 3);
  m.add(Conv2D{4, {3, 3}, 1, PaddingMode::same});
  m.add(Activation{"relu"});
  m.add(MaxPooling2D{{2, 2}});
  m.add(Dropout{0.25});
  m.add(Flatten{});
  m.add(Dense{3});
  m.add(Activation{"softmax"});
  m.compile();
  test::TempDir t;
  const auto path = t / "m.onnx";
  auto value_of = [&](NodeId id) {
    std::vector<float> v(static_cast<size_t>(m.graph().node(id).shape.numel()));
    m.backend().read_variable(id, v);
    return v;
  };
  const OnnxExportStats st = export_onnx(m.graph(), m.input_node(), m.output_node(), value_of, path);
  CHECK(st.nodes == 6);
  CHECK(st.initializers == 4);

  onnx::ModelProto model;
  std::ifstream f(path, std::ios::binary);
  REQUIRE(model.ParseFromIstream(&f));
  CHECK(model.opset_import(0).version() == 13);
  std::vector<std::string> ops;
  for (const auto& n : model.graph().node()) ops.push_back(n.op_type());
  CHECK(ops == std::vector<std::string>{"Conv", "Relu", "MaxPool", "Reshape", "Gemm", "Softmax"});
  // 'same' padding on 8x8 with a 3x3 kernel: one pixel on every side.
  const auto& conv = model.graph().node(0);
  for (const auto& a : conv.attribute())
    if (a.name() == "pads") CHECK(std::vector<int64_t>(a.ints().begin(), a.ints().end()) == std::vector<int64_t>{1, 1, 1, 1});
  // The dropout maps to nothing: the Reshape reads the pooling's output.
  CHECK(model.graph().node(3).input(0) == model.graph().node(2).output(0));
  // The kernel's values, bit for bit.
  const NodeId kernel = m.graph().parameters()[0];
  const std::vector<float> want = value_of(kernel);
  bool found = false;
  for (const auto& init : model.graph().initializer())
    if (init.name() == m.graph().node(kernel).name) {
      found = true;
      CHECK(init.raw_data() == std::string(reinterpret_cast<const char*>(want.data()), want.size() * sizeof(float)));
    }
  CHECK(found);
  CHECK(model.graph().input(0).type().tensor_type().shape().dim(0).dim_param() == "N");
}

TEST_CASE("an op with no ONNX mapping is refused, naming the node and the op") {
  test::TempDir t;
  auto no_values = [](NodeId) { return std::vector<float>{}; };
  Graph g;
  const NodeId x = g.placeholder("x", Shape{kBatch, 4});
  const NodeId y = ops::relu(g, x, "y");
  const NodeId z = g.add(ops::op_for(ops::id::relu_backward), {y, y}, {}, "z");
  std::string msg = test::error_of<ExportError>([&] { export_onnx(g, x, z, no_values, t / "x.onnx"); });
  CHECK_MSG(msg, "relu_backward \"z\"");
  CHECK_MSG(msg, "no ONNX mapping");

  // The training loss needs the labels: a second input, refused by name.
  const NodeId labels = g.placeholder("labels", Shape{kBatch}, DType::i32);
  const NodeId loss = ops::softmax_cross_entropy(g, y, labels, "loss");
  msg = test::error_of<ExportError>([&] { export_onnx(g, x, loss, no_values, t / "x.onnx"); });
  CHECK_MSG(msg, "placeholder \"labels\"");
  CHECK_MSG(msg, "a second input");
}

TEST_CASE("coverage: every op of the table has an ONNX mapping or a stated refusal") {
  std::string unclassified;
  for (OpId op = 0; op < ops::id::builtin_count; ++op) {
    const OnnxSupport s = onnx_support(op);
    CAPTURE(ops::op_info(op).name);
    if (!s.exported && (s.why_not.empty() || s.why_not.rfind("not classified", 0) == 0))
      unclassified += std::string(unclassified.empty() ? "" : ", ") + std::string(ops::op_info(op).name);
  }
  CHECK_MESSAGE(unclassified.empty(), "no ONNX mapping or refusal for: " << unclassified);
}

TEST_CASE("a refused op's error says why") {
  test::TempDir t;
  Graph g;
  const NodeId x = g.placeholder("x", Shape{kBatch, 4});
  const NodeId y = ops::reduce_sum(g, ops::sigmoid(g, x), {1}, false, "s");
  const NodeId z = ops::bce_with_logits(g, y, y, "bce");
  const std::string msg = test::error_of<ExportError>([&] {
    export_onnx(g, x, z, [](NodeId) { return std::vector<float>{}; }, t / "x.onnx");
  });
  CHECK_MSG(msg, "bce_with_logits \"bce\"");
  CHECK_MSG(msg, "training loss");
}

}  // TEST_SUITE
