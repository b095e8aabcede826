#version 450
// The GPU variant of gemm.comp (same bindings and push constants), chosen on
// GPUs: shared-memory tiles. CPU devices (lavapipe) run gemm.comp, whose
// barrier-free blocks are several times faster there.
// C = alpha * op(A) * op(B) + beta * C, row-major and packed: op(A) is MxK,
// op(B) is KxN, C is MxN (A is stored KxM when trans_a, B is NxK when trans_b).
// Batched over `batch` matrices: matrix b starts at off_x + b * stride_x
// (stride 0: one matrix shared by the whole batch, e.g. conv weights), or of
// a two-level batch (inner, outer_a, outer_b below).
//
// Each workgroup computes a BM x BM tile of C with TS x TS threads, each thread
// a WPT x WPT block (rows ty + i*TS, columns tx + j*TS, so shared-memory reads
// are broadcasts along a row of threads and consecutive along a column).
// K is walked in slices of BK = TS staged in shared memory; out-of-range
// elements load as 0, so any M, N, K (odd, 1, 0) is handled.
// Tiles and batches are walked with grid-stride loops, so the host may cap
// the group counts at the device limits. The epilogue (GemmPush in
// backends/vulkan/gemm.h) may add a bias and apply a relu.

// The tile edge in threads; the runtime may specialize it (constant_id 0).
layout(constant_id = 0) const uint TS = 16;
layout(local_size_x_id = 0, local_size_y_id = 0, local_size_x = 16, local_size_y = 16) in;

const uint WPT = 4;         // C elements per thread along each axis
const uint BM = TS * WPT;   // C tile edge
const uint BK = TS;         // K slice per step
const uint LD = BM + 1;     // shared row pitch, padded against bank conflicts

layout(std430, set = 0, binding = 0) readonly buffer BufA { float A[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufB { float B[]; };
layout(std430, set = 0, binding = 2) buffer BufC { float C[]; };
layout(std430, set = 0, binding = 3) readonly buffer BufBias { float bias[]; };  // p.bias: per row or column

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

shared float As[BK * LD];  // As[k * LD + m]
shared float Bs[BK * LD];  // Bs[k * LD + n]

void main() {
  const uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
  const uint lid = ty * TS + tx;
  const uint tiles_m = (p.M + BM - 1) / BM, tiles_n = (p.N + BM - 1) / BM;

  const uint inner = p.inner == 0 ? max(p.batch, 1u) : p.inner;
  for (uint b = gl_WorkGroupID.z; b < p.batch; b += gl_NumWorkGroups.z)
  for (uint tm = gl_WorkGroupID.y; tm < tiles_m; tm += gl_NumWorkGroups.y)
  for (uint tn = gl_WorkGroupID.x; tn < tiles_n; tn += gl_NumWorkGroups.x) {
    const uint bo = b / inner, bi = b - bo * inner;
    const uint a0 = p.off_a + bo * p.outer_a + bi * p.stride_a, b0 = p.off_b + bo * p.outer_b + bi * p.stride_b;
    const uint c0 = p.off_c + b * p.stride_c;
    const uint m0 = tm * BM, n0 = tn * BM;

    float acc[WPT][WPT];
    for (uint i = 0; i < WPT; ++i)
      for (uint j = 0; j < WPT; ++j) acc[i][j] = 0.0;

    for (uint k0 = 0; k0 < p.K; k0 += BK) {
      // Stage a BM x BK slice of op(A) and a BK x BM slice of op(B). Consecutive
      // threads take consecutive addresses of the stored layout (coalesced).
      for (uint l = 0; l < WPT; ++l) {
        const uint e = lid + l * TS * TS;
        uint mm, kk;
        if (p.trans_a == 0) { kk = e % BK; mm = e / BK; } else { mm = e % BM; kk = e / BM; }
        uint gm = m0 + mm, gk = k0 + kk;
        float v = 0.0;
        if (gm < p.M && gk < p.K) v = A[a0 + (p.trans_a == 0 ? gm * p.K + gk : gk * p.M + gm)];
        As[kk * LD + mm] = v;

        uint nn;
        if (p.trans_b == 0) { nn = e % BM; kk = e / BM; } else { kk = e % BK; nn = e / BK; }
        const uint gn = n0 + nn;
        gk = k0 + kk;
        v = 0.0;
        if (gn < p.N && gk < p.K) v = B[b0 + (p.trans_b == 0 ? gk * p.N + gn : gn * p.K + gk)];
        Bs[kk * LD + nn] = v;
      }
      barrier();
      for (uint k = 0; k < BK; ++k) {
        float ra[WPT], rb[WPT];
        for (uint i = 0; i < WPT; ++i) ra[i] = As[k * LD + ty + i * TS];
        for (uint j = 0; j < WPT; ++j) rb[j] = Bs[k * LD + tx + j * TS];
        for (uint i = 0; i < WPT; ++i)
          for (uint j = 0; j < WPT; ++j) acc[i][j] += ra[i] * rb[j];
      }
      barrier();  // before the next slice overwrites As/Bs
    }

    for (uint i = 0; i < WPT; ++i) {
      const uint gm = m0 + ty + i * TS;
      if (gm >= p.M) break;
      for (uint j = 0; j < WPT; ++j) {
        const uint gn = n0 + tx + j * TS;
        if (gn >= p.N) break;
        const uint at = c0 + gm * p.N + gn;
        float v = p.alpha * acc[i][j];
        if (p.beta != 0.0) v += p.beta * C[at];
        if (p.bias != 0) v += bias[p.bias == 1 ? gm : gn];
        if (p.relu != 0) v = v < 0.0 ? 0.0 : v;
        C[at] = v;
      }
    }
  }
}
