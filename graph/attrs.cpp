#include "attrs.h"

#include <sstream>
#include <stdexcept>

namespace gg {

namespace {
template <class T>
const T& get(const std::map<std::string, AttrValue>& m, const std::string& key, const char* type) {
  auto it = m.find(key);
  if (it == m.end()) throw std::out_of_range("attribute '" + key + "' is not set");
  if (auto* v = std::get_if<T>(&it->second)) return *v;
  throw std::invalid_argument("attribute '" + key + "' is not of type " + type);
}
}  // namespace

int64_t Attrs::i(const std::string& key) const { return get<int64_t>(values_, key, "int"); }
double Attrs::f(const std::string& key) const { return get<double>(values_, key, "float"); }
const std::vector<int64_t>& Attrs::ints(const std::string& key) const {
  return get<std::vector<int64_t>>(values_, key, "int list");
}
const std::string& Attrs::s(const std::string& key) const { return get<std::string>(values_, key, "string"); }

std::string Attrs::str() const {
  std::ostringstream os;
  bool first = true;
  for (const auto& [k, v] : values_) {
    os << (first ? "" : " ") << k << "=";
    first = false;
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
            os << "[";
            for (size_t i = 0; i < x.size(); ++i) os << (i ? "," : "") << x[i];
            os << "]";
          } else {
            os << x;
          }
        },
        v);
  }
  return os.str();
}

}  // namespace gg
