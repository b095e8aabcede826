#include "model_json.h"
#include "overload.h"

#include <fmt/format.h>

#include <graphgrad/graph/graph.h>

#include "sequential.h"

namespace gg {
namespace {
using json = nlohmann::json;

using detail::Overload;

json pair(const std::array<int, 2>& a) { return json::array({a[0], a[1]}); }

// Reads fields with errors that name the layer and the field.
class Fields {
 public:
  Fields(const json& j, std::string where) : j_(j), where_(std::move(where)) {}
  template <class T>
  T get(const char* key) const {
    if (!j_.contains(key)) fail(std::string("has no '") + key + "'");
    return as<T>(key);
  }
  template <class T>
  T get(const char* key, T fallback) const {
    return j_.contains(key) ? as<T>(key) : fallback;
  }
  std::array<int, 2> pair(const char* key) const {
    const auto v = get<std::vector<int>>(key);
    if (v.size() != 2) fail(std::string("'") + key + "' must hold two numbers");
    return {v[0], v[1]};
  }
  [[noreturn]] void fail(const std::string& what) const { throw GraphError(where_ + ": " + what); }

 private:
  template <class T>
  T as(const char* key) const {
    try {
      return j_.at(key).get<T>();
    } catch (const json::exception&) {
      fail(std::string("'") + key + "' has the wrong type: " + j_.at(key).dump());
    }
  }
  const json& j_;
  std::string where_;
};
}  // namespace

json layer_to_json(const Layer& layer) {
  json j{{"class_name", std::string(layer_kind(layer))}, {"name", layer_name(layer)}};
  std::visit(Overload{
                 [&](const Conv2D& l) {
                   j["filters"] = l.filters, j["kernel_size"] = pair(l.kernel_size), j["strides"] = l.stride;
                   j["padding"] = padding_name(l.padding), j["activation"] = activation_name(l.activation);
                   j["use_bias"] = l.use_bias;
                 },
                 [&](const Dense& l) {
                   j["units"] = l.units, j["activation"] = activation_name(l.activation), j["use_bias"] = l.use_bias;
                 },
                 [&](const Activation& l) {
                   j["activation"] = activation_name(l.kind);
                   if (l.alpha) j["alpha"] = *l.alpha;
                 },
                 [&](const MaxPooling2D& l) { j["pool_size"] = pair(l.pool_size), j["strides"] = l.stride; },
                 [&](const AveragePooling2D& l) {
                   j["pool_size"] = pair(l.pool_size), j["strides"] = l.stride, j["padding"] = padding_name(l.padding);
                 },
                 [&](const GlobalAveragePooling2D&) {},
                 [&](const BatchNormalization& l) {
                   j["momentum"] = l.momentum, j["epsilon"] = l.epsilon, j["center"] = l.center, j["scale"] = l.scale;
                 },
                 [&](const Dropout& l) { j["rate"] = l.rate; },
                 [&](const Flatten&) {},
             },
             layer);
  return j;
}

Layer layer_from_json(const json& j, size_t index) {
  if (!j.is_object()) throw GraphError(fmt::format("layer {}: not a JSON object", index));
  const std::string name = j.contains("name") && j["name"].is_string() ? j["name"].get<std::string>() : "";
  const Fields f(j, fmt::format("layer {} (\"{}\")", index, name));
  const auto kind = f.get<std::string>("class_name");
  auto act = [&](const char* key) {
    try {
      return activation_from_name(f.get<std::string>(key, "linear"));
    } catch (const GraphError& e) {
      f.fail(e.what());
    }
  };
  auto pad = [&] {
    try {
      return padding_from_name(f.get<std::string>("padding", "valid"));
    } catch (const GraphError& e) {
      f.fail(e.what());
    }
  };
  if (kind == "Conv2D")
    return Conv2D{.filters = f.get<int>("filters"), .kernel_size = f.pair("kernel_size"), .stride = f.get<int>("strides", 1),
                  .padding = pad(), .name = name, .activation = act("activation"), .use_bias = f.get<bool>("use_bias", true)};
  if (kind == "Dense")
    return Dense{.units = f.get<int>("units"), .name = name, .activation = act("activation"), .use_bias = f.get<bool>("use_bias", true)};
  if (kind == "Activation") {
    Activation a(act("activation"), name);
    if (j.contains("alpha")) a.alpha = f.get<double>("alpha");
    return a;
  }
  if (kind == "MaxPooling2D") return MaxPooling2D{.pool_size = f.pair("pool_size"), .stride = f.get<int>("strides", 0), .name = name};
  if (kind == "AveragePooling2D")
    return AveragePooling2D{.pool_size = f.pair("pool_size"), .stride = f.get<int>("strides", 0), .padding = pad(), .name = name};
  if (kind == "GlobalAveragePooling2D") return GlobalAveragePooling2D{.name = name};
  if (kind == "BatchNormalization")
    return BatchNormalization{.momentum = f.get<double>("momentum", 0.99), .epsilon = f.get<double>("epsilon", 1e-3), .name = name,
                              .center = f.get<bool>("center", true), .scale = f.get<bool>("scale", true)};
  if (kind == "Dropout") return Dropout{.rate = f.get<double>("rate"), .name = name};
  if (kind == "Flatten") return Flatten{.name = name};
  f.fail("unknown layer class '" + kind + "'");
}

json model_to_json(const ModelConfig& m) {
  json layers = json::array();
  for (const Layer& l : m.layers) layers.push_back(layer_to_json(l));
  return json{{"class_name", "Sequential"}, {"input_shape", m.input.dims()}, {"seed", m.seed}, {"layers", layers}};
}

ModelConfig model_from_json(const json& j) {
  const Fields f(j, "model");
  ModelConfig m;
  if (f.get<std::string>("class_name") != "Sequential") f.fail("only Sequential models are known");
  const auto dims = f.get<std::vector<int64_t>>("input_shape");
  for (int64_t d : dims)
    if (d < 1) f.fail("input_shape holds a dimension < 1");
  m.input = Shape(dims);
  m.seed = f.get<uint64_t>("seed", 0);
  if (!j.contains("layers") || !j["layers"].is_array()) f.fail("has no 'layers' array");
  for (size_t i = 0; i < j["layers"].size(); ++i) m.layers.push_back(layer_from_json(j["layers"][i], i));
  return m;
}

namespace {
json optimizer_to_json(const Optimizer& o) {
  json c = std::visit(Overload{
                          [](const Adam& a) {
                            return json{{"lr", a.lr}, {"beta1", a.beta1}, {"beta2", a.beta2}, {"epsilon", a.epsilon}, {"weight_decay", a.weight_decay}};
                          },
                          [](const AdamW& a) {
                            return json{{"lr", a.lr}, {"beta1", a.beta1}, {"beta2", a.beta2}, {"epsilon", a.epsilon}, {"weight_decay", a.weight_decay}};
                          },
                          [](const SGD& s) {
                            return json{{"lr", s.lr}, {"momentum", s.momentum}, {"nesterov", s.nesterov}, {"weight_decay", s.weight_decay}};
                          },
                          [](const RMSprop& r) {
                            return json{{"lr", r.lr}, {"rho", r.rho}, {"momentum", r.momentum}, {"epsilon", r.epsilon},
                                        {"centered", r.centered}, {"weight_decay", r.weight_decay}};
                          },
                      },
                      o);
  return json{{"class_name", std::string(optimizer_name(o))}, {"config", c}};
}

Optimizer optimizer_from_json(const json& j) {
  const Fields f(j, "optimizer");
  const std::string kind = f.get<std::string>("class_name");
  const json config = j.contains("config") ? j["config"] : json::object();
  const Fields c(config, "optimizer " + kind);
  if (kind == "adam" || kind == "adamw") {
    auto read = [&](auto cfg) {
      cfg.lr = c.get<double>("lr", cfg.lr), cfg.beta1 = c.get<double>("beta1", cfg.beta1);
      cfg.beta2 = c.get<double>("beta2", cfg.beta2), cfg.epsilon = c.get<double>("epsilon", cfg.epsilon);
      cfg.weight_decay = c.get<double>("weight_decay", cfg.weight_decay);
      return cfg;
    };
    return kind == "adam" ? Optimizer(read(Adam{})) : Optimizer(read(AdamW{}));
  }
  if (kind == "sgd")
    return SGD{.lr = c.get<double>("lr", 0.01), .momentum = c.get<double>("momentum", 0.0), .nesterov = c.get<bool>("nesterov", false),
               .weight_decay = c.get<double>("weight_decay", 0.0)};
  if (kind == "rmsprop")
    return RMSprop{.lr = c.get<double>("lr", 1e-3), .rho = c.get<double>("rho", 0.9), .momentum = c.get<double>("momentum", 0.0),
                   .epsilon = c.get<double>("epsilon", 1e-7), .centered = c.get<bool>("centered", false),
                   .weight_decay = c.get<double>("weight_decay", 0.0)};
  f.fail("unknown optimizer '" + kind + "' (known: adam, adamw, sgd, rmsprop)");
}

json schedule_to_json(const LearningRateSchedule& s) {
  return std::visit(Overload{
                        [](const StepDecay& d) {
                          return json{{"class_name", "StepDecay"}, {"initial_learning_rate", d.initial_learning_rate}, {"every", d.every},
                                      {"factor", d.factor}};
                        },
                        [](const ExponentialDecay& d) {
                          return json{{"class_name", "ExponentialDecay"}, {"initial_learning_rate", d.initial_learning_rate},
                                      {"decay_steps", d.decay_steps}, {"decay_rate", d.decay_rate}, {"staircase", d.staircase}};
                        },
                        [](const CosineDecay& d) {
                          json j{{"class_name", "CosineDecay"}, {"initial_learning_rate", d.initial_learning_rate},
                                 {"decay_steps", d.decay_steps}, {"alpha", d.alpha}, {"warmup_steps", d.warmup_steps}};
                          if (d.warmup_target) j["warmup_target"] = *d.warmup_target;
                          return j;
                        },
                    },
                    s);
}

LearningRateSchedule schedule_from_json(const json& j) {
  const Fields f(j, "learning-rate schedule");
  const std::string kind = f.get<std::string>("class_name");
  if (kind == "StepDecay")
    return StepDecay{.initial_learning_rate = f.get<double>("initial_learning_rate"), .every = f.get<int64_t>("every"),
                     .factor = f.get<double>("factor", 0.5)};
  if (kind == "ExponentialDecay")
    return ExponentialDecay{.initial_learning_rate = f.get<double>("initial_learning_rate"), .decay_steps = f.get<int64_t>("decay_steps"),
                            .decay_rate = f.get<double>("decay_rate"), .staircase = f.get<bool>("staircase", false)};
  if (kind == "CosineDecay") {
    CosineDecay d{.initial_learning_rate = f.get<double>("initial_learning_rate"), .decay_steps = f.get<int64_t>("decay_steps"),
                  .alpha = f.get<double>("alpha", 0.0), .warmup_steps = f.get<int64_t>("warmup_steps", 0)};
    if (j.contains("warmup_target")) d.warmup_target = f.get<double>("warmup_target");
    return d;
  }
  f.fail("unknown schedule '" + kind + "'");
}
}  // namespace

json compile_to_json(const CompileOptions& o) {
  json metrics = json::array();
  for (MetricKind m : o.metrics) metrics.push_back(std::string(metric_name(m)));
  json j{{"loss", std::string(loss_name(o.loss.kind))}, {"from_logits", o.loss.from_logits}, {"metrics", metrics},
         {"optimizer", optimizer_to_json(o.optimizer)}, {"clip_norm", o.clip_norm}};
  if (o.lr_schedule) j["lr_schedule"] = schedule_to_json(*o.lr_schedule);
  return j;
}

void compile_from_json(const json& j, CompileOptions& o) {
  const Fields f(j, "compile options");
  try {
    o.loss = Loss(loss_from_name(f.get<std::string>("loss")), f.get<bool>("from_logits", false));
    o.metrics.clear();
    for (const auto& name : f.get<std::vector<std::string>>("metrics", {})) o.metrics.push_back(metric_from_name(name));
  } catch (const GraphError& e) {
    f.fail(e.what());
  }
  if (j.contains("optimizer")) o.optimizer = optimizer_from_json(j["optimizer"]);
  o.clip_norm = f.get<double>("clip_norm", 0.0);
  if (j.contains("lr_schedule")) o.lr_schedule = schedule_from_json(j["lr_schedule"]);
}

std::string first_difference(const ModelConfig& ckpt, const ModelConfig& model) {
  if (ckpt.input != model.input)
    return fmt::format("input shape {} in the checkpoint, {} in this model", ckpt.input.str(), model.input.str());
  const size_t n = std::min(ckpt.layers.size(), model.layers.size());
  for (size_t i = 0; i < n; ++i) {
    const json a = layer_to_json(ckpt.layers[i]), b = layer_to_json(model.layers[i]);
    if (a == b) continue;
    const std::string where = fmt::format("layer {} (\"{}\")", i + 1, layer_name(model.layers[i]));
    if (a["class_name"] != b["class_name"])
      return fmt::format("{}: a {} in the checkpoint, a {} in this model", where, a["class_name"].get<std::string>(),
                         b["class_name"].get<std::string>());
    for (auto it = a.begin(); it != a.end(); ++it)
      if (!b.contains(it.key()) || b[it.key()] != it.value())
        return fmt::format("{}: {} {} in the checkpoint, {} in this model", where, it.key(), it.value().dump(),
                           b.contains(it.key()) ? b[it.key()].dump() : "none");
  }
  if (ckpt.layers.size() != model.layers.size())
    return fmt::format("{} layers in the checkpoint, {} in this model", ckpt.layers.size(), model.layers.size());
  return {};
}

}  // namespace gg
