// Helpers shared by the doctest suites.
#pragma once
#include <doctest/doctest.h>

#include <exception>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>

namespace gg::test {

// A fresh folder under the system temp dir, removed with its contents.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix = "gg_test_") {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / (prefix + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path operator/(const std::string& name) const { return path / name; }
};

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Runs f, which must throw an E, and returns its message (fails the test otherwise).
template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("expected another exception type, got: " << e.what());
  }
  FAIL("nothing was thrown");
  return {};
}

}  // namespace gg::test

// Checks that an error message contains `part`, showing the message on failure.
#define CHECK_MSG(msg, part)                          \
  do {                                                \
    INFO("message: " << (msg));                       \
    CHECK(::gg::test::contains((msg), (part)));       \
  } while (0)
