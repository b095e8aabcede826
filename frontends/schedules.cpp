#include "schedules.h"
#include "overload.h"

#include <cmath>
#include <map>
#include <numbers>

#include <fmt/format.h>

#include <graphgrad/graph/graph.h>

namespace gg {
namespace {
using detail::Overload;
}  // namespace

double learning_rate_at(const LearningRateSchedule& schedule, int64_t step) {
  const double s = static_cast<double>(std::max<int64_t>(step, 0));
  return std::visit(
      Overload{
          [&](const StepDecay& d) { return d.initial_learning_rate * std::pow(d.factor, std::floor(s / double(d.every))); },
          [&](const ExponentialDecay& d) {
            const double p = s / double(d.decay_steps);
            return d.initial_learning_rate * std::pow(d.decay_rate, d.staircase ? std::floor(p) : p);
          },
          [&](const CosineDecay& d) {
            const double w = double(d.warmup_steps);
            const double top = d.warmup_target.value_or(d.initial_learning_rate);
            if (d.warmup_steps > 0 && s < w) return d.initial_learning_rate + (top - d.initial_learning_rate) * s / w;
            const double t = std::min(s - w, double(d.decay_steps)) / double(d.decay_steps);
            const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * t));
            return top * ((1.0 - d.alpha) * cosine + d.alpha);
          },
      },
      schedule);
}

void check_schedule(const LearningRateSchedule& schedule) {
  auto bad = [](const std::string& what) { throw GraphError("learning-rate schedule: " + what); };
  std::visit(Overload{
                 [&](const StepDecay& d) {
                   if (!(d.initial_learning_rate > 0)) bad("initial learning rate must be > 0");
                   if (d.every < 1) bad("step decay's 'every' must be >= 1 step");
                   if (!(d.factor > 0)) bad("step decay's factor must be > 0");
                 },
                 [&](const ExponentialDecay& d) {
                   if (!(d.initial_learning_rate > 0)) bad("initial learning rate must be > 0");
                   if (d.decay_steps < 1) bad("exponential decay's decay_steps must be >= 1");
                   if (!(d.decay_rate > 0)) bad("exponential decay's rate must be > 0");
                 },
                 [&](const CosineDecay& d) {
                   if (!(d.initial_learning_rate >= 0)) bad("initial learning rate must be >= 0");
                   if (d.decay_steps < 1) bad("cosine decay's decay_steps must be >= 1");
                   if (d.warmup_steps < 0) bad("cosine decay's warmup_steps must be >= 0");
                   if (!(d.alpha >= 0 && d.alpha <= 1)) bad("cosine decay's alpha must be in [0, 1]");
                   if (d.warmup_target && !(*d.warmup_target > 0)) bad("cosine decay's warmup_target must be > 0");
                 },
             },
             schedule);
}

std::string describe(const LearningRateSchedule& schedule) {
  return std::visit(
      Overload{
          [](const StepDecay& d) { return fmt::format("step(initial={}, every={}, factor={})", d.initial_learning_rate, d.every, d.factor); },
          [](const ExponentialDecay& d) {
            return fmt::format("exponential(initial={}, decay_steps={}, rate={}{})", d.initial_learning_rate, d.decay_steps,
                               d.decay_rate, d.staircase ? ", staircase" : "");
          },
          [](const CosineDecay& d) {
            return fmt::format("cosine(initial={}, decay_steps={}, alpha={}, warmup_steps={}{})", d.initial_learning_rate,
                               d.decay_steps, d.alpha, d.warmup_steps,
                               d.warmup_target ? fmt::format(", warmup_target={}", *d.warmup_target) : "");
          },
      },
      schedule);
}

LearningRateSchedule parse_schedule(const std::string& spec, double lr, int64_t steps_per_epoch) {
  const size_t colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  std::map<std::string, std::string> args;
  if (colon != std::string::npos) {
    std::string rest = spec.substr(colon + 1);
    size_t at = 0;
    while (at <= rest.size()) {
      const size_t comma = std::min(rest.find(',', at), rest.size());
      const std::string item = rest.substr(at, comma - at);
      if (!item.empty()) {
        const size_t eq = item.find('=');
        args[item.substr(0, eq)] = eq == std::string::npos ? "" : item.substr(eq + 1);
      }
      at = comma + 1;
    }
  }
  auto fail = [&](const std::string& what) -> void {
    throw GraphError("--lr-schedule '" + spec + "': " + what +
                     " (forms: step:every=N,factor=F; exponential:decay_steps=N,rate=R[,staircase]; "
                     "cosine:decay_steps=N[,alpha=A][,warmup_steps=W][,warmup_target=T]; counts in steps, or epochs with an 'e' suffix)");
  };
  auto take = [&](const char* key) -> std::optional<std::string> {
    auto it = args.find(key);
    if (it == args.end()) return std::nullopt;
    std::string v = it->second;
    args.erase(it);
    return v;
  };
  auto number = [&](const char* key, std::optional<double> fallback) -> double {
    auto v = take(key);
    if (!v) {
      if (!fallback) fail(std::string("needs ") + key);
      return *fallback;
    }
    try {
      size_t used = 0;
      const double d = std::stod(*v, &used);
      if (used != v->size()) throw std::invalid_argument(*v);
      return d;
    } catch (const std::exception&) {
      fail(std::string(key) + "=" + *v + " is not a number");
    }
    return 0;
  };
  auto count = [&](const char* key, std::optional<int64_t> fallback) -> int64_t {
    auto v = take(key);
    if (!v) {
      if (!fallback) fail(std::string("needs ") + key);
      return *fallback;
    }
    const bool epochs = !v->empty() && v->back() == 'e';
    const std::string digits = epochs ? v->substr(0, v->size() - 1) : *v;
    try {
      size_t used = 0;
      const double d = std::stod(digits, &used);
      if (used != digits.size() || d < 0) throw std::invalid_argument(digits);
      return static_cast<int64_t>(std::llround(epochs ? d * double(steps_per_epoch) : d));
    } catch (const std::exception&) {
      fail(std::string(key) + "=" + *v + " is not a count");
    }
    return 0;
  };
  LearningRateSchedule out = StepDecay{lr, 1, 1.0};
  if (kind == "step") {
    out = StepDecay{.initial_learning_rate = lr, .every = count("every", std::nullopt), .factor = number("factor", 0.5)};
  } else if (kind == "exponential") {
    const bool staircase = take("staircase").has_value();
    out = ExponentialDecay{.initial_learning_rate = lr, .decay_steps = count("decay_steps", std::nullopt),
                           .decay_rate = number("rate", std::nullopt), .staircase = staircase};
  } else if (kind == "cosine") {
    CosineDecay c{.initial_learning_rate = lr, .decay_steps = count("decay_steps", std::nullopt), .alpha = number("alpha", 0.0),
                  .warmup_steps = count("warmup_steps", 0)};
    if (args.count("warmup_target")) c.warmup_target = number("warmup_target", std::nullopt);
    out = c;
  } else {
    fail("unknown schedule '" + kind + "'");
  }
  if (!args.empty()) fail("unknown option '" + args.begin()->first + "'");
  try {
    check_schedule(out);
  } catch (const GraphError& e) {
    fail(e.what());
  }
  return out;
}

}  // namespace gg
