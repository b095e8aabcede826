// The model zoo for 28x28 grayscale digits (MNIST, Fashion-MNIST), built with
// the Sequential builder:
//  - keras-cnn: the Keras tutorial's CNN (the default; unchanged, bit for bit);
//  - lenet5: LeCun et al. 1998 (tanh, average pooling), C1 padded to keep 28x28;
//  - bn-cnn: two conv blocks with batch normalization, for >= 99.5% with augmentation;
//  - mlp: Keras's mnist_mlp example (two 512-unit layers with dropout).
#pragma once
#include <memory>
#include <string_view>

#include "sequential.h"

namespace gg {

enum class ZooModel { keras_cnn, lenet5, bn_cnn, mlp, count_ };
std::string_view zoo_name(ZooModel m);             // "keras-cnn", ...
ZooModel zoo_from_name(std::string_view name);     // throws GraphError listing the names

// `input` is one image's shape, [1,28,28] for MNIST. Each ends in a softmax over `classes`.
std::unique_ptr<Sequential> make_model(ZooModel m, uint64_t seed = 0, Shape input = Shape{1, 28, 28}, int classes = 10);

// conv 32@3x3 -> relu -> conv 32@3x3 -> relu -> maxpool 2x2 -> dropout 0.25 ->
// flatten -> dense 128 -> relu -> dropout 0.5 -> dense 10 -> softmax
std::unique_ptr<Sequential> make_mnist_cnn(uint64_t seed = 0, Shape input = Shape{1, 28, 28});

}  // namespace gg
