// Compute pipelines for the embedded shaders: two descriptor-set layouts (set
// 0: 8 storage buffers; set 1: 4 uniform texel buffers, bound only by the
// shaders that read through shaders/texel.glsl) and one pipeline layout (128
// bytes of push constants) shared by every shader, pipelines created on first
// use and cached, each with the storage bindings its SPIR-V may write
// (spirv_access.h), which the recorder's barriers need.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "context.h"

namespace gg::vk {

inline constexpr uint32_t kBindings = 8;
inline constexpr uint32_t kTexelBindings = 4;

// A user op's registered SPIR-V by shader name, or nullptr (user_kernels.cpp).
const std::vector<uint32_t>* user_shader(std::string_view name);

class Pipelines {
 public:
  explicit Pipelines(Context& ctx);
  ~Pipelines();
  Pipelines(const Pipelines&) = delete;
  Pipelines& operator=(const Pipelines&) = delete;

  VkPipeline get(std::string_view shader);  // throws BackendError for an unknown shader
  // Bit b: set 0's binding b may be written by `shader` (get() first).
  uint32_t written(std::string_view shader) const;
  VkPipelineLayout layout() const { return layout_; }
  VkDescriptorSetLayout set_layout() const { return set_layout_; }
  VkDescriptorSetLayout texel_set_layout() const { return texel_layout_; }

 private:
  Context& ctx_;
  VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
  VkDescriptorSetLayout texel_layout_ = VK_NULL_HANDLE;
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  struct Entry {
    VkPipeline pipeline;
    uint32_t written;
  };
  std::map<std::string, Entry, std::less<>> pipelines_;
};

}  // namespace gg::vk
