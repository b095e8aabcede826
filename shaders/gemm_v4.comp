#version 450
// The register-blocked gemm (gemm_body.glsl), B read as aligned vec4s: for
// an untransposed B whose row length and offsets are multiples of 4.
#extension GL_GOOGLE_include_directive : require
#include "texel.glsl"
#define B_VEC4 1
#include "gemm_body.glsl"
