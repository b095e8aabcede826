// Augmenter: per-sample random shift / rotation / zoom by inverse mapping and bilinear taps (see augment.h).
#include "augment.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include <fmt/format.h>

#include <graphgrad/ops/counter_rng.h>

namespace gg {

namespace {

using ops::mix32;

constexpr double kFar = 1099511627776.0;  // 2^40

void check_range(const Range& r, const char* name, double lo, double hi, bool open_lo, const char* unit) {
  auto bad = [&](const std::string& why) {
    throw DataError(fmt::format("augment: {} bounds [{}, {}]{}: {}", name, r.lower, r.upper, unit, why));
  };
  if (!std::isfinite(r.lower) || !std::isfinite(r.upper)) bad("must be finite");
  if (r.lower > r.upper) bad("the lower bound exceeds the upper one");
  if ((open_lo ? r.lower <= lo : r.lower < lo) || r.upper > hi)
    bad(std::isinf(hi) ? fmt::format("must be > {}", lo) : fmt::format("must lie in {}{}, {}]", open_lo ? "(" : "[", lo, hi));
}

// sin and cos of an angle in degrees, exact at quarter turns, so that a 90-degree
// rotation is an exact permutation of the pixels.
void sincos_degrees(double degrees, double& s, double& c) {
  const double q = degrees / 90.0;
  if (q == std::nearbyint(q)) {
    static constexpr double kSin[] = {0, 1, 0, -1}, kCos[] = {1, 0, -1, 0};
    const int k = ((static_cast<int>(q) % 4) + 4) % 4;
    s = kSin[k], c = kCos[k];
    return;
  }
  const double r = degrees * std::numbers::pi / 180.0;
  s = std::sin(r), c = std::cos(r);
}

// Where an index outside [0, n) reads, or -1 for the fill value.
int64_t resolve(int64_t i, int64_t n, FillMode mode) {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case FillMode::constant: return -1;
    case FillMode::nearest: return std::clamp<int64_t>(i, 0, n - 1);
    case FillMode::reflect: {
      const int64_t period = 2 * n;
      int64_t m = i % period;
      if (m < 0) m += period;
      return m < n ? m : period - 1 - m;
    }
  }
  return -1;
}

inline float load(const float* p) { return *p; }
inline float load(const uint8_t* p) { return static_cast<float>(*p) / 255.0f; }  // as Dataset::copy_items

// The draw in [lower, upper) from one 32-bit hash: its top 24 bits.
double draw(const Range& r, uint32_t h) {
  return r.lower + static_cast<double>(h >> 8) * (1.0 / 16777216.0) * (r.upper - r.lower);
}

}  // namespace

Augmenter::Augmenter(const Augmentation& spec, const Shape& item_shape, uint64_t seed) : spec_(spec) {
  if (item_shape.rank() != 2 && item_shape.rank() != 3)
    throw DataError(fmt::format("augment: items of {} are not images [C,H,W] or [H,W]", item_shape.str()));
  for (int64_t d : item_shape.dims())
    if (d < 1) throw DataError(fmt::format("augment: item shape {} needs every dimension >= 1", item_shape.str()));
  channels_ = item_shape.rank() == 3 ? item_shape[0] : 1;
  height_ = item_shape[item_shape.rank() - 2];
  width_ = item_shape[item_shape.rank() - 1];
  check_range(spec.height_shift, "height_shift", -1, 1, false, " (fraction of the height)");
  check_range(spec.width_shift, "width_shift", -1, 1, false, " (fraction of the width)");
  check_range(spec.rotation, "rotation", -180, 180, false, " (degrees)");
  check_range(spec.zoom, "zoom", -1, std::numeric_limits<double>::infinity(), true, " (RandomZoom factor)");
  if (!std::isfinite(spec.fill_value)) throw DataError(fmt::format("augment: fill_value {} must be finite", spec.fill_value));
  key_ = mix32(static_cast<uint32_t>(seed) ^ mix32(static_cast<uint32_t>(seed >> 32) ^ 0x9e3779b9U));
}

