// Checkpoints: a save/load round trip restores parameters, optimizer state and
// the step exactly; the file is replaced atomically; and every kind of bad
// file is rejected with a CheckpointError that names the path and the fault,
// leaving the model as it was.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/frontends/checkpoint.h>
#include <graphgrad/frontends/dataset.h>
#include <graphgrad/frontends/sequential.h>

#include "test_util.h"

namespace fs = std::filesystem;
using namespace gg;
using gg::ckpt::CheckpointError;

namespace {

struct TempDir : gg::test::TempDir {
  TempDir() : gg::test::TempDir("gg_ckpt_test_") {}
};

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_bytes(const fs::path& p, const std::string& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(b.data(), static_cast<std::streamsize>(b.size()));
}

// conv 3@3x3 -> relu -> pool 2 -> flatten -> dense(hidden) -> relu -> dense 4 -> softmax, on [1,8,8].
std::unique_ptr<Sequential> small_model(uint64_t seed, int hidden = 32, Optimizer opt = Adam{}) {
  auto m = std::make_unique<Sequential>(Shape{1, 8, 8}, seed);
  m->add(Conv2D{3, {3, 3}});
  m->add(Activation{"relu"});
  m->add(MaxPooling2D{{2, 2}});
  m->add(Flatten{});
  m->add(Dense{hidden});
  m->add(Activation{"relu"});
  m->add(Dense{4});
  m->add(Activation{"softmax"});
  m->compile({.optimizer = opt, .backend_options = {1, {}}});
  return m;
}

Dataset make_data(int64_t n, uint64_t seed) {
  Dataset d;
  d.item_shape = Shape{1, 8, 8};
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  d.x.resize(static_cast<size_t>(n * 64));
  for (auto& v : d.x) v = u(rng);
  for (int64_t i = 0; i < n; ++i) d.y.push_back(static_cast<int32_t>(rng() % 4));
  return d;
}

// Every variable (parameters and optimizer slots), by name.
std::vector<std::pair<std::string, std::vector<float>>> variables(const Sequential& m) {
  std::vector<std::pair<std::string, std::vector<float>>> out;
  for (NodeId id : m.graph().variables()) {
    std::vector<float> v(static_cast<size_t>(m.graph().node(id).shape.numel()));
    m.backend().read_variable(id, v);
    out.emplace_back(m.graph().node(id).name, std::move(v));
  }
  return out;
}

// Loads `file` into `m`, expecting a CheckpointError naming the path and
// containing `word`; then checks the model is unchanged.
void expect_rejected(Sequential& m, const fs::path& file, const std::string& word) {
  CAPTURE(file.string());
  CAPTURE(word);
  const auto before = variables(m);
  const int64_t step = m.step();
  std::string msg;
  try {
    m.load(file);
    FAIL("load() accepted a bad file");
  } catch (const CheckpointError& e) {
    msg = e.what();
  } catch (const std::exception& e) {
    FAIL("expected a CheckpointError, got: " << e.what());
  }
  INFO("message: " << msg);
  CHECK(msg.find(file.string()) != std::string::npos);
  CHECK(msg.find(word) != std::string::npos);
  CHECK(m.step() == step);
  CHECK(variables(m) == before);
}

}  // namespace

