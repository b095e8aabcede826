// Kernel fusion the backends share, so that the CPU and Vulkan executables
// fuse the same steps of the same schedule: a conv2d whose only reader is a
// relu applies that relu as it writes its output (the relu "epilogue").
//
// The decision has two halves. Which convs take the epilogue depends on the
// graph and the targets only (fuse_conv_relu); whether the relu step can then
// be dropped depends on where the memory planner put the relu's output
// (skip_fused_relus): on the conv's own bytes the relu has nothing left to do;
// anywhere else it still runs, as a copy (relu of relu'd values changes
// nothing, bit for bit).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include <graphgrad/graph/graph.h>

namespace gg {

struct StepFusion {
  bool relu_epilogue = false;  // a conv2d that applies the relu reading it as it writes
  bool fused_relu = false;     // a relu whose input conv2d applies it already
  bool skip = false;           // such a relu whose output is the conv's bytes: no work at all
};

// Per node id. steps: every compute node of the schedule in order (aliases and
// host steps too: they read their inputs). observed: per node id, the values
// seen outside the run (the targets, through aliases, down to the value they
// are). A conv2d gets the epilogue when exactly one step reads it, that step
// is a relu, and the conv's own value is not observed.
std::vector<StepFusion> fuse_conv_relu(const Graph& g, std::span<const Node* const> steps,
                                       const std::vector<bool>& observed);

// Marks `skip` on the fused relus that the memory plan (per node id byte
// offsets, -1 where a node has none in the arena) placed on their conv's bytes.
void skip_fused_relus(const Graph& g, std::vector<StepFusion>& fusion, const std::vector<int64_t>& offset);

}  // namespace gg
