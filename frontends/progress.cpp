#include "progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>

#include <fmt/format.h>

namespace gg {

bool is_terminal(const std::ostream& out) {
  if (&out == &std::cout) return ::isatty(STDOUT_FILENO);
  if (&out == &std::cerr) return ::isatty(STDERR_FILENO);
  return false;
}

ProgressBar::ProgressBar(std::ostream& out, int64_t total_steps, bool interactive)
    : out_(out), total_(total_steps), interactive_(interactive), start_(std::chrono::steady_clock::now()), last_draw_() {}

std::string ProgressBar::line(int64_t done, const std::string& metrics) const {
  constexpr int kWidth = 30;
  const int filled = total_ ? static_cast<int>(kWidth * done / total_) : kWidth;
  std::string bar(static_cast<size_t>(kWidth), '.');
  for (int i = 0; i < filled; ++i) bar[static_cast<size_t>(i)] = '=';
  if (filled < kWidth && done > 0) bar[static_cast<size_t>(filled)] = '>';
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int width = static_cast<int>(std::to_string(total_).size());
  std::string timing = done >= total_ ? fmt::format("{:.0f}s {:.0f}ms/step", secs, done ? 1e3 * secs / double(done) : 0.0)
                                      : fmt::format("ETA: {:.0f}s", done ? secs / double(done) * double(total_ - done) : 0.0);
  return fmt::format("{:>{}}/{} [{}] - {} - {}", done, width, total_, bar, timing, metrics);
}

void ProgressBar::update(int64_t done, const std::string& metrics) {
  if (!interactive_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100) && done < total_) return;
  last_draw_ = now;
  out_ << '\r' << line(done, metrics) << "\x1b[K" << std::flush;
}

void ProgressBar::finish(const std::string& metrics) {
  if (interactive_) out_ << '\r';
  out_ << line(total_, metrics) << (interactive_ ? "\x1b[K" : "") << '\n' << std::flush;
}

}  // namespace gg
