// The CPU backend: OpenBLAS sgemm over im2col for convolutions and dense
// layers, plain threaded loops for the rest.
#pragma once
#include <memory>

#include <graphgrad/backends/backend.h>

namespace gg::cpu {

std::unique_ptr<Backend> make_cpu_backend(const Graph& graph, const BackendOptions& options);

// The worker count when BackendOptions::threads is 0: every core. OpenBLAS is
// set to one thread, since it runs inside our workers.
int default_threads();

}  // namespace gg::cpu
