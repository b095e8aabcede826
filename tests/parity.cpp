#include "parity.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include <graphgrad/graph/autodiff.h>
#include <graphgrad/graph/op.h>

namespace gg::test {

std::vector<float> distinct_values(int64_t count, uint64_t seed, double gap) {
  std::vector<float> v(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i)
    v[static_cast<size_t>(i)] = static_cast<float>((double(i - count / 2) + 0.5) * gap);  // never 0
  std::shuffle(v.begin(), v.end(), std::mt19937_64(seed));
  return v;
}

ParityInput ParityInput::f32_distinct(Shape s, uint64_t seed) {
  ParityInput p;
  p.shape = std::move(s);
  p.gen = [seed](int64_t n) { return distinct_values(n, seed); };
  return p;
}

ParityInput ParityInput::f32_const(Shape s, std::vector<float> v) {
  ParityInput p;
  p.shape = std::move(s);
  p.differentiable = false;
  p.gen = [v = std::move(v)](int64_t) { return v; };
  return p;
}

ParityInput ParityInput::i32(Shape s, int32_t classes) {
  ParityInput p;
  p.shape = std::move(s);
  p.dtype = DType::i32;
  p.differentiable = false;
  p.classes = classes;
  return p;
}

ParityInput ParityInput::i32_const(Shape s, std::vector<int32_t> v) {
  ParityInput p = i32(std::move(s), 0);
  p.igen = [v = std::move(v)](int64_t) { return v; };
  return p;
}

namespace {

std::string index_str(const Shape& shape, size_t flat) {
  std::vector<int64_t> idx(static_cast<size_t>(shape.rank()));
  auto rest = static_cast<int64_t>(flat);
  for (int d = shape.rank() - 1; d >= 0; --d) {
    const int64_t n = std::max<int64_t>(1, shape[d]);
    idx[static_cast<size_t>(d)] = rest % n;
    rest /= n;
  }
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < idx.size(); ++i) os << (i ? "," : "") << idx[i];
  os << "]";
  return os.str();
}

std::string num(double x) {
  std::ostringstream os;
  os.precision(9);
  os << x;
  return os.str();
}

// Relative to its tolerance: how close a comparison came to failing.
double badness(const Comparison& c) {
  if (!c.ok) return std::numeric_limits<double>::infinity();
  if (c.tol.exact) return c.mismatches ? 1.0 : 0.0;
  return c.tol.nmse > 0 ? c.nmse / c.tol.nmse : c.nmse;
}

}  // namespace

Comparison compare(const std::string& what, const Shape& shape, std::span<const float> got,
                   std::span<const float> want, const Tolerance& tol) {
  Comparison c;
  c.what = what, c.shape = shape, c.tol = tol, c.count = want.size();
  if (got.size() != want.size()) {
    c.ok = false;
    c.what += " (sizes differ: " + std::to_string(got.size()) + " vs " + std::to_string(want.size()) + ")";
    return c;
  }
  double err2 = 0, ref2 = 0;
  bool first_bad = true;
  for (size_t i = 0; i < want.size(); ++i) {
    const double a = got[i], b = want[i];
    if (!std::isfinite(a) || !std::isfinite(b)) {
      if (first_bad) c.first_nonfinite = i, first_bad = false;
      ++c.nonfinite;
      continue;
    }
    if (got[i] != want[i]) ++c.mismatches;
    const double e = std::abs(a - b);
    err2 += e * e, ref2 += b * b;
    c.ref_max_abs = std::max(c.ref_max_abs, std::abs(b));
    if (e > c.max_abs) c.max_abs = e, c.worst = i;
  }
  c.nmse = ref2 > 0 ? err2 / ref2 : (err2 > 0 ? std::numeric_limits<double>::infinity() : 0.0);
  if (!want.empty()) c.got = got[c.worst], c.want = want[c.worst];
  if (c.nonfinite) {
    c.ok = false;
  } else if (tol.exact) {
    c.ok = c.mismatches == 0;
  } else {
    c.ok = c.nmse <= tol.nmse && c.max_abs <= tol.max_abs * std::max(1.0, c.ref_max_abs);
  }
  return c;
}

std::string Comparison::message() const {
  std::ostringstream os;
  os << (ok ? "ok   " : "FAIL ") << what << " " << shape.str() << ": ";
  if (nonfinite) {
    os << nonfinite << " NaN/Inf element(s), first at " << index_str(shape, first_nonfinite) << "; ";
  }
  os << "NMSE " << num(nmse);
  if (tol.exact)
    os << " (must be exact; " << mismatches << " of " << count << " elements differ)";
  else
    os << " (tol " << num(tol.nmse) << ")";
  os << ", max |a-b| " << num(max_abs);
  if (!tol.exact) os << " (tol " << num(tol.max_abs * std::max(1.0, ref_max_abs)) << ")";
  if (count) os << ", worst at " << index_str(shape, worst) << " (flat " << worst << "): got " << num(got) << " want " << num(want);
  return os.str();
}

