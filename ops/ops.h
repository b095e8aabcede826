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
// torch.matmul for operands of rank >= 2: a [...,M,K] . b [...,K,N] -> [...,M,N],
// the leading (batch) dimensions broadcast as NumPy does; trans_a / trans_b
// transpose the last two axes of a / b first. A symbolic batch may lead the
// batch dimensions; with 2-D operands it may also be M (a's rows) or K (the
// inner dimension, as dense's weight gradient x^T dy uses). Deviation from
// PyTorch: 1-D operands are refused (reshape them to [1,K] or [K,1]).
NodeId matmul(Graph& g, NodeId a, NodeId b, bool trans_a = false, bool trans_b = false, const std::string& name = {});

// Average pooling (pool pool x pool windows, stride 0 means stride = pool):
// x [N,C,H,W] -> [N,C,OH,OW]. 'valid': PyTorch's avg_pool2d (floor mode,
// OH = (H-pool)/stride+1). 'same': TensorFlow's AveragePooling2D (OH =
// ceil(H/stride), the padding split as TensorFlow, the odd pixel at the end)
// dividing each window by its count of real, non-padded elements
// (PyTorch's count_include_pad=False), as TensorFlow does.
NodeId avg_pool2d(Graph& g, NodeId x, int pool, int stride = 0, Padding pad = Padding::valid, const std::string& name = {});
// dx of avg_pool2d from dy alone: each window's dy / count spread over its real elements.
NodeId avg_pool2d_backward(Graph& g, NodeId dy, const Node& pool, const std::string& name = {});
// The mean over H and W: x [N,C,H,W] -> [N,C] (reduce_mean over axes {2,3}).
NodeId global_avg_pool2d(Graph& g, NodeId x, const std::string& name = {});


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

// --- shape ops: transpose, concat, slice (ops/shape.cpp) ---
// These move data only; they take f32 or i32 (all inputs of one type).
// Deviations from PyTorch: a symbolic batch dimension (a leading kBatch) may
// neither move nor be cut, since a shape can only lead with N and cannot say
// 2N or "some of N": give the placeholder a fixed batch to do so.
//
// PyTorch's x.permute(perm): output axis i is x's axis perm[i] (negative
// counts from the end); an empty perm reverses the axes (numpy's transpose).
// With a symbolic batch, perm[0] must be 0.
NodeId transpose(Graph& g, NodeId x, std::vector<int> perm = {}, const std::string& name = {});
// torch.cat(xs, dim=axis): every other dimension equal. Not along a symbolic
// batch axis. More than 16 inputs are joined in groups of 16 first (nested
// concat nodes: a kernel takes at most 16 inputs).
NodeId concat(Graph& g, std::vector<NodeId> xs, int axis, const std::string& name = {});
// x[start:stop:step] on one axis (negative axis, start and stop count from the
// end; start and stop are clamped to [0, dim] like Python's; step >= 1, as
// PyTorch requires). Deviations: the batch axis of a symbolic batch cannot be
// sliced, and an empty result is refused (graphgrad has no empty tensors).
struct SliceSpec {
  int axis = 0;
  int64_t start = 0, stop = INT64_MAX, step = 1;
};
// PyTorch's basic slicing, one SliceSpec per sliced axis (each axis at most once).
NodeId slice(Graph& g, NodeId x, std::vector<SliceSpec> specs, const std::string& name = {});
// The same in ONNX Slice's form (steps empty: all 1).
NodeId slice(Graph& g, NodeId x, std::vector<int> axes, std::vector<int64_t> starts, std::vector<int64_t> stops,
             std::vector<int64_t> steps = {}, const std::string& name = {});