ImageTransform Augmenter::transform_of(int epoch, int64_t index) const {
  // A key per (seed, epoch), a stream per sample index (both halves of it), one word per parameter.
  const uint32_t k = mix32(mix32(key_ ^ static_cast<uint32_t>(epoch)) ^ static_cast<uint32_t>(index)) ^
                     mix32(static_cast<uint32_t>(static_cast<uint64_t>(index) >> 32) + 0x85ebca6bU);
  return {.shift_y = draw(spec_.height_shift, mix32(k + 1)) * static_cast<double>(height_),
          .shift_x = draw(spec_.width_shift, mix32(k + 2)) * static_cast<double>(width_),
          .degrees = draw(spec_.rotation, mix32(k + 3)),
          .zoom = draw(spec_.zoom, mix32(k + 4))};
}

template <class T>
void Augmenter::transform(const T* src, float* out, const ImageTransform& t) const {
  const int64_t H = height_, W = width_, plane = H * W;
  if (t.identity()) {
    for (int64_t i = 0; i < channels_ * plane; ++i) out[i] = load(src + i);
    return;
  }
  // Output pixel (r, c) reads the input at the inverse transform of its place:
  // undo the shift, turn back by the angle, scale by (1 + zoom), about the centre.
  double s, c;
  sincos_degrees(t.degrees, s, c);
  const double k = 1.0 + t.zoom, cy = 0.5 * double(H - 1), cx = 0.5 * double(W - 1);
  const FillMode mode = spec_.fill_mode;
  const float fill = spec_.fill_value;
  for (int64_t r = 0; r < H; ++r) {
    for (int64_t col = 0; col < W; ++col) {
      const double u = double(col) - cx - t.shift_x, v = double(r) - cy - t.shift_y;
      // Clamped far outside any image, so that a huge zoom cannot overflow the integer casts.
      const double xs = std::clamp(cx + k * (c * u - s * v), -kFar, kFar), ys = std::clamp(cy + k * (s * u + c * v), -kFar, kFar);
      const double fx0 = std::floor(xs), fy0 = std::floor(ys);
      const auto fx = static_cast<float>(xs - fx0), fy = static_cast<float>(ys - fy0);
      const auto x0 = static_cast<int64_t>(fx0), y0 = static_cast<int64_t>(fy0);
      // Up to four taps; a tap of weight 0 is skipped, so whole-pixel moves copy exactly.
      int64_t at[4];
      float w[4];
      int taps = 0;
      for (int dy = 0; dy < (fy != 0 ? 2 : 1); ++dy) {
        const int64_t yy = resolve(y0 + dy, H, mode);
        const float wy = dy ? fy : (fy != 0 ? 1 - fy : 1);
        for (int dx = 0; dx < (fx != 0 ? 2 : 1); ++dx) {
          const int64_t xx = resolve(x0 + dx, W, mode);
          at[taps] = (yy < 0 || xx < 0) ? -1 : yy * W + xx;
          w[taps] = wy * (dx ? fx : (fx != 0 ? 1 - fx : 1));
          ++taps;
        }
      }
      for (int64_t ch = 0; ch < channels_; ++ch) {
        const T* p = src + ch * plane;
        float v = 0;
        if (taps == 1) v = at[0] < 0 ? fill : load(p + at[0]);
        else
          for (int i = 0; i < taps; ++i) v += w[i] * (at[i] < 0 ? fill : load(p + at[i]));
        out[ch * plane + r * W + col] = v;
      }
    }
  }
}

void Augmenter::apply(const float* src, float* out, int epoch, int64_t index) const {
  transform(src, out, transform_of(epoch, index));
}

void Augmenter::apply(const uint8_t* src, float* out, int epoch, int64_t index) const {
  transform(src, out, transform_of(epoch, index));
}

void Augmenter::apply_batch(const Dataset& data, std::span<const int64_t> indices, int epoch, float* out) const {
  if (data.item_floats() != item_floats())
    throw DataError(fmt::format("augment: data items of {} are not the {} values the augmenter was made for",
                                data.item_shape.str(), item_floats()));
  const int64_t per = item_floats();
  for (size_t i = 0; i < indices.size(); ++i) {
    const int64_t idx = indices[i];
    float* dst = out + static_cast<int64_t>(i) * per;
    if (!data.x.empty()) apply(data.x.data() + idx * per, dst, epoch, idx);
    else apply(data.pixels.data() + idx * per, dst, epoch, idx);
  }
}

}  // namespace gg
