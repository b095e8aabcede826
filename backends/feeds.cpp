#include "feeds.h"

namespace gg {

int64_t bind_feeds(const Graph& g, const std::vector<NodeId>& placeholders, std::span<const Feed> feeds,
                   int64_t max_batch, const char* backend, std::vector<const Feed*>& bound) {
  const std::string who = std::string(backend) + ": placeholder \"";
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
