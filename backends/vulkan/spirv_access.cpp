#include "spirv_access.h"

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <graphgrad/backends/backend.h>

namespace gg::vk {
namespace {
// From the SPIR-V specification (1.6), sections 3.32 (opcodes), 3.20 (decorations), 3.7 (storage classes).
constexpr uint32_t kMagic = 0x07230203;
constexpr uint32_t kOpTypeStruct = 30, kOpTypePointer = 32, kOpVariable = 59, kOpDecorate = 71, kOpMemberDecorate = 72;
constexpr uint32_t kNonWritable = 24, kBinding = 33, kDescriptorSet = 34;
constexpr uint32_t kUniform = 2, kStorageBuffer = 12;  // an SSBO is Uniform + BufferBlock before SPIR-V 1.3
}  // namespace

uint32_t written_bindings(std::span<const uint32_t> spirv, std::string_view shader) {
  auto bad = [&](const char* why) {
    return BackendError("vulkan: shader " + std::string(shader) + " is not valid SPIR-V (" + why + ")");
  };
  if (spirv.size() < 5 || spirv[0] != kMagic) throw bad("no SPIR-V header");
  std::unordered_map<uint32_t, uint32_t> binding, set, pointee, members, readonly_members;
  std::unordered_set<uint32_t> readonly_vars;
  struct Var {
    uint32_t id, pointer;
  };
  std::vector<Var> vars;
  for (size_t at = 5; at < spirv.size();) {
    const uint32_t words = spirv[at] >> 16, op = spirv[at] & 0xffff;
    if (words == 0 || at + words > spirv.size()) throw bad("an instruction runs past the end");
    const uint32_t* w = &spirv[at + 1];
    if (op == kOpDecorate && words >= 3) {
      if (w[1] == kBinding && words >= 4) binding[w[0]] = w[2];
      if (w[1] == kDescriptorSet && words >= 4) set[w[0]] = w[2];
      if (w[1] == kNonWritable) readonly_vars.insert(w[0]);
    } else if (op == kOpMemberDecorate && words >= 4 && w[2] == kNonWritable) {
      ++readonly_members[w[0]];
    } else if (op == kOpTypeStruct && words >= 2) {
      members[w[0]] = words - 2;
    } else if (op == kOpTypePointer && words >= 4) {
      pointee[w[0]] = w[2];
    } else if (op == kOpVariable && words >= 4 && (w[2] == kStorageBuffer || w[2] == kUniform)) {
      vars.push_back({w[1], w[0]});
    }
    at += words;
  }
  uint32_t mask = 0;
  for (const Var& v : vars) {
    const auto b = binding.find(v.id);
    if (b == binding.end() || b->second >= 32) continue;
    if (const auto s = set.find(v.id); s != set.end() && s->second != 0) continue;
    if (readonly_vars.count(v.id)) continue;
    const uint32_t block = pointee.count(v.pointer) ? pointee[v.pointer] : 0;
    const uint32_t n = members.count(block) ? members[block] : 0;
    // Each member decorated once at most; a block whose every member is readonly is a read-only binding.
    if (n > 0 && readonly_members[block] >= n) continue;
    mask |= 1u << b->second;
  }
  return mask;
}

}  // namespace gg::vk
