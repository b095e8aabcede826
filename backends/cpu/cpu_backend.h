// The CPU backend: OpenBLAS sgemm over im2col for convolutions and dense
// layers, plain threaded loops for the rest.
#pragma once
#include <memory>
#include <vector>

#include <graphgrad/backends/backend.h>

namespace gg::cpu {

std::unique_ptr<Backend> make_cpu_backend(const Graph& graph, const BackendOptions& options);

// The worker count when BackendOptions::threads is 0: every core. OpenBLAS is
// set to one thread, since it runs inside our workers.
int default_threads();

// Built-in compute ops without a CPU kernel (ops_without_kernel("cpu")).
std::vector<OpId> missing_kernels();

}  // namespace gg::cpu
