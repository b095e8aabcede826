// Direct (im2col-free) stride-1 convolution on the CPU, for the conv shapes
// where im2col's 9x copy of the input costs as much as the GEMM itself
// (conv2d_2 of the MNIST net: 32x26x26 in, 32x3x3 window).
//
// The trick is the "wide" output: over an input plane of width Wp, output
// pixel q = oy*Wp + ox reads x[c][q + i*Wp + j] for window tap (i, j), so for
// a fixed tap every output row is one contiguous run of the input plane. The
// kernels compute all Wp columns of each output row (the last KW-1 of them
// are garbage that is never copied out) and feed AVX2 or AVX-512 FMAs
// straight from the input: no im2col buffer, no packing of the big operand.
// Both instruction sets give bit for bit the same results (cpu_isa.h picks one).
//
// The same "valid" kernel serves the forward pass and, on dy padded by
// KH-1-pad and flipped weights, the input gradient; a second kernel reduces
// dy x input into the weight gradient.
#pragma once
#include <cstddef>
#include <cstdint>

#include <graphgrad/ops/conv_geometry.h>

#include "thread_pool.h"

namespace gg::cpu::direct {

// True when this CPU runs the AVX2+FMA kernels (checked at run time, so a
// portable build without -march=native still takes the direct path); a
// BackendError if GRAPHGRAD_CPU_ISA names an unknown or missing one.
bool supported();

// Whether the direct path handles this geometry (stride 1, padding no larger
// than the window) and is worth it over im2col (enough input channels).
bool applicable(const ops::ConvGeometry& g);

// The scratch each conv kernel needs on the direct path, in floats.
size_t forward_scratch(const ops::ConvGeometry& g, int threads);
size_t backward_input_scratch(const ops::ConvGeometry& g, int threads);
size_t backward_weight_scratch(const ops::ConvGeometry& g, int threads);


// y[N,OC,OH,OW] = conv(x[N,C,H,W], w[OC,C,KH,KW]) + b (b may be null),
// through relu when `relu` is set.
void forward(const ops::ConvGeometry& g, int64_t batch, const float* x, const float* w, const float* b, float* y,
             float* scratch, ThreadPool& pool, bool relu = false);
// dx[N,C,H,W] = the adjoint of forward in x, applied to dy[N,OC,OH,OW].
void backward_input(const ops::ConvGeometry& g, int64_t batch, const float* dy, const float* w, float* dx,
                    float* scratch, ThreadPool& pool);
// dw[OC,C,KH,KW] = sum over the batch of dy_n (x) x_n. Each thread sums its
// images; the per-thread sums are added in thread order (deterministic for a
// given thread count).
void backward_weight(const ops::ConvGeometry& g, int64_t batch, const float* dy, const float* x, float* dw,
                     float* scratch, ThreadPool& pool);

}  // namespace gg::cpu::direct