bool ParityResult::ok() const {
  if (!error.empty() || comparisons.empty()) return false;
  return std::all_of(comparisons.begin(), comparisons.end(), [](const Comparison& c) { return c.ok; });
}

const Comparison* ParityResult::worst() const {
  const Comparison* w = nullptr;
  for (const Comparison& c : comparisons)
    if (!w || badness(c) > badness(*w)) w = &c;
  return w;
}

std::string ParityResult::report() const {
  std::ostringstream os;
  os << backend << " vs " << reference << " (ops: ";
  for (size_t i = 0; i < ops.size(); ++i) os << (i ? " " : "") << ops[i];
  os << ")";
  if (!error.empty()) os << "\n  ERROR " << error;
  if (comparisons.empty() && error.empty()) os << "\n  ERROR nothing was compared";
  for (const Comparison& c : comparisons) os << "\n  " << c.message();
  return os.str();
}

ParityResult run_parity(const ParityCase& pc, const std::string& backend, const std::string& reference, uint64_t seed,
                        const BackendOptions& options) {
  ParityResult res;
  res.backend = backend, res.reference = reference;
  // A graph without a batched input has no batch size: it runs once.
  const bool batched = std::any_of(pc.inputs.begin(), pc.inputs.end(), [](const ParityInput& in) { return in.shape.has_batch(); });
  const std::vector<int64_t> batches = batched && !pc.batches.empty() ? pc.batches : std::vector<int64_t>{1};
  const int64_t max_batch = *std::max_element(batches.begin(), batches.end());
  std::string stage = "building the graph";
  try {
    // The graph first: both backends refer to it, so it outlives them.
    Graph g(seed);
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + 12345);
    std::vector<NodeId> ph;
    std::vector<std::vector<float>> fvals(pc.inputs.size());
    std::vector<std::vector<int32_t>> ivals(pc.inputs.size());
    for (size_t i = 0; i < pc.inputs.size(); ++i) {
      const ParityInput& in = pc.inputs[i];
      ph.push_back(g.placeholder("in" + std::to_string(i), in.shape, in.dtype));
      const auto n = static_cast<size_t>(in.shape.numel(max_batch));
      if (in.dtype == DType::f32) {
        if (in.gen) {
          fvals[i] = in.gen(static_cast<int64_t>(n));
        } else {
          std::uniform_real_distribution<double> uni(in.lo, in.hi);
          for (size_t k = 0; k < n; ++k) fvals[i].push_back(static_cast<float>(uni(rng)));
        }
        if (fvals[i].size() != n)
          throw std::runtime_error("input " + std::to_string(i) + " " + in.shape.str() + ": " +
                                   std::to_string(fvals[i].size()) + " values for " + std::to_string(n) + " elements");
      } else {
        if (in.igen) {
          ivals[i] = in.igen(static_cast<int64_t>(n));
        } else {
          std::uniform_int_distribution<int32_t> uni(0, std::max(1, in.classes) - 1);
          for (size_t k = 0; k < n; ++k) ivals[i].push_back(uni(rng));
        }
        if (ivals[i].size() != n)
          throw std::runtime_error("input " + std::to_string(i) + " " + in.shape.str() + ": " +
                                   std::to_string(ivals[i].size()) + " values for " + std::to_string(n) + " elements");
      }
    }
    const NodeId y = pc.build(g, ph);

    struct Target {
      NodeId id;
      std::string label;
      Tolerance tol;
    };
    std::vector<Target> targets;
    Tolerance ytol = pc.tol;
    if (pc.exact_output) ytol.exact = true;
    targets.push_back({y, "y = " + g.describe(y), ytol});

    NodeId dy = kNoNode;
    std::vector<float> dyvals;
    if (pc.grads) {
      dy = g.placeholder("dy", g.node(y).shape);
      std::vector<NodeId> wrt;
      std::vector<size_t> wrt_index;
      for (size_t i = 0; i < pc.inputs.size(); ++i)
        if (pc.inputs[i].dtype == DType::f32 && pc.inputs[i].differentiable) wrt.push_back(ph[i]), wrt_index.push_back(i);
      const std::vector<NodeId> grads = vjp(g, y, dy, wrt);
      for (size_t k = 0; k < grads.size(); ++k)
        targets.push_back({grads[k], "d/d in" + std::to_string(wrt_index[k]) + " = " + g.describe(grads[k]), pc.tol});
      std::uniform_real_distribution<double> uni(-1, 1);
      for (int64_t k = 0; k < g.node(y).shape.numel(max_batch); ++k) dyvals.push_back(static_cast<float>(uni(rng)));
    }

    std::vector<NodeId> ids;
    for (const Target& t : targets)
      if (std::find(ids.begin(), ids.end(), t.id) == ids.end()) ids.push_back(t.id);
    std::set<std::string> opset;
    for (NodeId id : g.schedule(ids)) opset.insert(g.node(id).op->name());
    res.ops.assign(opset.begin(), opset.end());
    for (const std::string& want : pc.expect_ops)
      if (!opset.count(want)) {
        res.error = "the graph has no '" + want + "' node among the scheduled ones";
        return res;
      }

    stage = "make_backend(\"" + reference + "\")";
    auto ref = make_backend(reference, g, options);
    stage = "make_backend(\"" + backend + "\")";
    auto test = make_backend(backend, g, options);
    stage = reference + " compile";
    auto ref_exe = ref->compile(ids, max_batch);
    stage = backend + " compile";
    auto test_exe = test->compile(ids, max_batch);

    for (int64_t batch : batches) {
      std::vector<Feed> feeds;
      for (size_t i = 0; i < pc.inputs.size(); ++i) {
        const void* data = pc.inputs[i].dtype == DType::f32 ? static_cast<const void*>(fvals[i].data())
                                                            : static_cast<const void*>(ivals[i].data());
        feeds.push_back({ph[i], pc.inputs[i].shape.resolved(batch), pc.inputs[i].dtype, data});
      }
      if (dy != kNoNode) feeds.push_back({dy, g.node(y).shape.resolved(batch), DType::f32, dyvals.data()});

      const std::string at = " @ batch " + std::to_string(batch);
      stage = reference + " run" + at;
      ref_exe->run(feeds);
      stage = backend + " run" + at;
      test_exe->run(feeds);
      test->synchronize();
      if (test_exe->batch() != ref_exe->batch() || (batched && test_exe->batch() != batch)) {
        res.error = "batch() after a run of batch " + std::to_string(batch) + ": " + backend + " says " +
                    std::to_string(test_exe->batch()) + ", " + reference + " says " + std::to_string(ref_exe->batch());
        return res;
      }
      for (const Target& t : targets) {
        const Shape shape = g.node(t.id).shape.resolved(batch);
        std::vector<float> a(static_cast<size_t>(shape.numel())), b(a.size());
        stage = reference + " fetch" + at + " of " + t.label;
        ref_exe->fetch(t.id, b);
        stage = backend + " fetch" + at + " of " + t.label;
        test_exe->fetch(t.id, a);
        res.comparisons.push_back(compare(t.label + at, shape, a, b, t.tol));
      }
    }
  } catch (const std::exception& e) {
    res.error = stage + ": " + e.what();
  }
  return res;
}

