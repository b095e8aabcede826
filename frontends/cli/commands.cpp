#include "commands.h"

#include <signal.h>
#include <sys/resource.h>

#include <csignal>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <graphgrad/backends/backend.h>
#include <graphgrad/frontends/atomic_file.h>
#include <graphgrad/frontends/checkpoint.h>
#include <graphgrad/frontends/dataset.h>
#include <graphgrad/frontends/idx.h>
#include <graphgrad/frontends/mnist_model.h>
#include <graphgrad/frontends/png_grid.h>

#include "plot.h"

#ifdef GRAPHGRAD_HAS_ONNX
#include <graphgrad/frontends/onnx_export.h>
#endif

namespace gg::cli {
namespace {
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int64_t peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;  // kilobytes on Linux
}

CompileOptions compile_options(const CommonOptions& c) {
  CompileOptions co;
  co.backend = c.backend;
  co.backend_options.threads = c.threads;
  co.backend_options.device = c.device;
  co.comm = c.comm;
  co.allreduce.bucket_bytes = c.bucket_mib > 0 ? static_cast<size_t>(c.bucket_mib * (1 << 20)) : SIZE_MAX;
  return co;
}

Optimizer optimizer_of(const TrainOptions& t) {
  Optimizer o;
  if (t.optimizer == "adam") o = Adam{};
  else if (t.optimizer == "adamw") o = AdamW{};
  else if (t.optimizer == "sgd") o = SGD{.lr = 0.01, .momentum = 0.9};
  else if (t.optimizer == "rmsprop") o = RMSprop{};
  else throw std::invalid_argument("--optimizer " + t.optimizer + ": unknown (known: adam, adamw, sgd, rmsprop)");
  if (t.lr < 0) throw std::invalid_argument(fmt::format("--lr {}: must be > 0", t.lr));
  if (t.lr > 0) std::visit([&](auto& cfg) { cfg.lr = t.lr; }, o);
  return o;
}

// "key=value,..." into a map; a bare key maps to "".
std::map<std::string, std::string> key_values(const std::string& spec) {
  std::map<std::string, std::string> out;
  size_t at = 0;
  while (at <= spec.size()) {
    const size_t comma = std::min(spec.find(',', at), spec.size());
    const std::string item = spec.substr(at, comma - at);
    if (!item.empty()) {
      const size_t eq = item.find('=');
      out[item.substr(0, eq)] = eq == std::string::npos ? "" : item.substr(eq + 1);
    }
    at = comma + 1;
  }
  return out;
}

double number_of(const std::string& flag, const std::string& key, const std::string& v) {
  try {
    size_t used = 0;
    const double d = std::stod(v, &used);
    if (used == v.size()) return d;
  } catch (const std::exception&) {
  }
  throw std::invalid_argument(fmt::format("{}: {}={} is not a number", flag, key, v));
}

std::optional<Augmentation> augmentation_of(const std::string& spec) {
  if (spec.empty() || spec == "none") return std::nullopt;
  const std::string s = spec == "default" ? "shift=0.1,rotation=10,zoom=0.1" : spec;
  Augmentation a;
  for (const auto& [k, v] : key_values(s)) {
    const double x = number_of("--augment", k, v);
    if (k == "shift") a.height_shift = a.width_shift = Range{-x, x};
    else if (k == "rotation") a.rotation = Range{-x, x};
    else if (k == "zoom") a.zoom = Range{-x, x};
    else throw std::invalid_argument("--augment: unknown option '" + k + "' (known: shift=F, rotation=DEGREES, zoom=F, or 'default')");
  }
  return a;
}

// The model of --model, compiled with --optimizer, --lr and --lr-schedule.
std::unique_ptr<Sequential> compiled_model(const CommonOptions& c, const TrainOptions& t, const Shape& input,
                                           int64_t steps_per_epoch) {
  auto model = make_model(zoo_from_name(t.model), c.seed, input);
  CompileOptions co = compile_options(c);
  co.loss = LossKind::sparse_categorical_crossentropy;
  co.optimizer = optimizer_of(t);
  if (!t.lr_schedule.empty() && t.lr_schedule.rfind("plateau", 0) != 0)
    co.lr_schedule = parse_schedule(t.lr_schedule, optimizer_lr(co.optimizer), steps_per_epoch);
  model->compile(co);
  return model;
}

// The model a checkpoint holds (format 2), or, for a format-1 file, the
// tutorial's CNN that every format-1 file was written for.
std::unique_ptr<Sequential> loaded_model(const CommonOptions& c, const std::string& path) {
  const ckpt::Checkpoint head = ckpt::load(path);
  if (!head.json.empty()) {
    CompileOptions co = compile_options(c);
    return load_model(path, {.backend = co.backend, .backend_options = co.backend_options, .comm = co.comm});
  }
  auto model = make_mnist_cnn(c.seed, Shape{1, 28, 28});
  model->compile(compile_options(c));
  model->load(path);
  return model;
}

// The tutorial's net takes 28x28 images (Keras input_shape=(28, 28, 1)); other
// sizes would build a different net, or none, and no checkpoint would fit it.
Dataset load_split(const CommonOptions& c, const char* split, int64_t limit = 0) {
  data::MnistSplit s = data::load_mnist(c.data, split, static_cast<size_t>(limit));
  if (s.rows != 28 || s.cols != 28)
    throw data::DataError(fmt::format("{}: images are {}x{}, but the MNIST CNN takes 28x28 (input_shape=(28, 28, 1))",
                                      s.images_file.string(), s.rows, s.cols));
  return to_dataset(std::move(s));
}

// Median time of one image through predict(), after warm-ups (the peers' rule).
double latency_batch1_ms(Sequential& model, const Dataset& test) {
  // The images as floats first, so only the model is timed.
  std::vector<float> images(static_cast<size_t>(std::min<int64_t>(test.size(), 1000) * test.item_floats()));
  const int64_t count = static_cast<int64_t>(images.size()) / test.item_floats(), item = test.item_floats();
  test.copy_items(0, count, images.data());
  for (int i = 0; i < 100; ++i) model.predict(images.data() + (i % count) * item, 1, 1);
  std::vector<double> ms;
  for (int i = 0; i < 1000; ++i) {
    const auto t0 = Clock::now();
    model.predict(images.data() + (i % count) * item, 1, 1);
    ms.push_back(seconds_since(t0) * 1e3);
  }
  std::nth_element(ms.begin(), ms.begin() + 500, ms.end());
  return ms[500];
}
}  // namespace

