// The op test table, in the spirit of ggml's test-backend-ops: cases generated
// from the op table (every line of eltwise.def, in odd sizes, at batch 1 and
// 3, with broadcasting operands and scalars; every reduction and shape op) and
// one representative case for each op outside it. test_op_table.cpp runs each
// case's gradient check on the CPU and checks that together the cases cover
// every op; test_op_parity.cpp runs each on Vulkan against the CPU.
#pragma once
#include <string>
#include <vector>

#include "gradcheck.h"
#include "parity.h"

namespace gg::test {

struct OpCase {
  ParityCase parity;       // name, inputs, build, grads, tolerance, batches
  bool gradcheck = true;   // central-difference check of every gradient (grads only)
  double atol = 2e-3, rtol = 2e-2;
};

std::vector<OpCase> op_cases();

// The families' own cases, each in its file (op_cases_<family>.cpp), appended by op_cases().
void shape_cases(std::vector<OpCase>& out);     // transpose, concat, slice
void loss_cases(std::vector<OpCase>& out);      // softmax/log_softmax over any axis, the losses
void pool_matmul_cases(std::vector<OpCase>& out);  // avg_pool2d, global average pooling, batched matmul
void batch_norm_cases(std::vector<OpCase>& out);   // batch_norm (training), batch_norm_inference

// Shared by the families' files.
ParityCase make_case(std::string name, std::vector<ParityInput> inputs, Builder build, bool grads = true);
// Values evenly spread over [lo, hi), shuffled, none within 0.02 of 0 or of a point in `avoid`.
ParityInput ranged(Shape s, float lo, float hi, uint64_t seed, std::vector<float> avoid = {});

// The gradient-check inputs of a case at a batch size: each input's values
// from its generator, or spread apart over [lo, hi) (no two closer than the
// check's step, none at 0: no kinks, no ties), or labels.
std::vector<GradInput> grad_inputs(const ParityCase& c, int64_t batch, uint64_t seed);

}  // namespace gg::test
