// What the direct convolution's drivers (conv_direct.cpp) share with its
// AVX-512 kernels (conv_direct_avx512.cpp): the layouts of the padded input,
// of the packed weights and of the positions a kernel computes, and the
// AVX-512 entry points. Internal to the CPU backend.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include <graphgrad/ops/conv_geometry.h>

namespace gg::cpu::direct {

inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
inline size_t aligned(int64_t floats) { return static_cast<size_t>(round_up(floats, 16)); }  // 64-byte multiples

constexpr int64_t kTileQ = 16;  // the wide output is computed in whole multiples of this many positions

// The output channels split into register tiles of at most max_rows, as
// evenly as possible: 32 = 6+6+5+5+5+5 rather than 6*5+2, whose 2-row tile
// would do 4 FMAs per 4 loads and run at half speed.
struct RowBlocks {
  int64_t count, base, extra;  // `extra` blocks of base+1 rows, then base-row ones
  RowBlocks(int64_t channels, int64_t max_rows)
      : count((channels + max_rows - 1) / max_rows), base(channels / count), extra(channels % count) {}
  int64_t first(int64_t b) const { return b * base + std::min(b, extra); }
  int64_t rows(int64_t b) const { return base + (b < extra ? 1 : 0); }
};

// A padded plane set: ch planes of hp x wp floats, followed by `slack` floats
// that the last tile's vector loads may read (their results land in garbage
// columns; the slack is zeroed so they stay finite).
struct Padded {
  int64_t ch = 0, hp = 0, wp = 0, nq = 0, nq_tiles = 0, slack = 0;
  int64_t plane() const { return hp * wp; }
  int64_t floats() const { return ch * plane() + slack; }
};

// The input of a valid kh x kw convolution with `out_h` output rows over
// planes of width wp: nq = out_h * wp wide outputs, rounded up to whole tiles.
Padded padded(int64_t ch, int64_t hp, int64_t wp, int64_t out_h, int64_t kw);
// Forward: the input padded by the conv's own padding.
Padded forward_input(const ops::ConvGeometry& g);
// Input gradient: dy padded to a "full" convolution, whose valid output is dx.
Padded backward_input_dy(const ops::ConvGeometry& g);
// dst = src (ch planes of h x w) placed at (top, left) in p's planes, zero elsewhere.
void pad_planes(const float* src, int64_t h, int64_t w, int64_t top, int64_t left, const Padded& p, float* dst);
// out[o][oy][ox] = the wide output `wide` (rows in.wp apart, planes
// in.nq_tiles apart; the columns past out_w are garbage) + bias, through relu if asked.
void copy_out(const float* wide, const Padded& in, int64_t cout, int64_t out_h, int64_t out_w, const float* bias,
              bool relu, float* out);
// dy[OC][OH][OW] in wide form: row stride wp, zero in the garbage columns and
// up to nq8 (so the weight kernel's sums see exactly the valid outputs).
void widen(const float* dy, const ops::ConvGeometry& g, int64_t wp, int64_t nq8, float* wide);
// The wide dy's positions per plane, in whole vectors of 8.
int64_t wide_q8(const ops::ConvGeometry& g);

// Which output positions a kernel computes, as `count` runs of `len`
// positions (len a multiple of 8). Run r reads the input from r * in_step and
// writes the output (or, for the weight gradient, reads dy) from r * out_step.
//  - wide: one run over every wide position (in.nq_tiles of them);
//  - rows: one run per output row when the width is a multiple of 8, so no
//    garbage columns are computed, and a valid conv reads its input in place.
// Every kernel computes a position's value with the same sequence of float
// operations whatever its vector width, so both ISAs agree bit for bit.
struct Runs {
  int64_t count = 0, len = 0, in_step = 0, out_step = 0;
  int64_t vectors() const { return count * (len / 8); }
  // Where vector v (8 positions) starts in the input and in the output.
  int64_t in_at(int64_t v) const { return (v / (len / 8)) * in_step + (v % (len / 8)) * 8; }
  int64_t out_at(int64_t v) const { return (v / (len / 8)) * out_step + (v % (len / 8)) * 8; }
};
inline Runs wide_runs(const Padded& in) { return {1, in.nq_tiles, 0, 0}; }
inline Runs row_runs(int64_t out_h, int64_t out_w, int64_t in_w) { return {out_h, out_w, in_w, out_w}; }

// The AVX-512 kernels: the same contracts, packed-weight layouts (with
// RowBlocks of kRows512) and results as the AVX2 ones in conv_direct.cpp.
constexpr int64_t kRows512 = 8;  // output channels per register tile, at most
void valid_conv_avx512(const float* x, int64_t ch, int64_t plane, int64_t wp, const Runs& runs, const float* packed,
                       int64_t cout, int64_t kh, int64_t kw, const float* bias, bool relu, float* out, int64_t ldy,
                       int64_t v_begin, int64_t v_end);
// `buffer` holds scatter_buffer_avx512(g) floats of per-thread scratch.
void scatter_conv_avx512(const float* dy, const ops::ConvGeometry& g, const float* packed, float* dx, float* buffer);
size_t scatter_buffer_avx512(const ops::ConvGeometry& g);
// `buffer` holds oc * runs.vectors() * 8 floats of per-thread scratch.
void weight_grad_avx512(const float* dy, int64_t ldy, const Runs& runs, const float* x, int64_t ch, int64_t plane,
                        int64_t wp, int64_t oc, int64_t kh, int64_t kw, float* dw, float* buffer);

}  // namespace gg::cpu::direct
