// The vocabulary of ops/eltwise.def for the shaders (its C++ twin is
// backends/cpu/eltwise_math.h). GLSL has no erf or log1p, so they are written
// here; tanh and pow are wrapped where GLSL leaves results undefined (tanh's
// exp overflows for large |x| on some drivers; pow of a negative base).
float where(bool c, float a, float b) { return c ? a : b; }

// erf by Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7, near float's
// rounding at erf's scale); no library exists for shaders.
float gg_erf(float x) {
  const float t = 1.0 / (1.0 + 0.3275911 * abs(x));
  const float y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-x * x);
  return x < 0.0 ? -y : y;
}
// log(1 + x) with the rounding of 1 + x corrected (Goldberg's trick).
float gg_log1p(float x) {
  const float u = 1.0 + x;
  return u == 1.0 ? x : log(u) * (x / (u - 1.0));
}
// tanh(15) is 1 in float; clamping keeps exp() inside its range.
float gg_tanh(float x) { return tanh(clamp(x, -15.0, 15.0)); }
// pow as C's powf: a negative base takes integer exponents (sign by parity);
// 0^0 = 1, 0^-b = inf.
float gg_pow(float a, float b) {
  if (a == 0.0) return b > 0.0 ? 0.0 : (b == 0.0 ? 1.0 : uintBitsToFloat(0x7f800000u));
  if (a > 0.0) return pow(a, b);
  if (b != floor(b)) return uintBitsToFloat(0x7fc00000u);
  const float r = pow(-a, b);
  return mod(b, 2.0) == 1.0 ? -r : r;
}
// Function-like, so that an op named tanh or pow (-DOP=tanh) stays itself.
#define erf(x) gg_erf(x)
#define log1p(x) gg_log1p(x)
#define tanh(x) gg_tanh(x)
#define pow(a, b) gg_pow(a, b)

// The flat element index of this invocation: a 2-D grid of 256-wide groups
// (gx groups per row) covers more than maxComputeWorkGroupCount[0] groups
// without a grid-stride loop.
uint flat_index(uint row) { return gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * row; }