bool vulkan_required() {
  const char* v = std::getenv(kRequireVulkanEnv);
  return v && *v && std::string(v) != "0";
}

bool vulkan_or_skip() {
  const auto why = backend_unavailable("vulkan");
  if (!why) return true;
  if (vulkan_required()) FAIL(kRequireVulkanEnv << " is set, but the vulkan backend fails: " << *why);
  MESSAGE(kParitySkipMarker << ": no vulkan backend here (" << *why << ")");
  return false;
}

ScopedEnv::ScopedEnv(const char* name, const char* value) : name_(name) {
  if (const char* old = std::getenv(name)) old_ = old;
  if (value) ::setenv(name, value, 1);
  else ::unsetenv(name);
}

ScopedEnv::~ScopedEnv() {
  if (old_) ::setenv(name_, old_->c_str(), 1);
  else ::unsetenv(name_);
}

std::optional<std::string> backend_unavailable(const std::string& backend) {
  static std::map<std::string, std::optional<std::string>> cache;
  if (auto it = cache.find(backend); it != cache.end()) return it->second;
  std::optional<std::string> why;
  {
    Graph g;
    g.placeholder("probe", Shape{1});
    try {
      auto b = make_backend(backend, g, BackendOptions{2, {}});
    } catch (const BackendError& e) {
      why = e.what();
    }
  }
  cache[backend] = why;
  return why;
}

std::vector<float> read_variable(const Backend& b, NodeId id) {
  std::vector<float> v(static_cast<size_t>(b.graph().node(id).shape.numel()));
  b.read_variable(id, v);
  return v;
}

}  // namespace gg::test