TEST_SUITE("checkpoint") {

TEST_CASE("save/load round trip into a fresh model") {
  TempDir t;
  const Dataset train = make_data(48, 1);
  auto a = small_model(1);
  a->fit(train, {.batch_size = 8, .epochs = 1, .shuffle = false, .verbose = 0});
  REQUIRE(a->step() == 6);
  const fs::path file = t / "model.ggckpt";
  a->save(file);
  CHECK(fs::exists(file));
  CHECK_FALSE(fs::exists(t / "model.ggckpt.tmp"));
  CHECK(std::distance(fs::directory_iterator(t.path), fs::directory_iterator()) == 1);

  // What the file holds: every variable, the step and the architecture.
  const ckpt::Checkpoint c = ckpt::load(file);
  CHECK(c.step == 6);
  CHECK(c.architecture == a->architecture());
  CHECK(c.tensors.size() == a->graph().variables().size());
  REQUIRE(c.find("dense_1/kernel") != nullptr);
  CHECK(c.find("dense_1/kernel")->shape == Shape{27, 32});
  CHECK(c.find("dense_1/kernel/adam_v") != nullptr);

  auto b = small_model(99);  // another seed: other initial weights
  const std::vector<float> before = b->predict(train.x.data(), 16);
  const std::vector<float> want = a->predict(train.x.data(), 16);
  CHECK(before != want);
  b->load(file);
  CHECK(b->step() == 6);
  CHECK(variables(*b) == variables(*a));
  CHECK(b->predict(train.x.data(), 16) == want);

  // Training on from the loaded model is training on from the saved one: the
  // Adam slots and the step came back too.
  a->fit(train, {.batch_size = 8, .epochs = 1, .shuffle = false, .verbose = 0});
  b->fit(train, {.batch_size = 8, .epochs = 1, .shuffle = false, .verbose = 0});
  CHECK(variables(*b) == variables(*a));

  // Saving again replaces the file in place, still leaving no temporary behind.
  b->save(file);
  CHECK(ckpt::load(file).step == 12);
  CHECK_FALSE(fs::exists(t / "model.ggckpt.tmp"));
}

TEST_CASE("a failed save leaves the previous checkpoint byte for byte, and names the path and the cause") {
  // A folder where save() wants its .tmp: creating the file fails for real (EISDIR), root or not.
  TempDir t;
  auto m = small_model(1);
  const fs::path file = t / "model.ggckpt";
  m->save(file);
  auto bytes = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string before = bytes(file);
  m->fit(make_data(16, 2), {.batch_size = 8, .epochs = 1, .verbose = 0});
  fs::create_directory(t / "model.ggckpt.tmp");
  try {
    m->save(file);
    FAIL("save() succeeded");
  } catch (const CheckpointError& e) {
    const std::string msg = e.what();
    CAPTURE(msg);
    CHECK(msg.find(file.string() + ": cannot create " + file.string() + ".tmp: Is a directory") == 0);
    CHECK(msg.find("the previous model.ggckpt is unchanged") != std::string::npos);
  }
  CHECK(bytes(file) == before);
  CHECK(fs::is_directory(t / "model.ggckpt.tmp"));  // not ours: left alone
}

TEST_CASE("save() into a folder that does not exist names the path") {
  TempDir t;
  auto m = small_model(1);
  const fs::path file = t / "missing_dir" / "model.ggckpt";
  try {
    m->save(file);
    FAIL("save() succeeded");
  } catch (const CheckpointError& e) {
    CHECK(std::string(e.what()).find((t / "missing_dir").string()) != std::string::npos);
  }
}

TEST_CASE("load() rejects bad files, naming the path and the fault, and changes nothing") {
  TempDir t;
  auto m = small_model(3);
  m->fit(make_data(16, 2), {.batch_size = 8, .epochs = 1, .verbose = 0});
  const fs::path good = t / "good.ggckpt";
  small_model(4)->save(good);
  const std::string bytes = read_bytes(good);
  REQUIRE(bytes.size() > 200);
  REQUIRE(bytes.substr(0, 8) == std::string("GGCKPT\r\n"));

  SUBCASE("missing file") { expect_rejected(*m, t / "nope.ggckpt", "cannot open"); }
  SUBCASE("empty file") {
    write_bytes(t / "empty.ggckpt", "");
    expect_rejected(*m, t / "empty.ggckpt", "empty");
  }
  SUBCASE("random bytes") {
    std::mt19937 rng(5);
    std::string junk(4096, '\0');
    for (char& ch : junk) ch = static_cast<char>(rng());
    write_bytes(t / "junk.ggckpt", junk);
    expect_rejected(*m, t / "junk.ggckpt", "bad magic");
  }
  SUBCASE("a text file") {
    write_bytes(t / "text.ggckpt", "this is not a checkpoint, it is a long enough line of text\n");
    expect_rejected(*m, t / "text.ggckpt", "bad magic");
  }
  SUBCASE("truncated inside the header") {
    write_bytes(t / "head.ggckpt", bytes.substr(0, 12));
    expect_rejected(*m, t / "head.ggckpt", "truncated");
  }
  SUBCASE("truncated inside the payload") {
    write_bytes(t / "cut.ggckpt", bytes.substr(0, bytes.size() / 2));
    expect_rejected(*m, t / "cut.ggckpt", "truncated");
  }
  SUBCASE("bytes appended") {
    write_bytes(t / "long.ggckpt", bytes + "extra");
    expect_rejected(*m, t / "long.ggckpt", "padded");
  }
  SUBCASE("one flipped payload byte") {
    for (size_t at : {size_t{24}, bytes.size() / 2, bytes.size() - 1}) {
      CAPTURE(at);
      std::string bad = bytes;
      bad[at] = static_cast<char>(bad[at] ^ 0x10);
      write_bytes(t / "flip.ggckpt", bad);
      expect_rejected(*m, t / "flip.ggckpt", "checksum");
    }
  }
  SUBCASE("a newer format version") {
    std::string bad = bytes;
    REQUIRE(static_cast<unsigned char>(bad[8]) == ckpt::kFormatVersion);
    bad[8] = static_cast<char>(ckpt::kFormatVersion + 1);  // only the version field; the CRC covers the payload
    write_bytes(t / "v2.ggckpt", bad);
    expect_rejected(*m, t / "v2.ggckpt", "newer");
  }
  SUBCASE("format version 0") {
    std::string bad = bytes;
    bad[8] = 0;
    write_bytes(t / "v0.ggckpt", bad);
    expect_rejected(*m, t / "v0.ggckpt", "version 0");
  }
  SUBCASE("another architecture: Dense(64) instead of Dense(32)") {
    // The conv tensors come first and fit; the dense kernel does not. A loader
    // that wrote as it went would already have changed the conv weights.
    small_model(4, 64)->save(t / "wide.ggckpt");
    expect_rejected(*m, t / "wide.ggckpt", "another architecture: layer 5 (\"dense_1\"): units 64 in the checkpoint, 32 in this model");
    // A format-1 file has no architecture to compare: the first tensor that does not fit is named.
    ckpt::Checkpoint v1 = ckpt::load(t / "wide.ggckpt");
    v1.version = 1, v1.json.clear();
    ckpt::save(t / "wide_v1.ggckpt", v1);
    expect_rejected(*m, t / "wide_v1.ggckpt", "\"dense_1/kernel\"");
    expect_rejected(*m, t / "wide_v1.ggckpt", "[27,64]");
  }
  SUBCASE("another optimizer's state is skipped, saying so") {
    auto sgd = small_model(4, 32, SGD{});
    sgd->save(t / "sgd.ggckpt");
    std::ostringstream log;
    m->load(t / "sgd.ggckpt", {.log = &log});
    CHECK_MSG(log.str(), "optimizer state (sgd, 6 tensors) does not fit this model's adam: its optimizer state starts fresh");
    CHECK(m->get_weights() == sgd->get_weights());
  }
  SUBCASE("a parameter missing from the checkpoint") {
    ckpt::Checkpoint c = ckpt::load(good);
    std::erase_if(c.tensors, [](const ckpt::Tensor& x) { return x.name == "dense_2/bias"; });
    ckpt::save(t / "partial.ggckpt", c);
    expect_rejected(*m, t / "partial.ggckpt", "\"dense_2/bias\"");
  }
}

}  // TEST_SUITE
