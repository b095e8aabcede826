#include "gradcheck.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/autodiff.h>

namespace gg::test {

std::vector<float> spread_values(int64_t count, uint64_t seed, double min_gap) {
  std::vector<float> v(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) v[static_cast<size_t>(i)] = static_cast<float>((double(i - count / 2) + 0.5) * min_gap);  // never 0
  std::shuffle(v.begin(), v.end(), std::mt19937_64(seed));
  return v;
}

GradCheckResult grad_check(const std::function<NodeId(Graph&, const std::vector<NodeId>&)>& build,
                           std::vector<GradInput> inputs, int64_t batch, uint64_t seed, double eps, double atol,
                           double rtol, int max_samples) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  Graph g(seed);
  std::vector<NodeId> ph;
  for (size_t i = 0; i < inputs.size(); ++i) {
    GradInput& in = inputs[i];
    ph.push_back(g.placeholder("in" + std::to_string(i), in.shape, in.dtype));
    const auto n = static_cast<size_t>(in.shape.numel(batch));
    if (in.dtype == DType::f32 && in.values.empty())
      for (size_t k = 0; k < n; ++k) in.values.push_back(uni(rng));
    if ((in.dtype == DType::f32 ? in.values.size() : in.ivalues.size()) != n)
      throw std::runtime_error("grad_check: input " + std::to_string(i) + " has the wrong number of values");
  }
  const NodeId y = build(g, ph);
  const NodeId dy = g.placeholder("dy", g.node(y).shape);
  std::vector<NodeId> wrt;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].differentiable) wrt.push_back(ph[i]);
  const std::vector<NodeId> grads = vjp(g, y, dy, wrt);

  std::vector<float> r(static_cast<size_t>(g.node(y).shape.numel(batch)));
  for (auto& x : r) x = uni(rng);

  auto backend = make_backend("cpu", g, BackendOptions{2, {}});
  std::vector<NodeId> targets{y};
  targets.insert(targets.end(), grads.begin(), grads.end());
  auto exe = backend->compile(targets, batch);

  auto feeds = [&]() {
    std::vector<Feed> f;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const void* data = inputs[i].dtype == DType::f32 ? static_cast<const void*>(inputs[i].values.data())
                                                       : static_cast<const void*>(inputs[i].ivalues.data());
      f.push_back({ph[i], inputs[i].shape.resolved(batch), inputs[i].dtype, data});
    }
    f.push_back({dy, g.node(y).shape.resolved(batch), DType::f32, r.data()});
    return f;
  };
  std::vector<float> yv(r.size());
  auto loss = [&]() {
    auto f = feeds();
    exe->run(f);
    exe->fetch(y, yv);
    double s = 0;
    for (size_t k = 0; k < r.size(); ++k) s += double(yv[k]) * double(r[k]);
    return s;
  };

  loss();
  std::vector<std::vector<float>> analytic;
  for (NodeId gnode : grads) {
    analytic.emplace_back(static_cast<size_t>(g.node(gnode).shape.numel(batch)));
    exe->fetch(gnode, analytic.back());
  }

  GradCheckResult res;
  double err2 = 0, ref2 = 0;
  size_t w = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].differentiable) continue;
    auto& vals = inputs[i].values;
    std::vector<size_t> idx(vals.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::shuffle(idx.begin(), idx.end(), rng);
    idx.resize(std::min<size_t>(idx.size(), static_cast<size_t>(max_samples)));
    for (size_t k : idx) {
      const float keep = vals[k];
      vals[k] = keep + static_cast<float>(eps);
      const double lp = loss();
      vals[k] = keep - static_cast<float>(eps);
      const double lm = loss();
      vals[k] = keep;
      const double numeric = (lp - lm) / (2 * eps);
      const double a = analytic[w][k];
      const double err = std::abs(a - numeric);
      err2 += err * err, ref2 += numeric * numeric;
      res.max_abs_error = std::max(res.max_abs_error, err);
      res.max_rel_error = std::max(res.max_rel_error, err / std::max(1e-6, std::abs(numeric)));
      ++res.checked;
      if (err > atol + rtol * std::abs(numeric)) {
        if (!res.failed++) {
          std::ostringstream os;
          os << "input " << i << " element " << k << ": analytic " << a << " numeric " << numeric;
          res.first_failure = os.str();
        }
      }
    }
    ++w;
  }
  res.rel_norm_error = std::sqrt(err2 / std::max(ref2, 1e-30));
  return res;
}

}  // namespace gg::test
