// FLOP counts behind every GFLOP/s counter of the benchmarks. A multiply-add
// counts 2; element-wise work counts what the op's flops() in ops/ counts, so
// the sum over a graph's schedule (bench_train checks it) gives the same total.
// Index arithmetic, im2col/col2im copies and hashing count nothing.
#pragma once
#include <cstdint>

#include "mnist_shapes.h"

namespace gg::bench::flops {

// conv2d forward, stride 1, 'valid': each of the N*OC*OH*OW outputs is a dot
// product of length C*KH*KW (the im2col GEMM  W[OC,C*KH*KW] x col[C*KH*KW,OH*OW]).
inline double conv2d_forward(int64_t n, int64_t c, int64_t oc, int64_t k, int64_t oh, int64_t ow) {
  return 2.0 * double(n) * double(oc) * double(c * k * k) * double(oh * ow);
}
// conv2d_backward_input: dcol = W^T dy per image, the same multiply-adds as the
// forward GEMM transposed (col2im's additions are not counted).
inline double conv2d_backward_input(int64_t n, int64_t c, int64_t oc, int64_t k, int64_t oh, int64_t ow) {
  return conv2d_forward(n, c, oc, k, oh, ow);
}
// conv2d_backward_weight: dW = sum_n dy_n col_n^T, again the same multiply-adds.
inline double conv2d_backward_weight(int64_t n, int64_t c, int64_t oc, int64_t k, int64_t oh, int64_t ow) {
  return conv2d_forward(n, c, oc, k, oh, ow);
}
// bias_grad: one addition per element of dy.
inline double bias_grad(int64_t dy_elements) { return double(dy_elements); }

// dense forward y = x W + b: a [N,in] x [in,out] GEMM (the bias is added by
// pre-filling y, not counted).
inline double dense_forward(int64_t n, int64_t in, int64_t out) { return 2.0 * double(n) * double(in) * double(out); }
// dense backward, as autodiff writes it: dx = dy W^T and dW = x^T dy (two
// GEMMs of the forward's size) plus db = sum over N of dy.
inline double dense_backward(int64_t n, int64_t in, int64_t out, bool needs_dx) {
  return (needs_dx ? 2.0 : 1.0) * dense_forward(n, in, out) + bias_grad(n * out);
}

// max_pool2d forward: one comparison per input element.
inline double max_pool2d_forward(int64_t x_elements) { return double(x_elements); }
// max_pool2d_backward: one comparison per input element (the arg-max is found again).
inline double max_pool2d_backward(int64_t x_elements) { return double(x_elements); }

// relu and relu_backward: one comparison (select) per element.
inline double relu(int64_t elements) { return double(elements); }
// dropout and its gradient (the same op on dy): one multiply per element.
inline double dropout(int64_t elements) { return double(elements); }

// softmax_cross_entropy forward: max, subtract, exp and sum per logit.
inline double softmax_cross_entropy_forward(int64_t logits) { return 4.0 * double(logits); }
// softmax_cross_entropy_backward: the softmax again (3) and the scaled
// difference with the one-hot label (1) per logit.
inline double softmax_cross_entropy_backward(int64_t logits) { return 4.0 * double(logits); }
// softmax (the inference path's probabilities): max/subtract, exp, divide per logit.
inline double softmax(int64_t logits) { return 3.0 * double(logits); }

// adam_update: ~10 operations per parameter (two moment updates, sqrt, divide, step).
inline double adam_update(int64_t params) { return 10.0 * double(params); }

// The whole MNIST net (mnist_shapes.h) at batch n.
namespace detail {
using namespace gg::bench::mnist;
inline double conv1(int64_t n) { return conv2d_forward(n, 1, kConv1, kKernel, kConv1Out, kConv1Out); }
inline double conv2(int64_t n) { return conv2d_forward(n, kConv1, kConv2, kKernel, kConv2Out, kConv2Out); }
inline int64_t act1(int64_t n) { return n * kConv1 * kConv1Out * kConv1Out; }
inline int64_t act2(int64_t n) { return n * kConv2 * kConv2Out * kConv2Out; }
inline int64_t pooled(int64_t n) { return n * kFlat; }
inline double forward_common(int64_t n) {
  return conv1(n) + relu(act1(n)) + conv2(n) + relu(act2(n)) + max_pool2d_forward(act2(n)) + dense_forward(n, kFlat, kHidden) +
         relu(n * kHidden) + dense_forward(n, kHidden, kClasses);
}
inline int64_t parameters() {
  return kConv1 * kKernel * kKernel + kConv1 + kConv2 * kConv1 * kKernel * kKernel + kConv2 + kFlat * kHidden + kHidden +
         kHidden * kClasses + kClasses;
}
}  // namespace detail

// One inference step (the predict path: no dropout, softmax probabilities).
inline double mnist_infer_step(int64_t n) { return detail::forward_common(n) + softmax(n * mnist::kClasses); }

// One training step: forward with dropout and the fused loss, every gradient
// autodiff creates (conv2d_1 takes no input gradient: x is data), and Adam.
inline double mnist_train_step(int64_t n) {
  using namespace detail;
  const double forward = forward_common(n) + dropout(pooled(n)) + dropout(n * kHidden) +
                         softmax_cross_entropy_forward(n * kClasses);
  const double backward = softmax_cross_entropy_backward(n * kClasses) + dense_backward(n, kHidden, kClasses, true) +
                          dropout(n * kHidden) + relu(n * kHidden) + dense_backward(n, kFlat, kHidden, true) +
                          dropout(pooled(n)) + max_pool2d_backward(act2(n)) + relu(act2(n)) +
                          conv2d_backward_input(n, kConv1, kConv2, kKernel, kConv2Out, kConv2Out) +
                          conv2d_backward_weight(n, kConv1, kConv2, kKernel, kConv2Out, kConv2Out) + bias_grad(act2(n)) +
                          relu(act1(n)) + conv2d_backward_weight(n, 1, kConv1, kKernel, kConv1Out, kConv1Out) +
                          bias_grad(act1(n));
  return forward + backward + adam_update(parameters());
}

}  // namespace gg::bench::flops
