// The `mnist` CLI's subcommands; mnist_main.cpp parses flags into these.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <graphgrad/backends/comm/communicator.h>

namespace gg::cli {

struct CommonOptions {
  std::string data = "data/mnist";
  std::string backend = "cpu";
  std::string device;
  int threads = 1;
  int batch = 128;
  uint64_t seed = 0;
  bool json = false;
  int64_t test_limit = 0;   // evaluate (and, in train, validate and time inference) on the first N test images; 0: all
  double bucket_mib = 1.0;  // data-parallel: all-reduce bucket size (0: one bucket after the whole backward pass)
  // The processes of a data-parallel run (mpirun); one process when null.
  std::shared_ptr<Communicator> comm;
  bool root() const { return !comm || comm->rank() == 0; }  // the rank that prints and saves
};

struct TrainOptions {
  std::string model = "keras-cnn";  // the zoo's name (mnist_model.h)
  std::string optimizer = "adam";   // adam, adamw, sgd, rmsprop
  double lr = 0;                    // 0: the optimizer's Keras default
  std::string lr_schedule;          // schedules.h's parse_schedule() spelling, or plateau:patience=N[,factor=F][,min_lr=M]
  std::string augment;              // "shift=0.1,rotation=10,zoom=0.1" (any subset), or "default"
  int early_stopping = 0;           // patience in epochs on val_loss (0: off); restores the best epoch's weights
  int epochs = 10;
  int64_t train_limit = 0;
  std::string save;
  int save_every = 1;  // epochs between saves (with --save)
  int64_t save_every_steps = 0;  // also save whenever the global step count is a multiple of this (0: at epoch ends only)
  std::string resume;  // checkpoint to continue from
  bool check_numerics = false;
  std::string plot;                    // PNG of loss and test accuracy per epoch
  std::vector<std::string> plot_with;  // other runs' curve JSON files, drawn beside
};

int train(const CommonOptions& c, const TrainOptions& t);
int evaluate(const CommonOptions& c, const std::string& load);
int predict(const CommonOptions& c, const std::string& load, int64_t index, int64_t count = 1);
int samples(const CommonOptions& c, const std::string& out);
int graph(const CommonOptions& c, bool dot, const std::string& out);
int export_onnx_model(const CommonOptions& c, const std::string& load, const std::string& onnx_path);
int devices();

}  // namespace gg::cli
