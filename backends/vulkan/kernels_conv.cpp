// conv2d forward and backward on Vulkan, as im2col + gemm (the CPU backend's
// formulation, so the two agree up to float rounding):
//   conv2d:                 im2col(x) -> col; y_n = W col_n + b (gemm batched over
//                           images, W shared; the bias, and the relu of a fused
//                           relu, in the gemm's epilogue)
//   conv2d_backward_input:  dcol_n = W^T dy_n (gemm); col2im(dcol) -> dx (a gather)
//   conv2d_backward_weight: im2col(x) -> col; P_n = dy_n col_n^T (gemm);
//                           dW = sum_n P_n (reduce_batch)
//   bias_grad:              bias_grad.comp, one workgroup per channel
//
// Scratch: the batch is processed in chunks of images small enough that a
// chunk's columns (and, for the weight gradient, its per-image partials) fit
// kChunkBytes, so the scratch stays bounded whatever max_batch is; each
// chunk is one dispatch per stage (the gemm batched over the chunk's images).
// Layout, for a chunk of I images, R = C*KH*KW, P = OH*OW:
//   conv2d, conv2d_backward_input: [0, I*R*P*4)   columns [I][R][P]
//   conv2d_backward_weight:        [0, I*R*P*4)   columns [I][R][P]
//                                  [round_up(I*R*P*4, 256), + I*OC*R*4)  partials [I][OC][R]
// A 1x1, stride-1, unpadded convolution skips im2col/col2im: x (or dx) is
// the column matrix itself, and needs no column scratch.
// Where the blocked gemm is in use (CPU devices), the direct shaders of
// conv_direct.h run instead (no columns; the weight gradient's partials at
// the start of the scratch).
#include <algorithm>
#include <string>

#include <graphgrad/backends/backend.h>
#include <graphgrad/ops/conv_geometry.h>

#include "conv_direct.h"
#include "gemm.h"
#include <graphgrad/ops/op_table.h>

#include "kernels.h"

