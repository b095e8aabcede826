// The op library: one builder function per op. Each returns the new node's id
// and throws GraphError (naming the node and the shapes) on a mismatch.
// Shapes are NCHW; a leading kBatch dimension takes the fed batch size.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <graphgrad/graph/op.h>

#include <graphgrad/graph/graph.h>

namespace gg::ops {

enum class Padding { valid, same };

// x [N,C,H,W], w [OC,C,KH,KW], b [OC] (or kNoNode) -> [N,OC,OH,OW]
NodeId conv2d(Graph& g, NodeId x, NodeId w, NodeId b, int stride = 1, Padding pad = Padding::valid,
              const std::string& name = {});
// Backward-only ops of conv2d.
NodeId conv2d_backward_input(Graph& g, NodeId dy, NodeId w, const Node& conv, const std::string& name = {});
NodeId conv2d_backward_weight(Graph& g, NodeId dy, NodeId x, const Node& conv, const std::string& name = {});
// Sum of dy [N,C,...] over every axis but 1: the gradient of a per-channel bias.
NodeId bias_grad(Graph& g, NodeId dy, const std::string& name = {});

// x [N,C,H,W] -> [N,C,(H-pool)/stride+1,(W-pool)/stride+1]; stride 0 means stride = pool.
NodeId max_pool2d(Graph& g, NodeId x, int pool, int stride = 0, const std::string& name = {});
NodeId max_pool2d_backward(Graph& g, NodeId dy, NodeId x, const Node& pool, const std::string& name = {});

// x [N,in] . w [in,out] + b [out] (b may be kNoNode) -> [N,out]
NodeId dense(Graph& g, NodeId x, NodeId w, NodeId b, const std::string& name = {});
// op(a) . op(b), op = transpose when asked; 2-D only.
NodeId matmul(Graph& g, NodeId a, NodeId b, bool trans_a = false, bool trans_b = false, const std::string& name = {});


// Inverted dropout: keeps each element with probability 1-rate and scales it
// by 1/(1-rate). The mask comes from the counter-based hash in counter_rng.h,
// keyed on (seed, step, global element index), so any backend reproduces it bit
// for bit; step and sample_base are i32 [1] placeholders fed each run
// (sample_base: the index of this run's first sample within the global
// batch: 0 in one process, the rank's offset in data-parallel training). Training only:
// inference graphs leave dropout out.
NodeId dropout(Graph& g, NodeId x, NodeId step, NodeId sample_base, double rate, uint32_t seed,
               const std::string& name = {});

// A view of x's elements, in order, under another shape with the same count.
// One dimension may be -1 (= kBatch): it is inferred. Deviation from PyTorch:
// where x has a symbolic batch, the result must keep it as its leading
// dimension (a -1 there), since a shape cannot say "3N"; fix the batch in the
// placeholder to reshape across it.
NodeId reshape(Graph& g, NodeId x, Shape shape, const std::string& name = {});
NodeId flatten(Graph& g, NodeId x, const std::string& name = {});  // [N,...] -> [N,prod]
// x stretched to `shape` by NumPy's rules (x's dimensions right-aligned, each
// 1 or equal). `mean`: divide by the stretch factor (the gradient of a mean).
NodeId broadcast_to(Graph& g, NodeId x, Shape shape, const std::string& name = {}, bool mean = false);

// Reductions over a set of axes (negative counts from the end; empty: all),
// keeping them as size 1 when keepdims. PyTorch's sum, mean and amax: max's
// gradient is shared evenly between tied maxima.
NodeId reduce_sum(Graph& g, NodeId x, std::vector<int> axes = {}, bool keepdims = false, const std::string& name = {});
NodeId reduce_mean(Graph& g, NodeId x, std::vector<int> axes = {}, bool keepdims = false, const std::string& name = {});
NodeId reduce_max(Graph& g, NodeId x, std::vector<int> axes = {}, bool keepdims = false, const std::string& name = {});
// The sum of x over the axes that broadcasting stretched to reach x's shape
// from `shape`, viewed as `shape` (the gradient of a broadcast operand).
NodeId sum_to(Graph& g, NodeId x, const Shape& shape, const std::string& name = {});

// Element-wise ops (eltwise.def; semantics follow PyTorch). Binary ops
// broadcast as NumPy does; scalar() makes a constant operand.
NodeId scalar(Graph& g, float value, const std::string& name = {});
const Op& op_for(OpId element_wise_op);
NodeId unary(Graph& g, OpId op, NodeId x, const std::string& name = {});
NodeId binary(Graph& g, OpId op, NodeId a, NodeId b, const std::string& name = {});
NodeId neg(Graph& g, NodeId x, const std::string& name = {});
NodeId abs(Graph& g, NodeId x, const std::string& name = {});
NodeId exp(Graph& g, NodeId x, const std::string& name = {});
NodeId log(Graph& g, NodeId x, const std::string& name = {});
NodeId sqrt(Graph& g, NodeId x, const std::string& name = {});
NodeId square(Graph& g, NodeId x, const std::string& name = {});
NodeId tanh(Graph& g, NodeId x, const std::string& name = {});
NodeId sigmoid(Graph& g, NodeId x, const std::string& name = {});
NodeId relu(Graph& g, NodeId x, const std::string& name = {});
NodeId gelu(Graph& g, NodeId x, const std::string& name = {});       // x * Phi(x), PyTorch's default (erf) form
NodeId gelu_tanh(Graph& g, NodeId x, const std::string& name = {});  // PyTorch's approximate='tanh'
NodeId leaky_relu(Graph& g, NodeId x, double alpha = 0.01, const std::string& name = {});
NodeId elu(Graph& g, NodeId x, double alpha = 1.0, const std::string& name = {});  // alpha > 0
NodeId softplus(Graph& g, NodeId x, double beta = 1.0, double threshold = 20.0, const std::string& name = {});
NodeId clip(Graph& g, NodeId x, double lo, double hi, const std::string& name = {});
NodeId add(Graph& g, NodeId a, NodeId b, const std::string& name = {});
NodeId sub(Graph& g, NodeId a, NodeId b, const std::string& name = {});
NodeId mul(Graph& g, NodeId a, NodeId b, const std::string& name = {});
NodeId div(Graph& g, NodeId a, NodeId b, const std::string& name = {});
NodeId maximum(Graph& g, NodeId a, NodeId b, const std::string& name = {});
NodeId minimum(Graph& g, NodeId a, NodeId b, const std::string& name = {});
NodeId pow(Graph& g, NodeId a, NodeId b, const std::string& name = {});
NodeId equal(Graph& g, NodeId a, NodeId b, const std::string& name = {});  // 1 where a == b, else 0

// Softmax over the last axis of x [N,C].
NodeId softmax(Graph& g, NodeId x, const std::string& name = {});
NodeId softmax_backward(Graph& g, NodeId dy, NodeId y, const std::string& name = {});

// Mean over the batch of -log softmax(logits)[label]: logits [N,C] f32, labels
// [N] i32 -> scalar. Fused and stable (log-sum-exp with the max subtracted).
NodeId softmax_cross_entropy(Graph& g, NodeId logits, NodeId labels, const std::string& name = {});
NodeId softmax_cross_entropy_backward(Graph& g, NodeId logits, NodeId labels, NodeId dloss,
                                      const std::string& name = {});

// Fraction of rows whose arg-max equals the label: scores [N,C], labels [N] i32 -> scalar.
NodeId accuracy(Graph& g, NodeId scores, NodeId labels, const std::string& name = {});

}  // namespace gg::ops
