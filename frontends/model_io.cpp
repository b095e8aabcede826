// Sequential's checkpoints: save(), load() and load_model(). A format-2
// checkpoint holds, beside the variables, a JSON document with the
// architecture, the compile options, the learning rate, the callbacks' state
// and which tensors are optimizer slots; format-1 files (no JSON) still load.
// A callback's tensors (EarlyStopping's best weights) sit in the same tensor
// table, under "callbacks/<key>/<name>", listed by key and name in the JSON's
// training.callback_tensors; format-2 files written before they existed
// simply have none. Data-parallel, rank 0 reads the file and every rank loads
// its bytes, so every rank restores the same training state.
#include <algorithm>
#include <exception>
#include <iostream>
#include <map>
#include <ostream>
#include <set>
#include <span>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <graphgrad/graph/op.h>

#include "checkpoint.h"
#include "model_json.h"
#include "sequential.h"

namespace gg {
namespace {
using json = nlohmann::json;

json parse_json(const ckpt::Checkpoint& c, const std::string& path) {
  try {
    return json::parse(c.json);
  } catch (const json::exception& e) {
    throw ckpt::CheckpointError(path + ": its JSON document does not parse: " + e.what());
  }
}

std::string callback_tensor_name(const std::string& key, const std::string& name) { return "callbacks/" + key + "/" + name; }

// training.callback_tensors: {key: [name, ...]}, each name a tensor of the file.
std::map<std::string, std::vector<ckpt::Tensor>> callback_tensors_of(const ckpt::Checkpoint& c, const json& training,
                                                                      const std::string& path) {
  std::map<std::string, std::vector<ckpt::Tensor>> out;
  if (!training.contains("callback_tensors")) return out;
  const json& listed = training["callback_tensors"];
  const std::string bad = path + ": corrupt checkpoint: training.callback_tensors ";
  if (!listed.is_object()) throw ckpt::CheckpointError(bad + "is not an object of name lists");
  for (auto it = listed.begin(); it != listed.end(); ++it) {
    if (!it.value().is_array()) throw ckpt::CheckpointError(bad + "of \"" + it.key() + "\" is not a list of names");
    for (const json& name : it.value()) {
      if (!name.is_string()) throw ckpt::CheckpointError(bad + "of \"" + it.key() + "\" holds a name that is not a string");
      const std::string full = callback_tensor_name(it.key(), name.get<std::string>());
      const ckpt::Tensor* t = c.find(full);
      if (!t) throw ckpt::CheckpointError(bad + "lists tensor \"" + full + "\", which the file does not hold");
      out[it.key()].push_back({name.get<std::string>(), t->shape, t->values});
    }
  }
  return out;
}

// Format 1 named optimizer slots "<parameter>/<optimizer>_<slot>".
bool looks_like_v1_slot(const std::string& name) {
  const size_t slash = name.rfind('/');
  if (slash == std::string::npos) return false;
  const std::string tail = name.substr(slash + 1);
  return tail.rfind("adam_", 0) == 0 || tail.rfind("sgd_", 0) == 0 || tail.rfind("rmsprop_", 0) == 0 || tail == "velocity" ||
         tail == "momentum";
}
}  // namespace

std::string Sequential::to_json() const { return model_to_json({input_, seed_, layers_}).dump(); }

void Sequential::save(const std::filesystem::path& path) const {
  require_compiled("save()");
  if (comm_->rank() != 0) return;  // every rank holds the same variables; one file
  ckpt::Checkpoint c;
  c.step = static_cast<uint64_t>(step_);
  c.architecture = architecture();
  json slots = json::array(), callbacks = json::object(), listed = json::object();
  std::vector<ckpt::Tensor> extra;  // the callbacks' tensors, after the variables
  auto keep_tensors = [&](const std::string& key, std::vector<ckpt::Tensor> tensors) {
    if (tensors.empty()) return;
    json names = json::array();
    for (ckpt::Tensor& t : tensors) {
      names.push_back(t.name);
      t.name = callback_tensor_name(key, t.name);
      extra.push_back(std::move(t));
    }
    listed[key] = std::move(names);
  };
  for (NodeId id : optimizer_slots_) slots.push_back(graph_.node(id).name);
  for (const Callback* cb : active_callbacks_)
    if (!cb->key().empty()) callbacks[cb->key()] = json::parse(cb->state()), keep_tensors(cb->key(), cb->tensors());
  for (const auto& [key, state] : callback_states_)
    if (!callbacks.contains(key)) {  // kept from the checkpoint this model loaded, or its last fit
      callbacks[key] = json::parse(state);
      if (const auto t = callback_tensors_.find(key); t != callback_tensors_.end()) keep_tensors(key, t->second);
    }
  json training{{"learning_rate", lr_}, {"callbacks", callbacks}};
  if (!listed.empty()) training["callback_tensors"] = std::move(listed);
  const json doc{{"model", model_to_json({input_, seed_, layers_})},
                 {"compile", compile_to_json(options_)},
                 {"optimizer", std::string(optimizer_name(options_.optimizer))},
                 {"optimizer_slots", slots},
                 {"training", std::move(training)}};
  c.json = doc.dump();
  std::set<std::string> names;
  for (NodeId v : graph_.variables()) {
    const Node& n = graph_.node(v);
    ckpt::Tensor t{n.name, n.shape, std::vector<float>(static_cast<size_t>(n.shape.numel()))};
    backend_->read_variable(v, t.values);
    names.insert(t.name);
    c.tensors.push_back(std::move(t));
  }
  for (ckpt::Tensor& t : extra) {
    // A layer the user named "callbacks/..." could hold a variable of the same name.
    if (!names.insert(t.name).second)
      throw ckpt::CheckpointError(path.string() + ": callback tensor \"" + t.name + "\" has the name of another tensor; rename that layer");
    c.tensors.push_back(std::move(t));
  }
  ckpt::save(path, c);
}

void Sequential::load(const std::filesystem::path& path, const LoadOptions& options) {
  require_compiled("load()");
  const std::string p = path.string();
  if (comm_->size() == 1) return load_checkpoint(ckpt::load(path), p, options);
  // Rank 0 reads the file and sends every rank its bytes (their length first,
  // or an error's text), and every rank loads them: whatever load restores
  // (variables, optimizer slots, step, learning rate, the callbacks' states
  // and tensors) is then the same on every rank by construction, so the
  // ranks take the same early-stopping and learning-rate decisions.
  std::exception_ptr failed;
  std::string bytes;
  int64_t header[2] = {0, 0};  // {1: rank 0 could not read it, length of bytes or of the error's text}
  if (comm_->rank() == 0) try {
      bytes = ckpt::serialize(ckpt::load(path), p);
    } catch (const std::exception& e) {
      failed = std::current_exception(), bytes = *e.what() ? e.what() : "unknown error", header[0] = 1;
    }
  header[1] = static_cast<int64_t>(bytes.size());
  comm_->broadcast(std::as_writable_bytes(std::span<int64_t>(header, 2)), 0);
  bytes.resize(static_cast<size_t>(header[1]));
  comm_->broadcast(std::as_writable_bytes(std::span<char>(bytes.data(), bytes.size())), 0);
  if (failed) std::rethrow_exception(failed);
  if (header[0]) throw ckpt::CheckpointError("rank 0 could not load the checkpoint: " + bytes);
  // Every rank checks the same bytes against the same model, so all of them
  // fail or none; the count makes sure, so that no rank goes on alone.
  std::ostream discard(nullptr);
  double failures = 0;
  try {
    load_checkpoint(ckpt::parse(bytes, p), p, {.weights_only = options.weights_only, .log = comm_->rank() == 0 ? options.log : &discard});
  } catch (const std::exception&) {
    failed = std::current_exception(), failures = 1;
  }
  comm_->allreduce_sum(std::span<double>(&failures, 1));
  if (failed) std::rethrow_exception(failed);
  if (failures > 0) throw ckpt::CheckpointError(p + ": loaded here, but not on another rank: do all ranks build the same model?");
  broadcast_variables();  // rank 0's, where the file left any unset (weights_only, another optimizer's slots)
}

void Sequential::load_checkpoint(const ckpt::Checkpoint& c, const std::string& p, const LoadOptions& options) {
  const std::string archs = "\n  checkpoint: " + c.architecture + "\n  this model: " + architecture();
  std::set<std::string> their_slots;
  std::string their_optimizer = "another optimizer";
  json doc;
  std::map<std::string, std::vector<ckpt::Tensor>> their_callback_tensors;
  std::set<std::string> callback_tensor_names;
  if (!c.json.empty()) {
    doc = parse_json(c, p);
    if (doc.contains("training") && doc["training"].is_object()) their_callback_tensors = callback_tensors_of(c, doc["training"], p);
    for (const auto& [key, tensors] : their_callback_tensors)
      for (const ckpt::Tensor& t : tensors) callback_tensor_names.insert(callback_tensor_name(key, t.name));
    ModelConfig theirs;
    try {
      theirs = model_from_json(doc.at("model"));
    } catch (const std::exception& e) {
      throw ckpt::CheckpointError(p + ": its architecture does not read: " + e.what());
    }
    const std::string diff = first_difference(theirs, {input_, seed_, layers_});
    if (!diff.empty()) throw ckpt::CheckpointError(p + ": another architecture: " + diff);
    if (doc.contains("optimizer_slots"))
      for (const auto& s : doc["optimizer_slots"]) their_slots.insert(s.get<std::string>());
    if (doc.contains("optimizer")) their_optimizer = doc["optimizer"].get<std::string>();
  } else {
    for (const ckpt::Tensor& t : c.tensors)
      if (looks_like_v1_slot(t.name)) their_slots.insert(t.name);
    if (!their_slots.empty()) their_optimizer = their_slots.begin()->find("/adam_") != std::string::npos ? "adam" : "sgd";
  }

  const std::vector<NodeId> weights = weight_nodes();
  auto is_weight = [&](NodeId id) { return std::find(weights.begin(), weights.end(), id) != weights.end(); };
  auto is_slot = [&](NodeId id) { return std::find(optimizer_slots_.begin(), optimizer_slots_.end(), id) != optimizer_slots_.end(); };
  // Check everything before writing anything, so a bad file leaves the model as it was.
  std::vector<std::pair<NodeId, const ckpt::Tensor*>> writes;
  size_t slots_loaded = 0, slots_skipped = 0;
  for (const ckpt::Tensor& t : c.tensors) {
    if (callback_tensor_names.count(t.name)) continue;  // restored with the callbacks' state below
    const NodeId id = graph_.find(t.name);
    const bool ours = id != kNoNode && (is_weight(id) || is_slot(id));
    if (!ours) {
      if (their_slots.count(t.name)) {
        ++slots_skipped;
        continue;
      }
      throw ckpt::CheckpointError(p + ": tensor \"" + t.name + "\" is not part of this model (another architecture?)" + archs);
    }
    if (graph_.node(id).shape != t.shape)
      throw ckpt::CheckpointError(p + ": tensor \"" + t.name + "\" has shape " + t.shape.str() + ", the model expects " +
                                  graph_.node(id).shape.str() + archs);
    if (is_slot(id)) {
      if (options.weights_only) continue;
      ++slots_loaded;
    }
    writes.emplace_back(id, &t);
  }
  for (NodeId w : weights)
    if (!c.find(graph_.node(w).name))
      throw ckpt::CheckpointError(p + ": no tensor for \"" + graph_.node(w).name + "\" (another architecture?)" + archs);
  // The optimizer's state comes whole or not at all: half of Adam's slots would be a silent wrong answer.
  const bool full_state = !options.weights_only && slots_loaded == optimizer_slots_.size() && slots_skipped == 0;
  if (!options.weights_only && !full_state && (slots_loaded || slots_skipped)) {
    std::ostream& log = options.log ? *options.log : std::cerr;
    log << fmt::format("{}: the checkpoint's optimizer state ({}, {} tensors) does not fit this model's {}: "
                       "its optimizer state starts fresh\n",
                       p, their_optimizer, slots_loaded + slots_skipped, optimizer_name(options_.optimizer));
    std::erase_if(writes, [&](const auto& w) { return is_slot(w.first); });
  }
  for (const auto& [id, t] : writes) backend_->write_variable(id, t->values);
  if (full_state) {
    step_ = static_cast<int64_t>(c.step);
    if (doc.contains("training")) {
      const json& tr = doc["training"];
      if (tr.contains("learning_rate") && tr["learning_rate"].is_number() && !options_.lr_schedule)
        lr_ = tr["learning_rate"].get<double>();
      callback_states_.clear();
      callback_tensors_ = std::move(their_callback_tensors);
      if (tr.contains("callbacks"))
        for (auto it = tr["callbacks"].begin(); it != tr["callbacks"].end(); ++it) callback_states_[it.key()] = it.value().dump();
    }
  }
}

std::unique_ptr<Sequential> load_model(const std::filesystem::path& path, const LoadModelOptions& options) {
  const std::string p = path.string();
  const ckpt::Checkpoint c = ckpt::load(path);
  if (c.json.empty())
    throw ckpt::CheckpointError(p + ": a format-" + std::to_string(c.version) +
                                " checkpoint holds no architecture to rebuild; build the model in code and load() it");
  const json doc = parse_json(c, p);
  ModelConfig m;
  CompileOptions co;
  try {
    m = model_from_json(doc.at("model"));
    compile_from_json(doc.at("compile"), co);
  } catch (const std::exception& e) {
    throw ckpt::CheckpointError(p + ": its architecture does not read: " + e.what());
  }
  auto model = std::make_unique<Sequential>(m.input, m.seed);
  for (Layer& l : m.layers) model->add(std::move(l));
  co.backend = options.backend;
  co.backend_options = options.backend_options;
  co.comm = options.comm;
  model->compile(co);
  model->load(path, {.log = options.log});
  return model;
}

}  // namespace gg
