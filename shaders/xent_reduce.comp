#version 450
// Scalar reductions over the rows of scores [rows, cols] with i32 labels [rows],
// in a single workgroup (dispatch 1x1x1): each invocation takes rows
// lid, lid + 256, ..., then a shared-memory tree adds the partial results.
//   mode 0 softmax_cross_entropy: out = mean over rows of logsumexp(z) - z[label]
//   mode 1 accuracy:              out = fraction of rows whose first arg-max == label
// A label outside [0, cols) writes 1 to status (and the row is skipped).
layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) readonly buffer BufZ { float z[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufLabels { int labels[]; };
layout(std430, set = 0, binding = 2) writeonly buffer BufOut { float o; };
layout(std430, set = 0, binding = 3) writeonly buffer BufStatus { uint status; };

layout(push_constant) uniform Push {
  uint rows, cols, mode;
} p;

shared float loss[256];
shared uint hits[256];

// num / den rounded to nearest even, exactly (0 <= num <= den, 0 < den <= 2^31),
// by integer long division: float division is not correctly rounded on every
// device, and the CPU's float(double(num) / den) is.
float ratio(uint num, uint den) {
  if (num == 0u) return 0.0;
  if (num >= den) return 1.0;
  uint r = num;  // r < den throughout, so r << 1 fits in 32 bits
  int e = 0;
  for (;;) {     // find the leading 1 bit: 2^e <= num/den < 2^(e+1)
    r <<= 1; --e;
    if (r >= den) { r -= den; break; }
  }
  uint mant = 1u;
  for (int k = 0; k < 23; ++k) {
    r <<= 1; mant <<= 1;
    if (r >= den) { r -= den; mant |= 1u; }
  }
  r <<= 1;
  const bool mid = r >= den;  // the next bit
  if (mid) r -= den;
  if (mid && (r != 0u || (mant & 1u) != 0u)) ++mant;  // 2^24 is still exact
  return ldexp(float(mant), e - 23);
}

void main() {
  const uint lid = gl_LocalInvocationID.x;
  float l = 0.0;
  uint h = 0u;
  for (uint row = lid; row < p.rows; row += 256) {
    const uint base = row * p.cols;
    const int label = labels[row];
    if (label < 0 || label >= int(p.cols)) {
      status = 1u;
      continue;
    }
    float m = z[base];
    uint arg = 0u;
    for (uint j = 1; j < p.cols; ++j)
      if (z[base + j] > m) { m = z[base + j]; arg = j; }  // strict: the first maximum wins
    if (p.mode == 0) {
      float s = 0.0;
      for (uint j = 0; j < p.cols; ++j) s += exp(z[base + j] - m);
      l += log(s) + m - z[base + uint(label)];
    } else if (arg == uint(label)) {
      ++h;
    }
  }
  loss[lid] = l;
  hits[lid] = h;
  barrier();
  for (uint k = 128; k > 0; k >>= 1) {
    if (lid < k) { loss[lid] += loss[lid + k]; hits[lid] += hits[lid + k]; }
    barrier();
  }
  if (lid == 0) {
    if (p.rows == 0) o = 0.0;
    else o = p.mode == 0 ? loss[0] / float(p.rows) : ratio(hits[0], p.rows);
  }
}
