#version 450
// SGD with momentum, in place on param and velocity (as the CPU):
//   p -= p * wd_lr;  vel = mu*vel - lr*g;  p += nesterov ? mu*vel - lr*g : vel
// lr and wd_lr are the push constants times lr_scale, read on the device
// (1 when the node has none): recorded command buffers are replayed.
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) buffer BufP { float param[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufG { float grad[]; };
layout(std430, set = 0, binding = 2) buffer BufVel { float vel[]; };
layout(std430, set = 0, binding = 3) readonly buffer BufScale { float lr_scale; };

layout(push_constant) uniform Push {
  uint count;
  float lr, momentum;
  uint nesterov;
  float wd_lr;     // weight_decay * lr, from the host in double
  uint has_scale;  // binding 3 holds lr_scale
} p;

void main() {
  const float scale = p.has_scale != 0 ? lr_scale : 1.0;
  const float lr = p.lr * scale, wd_lr = p.wd_lr * scale;
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    const float g = grad[i];
    const float vi = p.momentum * vel[i] - lr * g;
    vel[i] = vi;
    // Skipped at 0, where p - p * 0 would turn -0 into +0 and inf into NaN.
    const float pi = wd_lr != 0.0 ? param[i] - param[i] * wd_lr : param[i];
    param[i] = pi + (p.nesterov != 0 ? p.momentum * vi - lr * g : vi);
  }
}
