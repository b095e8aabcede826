// mnist: train, evaluate and inspect the Keras tutorial's CNN from the command line.
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include <CLI/CLI.hpp>

#include <graphgrad/backends/backend.h>

#include "commands.h"

namespace {
std::ostream& devnull() {
  static std::ofstream sink("/dev/null");
  return sink;
}
}  // namespace

namespace {
// Processes the launcher put on this machine (Open MPI, MPICH/Hydra); 1 when none.
int local_ranks() {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"})
    if (const char* v = std::getenv(var); v && std::atoi(v) > 0) return std::atoi(v);
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace gg::cli;
  // Started by mpirun/srun with several ranks: join them, or refuse rather than
  // train N independent copies of the net that overwrite each other's files.
  std::shared_ptr<gg::Communicator> world;
  if (const int launched = gg::launcher_world_size(); launched > 1) {
    if (!gg::mpi_built()) {
      std::cerr << "mnist: error: started as one of " << launched
                << " processes (mpirun/srun), but this mnist was built without MPI, so each would train alone; rebuild "
                   "with -DGRAPHGRAD_MPI=ON (libopenmpi-dev) or run it as one process\n";
      return 2;
    }
    try {
      world = gg::mpi_world(&argc, &argv);
    } catch (const std::exception& e) {
      std::cerr << "mnist: error: " << e.what() << "\n";
      return 1;
    }
  }
  const bool root = !world || world->rank() == 0;
  CLI::App app{"graphgrad's MNIST CNN (the Keras tutorial's net): train it, evaluate it, look at it."};
  app.require_subcommand(1);
  CommonOptions c;
  c.comm = world;
  // Ranks sharing this machine share its cores.
  c.threads = std::max(1, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) / local_ranks());

  // CLI::NonNegativeNumber's message prints the range up to DBL_MAX in full.
  const CLI::Validator count_of_images(
      [](std::string& v) {
        try {
          if (std::stoll(v) >= 0) return std::string();
        } catch (const std::exception&) {
        }
        return "expects a count of images (0: all), got " + v;
      },
      "COUNT");
  auto common = [&](CLI::App* sub, bool data = true) {
    if (data) {
      sub->add_option("--data", c.data, "folder with the four MNIST IDX files (.gz or raw)")->capture_default_str();
      sub->add_option("--test-limit", c.test_limit, "use the first N test images only (0: all)")->check(count_of_images);
    }
    sub->add_option("--backend", c.backend, "cpu or vulkan")->capture_default_str()->check(CLI::IsMember({"cpu", "vulkan"}));
    sub->add_option("--device", c.device, "GPU device index or name substring (vulkan)");
    sub->add_option("--threads", c.threads, "CPU worker threads (OpenBLAS runs inside them)")->capture_default_str()->check(CLI::Range(1, 1024));
    sub->add_option("--batch", c.batch, "batch size")->capture_default_str()->check(CLI::Range(1, 1 << 16));
    sub->add_option("--seed", c.seed, "seed for initialisation, shuffling and dropout")->capture_default_str();
    sub->add_flag("--json", c.json, "print JSON lines instead of text");
  };

