// Each op's ONNX mapping (opset 13), or the reason it has none: the exporter
// handles inference graphs, so gradient ops, losses, updates and the
// data-parallel ops are refused with that reason. onnx_support() answers for
// every op of the table; the onnx_export tests check that none is left out.
#include <cmath>
#include <string>

#include <graphgrad/ops/conv_geometry.h>
#include <graphgrad/ops/eltwise.h>
#include <graphgrad/ops/op_table.h>

#include "onnx_builder.h"
#include "onnx_export.h"

namespace gg {

namespace id = ops::id;

OnnxSupport onnx_support(OpId op) {
  if (op >= id::builtin_count) return {false, "a user-defined op: graphgrad cannot know its ONNX equivalent"};
  const ops::OpInfo& info = ops::op_info(op);
  if (info.kind == ops::OpKind::leaf) return {true, {}};
  if (const ops::UnaryInfo* u = ops::unary_info(op); u && op == u->backward)
    return {false, "a gradient op: export the inference graph"};
  if (const ops::BinaryInfo* b = ops::binary_info(op); b && op == b->backward)
    return {false, "a gradient op: export the inference graph"};
  if (const ops::UnaryInfo* u = ops::unary_info(op); u && u->onnx.empty()) {
    // No single ONNX operator: the ones emit_unary_special() writes as a subgraph.
    switch (op) {
      case id::square: case id::gelu: case id::gelu_tanh: case id::silu: case id::softplus: case id::clip:
        return {true, {}};
      default: return {false, "not classified for ONNX export: eltwise.def gives no operator and onnx_ops.cpp writes no subgraph"};
    }
  }
  if (ops::unary_info(op) || ops::binary_info(op)) return {true, {}};
  switch (op) {
    case id::conv2d: case id::max_pool2d: case id::dense: case id::matmul: case id::dropout: case id::softmax:
    case id::log_softmax: case id::reshape: case id::broadcast_to: case id::reduce_sum: case id::reduce_mean:
    case id::reduce_max: case id::accumulate:
      return {true, {}};
    case id::conv2d_backward_input: case id::conv2d_backward_weight: case id::bias_grad: case id::max_pool2d_backward:
    case id::softmax_backward: case id::log_softmax_backward: case id::softmax_cross_entropy_backward:
    case id::softmax_cross_entropy_soft_backward: case id::bce_with_logits_backward: case id::nll_loss_backward:
    case id::avg_pool2d_backward: case id::slice_backward:
      return {false, "a gradient op: export the inference graph"};
    case id::softmax_cross_entropy: case id::softmax_cross_entropy_soft: case id::bce_with_logits: case id::nll_loss:
    case id::accuracy:
      return {false, "a training loss or metric, which needs the labels: export the inference graph up to the model's output"};
    case id::adam_update: case id::sgd_update: case id::rmsprop_update:
      return {false, "an optimizer update: export the inference graph"};
    case id::allreduce_start: case id::allreduce_wait: case id::bucket_slice:
      return {false, "a data-parallel all-reduce: export a single-process inference graph"};
    case id::transpose: case id::concat: case id::slice: case id::avg_pool2d:
      return {true, {}};
    case id::batch_norm_inference:
      return {true, {}};
    case id::batch_norm:
      return {false, "training-mode batch normalization (the batch's own statistics): export the inference graph, "
                     "built with batch_norm_inference on the moving statistics"};
    case id::batch_norm_backward_reduce: case id::batch_norm_backward:
      return {false, "a gradient op: export the inference graph"};
    case id::batch_norm_moving_update:
      return {false, "an update of the moving statistics, a training step: export the inference graph"};
    default:
      return {false, "not classified for ONNX export (frontends/onnx_ops.cpp)"};
  }
}

namespace onnx_export {
namespace {

// The element-wise ops whose ONNX operator is not one node of the same meaning.
void emit_unary_special(Builder& b, const Node& n, const std::string& x) {
  const auto [p0, p1] = ops::unary_params(n);
  switch (n.op->id()) {
    case id::square:
      b.node("Mul", n, {x, x});
      return;
    case id::gelu: {  // 0.5 x (1 + erf(x / sqrt 2)); Gelu itself is opset 20
      b.node("Div", n, {x, b.scalar(n, "/sqrt2", std::sqrt(2.0f))}, "/scaled");
      b.node("Erf", n, {n.name + "/scaled"}, "/erf");
      b.node("Add", n, {n.name + "/erf", b.scalar(n, "/one", 1.0f)}, "/1+erf");
      b.node("Mul", n, {x, n.name + "/1+erf"}, "/x(1+erf)");
      b.node("Mul", n, {n.name + "/x(1+erf)", b.scalar(n, "/half", 0.5f)});
      return;
    }
    case id::gelu_tanh: {  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      b.node("Mul", n, {x, x}, "/x2");
      b.node("Mul", n, {n.name + "/x2", x}, "/x3");
      b.node("Mul", n, {n.name + "/x3", b.scalar(n, "/c", 0.044715f)}, "/cx3");
      b.node("Add", n, {x, n.name + "/cx3"}, "/inner");
      b.node("Mul", n, {n.name + "/inner", b.scalar(n, "/k", 0.79788456f)}, "/arg");
      b.node("Tanh", n, {n.name + "/arg"}, "/tanh");
      b.node("Add", n, {n.name + "/tanh", b.scalar(n, "/one", 1.0f)}, "/1+tanh");
      b.node("Mul", n, {x, n.name + "/1+tanh"}, "/x(1+tanh)");
      b.node("Mul", n, {n.name + "/x(1+tanh)", b.scalar(n, "/half", 0.5f)});
      return;
    }
    case id::silu:  // x sigmoid(x); opset 13 has no SiLU
      b.node("Sigmoid", n, {x}, "/sigmoid");
      b.node("Mul", n, {x, n.name + "/sigmoid"});
      return;
    case id::softplus: {  // ONNX's Softplus has no beta or threshold: x where beta x > threshold, else softplus(beta x) / beta
      b.node("Mul", n, {x, b.scalar(n, "/beta", p0)}, "/bx");
      b.node("Softplus", n, {n.name + "/bx"}, "/sp");
      b.node("Div", n, {n.name + "/sp", n.name + "/beta"}, "/soft");
      b.node("Greater", n, {n.name + "/bx", b.scalar(n, "/threshold", p1)}, "/linear");
      b.node("Where", n, {n.name + "/linear", x, n.name + "/soft"});
      return;
    }
    case id::clip:  // opset 13 takes the bounds as inputs
      b.node("Clip", n, {x, b.scalar(n, "/lo", p0), b.scalar(n, "/hi", p1)});
      return;
    default:
      throw ExportError("onnx export: no mapping written for " + std::string(n.op->name()));
  }
}

}  // namespace

void emit(Builder& b, const Graph& g, const Node& n, Names& names) {
  const OpId op = n.op->id();
  if (const OnnxSupport s = onnx_support(op); !s.exported)
    throw ExportError("onnx export: " + g.describe(n.id) + ": op '" + std::string(n.op->name()) + "' has no ONNX mapping: " +
                      s.why_not);
  auto in = [&](size_t i) { return names.at(n.inputs[i]); };
  names[n.id] = n.name;
  if (const ops::UnaryInfo* u = ops::unary_info(op)) {
    if (u->onnx.empty()) return emit_unary_special(b, n, in(0));
    auto* p = b.node(std::string(u->onnx).c_str(), n, {in(0)});
    if (op == id::leaky_relu || op == id::elu) Builder::real(p, "alpha", ops::unary_params(n)[0]);
    return;
  }
  if (const ops::BinaryInfo* bi = ops::binary_info(op)) {
    if (op == id::equal) {
      b.node("Equal", n, {in(0), in(1)}, "/bool");
      Builder::integer(b.node("Cast", n, {n.name + "/bool"}), "to", onnx::TensorProto::FLOAT);
      return;
    }
    b.node(std::string(bi->onnx).c_str(), n, {in(0), in(1)});
    return;
  }
  switch (op) {
    case id::conv2d: {
      const ops::ConvGeometry c = ops::conv_geometry(n.attrs);
      const int64_t pb = std::max<int64_t>((c.oh - 1) * c.stride + c.kh - c.h - c.pad_top, 0);
      const int64_t pr = std::max<int64_t>((c.ow - 1) * c.stride + c.kw - c.w - c.pad_left, 0);
      std::vector<std::string> ins{in(0), in(1)};
      if (n.inputs.size() == 3) ins.push_back(in(2));
      auto* p = b.node("Conv", n, ins);
      Builder::ints(p, "kernel_shape", {c.kh, c.kw});
      Builder::ints(p, "strides", {c.stride, c.stride});
      Builder::ints(p, "pads", {c.pad_top, c.pad_left, pb, pr});
      return;
    }
    case id::avg_pool2d: {  // 'same' divides by the real elements only, as count_include_pad=0 does
      const ops::ConvGeometry c = ops::conv_geometry(n.attrs);
      const int64_t pb = std::max<int64_t>((c.oh - 1) * c.stride + c.kh - c.h - c.pad_top, 0);
      const int64_t pr = std::max<int64_t>((c.ow - 1) * c.stride + c.kw - c.w - c.pad_left, 0);
      auto* p = b.node("AveragePool", n, {in(0)});
      Builder::ints(p, "kernel_shape", {c.kh, c.kw});
      Builder::ints(p, "strides", {c.stride, c.stride});
      Builder::ints(p, "pads", {c.pad_top, c.pad_left, pb, pr});
      Builder::integer(p, "count_include_pad", 0);
      return;
    }
    case id::max_pool2d: {
      auto* p = b.node("MaxPool", n, {in(0)});
      Builder::ints(p, "kernel_shape", {n.attrs.i("pool"), n.attrs.i("pool")});
      Builder::ints(p, "strides", {n.attrs.i("stride"), n.attrs.i("stride")});
      return;
    }
    case id::reshape: {
      std::vector<int64_t> dims = n.shape.dims();
      if (!dims.empty() && dims[0] == kBatch) dims[0] = 0;  // 0: copy the batch dimension from the input
      b.int64_initializer(n.name + "/shape", dims);
      b.node("Reshape", n, {in(0), n.name + "/shape"});
      return;
    }
    case id::dense: {
      std::vector<std::string> ins{in(0), in(1)};
      if (n.inputs.size() == 3) ins.push_back(in(2));
      b.node("Gemm", n, ins);  // x [N,in] . w [in,out] + b
      return;
    }
    case id::matmul: {
      // Transposes of the last two axes first, where asked.
      std::string ab[2] = {in(0), in(1)};
      const char* flag[2] = {"trans_a", "trans_b"};
      for (int k = 0; k < 2; ++k) {
        if (!n.attrs.has(flag[k]) || !n.attrs.i(flag[k])) continue;
        const int rank = g.node(n.inputs[static_cast<size_t>(k)]).shape.rank();
        std::vector<int64_t> perm;
        for (int d = 0; d < rank; ++d) perm.push_back(d);
        std::swap(perm[static_cast<size_t>(rank - 1)], perm[static_cast<size_t>(rank - 2)]);
        Builder::ints(b.node("Transpose", n, {ab[k]}, k ? "/bT" : "/aT"), "perm", perm);
        ab[k] = n.name + (k ? "/bT" : "/aT");
      }
      b.node("MatMul", n, {ab[0], ab[1]});
      return;
    }
    case id::accumulate:
      b.node("Add", n, {in(0), in(1)});
      return;
    case id::softmax:
    case id::log_softmax: {
      const int64_t axis = n.attrs.has("axis") ? n.attrs.i("axis") : -1;
      Builder::integer(b.node(op == id::softmax ? "Softmax" : "LogSoftmax", n, {in(0)}), "axis", axis);
      return;
    }
    case id::dropout:
      names[n.id] = in(0);  // the identity at inference
      return;
    case id::reduce_sum:
    case id::reduce_mean:
    case id::reduce_max: {
      std::vector<int64_t> axes = n.attrs.ints("axes");
      if (axes.empty())
        for (int d = 0; d < g.node(n.inputs[0]).shape.rank(); ++d) axes.push_back(d);
      onnx::NodeProto* p = nullptr;
      if (op == id::reduce_sum) {  // opset 13: ReduceSum takes the axes as an input, the others as an attribute
        b.int64_initializer(n.name + "/axes", axes);
        p = b.node("ReduceSum", n, {in(0), n.name + "/axes"});
      } else {
        p = b.node(op == id::reduce_mean ? "ReduceMean" : "ReduceMax", n, {in(0)});
        Builder::ints(p, "axes", axes);
      }
      Builder::integer(p, "keepdims", n.attrs.i("keepdims"));
      return;
    }
    case id::broadcast_to: {
      const Shape& xs = g.node(n.inputs[0]).shape;
      if (n.shape.has_batch() && !xs.has_batch())
        throw ExportError("onnx export: " + g.describe(n.id) + ": stretching to the batch size needs it, and the model's is symbolic");
      std::vector<int64_t> dims = n.shape.dims();
      if (!dims.empty() && dims[0] == kBatch) dims[0] = 1;  // Expand broadcasts: 1 keeps x's N
      b.int64_initializer(n.name + "/shape", dims);
      const std::string out = n.attrs.i("mean") ? "/expanded" : "";
      b.node("Expand", n, {in(0), n.name + "/shape"}, out);
      if (!out.empty())
        b.node("Mul", n, {n.name + out, b.scalar(n, "/factor", float(double(xs.numel()) / double(n.shape.numel())))});
      return;
    }
    case id::transpose:
      Builder::ints(b.node("Transpose", n, {in(0)}), "perm", n.attrs.ints("perm"));
      return;
    case id::concat: {
      std::vector<std::string> ins;
      for (size_t i = 0; i < n.inputs.size(); ++i) ins.push_back(in(i));
      Builder::integer(b.node("Concat", n, ins), "axis", n.attrs.i("axis"));
      return;
    }
    case id::slice: {  // the user's starts/stops/steps are ONNX Slice's, clamping included
      b.int64_initializer(n.name + "/starts", n.attrs.ints("starts"));
      b.int64_initializer(n.name + "/ends", n.attrs.ints("stops"));
      b.int64_initializer(n.name + "/axes", n.attrs.ints("axes"));
      b.int64_initializer(n.name + "/steps", n.attrs.ints("steps"));
      b.node("Slice", n, {in(0), n.name + "/starts", n.name + "/ends", n.name + "/axes", n.name + "/steps"});
      return;
    }
    case id::batch_norm_inference:  // inputs x, scale, B, mean, var: ours, in that order
      Builder::real(b.node("BatchNormalization", n, {in(0), in(1), in(2), in(3), in(4)}), "epsilon",
                    static_cast<float>(n.attrs.f("epsilon")));
      return;
    default:
      throw ExportError("onnx export: " + g.describe(n.id) + ": op '" + std::string(n.op->name()) + "' is marked exported but has no mapping");
  }
}

}  // namespace onnx_export
}  // namespace gg
