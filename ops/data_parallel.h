// Data parallelism in the graph: all-reduce nodes between each gradient and its
// optimizer update, so the graph stays the one description of a step and each
// backend only executes the nodes (through its Communicator).
//
//   grads ──▶ allreduce_start (a bucket of gradients, copied into one flat
//             buffer and scaled by this rank's weight; the sum starts, non-blocking)
//         ──▶ allreduce_wait  (waits for the sum; `mean` divides by the world size)
//         ──▶ bucket_slice    (each gradient's part) ──▶ the optimizer's update
//
// allreduce_start is scheduled right after the last gradient of its bucket and
// allreduce_wait right before the first update that needs it, so the sum of the
// last layers' gradients travels while the first layers' backward still runs.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include <graphgrad/graph/graph.h>

namespace gg::ops {

enum class Reduce { sum, mean };

// Starts the all-reduce of `values` (each without a batch dimension) as one
// flat f32 buffer [sum of their sizes], operation `tag` of the step. `weight`
// (an f32 [1] node, or kNoNode) scales this rank's contribution first.
NodeId allreduce_start(Graph& g, const std::vector<NodeId>& values, NodeId weight, int tag, const std::string& name = {});
// The finished all-reduce of a start node: the sum over ranks, or the mean.
NodeId allreduce_wait(Graph& g, NodeId start, Reduce reduce = Reduce::sum, const std::string& name = {});
// The `shape`-shaped part of a flat buffer from element `offset`.
NodeId bucket_slice(Graph& g, NodeId flat, int64_t offset, Shape shape, const std::string& name = {});

struct AllreduceOptions {
  // A bucket closes once it holds this many bytes (or max_tensors gradients):
  // big enough that per-message latency does not dominate, small enough that
  // the first buckets leave while the backward pass goes on (the MNIST CNN's
  // 2.3 MiB of gradients go as two: the dense layers' 2.26 MiB, sent while
  // the convolutions' backward runs, then the convolutions').
  size_t bucket_bytes = size_t{1} << 20;
  int max_tensors = 15;  // with the weight, 16 inputs: the most a CPU kernel takes
};

// The pass: buckets `grads` in the order the backward pass computes them and
// returns, for each, its all-reduced counterpart (same order, same shapes).
// With `weight` each rank's gradients are scaled by its fed weight and summed
// (weight = local batch / global batch gives the global batch's mean gradient
// even when ranks hold unequal shares); without, they are averaged.
std::vector<NodeId> allreduce_gradients(Graph& g, const std::vector<NodeId>& grads, NodeId weight,
                                        const AllreduceOptions& options = {});

}  // namespace gg::ops