namespace gg::vk {
namespace {
using ops::ConvGeometry;

// Each chunk costs 2-3 dispatches. 128 MiB holds a whole batch of 128 for the
// MNIST net's second conv (R = 288, P = 576: 648 KiB of columns per image).
constexpr int64_t kChunkBytes = int64_t(128) << 20;

// Mirrors shaders/im2col.comp and shaders/col2im.comp.
struct ConvPush {
  uint32_t count, c, h, w, kh, kw, oh, ow;
  int32_t stride, pad_top, pad_left;
  uint32_t off;
};
static_assert(sizeof(ConvPush) == 48);
// Mirrors shaders/reduce_batch.comp.
struct ReducePush {
  uint32_t len, batch, accumulate;
};
static_assert(sizeof(ReducePush) == 12);
// Mirrors shaders/bias_grad.comp.
struct BiasGradPush {
  uint32_t n, channels, inner;
};
static_assert(sizeof(BiasGradPush) == 12);





bool direct(const ConvGeometry& g) {
  return g.kh == 1 && g.kw == 1 && g.stride == 1 && g.pad_top == 0 && g.pad_left == 0;
}

int64_t col_bytes_per_image(const ConvGeometry& g) { return direct(g) ? 0 : g.col_rows() * g.out_pixels() * 4; }
int64_t partial_bytes_per_image(const ConvGeometry& g) { return g.oc * g.col_rows() * 4; }

// Images per chunk: as many as fit kChunkBytes, at least 1, at most the batch.
int64_t chunk_images(int64_t per_image_bytes, int64_t batch) {
  const int64_t fit = per_image_bytes > 0 ? std::max<int64_t>(1, kChunkBytes / per_image_bytes) : batch;
  return std::max<int64_t>(1, std::min(fit, batch));
}

// The batch at max_batch: input 0 (x or dy) carries it.
int64_t max_images(const Graph& gr, const Node& n, int64_t max_batch) {
  const int64_t d = gr.node(n.inputs[0]).shape[0];
  return d == kBatch ? max_batch : d;
}

int64_t round_up(int64_t v) { return (v + int64_t(kSliceAlign) - 1) / int64_t(kSliceAlign) * int64_t(kSliceAlign); }

size_t columns_scratch(const Graph& gr, const Node& n, int64_t max_batch) {
  const ConvGeometry g = ops::conv_geometry(n.attrs);
  const int64_t per = col_bytes_per_image(g);
  return static_cast<size_t>(std::max(per * chunk_images(per, max_images(gr, n, max_batch)), conv_direct_scratch(g)));
}

size_t weight_scratch(const Graph& gr, const Node& n, int64_t max_batch) {
  const ConvGeometry g = ops::conv_geometry(n.attrs);
  const int64_t col = col_bytes_per_image(g), part = partial_bytes_per_image(g);
  const int64_t imgs = chunk_images(col + part, max_images(gr, n, max_batch));
  return static_cast<size_t>(round_up(col * imgs) + part * imgs);
}

ConvPush conv_push(const ConvGeometry& g) {
  ConvPush p{};
  p.c = uint32_t(g.c), p.h = uint32_t(g.h), p.w = uint32_t(g.w);
  p.kh = uint32_t(g.kh), p.kw = uint32_t(g.kw), p.oh = uint32_t(g.oh), p.ow = uint32_t(g.ow);
  p.stride = int32_t(g.stride), p.pad_top = int32_t(g.pad_top), p.pad_left = int32_t(g.pad_left);
  return p;
}

// Checks every index the kernel's shaders form fits 32 bits.
void check_sizes(const KernelArgs& a, const ConvGeometry& g, int64_t images, int64_t chunk) {
  u32(a, images * g.c * g.h * g.w);
  u32(a, images * g.oc * g.out_pixels());
  u32(a, g.oc * g.col_rows());
  u32(a, chunk * g.col_rows() * g.out_pixels());
  u32(a, chunk * g.oc * g.col_rows());
}

// inputs: x [N,C,H,W], w [OC,C,KH,KW], b [OC] (optional)
void conv2d_forward(const KernelArgs& a) {
  const ConvGeometry g = ops::conv_geometry(a.node->attrs);
  const int64_t images = a.in_dim(0, 0), r = g.col_rows(), px = g.out_pixels(), x_img = g.c * g.h * g.w;
  if (images == 0) return;
  const bool dir = direct(g);
  const int64_t chunk = chunk_images(col_bytes_per_image(g), images);
  check_sizes(a, g, images, chunk);
  if (conv_direct(a, g)) {
    conv_direct_forward(a, g, images);
    return;
  }
  ConvPush cp = conv_push(g);
  const bool bias = a.node->inputs.size() == 3;
  for (int64_t n0 = 0; n0 < images; n0 += chunk) {
    const int64_t cn = std::min(chunk, images - n0);
    // y_n [OC,P] = W [OC,R] col_n [R,P] (+ b per row), images n0 .. n0+cn of y
    GemmPush gp{.m = uint32_t(g.oc), .n = uint32_t(px), .k = uint32_t(r), .trans_a = 0, .trans_b = 0,
                .batch = uint32_t(cn), .off_a = 0, .off_b = 0, .off_c = uint32_t(n0 * g.oc * px), .stride_a = 0,
                .stride_b = uint32_t(r * px), .stride_c = uint32_t(g.oc * px), .alpha = 1.0f, .beta = 0.0f,
                .bias = bias ? GemmBias::rows : GemmBias::none, .relu = a.relu_epilogue};
    Slice cols = a.in[0];
    if (dir) {
      gp.off_b = uint32_t(n0 * x_img), gp.stride_b = uint32_t(x_img);
    } else {
      cols = a.scratch.sub(0, static_cast<VkDeviceSize>(cn * r * px * 4));
      cp.count = uint32_t(cn * r * px), cp.off = uint32_t(n0 * x_img);
      a.rec->dispatch("im2col", {a.in[0], cols}, cp, groups_for(cp.count, 256, *a.rec));
    }
    record_gemm(a, a.in[1], cols, a.out, gp, bias ? a.in[2] : Slice{});
  }
}

// inputs: dy [N,OC,OH,OW], w [OC,C,KH,KW]
void conv2d_backward_input(const KernelArgs& a) {
  const ConvGeometry g = ops::conv_geometry(a.node->attrs);
  const int64_t images = a.in_dim(0, 0), r = g.col_rows(), px = g.out_pixels(), x_img = g.c * g.h * g.w;
  if (images == 0) return;
  const bool dir = direct(g);
  const int64_t chunk = chunk_images(col_bytes_per_image(g), images);
  check_sizes(a, g, images, chunk);
  if (conv_direct(a, g)) {
    conv_direct_input_grad(a, g, images);
    return;
  }
  ConvPush cp = conv_push(g);
  for (int64_t n0 = 0; n0 < images; n0 += chunk) {
    const int64_t cn = std::min(chunk, images - n0);
    // dcol_n [R,P] = W^T [R,OC] dy_n [OC,P]; direct: dcol_n is dx_n itself.
    GemmPush gp{uint32_t(r), uint32_t(px), uint32_t(g.oc), 1, 0, uint32_t(cn), 0, uint32_t(n0 * g.oc * px), 0,
                0, uint32_t(g.oc * px), uint32_t(r * px), 1.0f, 0.0f};
    if (dir) {
      gp.off_c = uint32_t(n0 * x_img), gp.stride_c = uint32_t(x_img);
      record_gemm(a, a.in[1], a.in[0], a.out, gp);
      continue;
    }
    const Slice dcol = a.scratch.sub(0, static_cast<VkDeviceSize>(cn * r * px * 4));
    record_gemm(a, a.in[1], a.in[0], dcol, gp);
    cp.count = uint32_t(cn * x_img), cp.off = uint32_t(n0 * x_img);
    a.rec->dispatch("col2im", {dcol, a.out}, cp, groups_for(cp.count, 256, *a.rec));
  }
}

// inputs: dy [N,OC,OH,OW], x [N,C,H,W]
void conv2d_backward_weight(const KernelArgs& a) {
  const ConvGeometry g = ops::conv_geometry(a.node->attrs);
  const int64_t images = a.in_dim(0, 0), r = g.col_rows(), px = g.out_pixels(), x_img = g.c * g.h * g.w;
  if (images == 0) {  // an empty sum
    a.rec->fill(a.out, 0);
    return;
  }
  const bool dir = direct(g);
  const int64_t col_bytes = col_bytes_per_image(g);
  const int64_t chunk = chunk_images(col_bytes + partial_bytes_per_image(g), images);
  check_sizes(a, g, images, chunk);
  if (conv_direct(a, g)) {
    // The partials of up to `chunk` images at the start of the scratch (which holds chunk * (columns + partials)).
    for (int64_t n0 = 0; n0 < images; n0 += chunk) {
      const int64_t cn = std::min(chunk, images - n0);
      const Slice partials = a.scratch.sub(0, static_cast<VkDeviceSize>(cn * g.oc * r * 4));
      conv_direct_weight_partials(a, g, n0, cn, partials);
      const ReducePush rp{uint32_t(g.oc * r), uint32_t(cn), n0 > 0};
      a.rec->dispatch("reduce_batch", {partials, a.out}, rp, groups_for(rp.len, 256, *a.rec));
    }
    return;
  }
  const int64_t part_at = round_up(col_bytes * chunk);
  ConvPush cp = conv_push(g);
  for (int64_t n0 = 0; n0 < images; n0 += chunk) {
    const int64_t cn = std::min(chunk, images - n0);
    // P_n [OC,R] = dy_n [OC,P] col_n^T [P,R]
    GemmPush gp{uint32_t(g.oc), uint32_t(r), uint32_t(px), 0, 1, uint32_t(cn), uint32_t(n0 * g.oc * px), 0, 0,
                uint32_t(g.oc * px), uint32_t(r * px), uint32_t(g.oc * r), 1.0f, 0.0f};
    Slice cols = a.in[1];
    if (dir) {
      gp.off_b = uint32_t(n0 * x_img), gp.stride_b = uint32_t(x_img);
    } else {
      cols = a.scratch.sub(0, static_cast<VkDeviceSize>(cn * r * px * 4));
      cp.count = uint32_t(cn * r * px), cp.off = uint32_t(n0 * x_img);
      a.rec->dispatch("im2col", {a.in[1], cols}, cp, groups_for(cp.count, 256, *a.rec));
    }
    const Slice partials = a.scratch.sub(static_cast<VkDeviceSize>(part_at), static_cast<VkDeviceSize>(cn * g.oc * r * 4));
    record_gemm(a, a.in[0], cols, partials, gp);
    // dW (+)= sum over the chunk's images, in image order
    const ReducePush rp{uint32_t(g.oc * r), uint32_t(cn), n0 > 0};
    a.rec->dispatch("reduce_batch", {partials, a.out}, rp, groups_for(rp.len, 256, *a.rec));
  }
}

// db[c] = sum over n and every axis after 1 of dy[n][c][...].
void bias_grad(const KernelArgs& a) {
  const int64_t n = a.in_dim(0, 0), c = a.in_dim(0, 1);
  const int64_t inner = n && c ? a.in_numel(0) / (n * c) : 0;
  u32(a, a.in_numel(0));
  if (c == 0) return;
  if (n == 0 || inner == 0) {
    a.rec->fill(a.out, 0);
    return;
  }
  const BiasGradPush p{uint32_t(n), uint32_t(c), uint32_t(inner)};
  a.rec->dispatch_texels("bias_grad", {a.out}, {a.in[0]}, p, capped(c, a.rec->max_groups(0)));
}

const KernelEntry kEntries[] = {
    {ops::id::conv2d, conv2d_forward, columns_scratch, nullptr},
    {ops::id::conv2d_backward_input, conv2d_backward_input, columns_scratch, nullptr},
    {ops::id::conv2d_backward_weight, conv2d_backward_weight, weight_scratch, nullptr},
    {ops::id::bias_grad, bias_grad, nullptr, nullptr},
};
}  // namespace

KernelTable conv_kernels() { return {std::begin(kEntries), std::end(kEntries)}; }

}  // namespace gg::vk
