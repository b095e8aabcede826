#version 450
// C = alpha * op(A) * op(B) + beta * C, row-major and packed: op(A) is MxK,
// op(B) is KxN, C is MxN (A is stored KxM when trans_a, B is NxK when trans_b).
// Batched over `batch` matrices: matrix b starts at off_x + b * stride_x
// (stride 0: one matrix shared by the whole batch, e.g. conv weights), or of
// a two-level batch (inner, outer_a, outer_b below).
//
// Each invocation computes a 4x4 block of C straight from global memory (no
// shared memory, no barriers): CPU implementations such as lavapipe run
// barrier-free code several times faster than a shared-memory tiled kernel
// (measured: 5x on llvmpipe), and every GPU's caches serve the reuse.
// Blocks and batches are walked with grid-stride loops, so the host may cap
// the group counts at the device limits; edges are clamped on load and masked
// on store.
layout(local_size_x = 64) in;

const uint W = 4;  // C block edge per invocation

layout(std430, set = 0, binding = 0) readonly buffer BufA { float A[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufB { float B[]; };
layout(std430, set = 0, binding = 2) buffer BufC { float C[]; };

layout(push_constant) uniform Push {
  uint M, N, K;
  uint trans_a, trans_b;
  uint batch;
  uint off_a, off_b, off_c;           // element offsets of matrix 0
  uint stride_a, stride_b, stride_c;  // elements between consecutive matrices
  float alpha, beta;                  // beta == 0: C is not read
  // A two-level batch (a broadcast matmul's): matrix b is (b / inner, b % inner),
  // A's at off_a + (b / inner) * outer_a + (b % inner) * stride_a, likewise B's;
  // C stays packed. inner 0: one level.
  uint inner, outer_a, outer_b;
} p;

void main() {
  if (p.M == 0 || p.N == 0) return;
  const uint blocks_n = (p.N + W - 1) / W, blocks = (p.M + W - 1) / W * blocks_n;
  const uint first = gl_WorkGroupID.x * 64 + gl_LocalInvocationID.x, step = gl_NumWorkGroups.x * 64;
  // A stored [M,K] (m stride K, k stride 1) or [K,M] (m stride 1, k stride M); likewise B.
  const uint a_m = p.trans_a == 0 ? p.K : 1, a_k = p.trans_a == 0 ? 1 : p.M;
  const uint b_k = p.trans_b == 0 ? p.N : 1, b_n = p.trans_b == 0 ? 1 : p.K;
  const uint inner = p.inner == 0 ? max(p.batch, 1u) : p.inner;
  for (uint b = gl_WorkGroupID.y; b < p.batch; b += gl_NumWorkGroups.y) {
    const uint bo = b / inner, bi = b - bo * inner;
    const uint a0 = p.off_a + bo * p.outer_a + bi * p.stride_a, b0 = p.off_b + bo * p.outer_b + bi * p.stride_b;
    const uint c0 = p.off_c + b * p.stride_c;
    for (uint blk = first; blk < blocks; blk += step) {
      const uint m0 = (blk / blocks_n) * W, n0 = (blk % blocks_n) * W;
      uint am[W], bn[W];
      for (uint i = 0; i < W; ++i) am[i] = a0 + min(m0 + i, p.M - 1) * a_m, bn[i] = b0 + min(n0 + i, p.N - 1) * b_n;
      vec4 acc[W];
      for (uint i = 0; i < W; ++i) acc[i] = vec4(0.0);
      for (uint k = 0; k < p.K; ++k) {
        const uint bk = k * b_k, ak = k * a_k;
        const vec4 bv = vec4(B[bn[0] + bk], B[bn[1] + bk], B[bn[2] + bk], B[bn[3] + bk]);
        for (uint i = 0; i < W; ++i) acc[i] += A[am[i] + ak] * bv;
      }
      for (uint i = 0; i < W && m0 + i < p.M; ++i)
        for (uint j = 0; j < W && n0 + j < p.N; ++j) {
          const uint at = c0 + (m0 + i) * p.N + n0 + j;
          float v = p.alpha * acc[i][j];
          if (p.beta != 0.0) v += p.beta * C[at];
          C[at] = v;
        }
    }
  }
}
