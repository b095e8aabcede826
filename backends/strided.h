// The index space of an element-wise op with broadcast operands: the output's
// dimensions collapsed as far as every operand's strides allow, and a walk
// over a range of output elements in runs along the innermost dimension, where
// each operand's stride is 1 (it varies) or 0 (it is broadcast). No operand is
// ever materialised at the output's shape.
#pragma once
#include <algorithm>
#include <cstdint>

#include <graphgrad/backends/backend.h>
#include <graphgrad/backends/node_view.h>
#include <graphgrad/graph/shape.h>

namespace gg {

inline constexpr int kMaxRank = 8;

template <int Operands>
struct Strided {
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t stride[Operands][kMaxRank] = {};

  // `out` and each operand's shape, operands right-aligned to out; a
  // symbolic batch is read as node.batch (no resolved copies: kernels must
  // not allocate in a step). `node` is also what a too high rank's error names.
  Strided(const Shape& out, const Shape* const (&in)[Operands], const NodeView& node) {
    auto at = [&node](const Shape& sh, int i) { return sh[i] == kBatch ? node.batch : sh[i]; };
    if (out.rank() > kMaxRank)
      throw BackendError(node.graph->describe(node.node->id) + ": element-wise ops take at most " + std::to_string(kMaxRank) +
                         " dimensions, got " + out.str());
    int64_t s[Operands][kMaxRank];
    for (int k = 0; k < Operands; ++k) {
      int64_t st = 1;
      for (int d = out.rank() - 1; d >= 0; --d) {
        const int id = in[k]->rank() - out.rank() + d;
        const int64_t dim = id >= 0 ? at(*in[k], id) : 1;
        s[k][d] = dim == 1 ? 0 : st;
        st *= dim;
      }
    }
    for (int d = 0; d < out.rank(); ++d) {
      const int64_t od = at(out, d);
      if (od == 1) continue;
      bool merge = rank > 0;
      for (int k = 0; k < Operands && merge; ++k) merge = stride[k][rank - 1] == s[k][d] * od;
      if (merge) {
        dims[rank - 1] *= od;
        for (int k = 0; k < Operands; ++k) stride[k][rank - 1] = s[k][d];
      } else {
        dims[rank] = od;
        for (int k = 0; k < Operands; ++k) stride[k][rank] = s[k][d];
        ++rank;
      }
    }
    if (rank == 0) {  // a single element
      dims[0] = 1;
      rank = 1;
    }
  }

  // body(pos, offsets[Operands], len, inner_strides[Operands]) for each run of
  // output elements [pos, pos + len) within [begin, end).
  template <class Body>
  void walk(int64_t begin, int64_t end, Body&& body) const {
    int64_t idx[kMaxRank], off[Operands] = {};
    int64_t rem = begin;
    for (int d = rank - 1; d >= 0; --d) {
      idx[d] = rem % dims[d];
      rem /= dims[d];
      for (int k = 0; k < Operands; ++k) off[k] += idx[d] * stride[k][d];
    }
    const int in = rank - 1;
    int64_t inner[Operands];
    for (int k = 0; k < Operands; ++k) inner[k] = stride[k][in];
    for (int64_t pos = begin; pos < end;) {
      const int64_t len = std::min(dims[in] - idx[in], end - pos);
      body(pos, static_cast<const int64_t*>(off), len, static_cast<const int64_t*>(inner));
      pos += len;
      idx[in] += len;
      for (int k = 0; k < Operands; ++k) off[k] += len * inner[k];
      for (int d = in; d > 0 && idx[d] == dims[d]; --d) {
        idx[d] = 0;
        ++idx[d - 1];
        for (int k = 0; k < Operands; ++k) off[k] += stride[k][d - 1] - dims[d] * stride[k][d];
      }
    }
  }
};

}  // namespace gg