// slice's gradient: dy (the slice's shape) scattered into zeros of the slice's input's shape.
NodeId slice_backward(Graph& g, NodeId dy, const Node& slice, const std::string& name = {});
// --- end of shape ops ---

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
// One builder per line of eltwise.def: name(g, x) for unary ops (gelu is
// PyTorch's default erf form, gelu_tanh its approximate='tanh'), name(g, a, b)
// for binary ones (equal: 1 where a == b, else 0).
#define GG_UNARY(op, ...) NodeId op(Graph& g, NodeId x, const std::string& name = {});
#define GG_UNARY_P(...)
#define GG_BINARY(op, ...) NodeId op(Graph& g, NodeId a, NodeId b, const std::string& name = {});
#include "eltwise.def"
#undef GG_UNARY
#undef GG_UNARY_P
#undef GG_BINARY
// The ops with attributes (GG_UNARY_P), PyTorch's defaults:
NodeId leaky_relu(Graph& g, NodeId x, double alpha = 0.01, const std::string& name = {});
NodeId elu(Graph& g, NodeId x, double alpha = 1.0, const std::string& name = {});  // alpha > 0
NodeId softplus(Graph& g, NodeId x, double beta = 1.0, double threshold = 20.0, const std::string& name = {});
NodeId clip(Graph& g, NodeId x, double lo, double hi, const std::string& name = {});

// --- softmax over any axis and the losses (ops/softmax.cpp, ops/losses.cpp) ---
// Softmax and log-softmax of x (rank >= 1) along `axis` (negative counts from
// the end), stable (the maximum along the axis is subtracted): PyTorch's
// softmax / log_softmax(x, dim=axis). Deviation: a 0-d x is refused.
NodeId softmax(Graph& g, NodeId x, int axis = -1, const std::string& name = {});
NodeId softmax(Graph& g, NodeId x, const std::string& name);  // axis -1 (the older callers')
NodeId log_softmax(Graph& g, NodeId x, int axis = -1, const std::string& name = {});
// Backward-only ops, given dy and the forward output y: softmax's
// dx = y * (dy - sum(dy * y)), log_softmax's dx = dy - exp(y) * sum(dy) (sums along the axis).
NodeId softmax_backward(Graph& g, NodeId dy, NodeId y, int axis = -1, const std::string& name = {});
NodeId log_softmax_backward(Graph& g, NodeId dy, NodeId y, int axis = -1, const std::string& name = {});

// PyTorch's cross_entropy with probability targets, reduction 'mean': the mean
// over the batch of -sum_c targets * log_softmax(logits); logits and targets
// [N,C] f32 -> scalar. Fused and stable. Both inputs take gradients.
NodeId softmax_cross_entropy_soft(Graph& g, NodeId logits, NodeId targets, const std::string& name = {});
// Its gradient with respect to input `wrt` (0: logits, (softmax - t) * dloss / N;
// 1: targets, -log_softmax * dloss / N), [N,C].
NodeId softmax_cross_entropy_soft_backward(Graph& g, NodeId logits, NodeId targets, NodeId dloss, int wrt,
                                           const std::string& name = {});
// PyTorch's binary_cross_entropy_with_logits, reduction 'mean' (no weight or
// pos_weight): the mean over every element of max(x,0) - x*t + log1p(exp(-|x|));
// logits and targets of one shape -> scalar. Both inputs take gradients.
NodeId bce_with_logits(Graph& g, NodeId logits, NodeId targets, const std::string& name = {});
// wrt 0: (sigmoid(x) - t) * dloss / count; wrt 1: -x * dloss / count.
NodeId bce_with_logits_backward(Graph& g, NodeId logits, NodeId targets, NodeId dloss, int wrt,
                                const std::string& name = {});
// PyTorch's nll_loss, reduction 'mean': the mean over the batch of
// -log_probs[i, labels[i]]; log_probs [N,C] f32, labels [N] i32 -> scalar.
// Deviation: no ignore_index (a label outside [0, C), -100 included, is a
// BackendError naming the node).
NodeId nll_loss(Graph& g, NodeId log_probs, NodeId labels, const std::string& name = {});
// -dloss / N at [i, labels[i]], 0 elsewhere: [N,C].
NodeId nll_loss_backward(Graph& g, NodeId log_probs, NodeId labels, NodeId dloss, const std::string& name = {});
// mean((a - b)^2) over every element (PyTorch's mse_loss, reduction 'mean'), a
// composite of sub, square and reduce_mean; a and b broadcast as in sub.
NodeId mse(Graph& g, NodeId a, NodeId b, const std::string& name = {});
// --- end of softmax and losses ---

