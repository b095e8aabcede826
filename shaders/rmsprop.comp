#version 450
// RMSprop (Keras 3), in place on param and its slots (as the CPU):
//   p -= p * wd_lr;  v = rho*v + (1-rho)*g*g
//   centered: a = rho*a + (1-rho)*g, denom = v - a*a + eps; else denom = v + eps
//   inc = lr*g / sqrt(denom);  momentum: m = mu*m + inc, p -= m; else p -= inc
// lr and wd_lr are the push constants times lr_scale, read on the device (1
// when the node has none). Bindings of absent slots hold a stand-in buffer
// that the shader never touches.
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) buffer BufP { float param[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufG { float grad[]; };
layout(std430, set = 0, binding = 2) buffer BufVel { float vel[]; };
layout(std430, set = 0, binding = 3) buffer BufMom { float mom[]; };
layout(std430, set = 0, binding = 4) buffer BufAvg { float avg[]; };
layout(std430, set = 0, binding = 5) readonly buffer BufScale { float lr_scale; };

layout(push_constant) uniform Push {
  uint count;
  float lr, rho, momentum, epsilon;
  float wd_lr;       // weight_decay * lr, from the host in double
  uint has_momentum;  // binding 3 is the momentum slot
  uint centered;      // binding 4 is the average-gradient slot
  uint has_scale;     // binding 5 holds lr_scale
} p;

void main() {
  const float scale = p.has_scale != 0 ? lr_scale : 1.0;
  const float lr = p.lr * scale, wd_lr = p.wd_lr * scale;
  const float rho = p.rho;
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    const float g = grad[i];
    const float vi = rho * vel[i] + (1.0 - rho) * (g * g);
    vel[i] = vi;
    float denom = vi + p.epsilon;
    if (p.centered != 0) {
      const float ai = rho * avg[i] + (1.0 - rho) * g;
      avg[i] = ai;
      denom = vi - ai * ai + p.epsilon;
    }
    float step = lr * g / sqrt(denom);
    if (p.has_momentum != 0) {
      step = p.momentum * mom[i] + step;
      mom[i] = step;
    }
    // Skipped at 0, where p - p * 0 would turn -0 into +0 and inf into NaN.
    const float pi = wd_lr != 0.0 ? param[i] - param[i] * wd_lr : param[i];
    param[i] = pi - step;
  }
}
