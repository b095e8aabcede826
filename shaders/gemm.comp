#version 450
// The register-blocked gemm (gemm_body.glsl), B gathered as floats.
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
#define B_VEC4 0
#include "gemm_body.glsl"