namespace {
// SIGINT/SIGTERM ask training to stop after the current step; the last
// checkpoint written stays as it is (checkpoints are only ever renamed into place).
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }
void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}
}  // namespace

int train(const CommonOptions& c, const TrainOptions& t) {
  if (!t.plot.empty() && c.root()) check_plot_tools(t.plot, t.plot_with);
  const Dataset train_set = load_split(c, "train", t.train_limit);
  const Dataset test_set = load_split(c, "test", c.test_limit);
  const int64_t steps_per_epoch = (train_set.size() + c.batch - 1) / c.batch;
  auto model = compiled_model(c, t, train_set.item_shape, steps_per_epoch);
  int done_epochs = 0;
  if (!t.resume.empty()) {
    model->load(t.resume);  // parameters, Adam's moments and the step count
    // A mid-epoch checkpoint (--save-every-steps): fit() finishes that epoch first, as one of the --epochs.
    done_epochs = static_cast<int>(model->step() / steps_per_epoch);
    const int64_t into = model->step() % steps_per_epoch;
    if (!c.json && c.root())
      std::cout << "resumed from " << t.resume << " after " << done_epochs << " epoch(s)"
                << (into ? fmt::format(" and {} of {} steps", into, steps_per_epoch) : "") << " (step " << model->step() << ")\n";
  }
  const int64_t first_step = model->step();
  Communicator& comm = model->comm();
  if (!c.json && c.root()) {
    std::cout << model->summary() << "\n";
    if (comm.size() > 1)
      std::cout << fmt::format("data-parallel: {}; global batch {}, {} per rank, gradients all-reduced in buckets\n\n",
                               comm.describe(), c.batch, (c.batch + comm.size() - 1) / comm.size());
  }
  FitOptions fo;
  fo.batch_size = c.batch;
  fo.epochs = std::max(0, t.epochs - done_epochs);  // --epochs counts the whole run, resumed or not
  fo.validation = &test_set;
  fo.verbose = c.json ? 0 : 1;
  fo.check_numerics = t.check_numerics;
  fo.augment = augmentation_of(t.augment);
  std::shared_ptr<EarlyStopping> early_stopping;
  if (t.early_stopping > 0) {
    early_stopping = std::make_shared<EarlyStopping>(
        EarlyStopping::Options{.monitor = "val_loss", .patience = t.early_stopping, .restore_best_weights = true});
    fo.callbacks.push_back(early_stopping);
  }
  if (t.lr_schedule.rfind("plateau", 0) == 0) {
    ReduceLROnPlateau::Options p{.monitor = "val_loss", .factor = 0.5, .patience = 2};
    const size_t colon = t.lr_schedule.find(':');
    for (const auto& [k, v] : key_values(colon == std::string::npos ? "" : t.lr_schedule.substr(colon + 1))) {
      const double x = number_of("--lr-schedule", k, v);
      if (k == "patience") p.patience = static_cast<int>(x);
      else if (k == "factor") p.factor = x;
      else if (k == "min_lr") p.min_lr = x;
      else if (k == "cooldown") p.cooldown = static_cast<int>(x);
      else throw std::invalid_argument("--lr-schedule plateau: unknown option '" + k + "' (known: patience, factor, min_lr, cooldown)");
    }
    fo.callbacks.push_back(std::make_shared<ReduceLROnPlateau>(p));
  }
  double train_s = 0;
  int64_t trained = 0;
  int last_epoch = 0;         // the last epoch trained
  int saved_epoch = 0;        // the epoch of the last checkpoint written
  int64_t saved_steps = 0;    // and the steps of it done, when written mid-epoch (0: at its end)
  nlohmann::json curves = nlohmann::json::array();  // per epoch, for --plot
  fo.on_epoch_end = [&](const EpochStats& s) {
    train_s += s.seconds, trained += s.images, last_epoch = s.epoch;
    curves.push_back({{"epoch", s.epoch}, {"loss", s.loss}, {"test_accuracy", s.val_accuracy}, {"epoch_s", s.seconds}});
    if (c.json && c.root())
      std::cout << nlohmann::ordered_json{{"epoch", s.epoch}, {"loss", s.loss}, {"test_accuracy", s.val_accuracy},
                                  {"learning_rate", s.learning_rate}, {"epoch_s", std::round(s.seconds * 100) / 100}}.dump()
                << std::endl;
    const bool step_due = t.save_every_steps > 0 && model->step() % t.save_every_steps == 0;
    // The run's last epoch is saved after fit(), which may have put an earlier epoch's weights back.
    const bool last = s.epoch == t.epochs || (early_stopping && early_stopping->stopped_epoch() == s.epoch);
    if (!t.save.empty() && !last && (s.epoch % t.save_every == 0 || step_due)) {
      model->save(t.save);
      saved_epoch = s.epoch, saved_steps = 0;
    }
  };
  if (t.save_every_steps > 0)
    fo.on_step_end = [&](int epoch, int64_t steps_done) {
      if (model->step() % t.save_every_steps != 0) return;
      model->save(t.save);
      saved_epoch = epoch, saved_steps = steps_done;
    };
  install_stop_handlers();
  fo.should_stop = [] { return g_stop_signal != 0; };
  // What a stopped run leaves behind: checkpoints are only ever renamed into
  // place, so the last one written is whole whatever stopped the run.
  auto checkpoint_note = [&] {
    if (saved_epoch > 0)
      return fmt::format("the last checkpoint is {} (epoch {}{}), intact; continue with --resume {}", t.save, saved_epoch,
                         saved_steps ? fmt::format(", step {} of {}", saved_steps, steps_per_epoch) : "", t.save);
    if (!t.resume.empty()) return fmt::format("nothing new was saved; {} is unchanged", t.resume);
    return std::string(t.save.empty() ? "no checkpoint was written (use --save)" : "no checkpoint was written yet");
  };
  comm.reset_stats();
  try {
    model->fit(train_set, fo);
    // What fit() returns is what the run delivers: with --early-stopping, the
    // best epoch's weights (its per-epoch checkpoints above stay resume points).
    if (!t.save.empty() && trained) {
      model->save(t.save);
      saved_epoch = last_epoch, saved_steps = 0;
    }
  } catch (const Interrupted& e) {
    if (c.root()) std::cerr << "mnist: " << (g_stop_signal == SIGTERM ? "SIGTERM" : "SIGINT") << ": " << e.what() << "; " << checkpoint_note()
              << "\n";
    return 130;
  } catch (const NumericsError& e) {
    // Every rank sees the same (reduced) loss, so all of them stop here together.
    if (c.root()) std::cerr << "mnist: error: " << e.what() << "\nmnist: training stopped; " << checkpoint_note() << "\n";
    return 1;
  } catch (const std::exception& e) {
    // A training fault (a lost or exhausted GPU, say): the backend may be
    // unusable, so nothing more is saved from it.
    const std::string who = comm.size() > 1 ? fmt::format(" (rank {} of {})", comm.rank(), comm.size()) : "";
    std::cerr << "mnist: error" << who << ": " << e.what() << "\nmnist: training stopped; " << checkpoint_note() << "\n";
    // The other ranks may be waiting for this one inside a collective: end the job.
    if (comm.size() > 1) comm.abort(1);
    return 1;
  }
  const Communicator::Stats comm_stats = comm.stats();
  const int64_t steps_run = trained ? model->step() - first_step : 0;
  if (trained == 0) {  // nothing left to train after --resume
    const Evaluation e = model->evaluate(test_set, c.batch);
    if (c.root()) std::cout << (c.json ? nlohmann::ordered_json{{"test_accuracy", e.accuracy}}.dump() : "accuracy: " + std::to_string(e.accuracy))
              << std::endl;
    return 0;
  }

  // Inference at the training batch size over the test set, then one image at
  // a time: measured by rank 0 alone while the others wait, so they do not
  // share its cores.
  double infer = 0, latency = 0;
  if (c.root()) {
    const auto t0 = Clock::now();
    model->predict(test_set, c.batch);
    infer = double(test_set.size()) / seconds_since(t0);
    latency = latency_batch1_ms(*model, test_set);
  }
  comm.barrier();
  const double train_ips = double(trained) / train_s;
  // The all-reduce time the backward pass did not hide (rank 0's view).
  const double exposed_ms = steps_run ? comm_stats.wait_seconds * 1e3 / double(steps_run) : 0.0;
  const double reduced_mib = steps_run ? double(comm_stats.bytes) / double(steps_run) / (1 << 20) : 0.0;

  // The model fit() returned (with --early-stopping, the best epoch's weights); collective, so every rank takes part.
  const Evaluation final_eval = model->evaluate(test_set, c.batch);
  if (!c.root()) return 0;
  const int best_epoch = early_stopping ? early_stopping->best_epoch() : 0;
  const bool restored = best_epoch > 0 && best_epoch != last_epoch;
  if (c.json) {
    nlohmann::ordered_json distributed;
    if (comm.size() > 1)
      distributed = {{"ranks", comm.size()},
                     {"allreduce_mib_per_step", std::round(reduced_mib * 100) / 100},
                     {"allreduce_exposed_ms_per_step", std::round(exposed_ms * 1000) / 1000}};
    nlohmann::ordered_json summary{{"backend", c.backend},
                                {"threads", c.threads},
                                {"train_images_per_s", std::round(train_ips * 10) / 10},
                                {"infer_images_per_s", std::round(infer * 10) / 10},
                                {"latency_batch1_ms", std::round(latency * 1000) / 1000},
                                {"test_accuracy", final_eval.accuracy},
                                {"peak_rss_mib", peak_rss_mib()}};
    std::cout << (comm.size() > 1 ? (summary.update(distributed), summary) : summary).dump() << std::endl;
  } else {
    if (restored) std::cout << fmt::format("early stopping: the weights of epoch {}, the best (val_loss {:.4f})\n", best_epoch, early_stopping->best());
    std::cout << "loss: " << final_eval.loss << "\naccuracy: " << final_eval.accuracy << "\n";
    std::cout << fmt::format("backend {} ({} threads): train {:.0f} images/s, inference {:.0f} images/s, "
                             "one image {:.3f} ms, peak RSS {} MiB\n",
                             c.backend, c.threads, train_ips, infer, latency, peak_rss_mib());
    if (comm.size() > 1)
      std::cout << fmt::format("{} ranks: {:.2f} MiB of gradients all-reduced per step, {:.3f} ms of it not hidden by the "
                               "backward pass (rank 0)\n", comm.size(), reduced_mib, exposed_ms);
    if (!t.save.empty()) std::cout << "saved weights to " << t.save << "\n";
  }
  if (!t.plot.empty()) {
    const nlohmann::json run{{"backend", c.backend},
                             {"label", fmt::format("graphgrad {} (batch {}, seed {})", c.backend, c.batch, c.seed)},
                             {"epochs", curves}};
    const std::string json_path = write_plot(t.plot, run, t.plot_with);
    if (!c.json) std::cout << "plotted the curves to " << t.plot << " (numbers in " << json_path << ")\n";
  }
  return 0;
}

