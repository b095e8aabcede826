// Learning-rate schedules: the learning rate as a pure function of the
// optimizer step (Keras's LearningRateSchedule classes), so a resumed run
// continues its schedule from the checkpoint's step alone.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace gg {

// initial * factor^floor(step / every): step decay.
struct StepDecay {
  double initial_learning_rate;
  int64_t every;  // steps between decays
  double factor = 0.5;
};
// Keras's ExponentialDecay: initial * rate^(step / decay_steps) (floored when staircase).
struct ExponentialDecay {
  double initial_learning_rate;
  int64_t decay_steps;
  double decay_rate;
  bool staircase = false;
};
// Keras's CosineDecay with warm-up: from initial_learning_rate linearly up to
// warmup_target over warmup_steps (no warm-up when warmup_steps is 0), then
// from there (the warm-up target, or the initial rate) along a half cosine to
// alpha times it over decay_steps, and alpha times it after.
struct CosineDecay {
  double initial_learning_rate;
  int64_t decay_steps;
  double alpha = 0.0;
  int64_t warmup_steps = 0;
  std::optional<double> warmup_target = {};
};

using LearningRateSchedule = std::variant<StepDecay, ExponentialDecay, CosineDecay>;

// The learning rate at optimizer step `step` (0 for the first update).
double learning_rate_at(const LearningRateSchedule& schedule, int64_t step);
// Throws GraphError naming the field when a schedule cannot work (a zero period, a negative rate).
void check_schedule(const LearningRateSchedule& schedule);
// "cosine(initial=0.001, decay_steps=4690, alpha=0, warmup_steps=469, warmup_target=0.002)"
std::string describe(const LearningRateSchedule& schedule);
// The CLI's spelling: "step:every=N,factor=F", "exponential:decay_steps=N,rate=R[,staircase]",
// "cosine:decay_steps=N[,alpha=A][,warmup_steps=W][,warmup_target=T]"; the initial rate is `lr`.
// `steps_per_epoch` lets any count be written in epochs with an "e" suffix ("every=5e").
LearningRateSchedule parse_schedule(const std::string& spec, double lr, int64_t steps_per_epoch);

}  // namespace gg
