// The shapes of the Keras MNIST CNN that frontends/mnist_model.cpp builds
// (and ../shared/peers/*_mnist_cnn.* mirror): one place for bench_ops and the
// roofline. bench_train builds the real model and checks these against it.
//
//   x [N,1,28,28] -> conv2d_1 32@3x3 -> [N,32,26,26] -> relu -> conv2d_2 32@3x3
//   -> [N,32,24,24] -> relu -> max_pool 2x2 -> [N,32,12,12] -> dropout 0.25
//   -> flatten [N,4608] -> dense_1 128 -> relu -> dropout 0.5 -> dense_2 10
#pragma once
#include <cstdint>

namespace gg::bench::mnist {

inline constexpr int64_t kImage = 28;     // input is [N,1,28,28]
inline constexpr int64_t kKernel = 3;     // both convolutions are 3x3, stride 1, 'valid'
inline constexpr int64_t kConv1 = 32;     // conv2d_1: 1 -> 32 channels
inline constexpr int64_t kConv2 = 32;     // conv2d_2: 32 -> 32 channels
inline constexpr int64_t kPool = 2;
inline constexpr int64_t kHidden = 128;   // dense_1 units
inline constexpr int64_t kClasses = 10;   // dense_2 units
inline constexpr double kDropout1 = 0.25, kDropout2 = 0.5;

inline constexpr int64_t kConv1Out = kImage - kKernel + 1;     // 26
inline constexpr int64_t kConv2Out = kConv1Out - kKernel + 1;  // 24
inline constexpr int64_t kPoolOut = kConv2Out / kPool;         // 12
inline constexpr int64_t kFlat = kConv2 * kPoolOut * kPoolOut;  // 4608

// The batch sizes every suite runs.
inline constexpr int64_t kBatches[] = {1, 32, 128};

}  // namespace gg::bench::mnist
