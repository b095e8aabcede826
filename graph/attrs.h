// Op attributes: a small typed map, generic so that dumps, checkpoints and
// exporters can walk any op's attributes without knowing the op.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace gg {

using AttrValue = std::variant<int64_t, double, std::vector<int64_t>, std::string>;

class Attrs {
 public:
  Attrs() = default;
  Attrs(std::initializer_list<std::pair<const std::string, AttrValue>> init) : values_(init) {}

  Attrs& set(const std::string& key, AttrValue v) {
    values_[key] = std::move(v);
    return *this;
  }
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  int64_t i(const std::string& key) const;
  double f(const std::string& key) const;
  const std::vector<int64_t>& ints(const std::string& key) const;
  const std::string& s(const std::string& key) const;

  const std::map<std::string, AttrValue>& all() const { return values_; }
  std::string str() const;  // "stride=1 padding=valid"

 private:
  std::map<std::string, AttrValue> values_;
};

}  // namespace gg
