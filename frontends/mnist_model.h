// The Keras tutorial's MNIST CNN, built with the Sequential builder.
#pragma once
#include <memory>

#include "sequential.h"

namespace gg {

// conv 32@3x3 -> relu -> conv 32@3x3 -> relu -> maxpool 2x2 -> dropout 0.25 ->
// flatten -> dense 128 -> relu -> dropout 0.5 -> dense 10 -> softmax
// `input` is one image's shape, [1,28,28] for MNIST.
std::unique_ptr<Sequential> make_mnist_cnn(uint64_t seed = 0, Shape input = Shape{1, 28, 28});

}  // namespace gg
