// The vocabulary that ops/eltwise.def's expressions are written in, for the
// CPU: on float, and on Vec8 (8 lanes of AVX2) where the build targets AVX2
// and FMA. Transcendentals come from SLEEF's 1-ULP functions, scalar and
// vector alike; sqrt and the arithmetic are IEEE. A build without AVX2 (the
// portable, sanitized one) runs the same expressions on float alone: run-time
// dispatch as in simd.h would need SLEEF's __m256 declarations, which
// sleef.h only makes when the compiler itself targets AVX.
#pragma once
#include <sleef.h>

#include <cmath>
#include <cstdint>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define GG_ELTWISE_VEC8 1
#endif

namespace gg::cpu::eltwise_math {

inline float where(bool c, float a, float b) { return c ? a : b; }
inline float exp(float x) { return Sleef_expf_u10(x); }
inline float log(float x) { return Sleef_logf_u10(x); }
inline float log1p(float x) { return Sleef_log1pf_u10(x); }
inline float tanh(float x) { return Sleef_tanhf_u10(x); }
inline float erf(float x) { return Sleef_erff_u10(x); }
inline float pow(float a, float b) { return Sleef_powf_u10(a, b); }
inline float sqrt(float x) { return std::sqrt(x); }
inline float abs(float x) { return std::fabs(x); }

#ifdef GG_ELTWISE_VEC8
struct Mask8 {
  __m256 m;
};
struct Vec8 {
  __m256 v;
  Vec8() = default;
  Vec8(float f) : v(_mm256_set1_ps(f)) {}  // implicit: literals and p0, p1 mix with vectors
  explicit Vec8(__m256 x) : v(x) {}
  static Vec8 load(const float* p) { return Vec8(_mm256_loadu_ps(p)); }
  void store(float* p) const { _mm256_storeu_ps(p, v); }
};
inline Vec8 operator+(Vec8 a, Vec8 b) { return Vec8(_mm256_add_ps(a.v, b.v)); }
inline Vec8 operator-(Vec8 a, Vec8 b) { return Vec8(_mm256_sub_ps(a.v, b.v)); }
inline Vec8 operator*(Vec8 a, Vec8 b) { return Vec8(_mm256_mul_ps(a.v, b.v)); }
inline Vec8 operator/(Vec8 a, Vec8 b) { return Vec8(_mm256_div_ps(a.v, b.v)); }
inline Vec8 operator-(Vec8 a) { return Vec8(_mm256_xor_ps(a.v, _mm256_set1_ps(-0.0f))); }
// Ordered, quiet comparisons: false where either side is NaN, as in C++ and GLSL.
inline Mask8 operator<(Vec8 a, Vec8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)}; }
inline Mask8 operator>(Vec8 a, Vec8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ)}; }
inline Mask8 operator<=(Vec8 a, Vec8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LE_OQ)}; }
inline Mask8 operator>=(Vec8 a, Vec8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GE_OQ)}; }
inline Mask8 operator==(Vec8 a, Vec8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_EQ_OQ)}; }
inline Vec8 where(Mask8 c, Vec8 a, Vec8 b) { return Vec8(_mm256_blendv_ps(b.v, a.v, c.m)); }
inline Vec8 exp(Vec8 x) { return Vec8(Sleef_expf8_u10avx2(x.v)); }
inline Vec8 log(Vec8 x) { return Vec8(Sleef_logf8_u10avx2(x.v)); }
inline Vec8 log1p(Vec8 x) { return Vec8(Sleef_log1pf8_u10avx2(x.v)); }
inline Vec8 tanh(Vec8 x) { return Vec8(Sleef_tanhf8_u10avx2(x.v)); }
inline Vec8 erf(Vec8 x) { return Vec8(Sleef_erff8_u10avx2(x.v)); }
inline Vec8 pow(Vec8 a, Vec8 b) { return Vec8(Sleef_powf8_u10avx2(a.v, b.v)); }
inline Vec8 sqrt(Vec8 x) { return Vec8(_mm256_sqrt_ps(x.v)); }
inline Vec8 abs(Vec8 x) { return Vec8(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x.v)); }
#endif

// One functor per line of eltwise.def: fwd and bwd for any lane type T.
#define GG_UNARY(name, uses, flops, lo, hi, onnx, F, DX)                                        \
  struct name##_fn {                                                                           \
    template <class T>                                                                         \
    static T fwd(T x, float p0, float p1) { return F; }                                        \
    template <class T>                                                                         \
    static T bwd(T dy, T x, T y, float p0, float p1) { return DX; }                            \
  };
#define GG_UNARY_P GG_UNARY
#define GG_BINARY(name, flops, lo, hi, onnx, F, DA, DB)                                         \
  struct name##_fn {                                                                           \
    template <class T>                                                                         \
    static T fwd(T a, T b) { return F; }                                                       \
    template <class T>                                                                         \
    static T da(T dy, T a, T b, T y) { return DA; }                                            \
    template <class T>                                                                         \
    static T db(T dy, T a, T b, T y) { return DB; }                                            \
  };
#include <graphgrad/ops/eltwise.def>
#undef GG_UNARY
#undef GG_UNARY_P
#undef GG_BINARY

}  // namespace gg::cpu::eltwise_math
