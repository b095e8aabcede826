// The body of gemm.comp and gemm_v4.comp (B_VEC4: B read as aligned vec4s).
// C = alpha * op(A) * op(B) + beta * C, row-major and packed: op(A) is MxK,
// op(B) is KxN, C is MxN (A is stored KxM when trans_a, B is NxK when trans_b).
// Batched over `batch` matrices: matrix b starts at off_x + b * stride_x
// (stride 0: one matrix shared by the whole batch, e.g. conv weights), or of
// a two-level batch (inner, outer_a, outer_b below).
//
// The register-blocked gemm for CPU implementations such as lavapipe (GPUs
// take gemm_tiled.comp): no shared memory and no barriers, which a CPU device
// runs as coroutine switches. Each invocation computes an MB x NB block of C;
// a workgroup's invocations share their rows (group y), so the loads of A
// have uniform addresses, and B is gathered; both through texel buffers
// (texel.glsl): on lavapipe even a uniform storage-buffer load costs more
// than a texel fetch (measured: 25% of the direct conv's time). Row blocks, column blocks and the
// batch loop over their group axes (y, x, z) with a uniform stride, so the
// host may cap the group counts at the device limits; edges are clamped on
// load and masked on store. Sums run over k in order from 0. The epilogue
// (GemmPush in backends/vulkan/gemm.h) may add a bias and apply a relu.
layout(local_size_x = 16) in;

#if B_VEC4
const uint MB = 8, NB = 8;  // two vec4s of B per k
#else
const uint MB = 8, NB = 4;
#endif

layout(std430, set = 0, binding = 0) buffer BufC { float C[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufBias { float bias[]; };  // p.bias: per row or column
TEXEL_INPUT(0, A, 2)
#if B_VEC4
TEXEL_INPUT4(1, B4, 3)
#else
TEXEL_INPUT(1, B, 3)
#endif

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
  uint bias;  // the epilogue: 0 none, 1 C[m][n] += bias[m], 2 C[m][n] += bias[n] (GemmBias)
  uint relu;  // then the relu op's where(v < 0, 0, v)
} p;

// lavapipe ends any loop after 65,535 iterations: k runs in chunks.
const uint kChunk = 32768;

void main() {
  if (p.M == 0 || p.N == 0) return;
  const uint cols_per_group = gl_WorkGroupSize.x * NB;
  // A stored [M,K] (m stride K, k stride 1) or [K,M] (m stride 1, k stride M); likewise B.
  const uint a_m = p.trans_a == 0 ? p.K : 1, a_k = p.trans_a == 0 ? 1 : p.M;
  const uint b_k = p.trans_b == 0 ? p.N : 1, b_n = p.trans_b == 0 ? 1 : p.K;
  const uint inner = p.inner == 0 ? max(p.batch, 1u) : p.inner;
  for (uint b = gl_WorkGroupID.z; b < p.batch; b += gl_NumWorkGroups.z) {
    const uint bo = b / inner, bi = b - bo * inner;
    const uint a0 = p.off_a + bo * p.outer_a + bi * p.stride_a, b0 = p.off_b + bo * p.outer_b + bi * p.stride_b;
    const uint c0 = p.off_c + b * p.stride_c;
    for (uint m0 = gl_WorkGroupID.y * MB; m0 < p.M; m0 += gl_NumWorkGroups.y * MB) {
      uint am[MB];
      for (uint i = 0; i < MB; ++i) am[i] = a0 + min(m0 + i, p.M - 1) * a_m;
      for (uint g0 = gl_WorkGroupID.x * cols_per_group; g0 < p.N; g0 += gl_NumWorkGroups.x * cols_per_group) {
        const uint n0 = g0 + gl_LocalInvocationID.x * NB;
        if (n0 >= p.N) continue;
        uint bn[NB];
#if B_VEC4
        for (uint j = 0; j < NB; ++j) bn[j] = b0 + min(n0 + j, p.N - 4 + j % 4);  // whole vec4s, clamped as vec4s
#else
        for (uint j = 0; j < NB; ++j) bn[j] = b0 + min(n0 + j, p.N - 1) * b_n;
#endif
        float acc[MB][NB];
        for (uint i = 0; i < MB; ++i)
          for (uint j = 0; j < NB; ++j) acc[i][j] = 0.0;
        for (uint k0 = 0; k0 < p.K; k0 += kChunk) {
          const uint k1 = min(p.K, k0 + kChunk);
          for (uint k = k0; k < k1; ++k) {
            const uint bk = k * b_k, ak = k * a_k;
#if B_VEC4
            // Columns n0..n0+7 as two aligned vec4s (the second clamped onto the last when N % 8 == 4).
            const vec4 lo = FETCH4(B4, (bn[0] + bk) / 4), hi = FETCH4(B4, (bn[4] + bk) / 4);
            const float bv[NB] = float[NB](lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w);
#else
            float bv[NB];
            for (uint j = 0; j < NB; ++j) bv[j] = FETCH(B, bn[j] + bk);
#endif
            for (uint i = 0; i < MB; ++i) {
              const float av = FETCH(A, am[i] + ak);
              for (uint j = 0; j < NB; ++j) acc[i][j] += av * bv[j];
            }
          }
        }
        for (uint i = 0; i < MB && m0 + i < p.M; ++i)
          for (uint j = 0; j < NB && n0 + j < p.N; ++j) {
            const uint at = c0 + (m0 + i) * p.N + n0 + j;
            float v = p.alpha * acc[i][j];
            if (p.beta != 0.0) v += p.beta * C[at];
            if (p.bias != 0) v += bias[p.bias == 1 ? m0 + i : n0 + j];
            if (p.relu != 0) v = v < 0.0 ? 0.0 : v;
            C[at] = v;
          }
      }
    }
  }
}
