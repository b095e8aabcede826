#include "layer_rules.h"

#include <fmt/format.h>

#include <graphgrad/ops/counter_rng.h>
#include <graphgrad/ops/ops.h>

namespace gg::layers {
namespace {
ops::Padding padding(PaddingMode m) { return m == PaddingMode::same ? ops::Padding::same : ops::Padding::valid; }

template <class T>
const T* as(const Layer& l) {
  return std::get_if<T>(&l);
}
}  // namespace

std::vector<NodeId> Vars::all() const {
  std::vector<NodeId> out;
  for (NodeId id : {kernel, bias, gamma, beta, moving_mean, moving_variance})
    if (id != kNoNode) out.push_back(id);
  return out;
}

Vars create(Graph& g, const Layer& layer, const std::string& name, const Shape& in, const std::string& where,
            const std::string& from) {
  auto mismatch = [&](const std::string& what) { throw GraphError(where + ": " + what + ", but " + from + " gives " + in.str()); };
  auto image_input = [&] {
    if (in.rank() != 4) mismatch("needs an image input [N,C,H,W]");
  };
  auto pool_window = [&](const std::array<int, 2>& size, int stride, bool valid) {
    image_input();
    if (size[0] != size[1]) throw GraphError(where + ": only square pooling windows are supported");
    if (size[0] < 1 || stride < 0) throw GraphError(where + ": pool size must be >= 1 and stride >= 0");
    if (valid && (size[0] > in[2] || size[0] > in[3])) mismatch(fmt::format("a {0}x{0} window does not fit", size[0]));
  };
  Vars v;
  if (auto* c = as<Conv2D>(layer)) {
    image_input();
    if (c->filters < 1 || c->kernel_size[0] < 1 || c->kernel_size[1] < 1 || c->stride < 1)
      throw GraphError(where + ": filters, kernel size and stride must be >= 1");
    if (c->padding == PaddingMode::valid && (c->kernel_size[0] > in[2] || c->kernel_size[1] > in[3]))
      mismatch(fmt::format("a {}x{} kernel does not fit", c->kernel_size[0], c->kernel_size[1]));
    const int64_t k = c->kernel_size[0] * c->kernel_size[1];
    v.kernel = g.parameter(name + "/kernel", Shape{c->filters, in[1], c->kernel_size[0], c->kernel_size[1]},
                           Init::glorot_uniform(double(in[1] * k), double(c->filters * k)));
    if (c->use_bias) v.bias = g.parameter(name + "/bias", Shape{c->filters}, Init::zeros());
  } else if (auto* d = as<Dense>(layer)) {
    if (in.rank() != 2) mismatch("needs a flat input [N,features]; add Flatten() before it");
    if (d->units < 1) throw GraphError(where + ": units must be >= 1");
    v.kernel = g.parameter(name + "/kernel", Shape{in[1], d->units}, Init::glorot_uniform(double(in[1]), double(d->units)));
    if (d->use_bias) v.bias = g.parameter(name + "/bias", Shape{d->units}, Init::zeros());
  } else if (auto* p = as<MaxPooling2D>(layer)) {
    pool_window(p->pool_size, p->stride, true);
  } else if (auto* p = as<AveragePooling2D>(layer)) {
    pool_window(p->pool_size, p->stride, p->padding == PaddingMode::valid);
  } else if (as<GlobalAveragePooling2D>(layer)) {
    image_input();
  } else if (auto* b = as<BatchNormalization>(layer)) {
    if (in.rank() != 2 && in.rank() != 4) mismatch("needs [N,features] (after Dense) or [N,C,H,W] (after Conv2D)");
    if (!(b->momentum >= 0 && b->momentum < 1)) throw GraphError(where + ": momentum must be in [0, 1), got " + std::to_string(b->momentum));
    if (!(b->epsilon > 0)) throw GraphError(where + ": epsilon must be > 0, got " + std::to_string(b->epsilon));
    const Shape c{in[1]};
    // Keras's order: gamma, beta, moving_mean, moving_variance.
    v.gamma = b->scale ? g.parameter(name + "/gamma", c, Init::constant(1)) : g.constant(name + "/gamma", c, std::vector<float>(size_t(in[1]), 1.0f));
    v.beta = b->center ? g.parameter(name + "/beta", c, Init::zeros()) : g.constant(name + "/beta", c, std::vector<float>(size_t(in[1]), 0.0f));
    v.moving_mean = g.state(name + "/moving_mean", c, 0.0f);
    v.moving_variance = g.state(name + "/moving_variance", c, 1.0f);
  } else if (auto* a = as<Activation>(layer)) {
    if ((a->kind == ActivationKind::softmax || a->kind == ActivationKind::log_softmax) && in.rank() < 2)
      mismatch("softmax needs an input of rank >= 2");
    if (a->alpha && a->kind != ActivationKind::leaky_relu && a->kind != ActivationKind::elu)
      throw GraphError(where + ": alpha applies to leaky_relu and elu only");
    if (a->alpha && a->kind == ActivationKind::elu && !(*a->alpha > 0)) throw GraphError(where + ": elu's alpha must be > 0");
  } else if (auto* d = as<Dropout>(layer)) {
    if (!(d->rate >= 0 && d->rate < 1)) throw GraphError(where + ": rate must be in [0, 1), got " + std::to_string(d->rate));
  }
  return v;
}

NodeId activate(Graph& g, ActivationKind kind, NodeId x, const std::string& name, std::optional<double> alpha) {
  switch (kind) {
    case ActivationKind::linear: return x;
    case ActivationKind::relu: return ops::relu(g, x, name);
    case ActivationKind::sigmoid: return ops::sigmoid(g, x, name);
    case ActivationKind::tanh: return ops::tanh(g, x, name);
    case ActivationKind::softmax: return ops::softmax(g, x, -1, name);
    case ActivationKind::log_softmax: return ops::log_softmax(g, x, -1, name);
    case ActivationKind::gelu: return ops::gelu(g, x, name);
    case ActivationKind::gelu_tanh: return ops::gelu_tanh(g, x, name);
    case ActivationKind::silu: return ops::silu(g, x, name);
    case ActivationKind::elu: return ops::elu(g, x, alpha.value_or(1.0), name);
    case ActivationKind::leaky_relu: return ops::leaky_relu(g, x, alpha.value_or(0.01), name);
    case ActivationKind::softplus: return ops::softplus(g, x, 1.0, 20.0, name);
    case ActivationKind::exponential: return ops::exp(g, x, name);
    case ActivationKind::count_: break;
  }
  throw GraphError("activation: kind out of range");
}

NodeId apply(const Path& path, size_t index, const Layer& layer, const Vars& v, const std::string& layer_name, NodeId x,
             const std::string& output_name) {
  Graph& g = path.g;
  const std::string base = layer_name + (path.training ? "" : "/infer");
  const std::string name = output_name.empty() ? base : output_name;  // a one-node layer's node
  // A layer of two nodes (a Conv2D or Dense with an activation): the last takes output_name.
  auto with_activation = [&](ActivationKind kind, NodeId y) {
    const std::string act = output_name.empty() ? base + "/" + std::string(activation_name(kind)) : output_name;
    return activate(g, kind, y, act);
  };
  if (auto* c = as<Conv2D>(layer)) {
    const bool fused = c->activation != ActivationKind::linear;
    const NodeId y = ops::conv2d(g, x, v.kernel, v.bias, c->stride, padding(c->padding), fused ? base : name);
    return with_activation(c->activation, y);
  }
  if (auto* d = as<Dense>(layer)) {
    const bool fused = d->activation != ActivationKind::linear;
    const NodeId y = ops::dense(g, x, v.kernel, v.bias, fused ? base : name);
    return with_activation(d->activation, y);
  }
  if (auto* p = as<MaxPooling2D>(layer)) return ops::max_pool2d(g, x, p->pool_size[0], p->stride, name);
  if (auto* p = as<AveragePooling2D>(layer)) return ops::avg_pool2d(g, x, p->pool_size[0], p->stride, padding(p->padding), name);
  if (as<GlobalAveragePooling2D>(layer)) return ops::global_avg_pool2d(g, x, name);
  if (auto* a = as<Activation>(layer)) return activate(g, a->kind, x, name, a->alpha);
  if (as<Flatten>(layer)) return ops::flatten(g, x, name);
  if (auto* b = as<BatchNormalization>(layer)) {
    if (!path.training) return ops::batch_norm_inference(g, x, v.gamma, v.beta, v.moving_mean, v.moving_variance, b->epsilon, name);
    path.updates->push_back(ops::batch_norm_moving_update(g, x, v.moving_mean, v.moving_variance, b->momentum, name + "/moving_update"));
    return ops::batch_norm(g, x, v.gamma, v.beta, b->epsilon, name);
  }
  const auto& d = std::get<Dropout>(layer);
  if (!path.training || d.rate == 0) return x;
  // Each dropout layer draws its own mask stream from the model seed.
  const uint32_t seed = ops::mix32(static_cast<uint32_t>(path.seed) ^ ops::mix32(static_cast<uint32_t>(index) + 0x9e3779b9U));
  return ops::dropout(g, x, path.step, path.sample_base, d.rate, seed, name);
}

}  // namespace gg::layers
