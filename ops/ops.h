// The op library: one builder function per op. Each returns the new node's id
// and throws GraphError (naming the node and the shapes) on a mismatch.
// Shapes are NCHW; a leading kBatch dimension takes the fed batch size.
#pragma once
#include <cstdint>
#include <string>

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

NodeId relu(Graph& g, NodeId x, const std::string& name = {});
NodeId relu_backward(Graph& g, NodeId dy, NodeId y, const std::string& name = {});

// Inverted dropout: keeps each element with probability 1-rate and scales it
// by 1/(1-rate). The mask comes from the counter-based hash in counter_rng.h,
// keyed on (seed, step, global element index), so any backend reproduces it bit
// for bit; step and sample_base are i32 [1] placeholders fed each run
// (sample_base: the index of this run's first sample within the global
// batch: 0 in one process, the rank's offset in data-parallel training). Training only:
// inference graphs leave dropout out.
NodeId dropout(Graph& g, NodeId x, NodeId step, NodeId sample_base, double rate, uint32_t seed,
               const std::string& name = {});

NodeId reshape(Graph& g, NodeId x, Shape shape, const std::string& name = {});  // keeps a leading kBatch
NodeId flatten(Graph& g, NodeId x, const std::string& name = {});               // [N,...] -> [N,prod]

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
