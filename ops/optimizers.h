// Optimizers as update nodes in the graph, so every backend runs them. Each
// update node writes its parameter and slot states in place.
#pragma once
#include <vector>

#include <graphgrad/graph/graph.h>

namespace gg::ops {

// Keras's Adam: lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t);
// m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= lr_t * m / (sqrt(v) + epsilon).
struct AdamConfig {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7;
};
// Keras's SGD: v = momentum v - lr g;  p += v  (nesterov: p += momentum v - lr g).
struct SgdConfig {
  double lr = 0.01, momentum = 0.0;
  bool nesterov = false;
};

// One update node per parameter (slots named "<param>/adam_m", "<param>/adam_v").
// `step` is the i32 [1] placeholder holding the number of updates done so far.
std::vector<NodeId> adam(Graph& g, const std::vector<NodeId>& params, const std::vector<NodeId>& grads, NodeId step,
                         const AdamConfig& cfg = {});
std::vector<NodeId> sgd(Graph& g, const std::vector<NodeId>& params, const std::vector<NodeId>& grads,
                        const SgdConfig& cfg = {});

}  // namespace gg::ops
