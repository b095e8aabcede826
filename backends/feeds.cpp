#include "feeds.h"

#include <algorithm>

namespace gg {

int64_t bind_feeds(const Graph& g, const std::vector<NodeId>& placeholders, std::span<const Feed> feeds,
                   int64_t max_batch, const char* backend, std::vector<const Feed*>& bound) {
  const std::string who = std::string(backend) + ": placeholder \"";
  // Every feed must name an input this executable takes, once: a feed for any
  // other node (a typo'd id, a parameter, an input of another target) would
  // otherwise be ignored silently.
  for (size_t k = 0; k < feeds.size(); ++k) {
    const NodeId id = feeds[k].node;
    if (std::find(placeholders.begin(), placeholders.end(), id) == placeholders.end()) {
      std::string inputs;
      for (NodeId p : placeholders) inputs += (inputs.empty() ? "\"" : ", \"") + g.node(p).name + "\"";
      throw BackendError(std::string(backend) + ": a feed for " +
                         (id >= 0 && id < g.size() ? g.describe(id) : "node #" + std::to_string(id) + " (not in the graph)") +
                         ", which is not an input of these targets (they take " + (inputs.empty() ? "none" : inputs) + ")");
    }
    for (size_t j = 0; j < k; ++j)
      if (feeds[j].node == id) throw BackendError(who + g.node(id).name + "\" was fed twice");
  }
  bound.assign(placeholders.size(), nullptr);
  int64_t batch = -1;
  for (size_t i = 0; i < placeholders.size(); ++i) {
    const Node& ph = g.node(placeholders[i]);
    const Feed* f = nullptr;
    for (const Feed& x : feeds)
      if (x.node == ph.id) f = &x;
    if (!f) throw BackendError(who + ph.name + "\" " + ph.shape.str() + " was not fed");
    if (f->dtype != ph.dtype)
      throw BackendError(who + ph.name + "\" takes " + dtype_name(ph.dtype) + ", fed " + dtype_name(f->dtype));
    if (!f->data) throw BackendError(who + ph.name + "\" was fed a null pointer");
    const int64_t n = ph.shape.has_batch() ? (f->shape.rank() ? f->shape[0] : -1) : 1;
    if (f->shape != ph.shape.resolved(n) || (ph.shape.has_batch() && (n < 1 || n > max_batch)))
      throw BackendError(who + ph.name + "\" " + ph.shape.str() + " fed shape " + f->shape.str() + " (batch must be 1.." +
                         std::to_string(max_batch) + ")");
    if (ph.shape.has_batch()) {
      if (batch >= 0 && n != batch)
        throw BackendError(who + ph.name + "\" fed batch " + std::to_string(n) + ", other placeholders " + std::to_string(batch));
      batch = n;
    }
    bound[i] = f;
  }
  return batch < 0 ? 1 : batch;
}

}  // namespace gg
