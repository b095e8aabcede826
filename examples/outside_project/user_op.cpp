// A user-defined op from outside graphgrad's tree, through the installed
// headers alone: swish(x) = x * sigmoid(x) (SiLU) with its shape rule, its
// gradient rule (written with the built-in ops) and its FLOP count; a CPU
// kernel; a Vulkan kernel from this project's own SPIR-V (swish.comp, compiled
// by glslangValidator in CMakeLists.txt). It runs y = sum(swish(x) * w) and
// its gradient on every backend here and checks them against double precision.
//   user_op SWISH_SPV
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include <graphgrad/backends/backend.h>
#include <graphgrad/backends/user_kernels.h>
#include <graphgrad/graph/autodiff.h>
#include <graphgrad/graph/op.h>
#include <graphgrad/ops/op_table.h>
#include <graphgrad/ops/ops.h>

using namespace gg;

class SwishOp final : public Op {
 public:
  const char* name() const override { return "swish"; }
  OpId id() const override { return id_; }
  TypedShape infer(const Graph& g, const Node& n) const override {
    if (n.inputs.size() != 1) throw GraphError("swish \"" + n.name + "\": takes one input");
    return {g.node(n.inputs[0]).shape, DType::f32};
  }
  // d/dx x s(x) = s + x s (1 - s), with s = sigmoid(x): built-in ops.
  std::vector<NodeId> grad(Graph& g, NodeId id, NodeId dy, const std::vector<bool>& needs) const override {
    if (!needs[0]) return {kNoNode};
    const NodeId x = g.node(id).inputs[0];
    const NodeId s = ops::sigmoid(g, x);
    const NodeId one_minus_s = ops::sub(g, ops::scalar(g, 1.0f), s);
    const NodeId d = ops::add(g, s, ops::mul(g, ops::mul(g, x, s), one_minus_s));
    return {ops::mul(g, dy, d)};
  }
  double flops(const Graph&, const Node& n, int64_t batch) const override { return 4.0 * double(n.shape.numel(batch)); }

 private:
  const OpId id_ = ops::register_op_id("swish");
};

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: user_op SWISH_SPV\n");
    return 2;
  }
  static const SwishOp swish;
  register_cpu_kernel(swish.id(), [](const UserCpuArgs& a) {
    const float* x = a.inputs[0];
    float* y = a.out;
    a.parallel_for(a.out_numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) y[i] = x[i] / (1.0f + std::exp(-x[i]));
    }, 4096);
  });
  const bool vulkan_built = backend_names().size() > 1;
  if (vulkan_built)
    register_vulkan_kernel(swish.id(), UserVulkanKernel{
        .spirv = read_spirv(argv[1]),
        .push = [](const NodeView& v) {
          const auto count = static_cast<uint32_t>(v.out_numel());
          std::vector<uint8_t> bytes(sizeof count);
          std::memcpy(bytes.data(), &count, sizeof count);
          return bytes;
        },
        .groups = [](const NodeView& v) {
          return std::array<uint32_t, 3>{static_cast<uint32_t>((v.out_numel() + 63) / 64), 1, 1};
        }});

  Graph g(3);
  const NodeId x = g.placeholder("x", Shape{kBatch, 5});
  const NodeId w = g.parameter("w", Shape{5}, Init::uniform(-1, 1));
  const NodeId y = ops::reduce_sum(g, ops::mul(g, g.add(swish, {x}), w), {}, false, "y");
  const std::vector<NodeId> dx = grad(g, y, {x});

  const int64_t batch = 3;
  std::vector<float> xs(15);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = -2.0f + 0.3f * float(i);
  int failures = 0, ran = 0;
  for (const std::string& name : backend_names()) {
    std::unique_ptr<Backend> b;
    try {
      b = make_backend(name, g);
    } catch (const BackendError& e) {
      std::printf("%s: not run here (%s)\n", name.c_str(), e.what());
      continue;
    }
    auto exe = b->compile({y, dx[0]}, batch);
    exe->run(std::vector<Feed>{{x, Shape{batch, 5}, DType::f32, xs.data()}});
    std::vector<float> out(1), grad_x(15), wv(5);
    exe->fetch(y, out);
    exe->fetch(dx[0], grad_x);
    b->read_variable(w, wv);
    double want = 0, worst = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      const double v = xs[i], s = 1.0 / (1.0 + std::exp(-v)), wi = wv[i % 5];
      want += v * s * wi;
      worst = std::max(worst, std::abs(grad_x[i] - wi * (s + v * s * (1 - s))));
    }
    const bool ok = std::abs(out[0] - want) < 1e-4 && worst < 1e-5;
    std::printf("%s: swish: sum %.6f (double %.6f), worst gradient error %.2g: %s\n", name.c_str(), out[0], want, worst,
                ok ? "ok" : "WRONG");
    failures += !ok;
    ++ran;
  }
  return failures || !ran ? 1 : 0;
}
