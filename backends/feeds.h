// Checking what run() is fed, shared by the backends: each placeholder fed
// once, with its type and shape, all batches equal and within the compiled
// maximum. Errors name the placeholder.
#pragma once
#include <span>
#include <vector>

#include <graphgrad/backends/backend.h>

namespace gg {

// Fills `bound[i]` with the feed of placeholders[i]; returns the batch size
// (1 when no placeholder has a batch dimension).
int64_t bind_feeds(const Graph& g, const std::vector<NodeId>& placeholders, std::span<const Feed> feeds,
                   int64_t max_batch, const char* backend, std::vector<const Feed*>& bound);

}  // namespace gg
