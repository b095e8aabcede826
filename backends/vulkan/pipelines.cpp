#include "pipelines.h"

#include <graphgrad/backends/backend.h>

#include "counters.h"
#include "shaders_embedded.h"

namespace gg::vk {

Pipelines::Pipelines(Context& ctx) : ctx_(ctx) {
  VkDescriptorSetLayoutBinding b[kBindings];
  for (uint32_t i = 0; i < kBindings; ++i)
    b[i] = {i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  VkDescriptorSetLayoutCreateInfo li{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  li.bindingCount = kBindings;
  li.pBindings = b;
  check(vkCreateDescriptorSetLayout(ctx.device(), &li, nullptr, &set_layout_), "vkCreateDescriptorSetLayout");
  VkDescriptorSetLayoutBinding t[kTexelBindings];
  for (uint32_t i = 0; i < kTexelBindings; ++i)
    t[i] = {i, VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  li.bindingCount = kTexelBindings;
  li.pBindings = t;
  check(vkCreateDescriptorSetLayout(ctx.device(), &li, nullptr, &texel_layout_), "vkCreateDescriptorSetLayout");
  const VkDescriptorSetLayout sets[2] = {set_layout_, texel_layout_};
  VkPushConstantRange push{VK_SHADER_STAGE_COMPUTE_BIT, 0, 128};
  VkPipelineLayoutCreateInfo pi{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  pi.setLayoutCount = 2;
  pi.pSetLayouts = sets;
  pi.pushConstantRangeCount = 1;
  pi.pPushConstantRanges = &push;
  check(vkCreatePipelineLayout(ctx.device(), &pi, nullptr, &layout_), "vkCreatePipelineLayout");
  VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  check(vkCreatePipelineCache(ctx.device(), &ci, nullptr, &cache_), "vkCreatePipelineCache");
}

Pipelines::~Pipelines() {
  for (auto& [name, p] : pipelines_) vkDestroyPipeline(ctx_.device(), p, nullptr);
  vkDestroyPipelineCache(ctx_.device(), cache_, nullptr);
  vkDestroyPipelineLayout(ctx_.device(), layout_, nullptr);
  vkDestroyDescriptorSetLayout(ctx_.device(), texel_layout_, nullptr);
  vkDestroyDescriptorSetLayout(ctx_.device(), set_layout_, nullptr);
}

VkPipeline Pipelines::get(std::string_view shader) {
  ++counters().dispatches;  // once per recorded dispatch (CommandRecorder::record)
  if (auto it = pipelines_.find(shader); it != pipelines_.end()) return it->second;
  VkShaderModuleCreateInfo mi{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  if (const EmbeddedShader* s = find_shader(shader)) {
    mi.codeSize = s->words * sizeof(uint32_t);
    mi.pCode = s->code;
  } else if (const std::vector<uint32_t>* u = user_shader(shader)) {  // a user op's SPIR-V (user_kernels.h)
    mi.codeSize = u->size() * sizeof(uint32_t);
    mi.pCode = u->data();
  } else {
    throw BackendError("vulkan: no shader named '" + std::string(shader) + "' is embedded in this build or registered");
  }
  VkShaderModule module = VK_NULL_HANDLE;
  check(vkCreateShaderModule(ctx_.device(), &mi, nullptr, &module), "vkCreateShaderModule");
  VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  ci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, nullptr, 0, VK_SHADER_STAGE_COMPUTE_BIT, module, "main", nullptr};
  ci.layout = layout_;
  VkPipeline p = VK_NULL_HANDLE;
  const VkResult r = vkCreateComputePipelines(ctx_.device(), cache_, 1, &ci, nullptr, &p);
  vkDestroyShaderModule(ctx_.device(), module, nullptr);
  check(r, ("vkCreateComputePipelines for shader " + std::string(shader)).c_str());
  pipelines_.emplace(std::string(shader), p);
  return p;
}

}  // namespace gg::vk
