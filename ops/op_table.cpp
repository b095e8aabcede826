// The op table's rows, in id order, and the ids handed to user-defined ops.
#include "op_table.h"

#include <deque>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace gg::ops {
namespace {

#define GG_ROW(name, kind, lo, hi) OpInfo{#name, OpKind::kind, lo, hi},
constexpr OpInfo kBuiltins[] = {
    GG_OPS_GRAPH(GG_ROW) GG_OPS_NN(GG_ROW) GG_OPS_SHAPE(GG_ROW) GG_OPS_REDUCTION(GG_ROW) GG_OPS_UPDATE(GG_ROW)
#define X_(name, kind, lo, hi) OpInfo{#name, OpKind::kind, lo, hi},
#define GG_UNARY(name, ...) GG_UNARY_ROW(name)
#define GG_UNARY_P(name, ...) GG_UNARY_ROW(name)
#define GG_BINARY(name, ...) GG_BINARY_ROW(name)
#include "eltwise.def"
#undef GG_UNARY
#undef GG_UNARY_P
#undef GG_BINARY
#undef X_
};
#undef GG_ROW
static_assert(std::size(kBuiltins) == id::builtin_count, "every id has a row");

struct UserOps {
  std::mutex mutex;
  std::deque<std::string> names;  // a deque: rows keep their addresses as it grows
  std::deque<OpInfo> rows;
};
UserOps& user_ops() {
  static UserOps u;
  return u;
}

}  // namespace

const OpInfo& op_info(OpId op) {
  if (op < id::builtin_count) return kBuiltins[op];
  UserOps& u = user_ops();
  std::lock_guard lock(u.mutex);
  if (op - id::builtin_count >= u.rows.size()) throw std::out_of_range("op id " + std::to_string(op) + " is not registered");
  return u.rows[op - id::builtin_count];
}

OpId op_count() {
  UserOps& u = user_ops();
  std::lock_guard lock(u.mutex);
  return static_cast<OpId>(id::builtin_count + u.rows.size());
}

OpId register_op_id(const std::string& name) {
  for (const OpInfo& r : kBuiltins)
    if (r.name == name) throw std::invalid_argument("op name '" + name + "' is a built-in op's");
  UserOps& u = user_ops();
  std::lock_guard lock(u.mutex);
  for (const std::string& n : u.names)
    if (n == name) throw std::invalid_argument("op name '" + name + "' is already registered");
  u.names.push_back(name);
  u.rows.push_back(OpInfo{u.names.back(), OpKind::nn, 0, 64});
  return static_cast<OpId>(id::builtin_count + u.rows.size() - 1);
}

}  // namespace gg::ops
