// The op table: every built-in op declared once, with its kind and arity.
// The id is what backends dispatch on (Op::id()), the name what graphs,
// dumps and errors print. Element-wise ops come from eltwise.def, where each
// one's forward and derivative stand side by side; the CPU functors and the
// Vulkan shader variants are generated from those lines. Tests and the
// coverage check (tests/test_op_table.cpp) walk this table: an op without a
// kernel on each backend, a gradient check, a parity case, an ONNX mapping or
// refusal, or a FLOP count fails there.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include <graphgrad/graph/op.h>

namespace gg::ops {

enum class OpKind : uint8_t { leaf, unary, binary, reduction, shape, nn, loss, update, comm };

// X(name, kind, min_inputs, max_inputs). The first five are graph/'s own
// (graph_ops in graph/op.h); the order is the numbering.
#define GG_OPS_GRAPH(X)                  \
  X(placeholder, leaf, 0, 0)             \
  X(parameter, leaf, 0, 0)               \
  X(state, leaf, 0, 0)                   \
  X(constant, leaf, 0, 0)                \
  X(accumulate, binary, 2, 2)

#define GG_OPS_NN(X)                          \
  X(conv2d, nn, 2, 3)                         \
  X(conv2d_backward_input, nn, 2, 2)          \
  X(conv2d_backward_weight, nn, 2, 2)         \
  X(bias_grad, nn, 1, 1)                      \
  X(max_pool2d, nn, 1, 1)                     \
  X(max_pool2d_backward, nn, 2, 2)            \
  X(dense, nn, 2, 3)                          \
  X(matmul, nn, 2, 2)                         \
  X(dropout, nn, 3, 3)                        \
  X(softmax, nn, 1, 1)                        \
  X(softmax_backward, nn, 2, 2)               \
  X(softmax_cross_entropy, loss, 2, 2)        \
  X(softmax_cross_entropy_backward, loss, 3, 3) \
  X(accuracy, loss, 2, 2)                     \
  GG_OPS_NN_MORE(X)                           \
  GG_OPS_BATCH_NORM(X)

// Softmax over any axis, the losses, average pooling (filled in by their files).
#define GG_OPS_NN_MORE(X)                     \
  X(log_softmax, nn, 1, 1)                    \
  X(log_softmax_backward, nn, 2, 2)           \
  X(softmax_cross_entropy_soft, loss, 2, 2)   \
  X(softmax_cross_entropy_soft_backward, loss, 3, 3) \
  X(bce_with_logits, loss, 2, 2)              \
  X(bce_with_logits_backward, loss, 3, 3)     \
  X(nll_loss, loss, 2, 2)                     \
  X(nll_loss_backward, loss, 3, 3)            \
  X(avg_pool2d, nn, 1, 1)                     \
  X(avg_pool2d_backward, nn, 1, 1)

// Batch normalization (ops/batch_norm.cpp): training and inference forward,
// the training gradient's two fused ops, the moving statistics' update.
#define GG_OPS_BATCH_NORM(X)                  \
  X(batch_norm, nn, 3, 3)                     \
  X(batch_norm_inference, nn, 5, 5)           \
  X(batch_norm_backward_reduce, nn, 2, 4)     \
  X(batch_norm_backward, nn, 4, 4)            \
  X(batch_norm_moving_update, update, 3, 3)

#define GG_OPS_SHAPE(X)        \
  X(reshape, shape, 1, 1)      \
  X(broadcast_to, shape, 1, 1) \
  X(transpose, shape, 1, 1)    \
  X(concat, shape, 1, 64)      \
  X(slice, shape, 1, 1)        \
  X(slice_backward, shape, 1, 1)

#define GG_OPS_REDUCTION(X)      \
  X(reduce_sum, reduction, 1, 1) \
  X(reduce_mean, reduction, 1, 1) \
  X(reduce_max, reduction, 1, 1)

#define GG_OPS_UPDATE(X)         \
  X(adam_update, update, 5, 6)   \
  X(sgd_update, update, 3, 4)    \
  X(rmsprop_update, update, 3, 6) \
  X(allreduce_start, comm, 1, 64) \
  X(allreduce_wait, comm, 1, 1)  \
  X(bucket_slice, comm, 1, 1)

// Element-wise ops from eltwise.def: each unary op and its backward, each
// binary op and its backward.
#define GG_UNARY_ROW(name, ...) X_(name, unary, 1, 1) X_(name##_backward, unary, 2, 3)
#define GG_BINARY_ROW(name, ...) X_(name, binary, 2, 2) X_(name##_backward, binary, 4, 4)

namespace id {
enum : OpId {
#define GG_ID(name, kind, lo, hi) name,
  GG_OPS_GRAPH(GG_ID) GG_OPS_NN(GG_ID) GG_OPS_SHAPE(GG_ID) GG_OPS_REDUCTION(GG_ID) GG_OPS_UPDATE(GG_ID)
#define X_(name, kind, lo, hi) name,
#define GG_UNARY(name, ...) GG_UNARY_ROW(name)
#define GG_UNARY_P(name, ...) GG_UNARY_ROW(name)
#define GG_BINARY(name, ...) GG_BINARY_ROW(name)
#include "eltwise.def"
#undef GG_UNARY
#undef GG_UNARY_P
#undef GG_BINARY
#undef X_
#undef GG_ID
  builtin_count
};
}  // namespace id

static_assert(id::placeholder == graph_ops::placeholder && id::parameter == graph_ops::parameter &&
                  id::state == graph_ops::state && id::constant == graph_ops::constant &&
                  id::accumulate == graph_ops::accumulate,
              "graph/op.h numbers graph/'s own ops; the table must list them first, in that order");

struct OpInfo {
  std::string_view name;
  OpKind kind;
  int min_inputs, max_inputs;
};

// The row of a built-in op, or of a registered user op (kind nn, any arity).
// Throws std::out_of_range for an id that is neither.
const OpInfo& op_info(OpId id);
// Every op known so far: the built-ins, then the registered user ops.
OpId op_count();
// A fresh id for a user-defined op (see user_op.h); the name must not be taken.
OpId register_op_id(const std::string& name);

}  // namespace gg::ops