  TrainOptions t;
  auto* train_cmd = app.add_subcommand("train", "train a model of the zoo (default: the tutorial's CNN, Adam, lr 1e-3), validating on the test set each epoch");
  common(train_cmd);
  train_cmd->add_option("--model", t.model, "keras-cnn (the tutorial's), lenet5, bn-cnn (batch norm) or mlp")
      ->capture_default_str()->check(CLI::IsMember({"keras-cnn", "lenet5", "bn-cnn", "mlp"}));
  train_cmd->add_option("--optimizer", t.optimizer, "adam, adamw, sgd (momentum 0.9) or rmsprop, with Keras's defaults")
      ->capture_default_str()->check(CLI::IsMember({"adam", "adamw", "sgd", "rmsprop"}));
  train_cmd->add_option("--lr", t.lr, "learning rate (default: the optimizer's: 1e-3; sgd 0.01)")->check(CLI::PositiveNumber);
  train_cmd->add_option("--lr-schedule", t.lr_schedule,
                        "step:every=N,factor=F | exponential:decay_steps=N,rate=R[,staircase] | "
                        "cosine:decay_steps=N[,alpha=A][,warmup_steps=W][,warmup_target=T] (counts in steps, or epochs as 5e) | "
                        "plateau:patience=N[,factor=F][,min_lr=M] (on the test loss)");
  train_cmd->add_option("--augment", t.augment, "random shifts, rotations and zoom per image: shift=F,rotation=DEGREES,zoom=F, or default (0.1, 10, 0.1)");
  train_cmd->add_option("--early-stopping", t.early_stopping, "stop after N epochs without a better test loss, keeping the best epoch's weights")
      ->check(CLI::Range(1, 100000));
  train_cmd->add_option("--bucket-mib", c.bucket_mib, "under mpirun: gradients go out in all-reduce buckets of this size "
                        "while the backward pass goes on (0: one bucket after it)")->capture_default_str()->check(CLI::Range(0.0, 4096.0));
  train_cmd->add_option("--epochs", t.epochs, "epochs")->capture_default_str()->check(CLI::Range(1, 100000));
  train_cmd->add_option("--train-limit", t.train_limit, "train on the first N images only (0: all)")->check(count_of_images);
  train_cmd->add_option("--save", t.save, "write a checkpoint here (weights, optimizer state, step) every --save-every epochs and at the end");
  train_cmd->add_option("--save-every", t.save_every, "epochs between checkpoints")->capture_default_str()->check(CLI::Range(1, 100000));
  train_cmd->add_option("--save-every-steps", t.save_every_steps, "also checkpoint every N steps, mid-epoch too (--resume goes on from the next step)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))->needs(train_cmd->get_option("--save"));
  train_cmd->add_flag("--check-numerics", t.check_numerics, "after every step, name the first node whose value is NaN or infinite");
  train_cmd->add_option("--resume", t.resume, "continue from a checkpoint written by --save (--epochs counts the whole run)");
  train_cmd->add_option("--plot", t.plot, "draw loss and test accuracy per epoch into this PNG (the numbers go beside it as .json)");
  train_cmd->add_option("--plot-with", t.plot_with, "another run's .json from --plot (e.g. the other backend's), drawn beside; repeatable")
      ->needs(train_cmd->get_option("--plot"));

  std::string load;
  auto* eval_cmd = app.add_subcommand("evaluate", "test loss and accuracy of saved weights");
  common(eval_cmd);
  eval_cmd->add_option("--load", load, "a checkpoint written by train --save (the model comes from it)")->required();

  int64_t index = 0, count = 1;
  auto* predict_cmd = app.add_subcommand("predict", "class probabilities of test images (one by default), as in the tutorial");
  common(predict_cmd);
  predict_cmd->add_option("--load", load, "a checkpoint written by train --save (the model comes from it)")->required();
  predict_cmd->add_option("--index", index, "test image index")->capture_default_str();
  predict_cmd->add_option("--count", count, "images --index.. --index+N-1, run in batches of --batch (one JSON line each with --json)")
      ->capture_default_str();

  std::string out;
  auto* samples_cmd = app.add_subcommand("samples", "a 4x16 grid of random training digits as a PNG");
  samples_cmd->add_option("--data", c.data, "folder with the MNIST files")->capture_default_str();
  samples_cmd->add_option("--seed", c.seed, "which digits")->capture_default_str();
  samples_cmd->add_option("--out", out, "PNG to write")->required();

  bool dot = false;
  auto* graph_cmd = app.add_subcommand("graph", "the forward + backward + update graph, as text or Graphviz DOT");
  common(graph_cmd, false);
  graph_cmd->add_flag("--dot", dot, "Graphviz DOT instead of a text dump");
  graph_cmd->add_option("--out", out, "file to write (default: standard output)");

  std::string onnx_out;
  auto* export_cmd = app.add_subcommand("export", "write the trained net's inference graph as an ONNX model (opset 13)");
  common(export_cmd, false);
  export_cmd->add_option("--load", load, "a checkpoint written by train --save (the model comes from it)")->required();
  export_cmd->add_option("--onnx", onnx_out, "the .onnx file to write")->required();

  auto* devices_cmd = app.add_subcommand("devices", "list the devices each backend can use (Vulkan: type, driver, memory, limits)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Every rank parses the same flags; one message is enough.
    return root ? app.exit(e) : app.exit(e, devnull(), devnull());
  }
  try {
    if (*train_cmd) return train(c, t);
    if (*eval_cmd) return evaluate(c, load);
    if (!root) return 0;  // the rest is one process's work: rank 0 does it
    if (*predict_cmd) return predict(c, load, index, count);
    if (*export_cmd) return export_onnx_model(c, load, onnx_out);
    if (*samples_cmd) return samples(c, out);
    if (*graph_cmd) return graph(c, dot, out);
    if (*devices_cmd) return devices();
  } catch (const std::exception& e) {
    if (world && world->size() > 1) {
      // Bad input fails on every rank alike; rank 0 names it and ends the job
      // (a rank that failed alone would leave the others waiting).
      if (root) std::cerr << "mnist: error: " << e.what() << "\n";
      else std::cerr << "mnist: error (rank " << world->rank() << "): " << e.what() << "\n";
      world->abort(1);
    }
    std::cerr << "mnist: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
