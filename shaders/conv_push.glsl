// The push constants of the direct convolution shaders (conv_forward.comp,
// conv_input_grad.comp, conv_weight_grad.comp); mirrors DirectPush in
// backends/vulkan/conv_direct.cpp.
layout(push_constant) uniform Push {
  uint n, c, h, w;           // x [n, c, h, w]
  uint oc, kh, kw, oh, ow;   // w [oc, c, kh, kw], y [n, oc, oh, ow]
  int stride, pad_top, pad_left;
  uint bias;                 // conv_forward: add b[oc]
  uint off;                  // conv_weight_grad: the first image of the run
  uint inside;               // every tap of every output lies inside x (no padding on any side)
  uint relu;                 // conv_forward: relu the output as it is written (a fused relu)
} p;

// A 1-D block index over a 2-D grid (x, z), so a count past the device's
// maxComputeWorkGroupCount[0] still runs in one dispatch.
uint block_index() { return gl_WorkGroupID.z * gl_NumWorkGroups.x + gl_WorkGroupID.x; }
