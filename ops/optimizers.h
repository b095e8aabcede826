// Optimizers as update nodes in the graph, so every backend runs them. Each
// update node writes its parameter and slot states in place. One update op per
// family (adam_update also serves AdamW, sgd_update plain/momentum/Nesterov,
// rmsprop_update plain/momentum/centered); the formulas are Keras 3's.
//
// Learning rate at run time: every builder takes an optional `lr_scale`, an
// f32 [1] node (normally a placeholder fed each step, e.g. by a schedule).
// The learning rate the update uses is cfg.lr * lr_scale, formed as the
// kernels form cfg.lr alone (in double on the CPU), so a scale of 1 gives the
// same bits as no lr_scale at all. Both backends read it on the device, so a
// recorded step picks up each run's value.
//
// Weight decay (every optimizer, Keras 3's decoupled form): before the update,
// p -= p * weight_decay * lr (lr including the scale, not Adam's
// bias-corrected step). Default 0, except AdamW's 0.004.
//
// Deviations from PyTorch (torch.optim), all Keras 3's choices:
//  - Adam: epsilon 1e-7 (PyTorch 1e-8), added to sqrt(v) with the bias
//    correction folded into the step (lr_t), so epsilon acts on the
//    uncorrected sqrt(v): PyTorch adds it to sqrt(v_hat). weight_decay is
//    decoupled (PyTorch's Adam adds wd * p to the gradient, an L2 penalty).
//  - AdamW: default weight_decay 0.004 (PyTorch 0.01); p -= p * wd * lr where
//    PyTorch multiplies p by (1 - lr * wd), equal up to rounding.
//  - SGD: the velocity holds -lr * g terms (v = momentum v - lr g; p += v), so
//    a learning rate changed between steps rescales only new gradients;
//    PyTorch's buffer holds raw gradients (b = momentum b + g; p -= lr b) and
//    rescales the whole history. No dampening. weight_decay decoupled
//    (PyTorch: L2 added to the gradient).
//  - RMSprop: rho 0.9 (PyTorch's alpha 0.99), epsilon 1e-7 inside the square
//    root (PyTorch: 1e-8 outside it), lr inside the momentum buffer (PyTorch
//    multiplies the buffer by lr at each step); weight_decay decoupled.
//  - Weight decay applies to every parameter given, biases included (Keras's
//    default; its exclude_from_weight_decay has no counterpart: pass the
//    parameters to decay to one builder and the rest to another). No AMSGrad.
#pragma once
#include <vector>

#include <graphgrad/graph/graph.h>

namespace gg::ops {

// Keras's Adam: lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t);
// m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= lr_t * m / (sqrt(v) + epsilon).
struct AdamConfig {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7;
  double weight_decay = 0.0;
};
// Keras's AdamW: Adam with weight decay 0.004 by default (the same update op).
struct AdamWConfig {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7;
  double weight_decay = 0.004;
};
// Keras's SGD: v = momentum v - lr g;  p += v  (nesterov: p += momentum v - lr g).
struct SgdConfig {
  double lr = 0.01, momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
};
// Keras's RMSprop: v = rho v + (1-rho) g^2; centered: a = rho a + (1-rho) g
// and the denominator is v - a^2 + epsilon, else v + epsilon;
// increment = lr g / sqrt(denominator); with momentum > 0: m = momentum m +
// increment, p -= m; else p -= increment.
struct RmspropConfig {
  double lr = 1e-3, rho = 0.9, momentum = 0.0, epsilon = 1e-7;
  bool centered = false;
  double weight_decay = 0.0;
};

// One update node per parameter (slots named "<param>/adam_m", "<param>/adam_v").
// `step` is the i32 [1] placeholder holding the number of updates done so far.
std::vector<NodeId> adam(Graph& g, const std::vector<NodeId>& params, const std::vector<NodeId>& grads, NodeId step,
                         const AdamConfig& cfg = {}, NodeId lr_scale = kNoNode);
std::vector<NodeId> adamw(Graph& g, const std::vector<NodeId>& params, const std::vector<NodeId>& grads, NodeId step,
                          const AdamWConfig& cfg = {}, NodeId lr_scale = kNoNode);
// Slot "<param>/sgd_velocity" (also without momentum, where it stays 0).
std::vector<NodeId> sgd(Graph& g, const std::vector<NodeId>& params, const std::vector<NodeId>& grads,
                        const SgdConfig& cfg = {}, NodeId lr_scale = kNoNode);
// Slots "<param>/rmsprop_velocity", with momentum > 0 "<param>/rmsprop_momentum",
// when centered "<param>/rmsprop_average_gradient" (Keras's slot set).
std::vector<NodeId> rmsprop(Graph& g, const std::vector<NodeId>& params, const std::vector<NodeId>& grads,
                            const RmspropConfig& cfg = {}, NodeId lr_scale = kNoNode);

// The index of an update node's lr_scale input, or -1 when it has none (it is
// the last input, after the parameter, gradient, slots and Adam's step).
int lr_scale_input(const Node& update);

// Clipping by global norm, TF's and Keras's clip_by_global_norm: global_norm =
// sqrt(sum over all gradients of their squares), each gradient times
// clip_norm / max(global_norm, clip_norm). Built from element-wise ops and
// reductions, so every backend runs it. As in TF, a global norm of inf or NaN
// makes every clipped gradient NaN. PyTorch's clip_grad_norm_ scales by
// min(1, clip_norm / (norm + 1e-6)), leaving the clipped norm just under clip_norm.
// `global_norm`, when given, receives the scalar norm node (to log it).
std::vector<NodeId> clip_by_global_norm(Graph& g, const std::vector<NodeId>& grads, double clip_norm,
                                        NodeId* global_norm = nullptr);

}  // namespace gg::ops
