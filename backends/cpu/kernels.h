// The CPU kernel table: one function per op id. A kernel reads its inputs
// and writes its output through KernelArgs; it never allocates (scratch space
// is planned at compile time from scratch_floats).
#pragma once
#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include <graphgrad/backends/comm/communicator.h>
#include <graphgrad/backends/node_view.h>
#include <graphgrad/graph/graph.h>
#include <graphgrad/graph/op.h>

#include "thread_pool.h"

namespace gg::cpu {

inline constexpr int kMaxInputs = 16;

struct KernelArgs : NodeView {
  void* in[kMaxInputs] = {};
  float* out = nullptr;
  ThreadPool* pool = nullptr;
  float* scratch = nullptr;  // scratch_floats(...) floats, 64-byte aligned
  Communicator* comm = nullptr;  // runs the allreduce nodes
  // conv2d: apply relu to the output as it is written (the compile step sets
  // this where a relu is the output's only reader; see cpu_backend.cpp).
  bool relu_epilogue = false;

  template <class T = float>
  const T* input(int i) const { return static_cast<const T*>(in[i]); }
  // Inputs an update kernel writes in place (its mutated_inputs()).
  float* inout(int i) const { return static_cast<float*>(in[i]); }
};

using KernelFn = void (*)(const KernelArgs&);
// Scratch a kernel needs at the given maximum batch and thread count.
using ScratchFn = size_t (*)(const Graph&, const Node&, int64_t max_batch, int threads);

struct KernelEntry {
  OpId op;
  KernelFn run = nullptr;       // nullptr: the output aliases input 0 (reshape)
  ScratchFn scratch = nullptr;  // nullptr: none
  // The kernel reads element i of its inputs only to write element i of its
  // output, so the output may overwrite input 0 when nothing reads it later.
  bool in_place = false;
};

// nullptr when the CPU backend has no kernel for the op.
const KernelEntry* find_kernel(OpId op);
// A user-defined op's kernel (user_op.h); throws std::logic_error when it has one.
void add_kernel(const KernelEntry& e);

// Per-family tables, joined by find_kernel.
using KernelTable = std::span<const KernelEntry>;
KernelTable conv_kernels();
KernelTable dense_kernels();
KernelTable pool_kernels();
KernelTable avg_pool_kernels();  // avg_pool2d, avg_pool2d_backward
KernelTable elementwise_kernels();
KernelTable eltwise_def_kernels();  // the ops of ops/eltwise.def
KernelTable reduce_kernels();
KernelTable shape_kernels();    // transpose, concat, slice, slice_backward
KernelTable softmax_kernels();
KernelTable loss_kernels();     // softmax_cross_entropy_soft, bce_with_logits, nll_loss
KernelTable optimizer_kernels();
KernelTable batch_norm_kernels();  // batch_norm and its gradient, inference and moving-update ops
KernelTable comm_kernels();

}  // namespace gg::cpu
