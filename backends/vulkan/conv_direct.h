// conv2d and its two gradients as direct convolutions (shaders/conv_*.comp),
// the path for CPU implementations such as lavapipe: no im2col column buffer,
// weights read with uniform addresses, activations gathered through texel
// buffers. GPUs keep im2col + the shared-memory tiled gemm (kernels_conv.cpp).
#pragma once
#include <graphgrad/ops/conv_geometry.h>

#include "kernels.h"

namespace gg::vk {

// True when the direct shaders run this convolution on this device: the
// blocked gemm is in use (gemm_tiled() is false) and the channel blocks fit
// the device's group counts; else the caller records im2col + gemm.
bool conv_direct(const KernelArgs& a, const ops::ConvGeometry& g);

// Scratch bytes the forward and input-gradient shaders need (re-laid weights).
int64_t conv_direct_scratch(const ops::ConvGeometry& g);

// y = conv(x, w) (+ b), through relu when a.relu_epilogue; inputs x, w[, b].
void conv_direct_forward(const KernelArgs& a, const ops::ConvGeometry& g, int64_t images);
// dx; inputs dy, w.
void conv_direct_input_grad(const KernelArgs& a, const ops::ConvGeometry& g, int64_t images);
// The per-image partials of dw for images [n0, n0 + count) into `partials`
// ([count][OC][C*KH*KW]); inputs dy, x.
void conv_direct_weight_partials(const KernelArgs& a, const ops::ConvGeometry& g, int64_t n0, int64_t count,
                                 const Slice& partials);

}  // namespace gg::vk
