#include "plot.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

extern char** environ;

namespace gg::cli {
namespace fs = std::filesystem;

namespace {

std::string python() {
  if (const char* p = std::getenv("GRAPHGRAD_PYTHON")) return p;
  return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";  // Debian's, where matplotlib lives
}

// The plot script: $GRAPHGRAD_PLOT_SCRIPT, else beside an installed mnist
// (<prefix>/share/graphgrad/), else in the source tree this binary was built from.
std::string plot_script() {
  if (const char* p = std::getenv("GRAPHGRAD_PLOT_SCRIPT")) return p;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path().parent_path() / "share" / "graphgrad" / "plot_curves.py";
    if (fs::exists(installed)) return installed;
  }
  return GG_SOURCE_PLOT_SCRIPT;
}

// Runs argv (no shell); returns its exit status, or -1 when it could not start.
int run(const std::vector<std::string>& argv, bool quiet) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (quiet) {
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

void check_plot_tools(const std::string& png, const std::vector<std::string>& others) {
  if (run({python(), "-c", "import matplotlib"}, true) != 0)
    throw std::invalid_argument("--plot " + png + ": needs " + python() +
                                " with matplotlib (Debian: python3-matplotlib; or set GRAPHGRAD_PYTHON)");
  if (!fs::exists(plot_script()))
    throw std::invalid_argument("--plot " + png + ": the plot script " + plot_script() +
                                " is missing (set GRAPHGRAD_PLOT_SCRIPT)");
  for (const std::string& o : others)
    if (!fs::is_regular_file(o)) throw std::invalid_argument("--plot-with " + o + ": no such file");
}

std::string write_plot(const std::string& png, const nlohmann::json& curves, const std::vector<std::string>& others) {
  fs::path json_path = png;
  json_path.replace_extension(".json");
  {
    std::ofstream out(json_path);
    out << curves.dump(1) << "\n";
    if (!out) throw std::runtime_error(json_path.string() + ": cannot write the curves");
  }
  std::vector<std::string> argv{python(), plot_script(), png, json_path.string()};
  argv.insert(argv.end(), others.begin(), others.end());
  if (run(argv, false) != 0) throw std::runtime_error("--plot " + png + ": " + plot_script() + " failed (its message is above)");
  return json_path.string();
}

}  // namespace gg::cli
