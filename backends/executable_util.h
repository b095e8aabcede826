// Small pieces every backend's Executable shares.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <graphgrad/graph/graph.h>

namespace gg {

// Copies a fetched value (out.size() elements at src) into floats; i32
// values are converted.
void copy_fetched(DType dtype, const void* src, std::span<float> out);

// Prints per-node times (GRAPHGRAD_PROFILE) to stderr, largest first:
// `total_ms[i]` is node i's time summed over `runs` runs.
void print_profile(const std::string& title, const std::vector<const Node*>& nodes, const std::vector<double>& total_ms,
                   int64_t runs);

// True when GRAPHGRAD_PROFILE is set to something other than 0.
bool profiling_requested();

// Per node id: true for the values the targets are, each target followed
// through aliases (nodes whose value is their input's bytes, as reshape's;
// alias_of returns that input, else kNoNode) down to the node that computes
// it. Those values are seen outside a run: kept out of shared memory, never
// fused away.
std::vector<bool> target_values(const Graph& g, std::span<const NodeId> targets,
                                const std::function<NodeId(const Node&)>& alias_of);

}  // namespace gg
