// Read-only float operands that a shader gathers with non-uniform addresses.
// On CPU implementations (lavapipe) such a storage-buffer load becomes a loop
// over the subgroup's lanes with a scalar load each, while a texel-buffer
// fetch is one vector gather; GPUs serve both alike. A shader that includes
// this file is compiled twice (shaders/CMakeLists.txt): <name> reads
// TEXEL_INPUT(slot, name, ssbo) from a uniform texel buffer of R32_SFLOAT at
// (set 1, binding slot); <name>_ssbo, which the recorder runs where an
// operand holds more than maxTexelBufferElements, reads it from the storage
// buffer at (set 0, binding ssbo). FETCH(name, i) reads element i either way.
// TEXEL_INPUT4 / FETCH4 read vec4 i of a vec4 view (R32G32B32A32_SFLOAT; the
// recorder's vec4_mask).
#ifndef TEXEL
#define TEXEL 1
#endif
#if TEXEL
#define TEXEL_INPUT(slot, name, ssbo) layout(set = 1, binding = slot) uniform samplerBuffer name;
#define FETCH(name, i) texelFetch(name, int(i)).x
#define TEXEL_INPUT4(slot, name, ssbo) layout(set = 1, binding = slot) uniform samplerBuffer name;
#define FETCH4(name, i) texelFetch(name, int(i))
#else
#define TEXEL_INPUT(slot, name, ssbo) layout(std430, set = 0, binding = ssbo) readonly buffer name##_buf { float name[]; };
#define FETCH(name, i) name[i]
#define TEXEL_INPUT4(slot, name, ssbo) layout(std430, set = 0, binding = ssbo) readonly buffer name##_buf { vec4 name[]; };
#define FETCH4(name, i) name[i]
#endif
