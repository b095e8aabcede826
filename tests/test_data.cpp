// The data pipeline: datasets from a user's arrays (and their errors), the
// validation split, the batch iterator (fit()'s shuffle and rank shares) and
// on-the-fly image augmentation.
#include <doctest/doctest.h>

#include <graphgrad/frontends/augment.h>
#include <graphgrad/frontends/batches.h>
#include <graphgrad/frontends/dataset.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "test_util.h"

using namespace gg;
using gg::test::error_of;

namespace {

std::vector<float> ramp(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

std::vector<float> random_floats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = u(rng);
  return v;
}

// n items of [1,2,2] holding 4*i .. 4*i+3, class id i % 3.
Dataset small_classes(int64_t n) {
  std::vector<int32_t> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) y[static_cast<size_t>(i)] = static_cast<int32_t>(i % 3);
  return Dataset::with_class_ids(Shape{1, 2, 2}, ramp(4 * n), std::move(y));
}

// error_of's result held before CHECK_MSG: its INFO would run error_of again on a failure.
template <class E, class F>
void check_error(F&& f, const std::string& part) {
  const std::string msg = error_of<E>(std::forward<F>(f));
  CHECK_MSG(msg, part);
}

bool same_bytes(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// fit()'s order, as written there: iota once, shuffled in place every epoch.
std::vector<std::vector<int64_t>> reference_orders(int64_t n, uint64_t seed, int epochs) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::vector<std::vector<int64_t>> out;
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    std::mt19937_64 rng(seed * 1000003ULL + static_cast<uint64_t>(epoch));
    std::shuffle(order.begin(), order.end(), rng);
    out.push_back(order);
  }
  return out;
}

std::vector<float> augment_one(const Augmenter& a, const std::vector<float>& img, int epoch = 1, int64_t index = 0) {
  std::vector<float> out(img.size(), -7.0f);
  a.apply(img.data(), out.data(), epoch, index);
  return out;
}

}  // namespace

