#version 450
// Adam, in place on param, m and v (as backends/cpu/kernels_optimizer.cpp):
//   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g;  p -= lr_t * m / (sqrt(v) + eps)
// with lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t) and t = step + 1 read from the
// i32 step buffer here, on the device (the command buffer is recorded once).
// lr is the push constant times lr_scale, also read on the device (1 when the
// node has none); weight decay first: p -= p * wd_lr * lr_scale.
// Four elements per invocation, as vec4s (component-wise, so each element's
// arithmetic is the scalar one): a CPU device runs storage accesses per lane,
// so 4x fewer of them; the first invocation also takes the last count % 4.
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) buffer BufP { float param[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufG { float grad[]; };
layout(std430, set = 0, binding = 2) buffer BufM { float m[]; };
layout(std430, set = 0, binding = 3) buffer BufV { float v[]; };
layout(std430, set = 0, binding = 4) readonly buffer BufStep { int step; };
layout(std430, set = 0, binding = 5) readonly buffer BufScale { float lr_scale; };
layout(std430, set = 0, binding = 0) buffer BufP4 { vec4 param4[]; };  // the same buffers, as vec4s
layout(std430, set = 0, binding = 1) readonly buffer BufG4 { vec4 grad4[]; };
layout(std430, set = 0, binding = 2) buffer BufM4 { vec4 m4[]; };
layout(std430, set = 0, binding = 3) buffer BufV4 { vec4 v4[]; };

layout(push_constant) uniform Push {
  uint count;
  float lr, beta1, beta2, epsilon;
  float log_beta1, log_beta2;  // natural logs, from the host in double (-inf for beta 0)
  float wd_lr;                  // weight_decay * lr, from the host in double
  uint has_scale;               // binding 5 holds lr_scale
} p;

// 1 - beta^t = -expm1(t * log(beta)). Without float64 on the device, pow()
// would lose most digits of 1 - beta^t for beta near 1 and small t (the
// common case, 1 - 0.999^1); a Taylor series for expm1 keeps full float
// precision there, and exp() is accurate enough once |x| >= 0.5.
float one_minus_pow(float log_beta, float t) {
  const float x = t * log_beta;
  if (abs(x) >= 0.5) return 1.0 - exp(x);
  float s = 1.0;
  for (int k = 12; k >= 2; --k) s = 1.0 + s * x / float(k);
  return -(x * s);
}

void main() {
  const float t = float(step) + 1.0;
  const float scale = p.has_scale != 0 ? lr_scale : 1.0;
  const float lr_t = p.lr * scale * sqrt(one_minus_pow(p.log_beta2, t)) / one_minus_pow(p.log_beta1, t);
  const float wd_lr = p.wd_lr * scale;
  const float b1 = p.beta1, b2 = p.beta2;
  const uint quads = p.count / 4;
  for (uint i = gl_GlobalInvocationID.x; i < quads; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    const vec4 g = grad4[i];
    const vec4 mi = b1 * m4[i] + (1.0 - b1) * g;
    const vec4 vi = b2 * v4[i] + (1.0 - b2) * g * g;
    m4[i] = mi;
    v4[i] = vi;
    const vec4 pi = wd_lr != 0.0 ? param4[i] - param4[i] * wd_lr : param4[i];
    param4[i] = pi - lr_t * mi / (sqrt(vi) + p.epsilon);
  }
  if (gl_GlobalInvocationID.x != 0) return;
  for (uint i = quads * 4; i < p.count; ++i) {
    const float g = grad[i];
    const float mi = b1 * m[i] + (1.0 - b1) * g;
    const float vi = b2 * v[i] + (1.0 - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    // Skipped at 0, where p - p * 0 would turn -0 into +0 and inf into NaN.
    const float pi = wd_lr != 0.0 ? param[i] - param[i] * wd_lr : param[i];
    param[i] = pi - lr_t * mi / (sqrt(vi) + p.epsilon);
  }
}
