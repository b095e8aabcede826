// Keras-style progress lines for fit():
//   Epoch 1/10
//   469/469 [==============================] - 21s 45ms/step - loss: 0.2573 - accuracy: 0.9213
// On a terminal the bar redraws in place (at most ~10 times a second);
// elsewhere only the finished line is written.
#pragma once
#include <chrono>
#include <ostream>
#include <string>

namespace gg {

class ProgressBar {
 public:
  ProgressBar(std::ostream& out, int64_t total_steps, bool interactive);
  // Redraws the bar after `done` steps with the running metrics text.
  void update(int64_t done, const std::string& metrics);
  // Writes the final line with its metrics text and a newline.
  void finish(const std::string& metrics);

 private:
  std::string line(int64_t done, const std::string& metrics) const;

  std::ostream& out_;
  int64_t total_;
  bool interactive_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// True when the stream is std::cout or std::cerr and that is a terminal.
bool is_terminal(const std::ostream& out);

}  // namespace gg
