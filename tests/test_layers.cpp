// The Sequential layers and losses beyond the tutorial's: every activation,
// Dense/Conv2D with activation= and use_bias=, average pooling, batch
// normalization (moving statistics by Keras's formula, inference on them),
// and each loss and metric against a host computation; the batch-norm CNN
// trained on Vulkan against the CPU.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/frontends/sequential.h>

#include "test_util.h"

using namespace gg;
using gg::test::error_of;

namespace {
std::vector<float> uniform(size_t n, unsigned seed, float lo = -1, float hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

double activation_of(ActivationKind k, double z) {
  switch (k) {
    case ActivationKind::linear: return z;
    case ActivationKind::relu: return z < 0 ? 0 : z;
    case ActivationKind::sigmoid: return 1 / (1 + std::exp(-z));
    case ActivationKind::tanh: return std::tanh(z);
    case ActivationKind::gelu: return 0.5 * z * (1 + std::erf(z / std::sqrt(2.0)));
    case ActivationKind::gelu_tanh: return 0.5 * z * (1 + std::tanh(std::sqrt(2 / M_PI) * (z + 0.044715 * z * z * z)));
    case ActivationKind::silu: return z / (1 + std::exp(-z));
    case ActivationKind::elu: return z > 0 ? z : std::exp(z) - 1;
    case ActivationKind::leaky_relu: return z > 0 ? z : 0.01 * z;
    case ActivationKind::softplus: return std::log1p(std::exp(z));
    case ActivationKind::exponential: return std::exp(z);
    default: return NAN;  // softmax and log_softmax: by rows, below
  }
}

bool is_backend(const char* name) {
  const auto names = backend_names();
  return std::find(names.begin(), names.end(), name) != names.end() && !list_devices(name).empty();
}
}  // namespace

TEST_SUITE("layers") {
  TEST_CASE("every activation layer computes its function, after Dense with and without bias") {
    const int64_t n = 5;
    const std::vector<float> x = uniform(n * 4, 1);
    for (int k = 0; k < static_cast<int>(ActivationKind::count_); ++k) {
      const auto kind = static_cast<ActivationKind>(k);
      for (const bool bias : {true, false}) {
        CAPTURE(activation_name(kind));
        CAPTURE(bias);
        Sequential m(Shape{4}, 3);
        m.add(Dense{.units = 3, .use_bias = bias});
        m.add(Activation(kind));
        m.compile({.loss = LossKind::mse, .backend_options = {1, {}}, .metrics = {}});
        auto w = m.get_weights();
        if (bias) w[1] = {0.3f, -0.2f, 0.1f}, m.set_weights(w);
        const std::vector<float> p = m.predict(x.data(), n, 8);
        for (int64_t i = 0; i < n; ++i) {
          double z[3], row_max = -1e300, sum = 0;
          for (int j = 0; j < 3; ++j) {
            z[j] = bias ? double(w[1][size_t(j)]) : 0.0;
            for (int q = 0; q < 4; ++q) z[j] += double(x[size_t(i * 4 + q)]) * double(w[0][size_t(q * 3 + j)]);
            row_max = std::max(row_max, z[j]);
          }
          for (double v : z) sum += std::exp(v - row_max);
          for (int j = 0; j < 3; ++j) {
            double want = activation_of(kind, z[j]);
            if (kind == ActivationKind::softmax) want = std::exp(z[j] - row_max) / sum;
            if (kind == ActivationKind::log_softmax) want = z[j] - row_max - std::log(sum);
            CHECK(p[size_t(i * 3 + j)] == doctest::Approx(want).epsilon(2e-5));
          }
        }
      }
    }
  }

  TEST_CASE("Dense and Conv2D take activation= as a layer of their own would") {
    const std::vector<float> x = uniform(3 * 36, 2);
    Sequential a(Shape{1, 6, 6}, 11), b(Shape{1, 6, 6}, 11);
    a.add(Conv2D{.filters = 2, .kernel_size = {3, 3}, .activation = ActivationKind::tanh});
    a.add(AveragePooling2D{{2, 2}, 0, PaddingMode::same});
    a.add(GlobalAveragePooling2D{});
    b.add(Conv2D{2, {3, 3}});
    b.add(Activation("tanh"));
    b.add(AveragePooling2D{{2, 2}, 0, PaddingMode::same});
    b.add(GlobalAveragePooling2D{});
    for (Sequential* m : {&a, &b}) m->compile({.loss = LossKind::mse, .backend_options = {1, {}}, .metrics = {}});
    CHECK(a.output_width() == 2);
    CHECK(a.predict(x.data(), 3, 3) == b.predict(x.data(), 3, 3));
    CHECK(a.parameter_count() == b.parameter_count());
  }

  TEST_CASE("BatchNormalization: batch statistics in training, moving ones by Keras's formula, inference on them") {
    const int64_t n = 6, c = 3, hw = 4;
    const std::vector<float> x = uniform(size_t(n * c * hw), 3, -2, 3);
    Sequential m(Shape{c, 2, 2}, 5);
    m.add(BatchNormalization{.momentum = 0.9});
    m.add(Flatten{});
    m.add(Dense{1});
    m.compile({.loss = LossKind::mse, .optimizer = SGD{.lr = 1e-9}, .backend_options = {1, {}}, .metrics = {}});
    const Dataset d = Dataset::with_targets(Shape{c, 2, 2}, x, Shape{1}, std::vector<float>(size_t(n), 0.0f));
    m.fit(d, {.batch_size = int(n), .epochs = 1, .shuffle = false, .verbose = 0});
    const auto w = m.get_weights();  // gamma, beta, moving_mean, moving_variance, dense kernel, dense bias
    REQUIRE(w.size() == 6);
    for (int64_t ch = 0; ch < c; ++ch) {
      double mean = 0, var = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < hw; ++k) mean += x[size_t((i * c + ch) * hw + k)];
      mean /= double(n * hw);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < hw; ++k) var += std::pow(x[size_t((i * c + ch) * hw + k)] - mean, 2);
      var /= double(n * hw);  // biased, as Keras
      CHECK(w[2][size_t(ch)] == doctest::Approx(0.1 * mean).epsilon(1e-5));
      CHECK(w[3][size_t(ch)] == doctest::Approx(0.9 + 0.1 * var).epsilon(1e-5));
    }
    // Inference normalises with the moving statistics: with the moving mean 0
    // and variance 1 - eps, gamma 1 and beta 0, batch norm is the identity.
    auto w2 = w;
    w2[0].assign(size_t(c), 1.0f);
    w2[1].assign(size_t(c), 0.0f);
    w2[2].assign(size_t(c), 0.0f);
    w2[3].assign(size_t(c), float(1 - 1e-3));
    m.set_weights(w2);
    Sequential plain(Shape{c, 2, 2}, 5);
    plain.add(Flatten{});
    plain.add(Dense{1});
    plain.compile({.loss = LossKind::mse, .backend_options = {1, {}}, .metrics = {}});
    plain.set_weights({w[4], w[5]});
    const auto p = m.predict(x.data(), n, 4), q = plain.predict(x.data(), n, 4);
    for (size_t i = 0; i < p.size(); ++i) CHECK(p[i] == doctest::Approx(q[i]).epsilon(1e-5));
  }

  TEST_CASE("BatchNormalization deep in a net: inference on the moving statistics of one batch equals training on it") {
    // momentum 0: the moving statistics become the last batch's; a learning
    // rate of ~0 keeps the weights; so the training-mode loss of that batch
    // and the inference-mode loss on it must agree.
    const int64_t n = 16;
    std::vector<float> x = uniform(size_t(n * 64), 8, 0, 1);
    std::vector<int32_t> y;
    for (int64_t i = 0; i < n; ++i) y.push_back(int32_t(i % 3));
    const Dataset d = Dataset::with_class_ids(Shape{1, 8, 8}, x, y, 3);
    for (const char* backend : {"cpu", "vulkan"}) {
      if (std::string(backend) == "vulkan" && !is_backend("vulkan")) continue;
      CAPTURE(backend);
      Sequential m(Shape{1, 8, 8}, 4);
      m.add(Conv2D{.filters = 5, .kernel_size = {3, 3}, .use_bias = false});
      m.add(BatchNormalization{.momentum = 0.0});
      m.add(Activation("relu"));
      m.add(Conv2D{.filters = 4, .kernel_size = {3, 3}, .padding = PaddingMode::same});
      m.add(BatchNormalization{.momentum = 0.0});
      m.add(Activation("tanh"));
      m.add(Flatten{});
      m.add(Dense{.units = 6, .use_bias = false});
      m.add(BatchNormalization{.momentum = 0.0});
      m.add(Dense{.units = 3, .activation = ActivationKind::softmax});
      m.compile({.loss = LossKind::sparse_categorical_crossentropy, .optimizer = SGD{.lr = 1e-12}, .backend = backend,
                 .backend_options = {1, {}}});
      const double train_loss = m.fit(d, {.batch_size = int(n), .epochs = 1, .shuffle = false, .verbose = 0})[0].loss;
      CHECK(m.evaluate(d, int(n)).loss == doctest::Approx(train_loss).epsilon(1e-4));
    }
  }

  TEST_CASE("training with augmentation is reproducible for a seed, and the same on both backends") {
    const int64_t n = 24;
    std::vector<float> x = uniform(size_t(n * 64), 9, 0, 1);
    std::vector<int32_t> y;
    for (int64_t i = 0; i < n; ++i) y.push_back(int32_t(i % 3));
    const Dataset d = Dataset::with_class_ids(Shape{1, 8, 8}, x, y, 3);
    const Augmentation aug{.height_shift = {-0.2, 0.2}, .width_shift = {-0.2, 0.2}, .rotation = {-20, 20}, .zoom = {-0.2, 0.2}};
    auto run = [&](const std::string& backend, std::optional<Augmentation> a, uint64_t seed) {
      Sequential m(Shape{1, 8, 8}, seed);
      m.add(Conv2D{4, {3, 3}});
      m.add(Activation("relu"));
      m.add(Flatten{});
      m.add(Dense{.units = 3, .activation = ActivationKind::softmax});
      m.compile({.loss = LossKind::sparse_categorical_crossentropy, .backend = backend, .backend_options = {1, {}}});
      m.fit(d, {.batch_size = 8, .epochs = 2, .verbose = 0, .augment = a});
      return m.get_weights();
    };
    const auto a1 = run("cpu", aug, 5), a2 = run("cpu", aug, 5), plain = run("cpu", std::nullopt, 5), other = run("cpu", aug, 6);
    CHECK(a1 == a2);
    CHECK(a1 != plain);
    CHECK(a1 != other);
    if (is_backend("vulkan")) {
      const auto v = run("vulkan", aug, 5);
      double worst = 0;
      for (size_t t = 0; t < v.size(); ++t)
        for (size_t i = 0; i < v[t].size(); ++i) worst = std::max(worst, std::abs(double(v[t][i]) - double(a1[t][i])));
      CHECK(worst < 1e-5);
    }
  }

  TEST_CASE("losses and metrics match a host computation") {
    const int64_t n = 7, k = 4;
    const std::vector<float> x = uniform(size_t(n * 3), 4);
    std::vector<int32_t> ids;
    std::vector<float> onehot(size_t(n * k), 0.0f);
    for (int64_t i = 0; i < n; ++i) ids.push_back(int32_t((i * 3) % k)), onehot[size_t(i * k + ids.back())] = 1;
    auto model = [&](ActivationKind last, Loss loss, std::vector<MetricKind> metrics) {
      auto m = std::make_unique<Sequential>(Shape{3}, 2);
      m->add(Dense{int(k)});
      if (last != ActivationKind::linear) m->add(Activation(last));
      m->compile({.loss = loss, .backend_options = {1, {}}, .metrics = std::move(metrics)});
      return m;
    };
    const Dataset by_id = Dataset::with_class_ids(Shape{3}, x, ids, k);
    const Dataset by_row = Dataset::with_targets(Shape{3}, x, Shape{k}, onehot);

    auto sparse = model(ActivationKind::softmax, LossKind::sparse_categorical_crossentropy, {MetricKind::accuracy});
    auto cat = model(ActivationKind::softmax, LossKind::categorical_crossentropy, {MetricKind::accuracy});
    auto logits = model(ActivationKind::linear, Loss(LossKind::sparse_categorical_crossentropy, true), {MetricKind::accuracy});
    auto unfused = model(ActivationKind::sigmoid, LossKind::sparse_categorical_crossentropy, {});
    const Evaluation a = sparse->evaluate(by_id, 3), b = cat->evaluate(by_row, 3), c = cat->evaluate(by_id, 3),
                     d = logits->evaluate(by_id, 3), e = unfused->evaluate(by_id, 3);
    // Host: softmax cross-entropy and accuracy of the same (identically seeded) weights.
    const std::vector<float> p = sparse->predict(x.data(), n, 8), z = logits->predict(x.data(), n, 8),
                             s = unfused->predict(x.data(), n, 8);
    double xent = 0, hits = 0, nll = 0;
    for (int64_t i = 0; i < n; ++i) {
      xent -= std::log(double(p[size_t(i * k + ids[size_t(i)])]));
      nll -= std::log(std::clamp(double(s[size_t(i * k + ids[size_t(i)])]), 1e-7, 1 - 1e-7));
      hits += std::max_element(p.begin() + i * k, p.begin() + (i + 1) * k) - (p.begin() + i * k) == ids[size_t(i)];
    }
    CHECK(a.loss == doctest::Approx(xent / n).epsilon(1e-5));
    CHECK(b.loss == doctest::Approx(a.loss).epsilon(1e-5));
    CHECK(c.loss == doctest::Approx(a.loss).epsilon(1e-5));
    CHECK(d.loss == doctest::Approx(a.loss).epsilon(1e-5));
    CHECK(e.loss == doctest::Approx(nll / n).epsilon(1e-4));
    CHECK(a.accuracy == doctest::Approx(hits / n));
    CHECK(b.accuracy == a.accuracy);
    CHECK(z.size() == p.size());

    // Binary cross-entropy: fused after a sigmoid, from logits, and composed after another output agree.
    std::vector<float> t = uniform(size_t(n * k), 5, 0, 1);
    const Dataset soft = Dataset::with_targets(Shape{3}, x, Shape{k}, t);
    auto bce = model(ActivationKind::sigmoid, LossKind::binary_crossentropy, {MetricKind::accuracy, MetricKind::mae});
    auto bce_logits = model(ActivationKind::linear, Loss(LossKind::binary_crossentropy, true), {});
    const std::vector<float> q = bce->predict(x.data(), n, 8);
    double want = 0, acc = 0, mae = 0;
    for (size_t i = 0; i < q.size(); ++i) {
      want -= t[i] * std::log(double(q[i])) + (1 - t[i]) * std::log(1 - double(q[i]));
      acc += (q[i] > 0.5f) == (t[i] > 0.5f);
      mae += std::abs(double(q[i]) - double(t[i]));
    }
    const Evaluation f = bce->evaluate(soft, 4), g = bce_logits->evaluate(soft, 4);
    CHECK(f.loss == doctest::Approx(want / double(q.size())).epsilon(1e-5));
    CHECK(g.loss == doctest::Approx(f.loss).epsilon(1e-5));
    REQUIRE(f.values.size() == 3);
    CHECK(f.values[1].first == "accuracy");
    CHECK(f.values[1].second == doctest::Approx(acc / double(q.size())));
    CHECK(f.values[2].first == "mae");
    CHECK(f.values[2].second == doctest::Approx(mae / double(q.size())).epsilon(1e-5));

    // mse and mae of a linear output.
    for (const LossKind kind : {LossKind::mse, LossKind::mae}) {
      auto m = model(ActivationKind::linear, kind, {MetricKind::mae});
      const std::vector<float> o = m->predict(x.data(), n, 8);
      double se = 0, ae = 0;
      for (size_t i = 0; i < o.size(); ++i) se += std::pow(double(o[i]) - t[i], 2), ae += std::abs(double(o[i]) - t[i]);
      const Evaluation ev = m->evaluate(soft, 5);
      CHECK(ev.loss == doctest::Approx((kind == LossKind::mse ? se : ae) / double(o.size())).epsilon(1e-5));
      CHECK(ev.values[1].second == doctest::Approx(ae / double(o.size())).epsilon(1e-5));
    }
    // Data that does not fit the loss is named.
    CHECK_MSG(error_of<GraphError>([&] { sparse->fit(by_row, {.verbose = 0}); }), "sparse_categorical_crossentropy takes class ids");
    auto mse = model(ActivationKind::linear, LossKind::mse, {});
    CHECK_MSG(error_of<GraphError>([&] { mse->fit(by_id, {.verbose = 0}); }), "mse needs float targets");
  }

  TEST_CASE("a batch-norm CNN trains 100 steps on Vulkan as on the CPU" * doctest::skip(!is_backend("vulkan"))) {
    // Tolerance: the loss of every step within 2e-3 relative and the final
    // weights within 2e-3 absolute. Float sums run in another order on the
    // device, and 100 Adam steps carry those differences forward.
    const int64_t n = 64;
    std::vector<float> x = uniform(size_t(n * 64), 6, 0, 1);
    std::vector<int32_t> y;
    for (int64_t i = 0; i < n; ++i) {
      y.push_back(int32_t(i % 5));
      for (int q = 0; q < 64; q += 5 + y.back()) x[size_t(i * 64 + q)] += 1;
    }
    const Dataset d = Dataset::with_class_ids(Shape{1, 8, 8}, x, y, 5);
    auto make = [&](const std::string& backend) {
      auto m = std::make_unique<Sequential>(Shape{1, 8, 8}, 21);
      m->add(Conv2D{.filters = 6, .kernel_size = {3, 3}, .padding = PaddingMode::same, .use_bias = false});
      m->add(BatchNormalization{});
      m->add(Activation("relu"));
      m->add(MaxPooling2D{{2, 2}});
      m->add(Flatten{});
      m->add(Dense{.units = 16, .use_bias = false});
      m->add(BatchNormalization{});
      m->add(Activation("relu"));
      m->add(Dense{5});
      m->add(Activation("softmax"));
      m->compile({.loss = LossKind::sparse_categorical_crossentropy, .backend = backend, .backend_options = {1, {}}});
      return m;
    };
    auto cpu = make("cpu"), gpu = make("vulkan");
    std::vector<double> lc, lg;
    for (int e = 0; e < 12; ++e) {  // 8 steps an epoch (batch 8): 96, then 4 more below
      lc.push_back(cpu->fit(d, {.batch_size = 8, .epochs = 1, .verbose = 0})[0].loss);
      lg.push_back(gpu->fit(d, {.batch_size = 8, .epochs = 1, .verbose = 0})[0].loss);
    }
    const Dataset first32 = Dataset::with_class_ids(Shape{1, 8, 8}, std::vector<float>(x.begin(), x.begin() + 32 * 64),
                                                    std::vector<int32_t>(y.begin(), y.begin() + 32), 5);
    lc.push_back(cpu->fit(first32, {.batch_size = 8, .epochs = 1, .verbose = 0})[0].loss);
    lg.push_back(gpu->fit(first32, {.batch_size = 8, .epochs = 1, .verbose = 0})[0].loss);
    CHECK(cpu->step() == 100);
    CHECK(gpu->step() == 100);
    for (size_t i = 0; i < lc.size(); ++i) CHECK(lg[i] == doctest::Approx(lc[i]).epsilon(2e-3));
    CHECK(lc.back() < 0.5 * lc.front());  // it learns
    const auto wc = cpu->get_weights(), wg = gpu->get_weights();
    double worst = 0;
    for (size_t t = 0; t < wc.size(); ++t)
      for (size_t i = 0; i < wc[t].size(); ++i) worst = std::max(worst, std::abs(double(wc[t][i]) - double(wg[t][i])));
    MESSAGE("worst weight difference after 100 steps: " << worst);
    CHECK(worst < 2e-3);
    const Evaluation ec = cpu->evaluate(d, 16), eg = gpu->evaluate(d, 16);
    CHECK(eg.loss == doctest::Approx(ec.loss).epsilon(2e-3));
  }
}