int evaluate(const CommonOptions& c, const std::string& load) {
  const Dataset test_set = load_split(c, "test", c.test_limit);
  auto model = loaded_model(c, load);
  const Evaluation e = model->evaluate(test_set, c.batch);  // sharded across ranks under mpirun
  if (!c.root()) return 0;
  if (c.json)
    std::cout << nlohmann::ordered_json{{"loss", e.loss}, {"test_accuracy", e.accuracy}, {"test_images", test_set.size()}}.dump()
              << std::endl;
  else
    std::cout << "loss: " << e.loss << "\naccuracy: " << e.accuracy << "\nimages: " << test_set.size() << "\n";
  return 0;
}

int predict(const CommonOptions& c, const std::string& load, int64_t index, int64_t count) {
  const Dataset test_set = load_split(c, "test", c.test_limit);
  if (index < 0 || index >= test_set.size())
    throw std::invalid_argument(fmt::format("--index {} is outside the test set (0..{})", index, test_set.size() - 1));
  if (count < 1) throw std::invalid_argument(fmt::format("--count {}: needs at least 1 image", count));
  if (count > test_set.size() - index)
    throw std::invalid_argument(fmt::format("--index {} --count {} runs past the test set ({} images; at most --count {} from there)",
                                            index, count, test_set.size(), test_set.size() - index));
  auto model = loaded_model(c, load);
  std::vector<float> images(static_cast<size_t>(count * test_set.item_floats()));
  test_set.copy_items(index, count, images.data());
  const std::vector<float> all = model->predict(images.data(), count, c.batch);  // in batches of --batch
  const size_t k = all.size() / static_cast<size_t>(count);
  for (int64_t n = 0; n < count; ++n) {
    const std::vector<float> p(all.begin() + static_cast<std::ptrdiff_t>(n * k), all.begin() + static_cast<std::ptrdiff_t>((n + 1) * k));
    const auto predicted = std::max_element(p.begin(), p.end()) - p.begin();
    const int64_t i = index + n;
    const int actual = test_set.y[static_cast<size_t>(i)];
    if (c.json) {
      std::cout << nlohmann::ordered_json{{"index", i}, {"probabilities", p}, {"predicted", predicted}, {"actual", actual}}.dump()
                << "\n";
    } else {
      if (count > 1) std::cout << fmt::format("image {}:\n", i);
      std::cout << "probabilities: [";
      for (size_t j = 0; j < p.size(); ++j) std::cout << (j ? " " : "") << fmt::format("{:.8e}", p[j]);
      std::cout << "]\n" << fmt::format("predicted = {}, actual = {}\n", predicted, actual);
    }
  }
  std::cout << std::flush;
  return 0;
}

