// Which storage buffers a compute shader may write, read from its SPIR-V.
// The recorder places a barrier only between commands whose accesses
// conflict (hazards.h), so it must know, per shader, which of set 0's
// bindings are read-only: GLSL's `readonly` becomes a NonWritable decoration
// on the block's members (or on the variable). A binding without it counts
// as written, whether or not the shader writes it: a missing `readonly`
// costs a barrier, never a race.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>

namespace gg::vk {

// Bit b set: set 0's storage-buffer binding b is not NonWritable. Throws
// BackendError (naming `shader`) when the words are not SPIR-V.
uint32_t written_bindings(std::span<const uint32_t> spirv, std::string_view shader);

}  // namespace gg::vk