TEST_SUITE("data_pipeline") {

TEST_CASE("dataset factories: class ids, float targets, unlabeled, any item shape") {
  const Dataset c = Dataset::with_class_ids(Shape{3}, ramp(12), {0, 2, 1, 2}, 3);
  CHECK(c.size() == 4);
  CHECK(c.labels() == LabelKind::class_ids);
  CHECK(c.item_floats() == 3);

  const float* before = nullptr;
  std::vector<float> items = ramp(5 * 6);
  before = items.data();
  const Dataset t = Dataset::with_targets(Shape{2, 3}, std::move(items), Shape{2}, ramp(10));
  CHECK(t.size() == 5);
  CHECK(t.labels() == LabelKind::targets);
  CHECK(t.x.data() == before);  // moved in, not copied
  CHECK(t.target_at(3)[1] == 7.0f);

  const Dataset u = Dataset::unlabeled(Shape{1, 2, 2}, ramp(8));
  CHECK(u.size() == 2);
  CHECK(u.labels() == LabelKind::none);

  // to_dataset() still keeps bytes with class ids.
  data::MnistSplit split{.count = 2, .rows = 1, .cols = 2, .images = {0, 255, 51, 102}, .labels = {3, 4}};
  const Dataset p = to_dataset(split);
  CHECK(p.size() == 2);
  CHECK(p.pixels.size() == 4);
  p.validate();
}

TEST_CASE("dataset factories name what mismatches") {
  std::string msg = error_of<DataError>([] {
    Dataset::with_class_ids(Shape{1, 28, 28}, std::vector<float>(783999), std::vector<int32_t>(1000));
  });
  CHECK(msg == "Dataset: 1000 items of [1,28,28] need 784000 values, got 783999");
  msg = error_of<DataError>([] { Dataset::with_targets(Shape{4}, ramp(40), Shape{10}, ramp(90)); });
  CHECK_MSG(msg, "10 items of [4] but 9 targets of [10] (90 values)");
  msg = error_of<DataError>([] { Dataset::with_targets(Shape{4}, ramp(40), Shape{10}, ramp(95)); });
  CHECK_MSG(msg, "95 target values are not a whole number of targets of [10]");
  msg = error_of<DataError>([] { Dataset::with_class_ids(Shape{2}, ramp(6), {0, -1, 2}); });
  CHECK_MSG(msg, "item 1 has class id -1");
  msg = error_of<DataError>([] { Dataset::with_class_ids(Shape{2}, ramp(6), {0, 1, 3}, 3); });
  CHECK_MSG(msg, "item 2 has class id 3, but there are 3 classes");
  msg = error_of<DataError>([] { Dataset::unlabeled(Shape{1, 0, 2}, {}); });
  CHECK_MSG(msg, "item shape [1,0,2] needs every dimension >= 1");
  msg = error_of<DataError>([] { Dataset::unlabeled(Shape{1, 28, 28}, std::vector<float>(785)); });
  CHECK_MSG(msg, "785 values are not a whole number of items of [1,28,28] (784 values each)");
  msg = error_of<DataError>([] { Dataset::unlabeled(Shape{3}, {}); });
  CHECK_MSG(msg, "no items");
  msg = error_of<DataError>([] { Dataset::with_targets(Shape{2}, ramp(4), Shape{kBatch, 2}, ramp(4)); });
  CHECK_MSG(msg, "target shape [N,2]");
  // validate() on a hand-built data set.
  Dataset both = small_classes(3);
  both.pixels.assign(both.x.size(), 0);
  check_error<DataError>([&] { both.validate("fit()"); }, "fit(): the data set holds both f32 items");
  Dataset two_labels = small_classes(3);
  two_labels.targets = ramp(3);
  check_error<DataError>([&] { two_labels.validate(); }, "both class ids (y) and float targets");
}

TEST_CASE("dataset split_validation takes the last fraction, Keras's count, copying only the tail") {
  Dataset d = small_classes(10);
  const float* x_before = d.x.data();
  TrainValidation tv = split_validation(std::move(d), 0.2);
  CHECK(tv.train.size() == 8);
  CHECK(tv.validation.size() == 2);
  CHECK(tv.train.x.data() == x_before);  // the head stayed where it was
  CHECK(tv.validation.x == std::vector<float>{32, 33, 34, 35, 36, 37, 38, 39});
  CHECK(tv.validation.y == std::vector<int32_t>{2, 0});
  CHECK(tv.validation.item_shape == Shape{1, 2, 2});
  tv.train.validate();
  tv.validation.validate();

  // Keras: split_at = floor(7 * (1 - 0.3)) = floor(4.8999...) = 4.
  TrainValidation k = split_validation(small_classes(7), 0.3);
  CHECK(k.train.size() == 4);
  CHECK(k.validation.size() == 3);

  // Bytes and targets are cut the same way.
  data::MnistSplit split{.count = 4, .rows = 1, .cols = 2, .images = {1, 2, 3, 4, 5, 6, 7, 8}, .labels = {0, 1, 2, 3}};
  TrainValidation p = split_validation(to_dataset(split), 0.5);
  CHECK(p.validation.pixels == std::vector<uint8_t>{5, 6, 7, 8});
  CHECK(p.train.pixels == std::vector<uint8_t>{1, 2, 3, 4});
  TrainValidation t = split_validation(Dataset::with_targets(Shape{1}, ramp(4), Shape{2}, ramp(8)), 0.25);
  CHECK(t.validation.targets == std::vector<float>{6, 7});
  CHECK(t.train.targets.size() == 6);

  check_error<DataError>([] { split_validation(small_classes(4), 1.0); }, "fraction 1 must lie in (0, 1)");
  check_error<DataError>([] { split_validation(small_classes(4), std::nan("")); }, "must lie in (0, 1)");
  check_error<DataError>([] { split_validation(small_classes(1), 0.5); }, "1 items are too few to split a fraction 0.5 off: the training part would be empty");
  check_error<DataError>([] { split_validation(small_classes(3), 1e-17); }, "the validation part would be empty");
}

TEST_CASE("batch order equals fit()'s shuffle; every sample once per epoch") {
  const Dataset d = small_classes(23);
  for (uint64_t seed : {0ULL, 7ULL, 123456789ULL}) {
    const auto ref = reference_orders(23, seed, 4);
    BatchIterator it(d, {.batch_size = 5, .seed = seed});
    CHECK(it.steps() == 5);
    for (int epoch = 1; epoch <= 4; ++epoch) {
      it.start_epoch(epoch);
      std::vector<int64_t> seen;
      for (int64_t s = 0; s < it.steps(); ++s) {
        const BatchStep b = it.step(s);
        CHECK(b.global_size == (s < 4 ? 5 : 3));
        CHECK(b.weight == 1.0f);
        seen.insert(seen.end(), b.indices.begin(), b.indices.end());
      }
      CHECK(seen == ref[static_cast<size_t>(epoch - 1)]);
      std::vector<int64_t> sorted = seen;
      std::sort(sorted.begin(), sorted.end());
      std::vector<int64_t> all(23);
      std::iota(all.begin(), all.end(), 0);
      CHECK(sorted == all);
    }
  }
  // An epoch reached directly (a resumed run) has the order it has after the epochs before it.
  for (int epoch : {3, 1, 4, 2}) {
    BatchIterator jump(d, {.batch_size = 5, .seed = 7});
    jump.start_epoch(epoch);
    const auto ref = reference_orders(23, 7, 4);
    CHECK(std::vector<int64_t>(jump.order().begin(), jump.order().end()) == ref[static_cast<size_t>(epoch - 1)]);
  }
  // Without shuffle the order stays 0, 1, 2, ...
  BatchIterator plain(d, {.batch_size = 4, .shuffle = false, .seed = 9});
  plain.start_epoch(3);
  CHECK(plain.epoch() == 3);
  CHECK(plain.step(1).indices[0] == 4);
  // A batch larger than the data set is the data set, as in fit().
  BatchIterator big(d, {.batch_size = 1000});
  CHECK(big.batch_size() == 23);
  CHECK(big.steps() == 1);
}

TEST_CASE("batch shares of the ranks partition the global batch; a rank without a sample gets weight 0") {
  const Dataset d = small_classes(10);
  for (int ranks : {1, 2, 3, 4, 7}) {
    std::vector<BatchIterator> its;
    for (int r = 0; r < ranks; ++r) its.emplace_back(d, BatchOptions{.batch_size = 4, .seed = 5, .rank = r, .ranks = ranks});
    for (auto& it : its) it.start_epoch(2);
    for (int64_t s = 0; s < its[0].steps(); ++s) {
      std::vector<int64_t> joined;
      float weights = 0;
      const BatchStep first = its[0].step(s);
      for (int r = 0; r < ranks; ++r) {
        const BatchStep b = its[static_cast<size_t>(r)].step(s);
        INFO("ranks " << ranks << " rank " << r << " step " << s);
        CHECK(b.global_size == first.global_size);
        CHECK(b.first == b.global_size * r / ranks);
        CHECK(b.fed <= its[0].capacity());
        CHECK(b.indices.size() == static_cast<size_t>(b.fed));
        weights += b.weight;
        if (b.count == 0) {
          // fit()'s rule: one row, the global batch's first sample, weight 0.
          CHECK(b.fed == 1);
          CHECK(b.weight == 0.0f);
          CHECK(b.indices[0] == its[0].order()[static_cast<size_t>(b.global_first)]);
        } else {
          CHECK(b.weight == doctest::Approx(double(b.count) / double(b.global_size)));
          joined.insert(joined.end(), b.indices.begin(), b.indices.end());
        }
      }
      const auto order = its[0].order();
      CHECK(joined == std::vector<int64_t>(order.begin() + first.global_first,
                                           order.begin() + first.global_first + first.global_size));
      CHECK(weights == doctest::Approx(1.0));
    }
  }
  // The last batch of 10 by 4 holds 2 samples: with 3 ranks, rank 0 has none.
  BatchIterator r0(d, {.batch_size = 4, .rank = 0, .ranks = 3});
  CHECK(r0.step(2).count == 0);
  CHECK(r0.capacity() == 2);
  check_error<DataError>([&] { BatchIterator(d, {.rank = 3, .ranks = 3}); }, "rank 3 of 3 ranks");
  check_error<DataError>([&] { BatchIterator(d, {.batch_size = 0}); }, "batch_size 0");
}

TEST_CASE("batch fills items, class ids and targets into the caller's buffers") {
  data::MnistSplit split{.count = 3, .rows = 1, .cols = 2, .images = {0, 255, 51, 102, 7, 9}, .labels = {3, 4, 5}};
  const Dataset p = to_dataset(split);
  BatchIterator it(p, {.batch_size = 2, .seed = 1});
  it.start_epoch(1);
  std::vector<float> xb(static_cast<size_t>(it.capacity() * p.item_floats()));
  std::vector<int32_t> yb(static_cast<size_t>(it.capacity()));
  const BatchStep b = it.step(0);
  it.fill_items(b, xb);
  it.fill_class_ids(b, yb);
  for (int64_t i = 0; i < b.fed; ++i) {
    const int64_t k = b.indices[static_cast<size_t>(i)];
    std::vector<float> want(2);
    p.copy_items(k, 1, want.data());
    CHECK(xb[static_cast<size_t>(2 * i)] == want[0]);
    CHECK(xb[static_cast<size_t>(2 * i + 1)] == want[1]);
    CHECK(yb[static_cast<size_t>(i)] == p.y[static_cast<size_t>(k)]);
  }
  check_error<DataError>([&] { it.fill_targets(b, xb); }, "no float targets");
  check_error<DataError>([&] { it.fill_items(b, std::span<float>(xb).first(3)); }, "holds 3 values, the step needs 4");

  const Dataset t = Dataset::with_targets(Shape{1}, ramp(3), Shape{2}, ramp(6));
  BatchIterator tt(t, {.batch_size = 3, .shuffle = false});
  std::vector<float> tb(6);
  tt.fill_targets(tt.step(0), tb);
  CHECK(tb == ramp(6));
  check_error<DataError>([&] { std::vector<int32_t> ids(3); tt.fill_class_ids(tt.step(0), ids); }, "no class ids");
}

TEST_CASE("augment is reproducible per (seed, epoch, sample index) and nothing else") {
  const Augmentation spec{.height_shift = {-0.2, 0.2}, .width_shift = {-0.2, 0.2}, .rotation = {-30, 30}, .zoom = {-0.2, 0.2}};
  const Augmenter a(spec, Shape{2, 12, 10}, 42), same(spec, Shape{2, 12, 10}, 42), other_seed(spec, Shape{2, 12, 10}, 43);
  const std::vector<float> img = random_floats(240, 3);
  const auto base = augment_one(a, img, 3, 17);
  CHECK(same_bytes(base, augment_one(same, img, 3, 17)));
  CHECK_FALSE(same_bytes(base, augment_one(a, img, 4, 17)));
  CHECK_FALSE(same_bytes(base, augment_one(a, img, 3, 18)));
  CHECK_FALSE(same_bytes(base, augment_one(other_seed, img, 3, 17)));
  CHECK_FALSE(same_bytes(base, img));
  // Every draw lies within its bounds, and they vary.
  std::set<double> angles;
  for (int64_t i = 0; i < 200; ++i) {
    const ImageTransform t = a.transform_of(1, i);
    CHECK(std::abs(t.shift_y) <= 0.2 * 12);
    CHECK(std::abs(t.shift_x) <= 0.2 * 10);
    CHECK(std::abs(t.degrees) <= 30);
    CHECK(std::abs(t.zoom) <= 0.2);
    angles.insert(t.degrees);
  }
  CHECK(angles.size() == 200);
  // Both channels get the same transform: equal channels stay equal.
  std::vector<float> twin(240);
  std::copy_n(img.begin(), 120, twin.begin());
  std::copy_n(img.begin(), 120, twin.begin() + 120);
  const auto out = augment_one(a, twin, 1, 5);
  CHECK(std::equal(out.begin(), out.begin() + 120, out.begin() + 120));
}

TEST_CASE("augment with zero bounds copies every bit") {
  std::vector<float> img = random_floats(3 * 7 * 5, 11);
  img[3] = -0.0f;
  img[4] = std::numeric_limits<float>::infinity();
  img[5] = std::numeric_limits<float>::quiet_NaN();
  const Augmenter a({}, Shape{3, 7, 5}, 1);
  CHECK(same_bytes(augment_one(a, img, 2, 9), img));
  // Through the batch iterator: the same bytes as without augmentation.
  const Dataset d = Dataset::unlabeled(Shape{3, 7, 5}, img);
  BatchIterator plain(d, {.batch_size = 1}), aug(d, {.batch_size = 1, .augment = Augmentation{}});
  std::vector<float> p(img.size()), q(img.size());
  plain.fill_items(plain.step(0), p);
  aug.fill_items(aug.step(0), q);
  CHECK(same_bytes(p, q));
}

TEST_CASE("augment shift moves a bright pixel by the given amount; fill modes") {
  std::vector<float> img(8 * 8, 0.0f);
  img[3 * 8 + 3] = 1.0f;
  // 0.25 of 8 rows down, 0.125 of 8 columns left: (3,3) -> (5,2).
  const Augmenter a({.height_shift = {0.25, 0.25}, .width_shift = {-0.125, -0.125}}, Shape{1, 8, 8}, 0);
  const auto out = augment_one(a, img);
  CHECK(out[5 * 8 + 2] == 1.0f);
  CHECK(std::accumulate(out.begin(), out.end(), 0.0f) == 1.0f);
  // Half a pixel right: bilinear splits it in two.
  const Augmenter half({.width_shift = {0.0625, 0.0625}}, Shape{1, 8, 8}, 0);
  const auto h = augment_one(half, img);
  CHECK(h[3 * 8 + 3] == 0.5f);
  CHECK(h[3 * 8 + 4] == 0.5f);

  // Two columns right on a row 1 2 3 4: what the two uncovered columns read.
  const std::vector<float> row{1, 2, 3, 4};
  const Augmentation shift2{.width_shift = {0.5, 0.5}};
  Augmentation m = shift2;
  CHECK(augment_one(Augmenter(m, Shape{1, 1, 4}, 0), row) == std::vector<float>{0, 0, 1, 2});
  m.fill_value = 9;
  CHECK(augment_one(Augmenter(m, Shape{1, 1, 4}, 0), row) == std::vector<float>{9, 9, 1, 2});
  m.fill_mode = FillMode::nearest;
  CHECK(augment_one(Augmenter(m, Shape{1, 1, 4}, 0), row) == std::vector<float>{1, 1, 1, 2});
  m.fill_mode = FillMode::reflect;
  CHECK(augment_one(Augmenter(m, Shape{1, 4}, 0), row) == std::vector<float>{2, 1, 1, 2});
}

TEST_CASE("augment rotation by 90 degrees turns an asymmetric image counter-clockwise") {
  std::vector<float> img(25);
  for (int i = 0; i < 25; ++i) img[static_cast<size_t>(i)] = float(i * i % 17) + 0.25f * float(i);  // no symmetry
  const auto ccw = augment_one(Augmenter({.rotation = {90, 90}}, Shape{1, 5, 5}, 0), img);
  const auto cw = augment_one(Augmenter({.rotation = {-90, -90}}, Shape{1, 5, 5}, 0), img);
  for (int r = 1; r < 4; ++r)
    for (int c = 1; c < 4; ++c) {
      INFO("r " << r << " c " << c);
      // Counter-clockwise: the top row becomes the left column, read upwards.
      CHECK(ccw[size_t(r * 5 + c)] == img[size_t(c * 5 + (4 - r))]);
      CHECK(cw[size_t(r * 5 + c)] == img[size_t((4 - c) * 5 + r)]);
    }
  // The corner pixel's way: top-left ends bottom-left.
  CHECK(ccw[20] == img[0]);
}

TEST_CASE("augment zoom in enlarges a centered square, zoom out shrinks it") {
  std::vector<float> img(81, 0.0f);
  for (int r = 3; r <= 5; ++r)
    for (int c = 3; c <= 5; ++c) img[size_t(r * 9 + c)] = 1.0f;
  auto full = [](const std::vector<float>& v) { return std::count(v.begin(), v.end(), 1.0f); };
  const auto in = augment_one(Augmenter({.zoom = {-0.5, -0.5}}, Shape{1, 9, 9}, 0), img);  // 2x
  CHECK(full(in) == 25);  // rows and columns 2..6
  for (int r = 2; r <= 6; ++r)
    for (int c = 2; c <= 6; ++c) CHECK(in[size_t(r * 9 + c)] == 1.0f);
  CHECK(in[1 * 9 + 4] == 0.5f);  // the edge, half covered
  CHECK(in[0] == 0.0f);
  const auto out = augment_one(Augmenter({.zoom = {1.0, 1.0}}, Shape{1, 9, 9}, 0), img);  // half size
  CHECK(out[4 * 9 + 4] == 1.0f);
  CHECK(std::accumulate(out.begin(), out.end(), 0.0f) < 9.0f);
}

TEST_CASE("augment of a sample is the same alone, inside any batch, on any rank, from bytes or floats") {
  data::MnistSplit split{.count = 12, .rows = 6, .cols = 6, .images = std::vector<uint8_t>(12 * 36), .labels = std::vector<uint8_t>(12)};
  std::mt19937 rng(5);
  for (auto& b : split.images) b = uint8_t(rng() % 256);
  const Dataset bytes = to_dataset(split);
  std::vector<float> xs(bytes.pixels.size());
  bytes.copy_items(0, 12, xs.data());
  const Dataset floats = Dataset::unlabeled(Shape{1, 6, 6}, xs);
  const Augmentation spec{.height_shift = {-0.3, 0.3}, .rotation = {-45, 45}, .zoom = {-0.3, 0.4}, .fill_mode = FillMode::reflect};
  const Augmenter a(spec, Shape{1, 6, 6}, 99);

  const int64_t k = 7;
  std::vector<float> alone(36), in_batch(4 * 36), from_floats(36);
  const int64_t one[] = {k}, batch[] = {3, 11, k, 0};
  a.apply_batch(bytes, one, 2, alone.data());
  a.apply_batch(bytes, batch, 2, in_batch.data());
  a.apply_batch(floats, one, 2, from_floats.data());
  CHECK(std::memcmp(alone.data(), in_batch.data() + 2 * 36, 36 * sizeof(float)) == 0);
  CHECK(std::memcmp(alone.data(), from_floats.data(), 36 * sizeof(float)) == 0);

  // Through the iterator, 1 rank against 3: every sample's rows agree.
  auto rows_by_sample = [&](int ranks, int64_t batch_size) {
    std::vector<std::vector<float>> got(12);
    for (int r = 0; r < ranks; ++r) {
      BatchIterator it(bytes, {.batch_size = batch_size, .seed = 99, .rank = r, .ranks = ranks, .augment = spec});
      it.start_epoch(2);
      std::vector<float> buf(static_cast<size_t>(it.capacity() * 36));
      for (int64_t s = 0; s < it.steps(); ++s) {
        const BatchStep b = it.step(s);
        it.fill_items(b, buf);
        for (int64_t i = 0; i < b.count; ++i)
          got[size_t(b.indices[size_t(i)])].assign(buf.begin() + i * 36, buf.begin() + (i + 1) * 36);
      }
    }
    return got;
  };
  const auto ref = rows_by_sample(1, 12);
  CHECK(ref == rows_by_sample(3, 5));
  CHECK(ref == rows_by_sample(2, 1));
  CHECK(ref[size_t(k)] == alone);
}

TEST_CASE("augment rejects bad bounds, naming the parameter") {
  const Shape s{1, 8, 8};
  auto check_bad = [&](const Augmentation& a, const std::string& part) { check_error<DataError>([&] { Augmenter(a, s, 0); }, part); };
  check_bad({.height_shift = {-1.5, 0}}, "height_shift bounds [-1.5, 0]");
  check_bad({.width_shift = {0.3, 0.1}}, "width_shift bounds [0.3, 0.1] (fraction of the width): the lower bound exceeds");
  check_bad({.rotation = {0, 200}}, "rotation bounds [0, 200] (degrees): must lie in [-180, 180]");
  check_bad({.zoom = {-1, 0}}, "zoom bounds [-1, 0] (RandomZoom factor): must be > -1");
  check_bad({.zoom = {-2, -1.5}}, "zoom");
  check_bad({.rotation = {0, std::nan("")}}, "rotation bounds [0, nan] (degrees): must be finite");
  check_error<DataError>([] { Augmenter({}, Shape{784}, 0); }, "items of [784] are not images");
}

TEST_CASE("augment time for a batch of 128 MNIST-sized images") {
  const Dataset d = Dataset::unlabeled(Shape{1, 28, 28}, random_floats(128 * 784, 1));
  const Augmenter a({.height_shift = {-0.1, 0.1}, .width_shift = {-0.1, 0.1}, .rotation = {-15, 15}, .zoom = {-0.1, 0.1}},
                    d.item_shape, 3);
  std::vector<int64_t> idx(128);
  std::iota(idx.begin(), idx.end(), 0);
  std::vector<float> out(128 * 784);
  a.apply_batch(d, idx, 1, out.data());  // warm
  const int reps = 20;
  const auto t0 = std::chrono::steady_clock::now();
  for (int e = 0; e < reps; ++e) a.apply_batch(d, idx, e, out.data());
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
  MESSAGE("augment: " << ms << " ms per batch of 128 images of [1,28,28]");
  CHECK(ms < 50);  // a loose bound: a broken loop (per-pixel allocation, a quadratic pass) is far slower
}

}  // TEST_SUITE
