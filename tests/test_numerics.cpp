// Training faults: a NaN or infinity stops fit() with a NumericsError; with
// check_numerics the message names the first node whose value is non-finite.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include <graphgrad/frontends/sequential.h>

#include "test_util.h"

using namespace gg;

namespace {
std::unique_ptr<Sequential> small_model() {
  auto m = std::make_unique<Sequential>(Shape{1, 8, 8}, 3);
  m->add(Conv2D{2, {3, 3}});
  m->add(Activation{"relu"});
  m->add(Flatten{});
  m->add(Dense{4});
  m->add(Activation{"relu"});
  m->add(Dense{3});
  m->add(Activation{"softmax"});
  m->compile({.backend_options = {1, {}}});
  return m;
}

Dataset small_data(int64_t n) {
  Dataset d;
  d.item_shape = Shape{1, 8, 8};
  for (int64_t i = 0; i < n * 64; ++i) d.x.push_back(static_cast<float>((i * 37) % 17) / 17.0f);
  for (int64_t i = 0; i < n; ++i) d.y.push_back(static_cast<int32_t>(i % 3));
  return d;
}
}  // namespace

TEST_SUITE("numerics") {
  TEST_CASE("a NaN in the data: the loss check names the step, check_numerics names the input") {
    Dataset d = small_data(8);
    d.x[70] = std::numeric_limits<float>::quiet_NaN();  // image 1
    {
      auto m = small_model();
      const std::string msg = test::error_of<NumericsError>([&] { m->fit(d, {.batch_size = 4, .epochs = 1, .shuffle = false, .verbose = 0}); });
      CHECK_MSG(msg, "step 1");
      CHECK_MSG(msg, "check_numerics");
    }
    auto m = small_model();
    FitOptions fo{.batch_size = 4, .epochs = 1, .shuffle = false, .verbose = 0};
    fo.check_numerics = true;
    const std::string msg = test::error_of<NumericsError>([&] { m->fit(d, fo); });
    CHECK_MSG(msg, "placeholder \"x\"");
    CHECK_MSG(msg, "element 70");
  }

  TEST_CASE("an infinite weight: check_numerics names the first layer that reads it") {
    auto m = small_model();
    const NodeId w = m->graph().at("dense_1/kernel");
    std::vector<float> v(static_cast<size_t>(m->graph().node(w).shape.numel()));
    m->backend().read_variable(w, v);
    v[5] = std::numeric_limits<float>::infinity();
    m->backend().write_variable(w, v);
    FitOptions fo{.batch_size = 4, .epochs = 1, .shuffle = false, .verbose = 0};
    fo.check_numerics = true;
    const std::string msg = test::error_of<NumericsError>([&] { m->fit(small_data(8), fo); });
    CHECK_MSG(msg, "dense \"dense_1\"");
    CHECK(m->step() == 1);  // it stopped after the first step
  }

  TEST_CASE("finite training passes the scan and matches training without it") {
    auto a = small_model(), b = small_model();
    FitOptions fo{.batch_size = 4, .epochs = 2, .shuffle = false, .verbose = 0};
    const auto ha = a->fit(small_data(12), fo);
    fo.check_numerics = true;
    const auto hb = b->fit(small_data(12), fo);
    CHECK(ha.back().loss == hb.back().loss);
  }
}
