#version 450
// SGD with momentum, in place on param and velocity (as the CPU):
//   vel = mu*vel - lr*g;  p += nesterov ? mu*vel - lr*g : vel
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) buffer BufP { float param[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufG { float grad[]; };
layout(std430, set = 0, binding = 2) buffer BufVel { float vel[]; };

layout(push_constant) uniform Push {
  uint count;
  float lr, momentum;
  uint nesterov;
} p;

void main() {
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    const float g = grad[i];
    const float vi = p.momentum * vel[i] - p.lr * g;
    vel[i] = vi;
    param[i] += p.nesterov != 0 ? p.momentum * vi - p.lr * g : vi;
  }
}