// --- batch normalization (ops/batch_norm.cpp), Keras's BatchNormalization ---
// x [N,C] (per feature) or [N,C,H,W] (per channel; any rank >= 2 with the
// channels on axis 1), gamma and beta [C].
//
// Training mode: y = (x - mean_b) / sqrt(var_b + epsilon) * gamma + beta, mean_b
// and var_b the batch's per-channel mean and biased variance over every axis
// but 1 (as Keras/TF and PyTorch normalize), at the run's actual batch size.
// Differentiable w.r.t. x, gamma and beta (the full gradient, through the batch
// statistics). Under data parallelism each rank normalizes by the statistics
// of its own share of the global batch (Keras without SyncBatchNorm).
NodeId batch_norm(Graph& g, NodeId x, NodeId gamma, NodeId beta, double epsilon = 1e-3, const std::string& name = {});
// Inference mode: the same with the given (moving) mean and variance [C].
// Differentiable w.r.t. x, gamma and beta; mean and variance are statistics
// (states), never differentiated: asking for their gradient is a GraphError.
// Exported to ONNX as BatchNormalization.
NodeId batch_norm_inference(Graph& g, NodeId x, NodeId gamma, NodeId beta, NodeId mean, NodeId variance,
                            double epsilon = 1e-3, const std::string& name = {});
// An update node (run with the training step, like the optimizers' updates):
// computes x's batch mean and biased batch variance per channel and sets
//   moving = momentum * moving + (1 - momentum) * batch
// on the states moving_mean and moving_variance (Graph::state, [C]; create
// the variance with fill 1, as Keras initializes it). Keras 3's formula.
// Deviation from PyTorch: PyTorch's running_var takes the unbiased (N*H*W - 1
// denominator) batch variance, and its momentum is Keras's 1 - momentum.
// Under data parallelism each rank's statistics are its own batch share's, so
// the ranks' moving statistics drift apart slightly (Keras's mirrored
// variables average the replicas' on read; nothing here averages them).
NodeId batch_norm_moving_update(Graph& g, NodeId x, NodeId moving_mean, NodeId moving_variance, double momentum = 0.99,
                                const std::string& name = {});
// The training gradient's ops. batch_norm_backward_reduce: one pass over dy and
// x -> [4,C]: sum(dy * xhat) (dgamma), sum(dy) (dbeta), and the mean and
// biased variance xhat used: the batch's (mean, variance kNoNode), or the
// given ones (inference mode). batch_norm_backward: dx of the training mode
// from dy, x, gamma and that reduction.
NodeId batch_norm_backward_reduce(Graph& g, NodeId dy, NodeId x, NodeId mean, NodeId variance, double epsilon,
                                  const std::string& name = {});
NodeId batch_norm_backward(Graph& g, NodeId dy, NodeId x, NodeId gamma, NodeId reduced, double epsilon,
                           const std::string& name = {});
// --- end of batch normalization ---

// Mean over the batch of -log softmax(logits)[label]: logits [N,C] f32, labels
// [N] i32 -> scalar. Fused and stable (log-sum-exp with the max subtracted).
NodeId softmax_cross_entropy(Graph& g, NodeId logits, NodeId labels, const std::string& name = {});
NodeId softmax_cross_entropy_backward(Graph& g, NodeId logits, NodeId labels, NodeId dloss,
                                      const std::string& name = {});

// Fraction of rows whose arg-max equals the label: scores [N,C], labels [N] i32 -> scalar.
NodeId accuracy(Graph& g, NodeId scores, NodeId labels, const std::string& name = {});

}  // namespace gg::ops
