// The op table's tests: every case of op_cases.cpp gradient-checked on the
// CPU, and the coverage check: every built-in op has a kernel on each backend,
// a gradient check (if differentiable) and a parity case among op_cases(),
// unless exempted below with the reason.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <sstream>
#include <string>

#include <graphgrad/backends/backend.h>
#include <graphgrad/graph/autodiff.h>
#include <graphgrad/ops/op_table.h>
#include <graphgrad/ops/ops.h>

#include "op_cases.h"

using namespace gg;

namespace {

// Ops the table-driven cases cannot hold, and where they are tested instead.
const std::map<OpId, const char*> kNoParityCase = {
    {ops::id::adam_update, "updates run over several steps: 'parity adam_update' in test_backend_parity.cpp"},
    {ops::id::sgd_update, "updates run over several steps: 'parity sgd_update' in test_backend_parity.cpp"},
    {ops::id::rmsprop_update, "updates run over several steps: 'parity rmsprop_update' in test_backend_parity.cpp"},
    {ops::id::batch_norm_moving_update,
     "updates run over several steps: 'batch_norm_moving_update: 3 steps' in op_cases_batch_norm.cpp, on every backend"},
    {ops::id::allreduce_start, "needs ranks: the mpi_parity_vulkan test"},
    {ops::id::allreduce_wait, "needs ranks: the mpi_parity_vulkan test"},
    {ops::id::bucket_slice, "needs ranks: the mpi_parity_vulkan test"},
};
const std::map<OpId, const char*> kNoGradCheck = {
    {ops::id::accuracy, "not differentiable"},
    {ops::id::adam_update, "an update, not differentiable"},
    {ops::id::sgd_update, "an update, not differentiable"},
    {ops::id::rmsprop_update, "an update, not differentiable"},
    {ops::id::batch_norm_moving_update, "an update, not differentiable"},
    {ops::id::allreduce_start, "added after autodiff by the data-parallel pass"},
    {ops::id::allreduce_wait, "added after autodiff by the data-parallel pass"},
    {ops::id::bucket_slice, "added after autodiff by the data-parallel pass"},
};

// The ops a case schedules: its forward and, with grads, its vjp.
std::set<OpId> ops_of(const test::ParityCase& c) {
  Graph g;
  std::vector<NodeId> ph, wrt;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    ph.push_back(g.placeholder("in" + std::to_string(i), c.inputs[i].shape, c.inputs[i].dtype));
    if (c.inputs[i].dtype == DType::f32 && c.inputs[i].differentiable) wrt.push_back(ph.back());
  }
  std::vector<NodeId> targets{c.build(g, ph)};
  if (c.grads && !wrt.empty()) {
    const NodeId y = targets[0];
    for (NodeId d : vjp(g, y, g.placeholder("dy", g.node(y).shape), wrt)) targets.push_back(d);
  }
  std::set<OpId> out;
  for (NodeId id : g.schedule(targets)) out.insert(g.node(id).op->id());
  return out;
}

std::string names(const std::vector<OpId>& ops) {
  std::string s;
  for (OpId op : ops) s += (s.empty() ? "" : ", ") + std::string(ops::op_info(op).name);
  return s;
}

}  // namespace

TEST_CASE("gradcheck every op-table case (op_cases.cpp) at batch 1 and 3") {
  for (const test::OpCase& c : test::op_cases()) {
    if (!c.gradcheck || !c.parity.grads) continue;
    for (int64_t batch : c.parity.batches) {
      CAPTURE(c.parity.name);
      CAPTURE(batch);
      const auto r = test::grad_check(c.parity.build, test::grad_inputs(c.parity, batch, 17), batch, 1, 1e-2, c.atol, c.rtol);
      INFO("checked " << r.checked << ", failed " << r.failed << ", max abs error " << r.max_abs_error << "; " << r.first_failure);
      CHECK(r.checked > 0);
      CHECK(r.failed == 0);
    }
  }
}

TEST_SUITE("op_table") {

TEST_CASE("the table: names are unique and every id has a row") {
  std::set<std::string_view> seen;
  for (OpId op = 0; op < ops::id::builtin_count; ++op) {
    const ops::OpInfo& r = ops::op_info(op);
    CHECK_MESSAGE(seen.insert(r.name).second, "op name '" << r.name << "' is listed twice");
    CHECK(r.min_inputs <= r.max_inputs);
  }
  CHECK(ops::op_count() >= ops::id::builtin_count);
}

TEST_CASE("coverage: every op has kernels on every backend, a gradient check and a parity case") {
  for (const std::string& backend : backend_names()) {
    CAPTURE(backend);
    const std::vector<OpId> missing = ops_without_kernel(backend);
    CHECK_MESSAGE(missing.empty(), "no " << backend << " kernel for: " << names(missing));
  }
  std::set<OpId> parity, grad;
  for (const test::OpCase& c : test::op_cases()) {
    const std::set<OpId> ops = ops_of(c.parity);
    parity.insert(ops.begin(), ops.end());
    if (c.gradcheck && c.parity.grads) grad.insert(ops.begin(), ops.end());
  }
  std::vector<OpId> no_parity, no_grad;
  for (OpId op = 0; op < ops::id::builtin_count; ++op) {
    if (ops::op_info(op).kind == ops::OpKind::leaf) continue;
    if (!parity.count(op) && !kNoParityCase.count(op)) no_parity.push_back(op);
    if (!grad.count(op) && !kNoGradCheck.count(op)) no_grad.push_back(op);
  }
  CHECK_MESSAGE(no_parity.empty(), "no parity case in op_cases.cpp for: " << names(no_parity));
  CHECK_MESSAGE(no_grad.empty(), "no gradient check in op_cases.cpp for: " << names(no_grad));
}

TEST_CASE("every op's FLOP count is its own formula: element-wise ops count per element") {
  Graph g;
  const NodeId x = g.placeholder("x", Shape{kBatch, 10});
  CHECK(g.node(ops::tanh(g, x)).op->flops(g, g.node(g.size() - 1), 4) == doctest::Approx(40));
  const NodeId s = ops::sigmoid(g, x);
  CHECK(g.node(s).op->flops(g, g.node(s), 4) == doctest::Approx(120));
  const NodeId r = ops::reduce_sum(g, x, {1});
  CHECK(g.node(r).op->flops(g, g.node(r), 4) == doctest::Approx(40));
}

}  // TEST_SUITE
