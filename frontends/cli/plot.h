// `mnist train --plot`: the per-epoch curves as JSON beside the PNG, drawn by
// scripts/plot_curves.py (matplotlib) in a child process.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gg::cli {

// Throws std::invalid_argument naming the flag when the plot cannot be made
// (no python3 with matplotlib, no plot script, a --plot-with file missing):
// called before training, so a long run does not end without its figure.
void check_plot_tools(const std::string& png, const std::vector<std::string>& others);

// Writes `curves` ({"backend", "label", "epochs": [...]}) to <png minus .png>.json,
// then draws it and each of `others` (the same format) into png.
// Returns the JSON's path; throws std::runtime_error when the drawing fails.
std::string write_plot(const std::string& png, const nlohmann::json& curves, const std::vector<std::string>& others);

}  // namespace gg::cli