int samples(const CommonOptions& c, const std::string& out) {
  const data::MnistSplit train_split = data::load_mnist(c.data, "train");
  data::write_digit_grid(out, train_split, 4, 16, c.seed);
  std::cout << "wrote a 4x16 grid of training digits to " << out << "\n";
  return 0;
}

int devices() {
  int found = 0;
  const std::vector<std::string> names = backend_names();
  for (const std::string& backend : names) {
    std::string why;
    const auto list = list_devices(backend, &why);
    std::cout << backend << ":\n";
    for (const auto& d : list) std::cout << "  " << d << "\n";
    if (list.empty()) std::cout << "  none: " << why << "\n";
    found += static_cast<int>(list.size());
  }
  if (std::find(names.begin(), names.end(), "vulkan") == names.end())
    std::cout << "vulkan:\n  not built (configure with -DGRAPHGRAD_VULKAN=ON)\n";
  return found ? 0 : 1;
}

int export_onnx_model(const CommonOptions& c, const std::string& load, const std::string& onnx_path) {
#ifdef GRAPHGRAD_HAS_ONNX
  auto model = loaded_model(c, load);
  const Backend& backend = model->backend();
  const OnnxExportStats st = export_onnx(model->graph(), model->input_node(), model->output_node(), [&](NodeId id) {
    std::vector<float> v(static_cast<size_t>(model->graph().node(id).shape.numel()));
    backend.read_variable(id, v);
    return v;
  }, onnx_path);
  std::cout << fmt::format("wrote {} (ONNX opset 13: {} nodes, {} initializers; input \"{}\" [N,1,28,28], output \"{}\" [N,10])\n",
                           onnx_path, st.nodes, st.initializers, model->graph().node(model->input_node()).name,
                           model->graph().node(model->output_node()).name);
  return 0;
#else
  (void)c, (void)load;
  throw std::invalid_argument("export --onnx " + onnx_path + ": this mnist was built without ONNX export (install libonnx-dev and rebuild)");
#endif
}

int graph(const CommonOptions& c, bool dot, const std::string& out) {
  auto model = make_mnist_cnn(c.seed, Shape{1, 28, 28});
  model->compile(compile_options(c));
  const std::string text = dot ? model->graph().to_dot() : model->graph().dump();
  if (out.empty()) {
    std::cout << text;
    return 0;
  }
  io::write_file_atomically(out, text);
  std::cout << "wrote " << model->graph().size() << " nodes to " << out << "\n";
  return 0;
}

}  // namespace gg::cli
