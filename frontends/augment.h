// On-the-fly image augmentation, Keras-style (RandomTranslation, RandomRotation,
// RandomZoom): each image of a batch gets its own random shift, rotation and
// zoom, written straight into the batch buffer by bilinear interpolation; the
// data set is never copied. The transform of a sample depends only on (seed,
// epoch, the sample's index in the data set), through the counter-based hash
// of ops/counter_rng.h: the same on every backend, for any number of ranks and
// any batch composition.
#pragma once
#include <cstdint>
#include <span>

#include <graphgrad/graph/shape.h>

#include "dataset.h"

namespace gg {

// What a sample taken outside the image reads (Keras's fill_mode).
enum class FillMode {
  constant,  // fill_value
  nearest,   // the closest edge pixel: a a a | a b c d | d d d
  reflect,   // mirrored about the edge: d c b a | a b c d | d c b a
};

// A closed interval a parameter is drawn from, uniformly. {0, 0} leaves it alone.
struct Range {
  double lower = 0, upper = 0;
};

struct Augmentation {
  // Shift by a fraction of the height / width (RandomTranslation's factors), in
  // [-1, 1]: positive moves the content down / right. Fractional shifts interpolate.
  Range height_shift, width_shift;
  // Rotation in DEGREES, in [-180, 180]; positive turns counter-clockwise.
  // (RandomRotation's factor is a fraction of a full turn: its 0.1 is 36 here.)
  Range rotation;
  // RandomZoom's factor z, > -1: the image is sampled over (1 + z) times its
  // extent, so z > 0 zooms out (content shrinks) and z < 0 zooms in (z = -0.5
  // enlarges 2x). One z per image for both axes (the aspect ratio is kept).
  Range zoom;
  FillMode fill_mode = FillMode::constant;
  float fill_value = 0;  // for FillMode::constant
};

// One image's drawn parameters.
struct ImageTransform {
  double shift_y = 0, shift_x = 0;  // pixels, positive = down / right
  double degrees = 0;               // counter-clockwise
  double zoom = 0;                  // RandomZoom's factor
  bool identity() const { return shift_y == 0 && shift_x == 0 && degrees == 0 && zoom == 0; }
};

class Augmenter {
 public:
  // Items must be images [C,H,W] (or [H,W]); every channel gets the same
  // transform. Throws DataError naming the parameter whose bounds are bad.
  Augmenter(const Augmentation& spec, const Shape& item_shape, uint64_t seed);

  ImageTransform transform_of(int epoch, int64_t index) const;
  // One item from src (item_floats() values) to out; src and out must not overlap.
  // A transform that is the identity (all bounds zero) copies the item exactly.
  void apply(const float* src, float* out, int epoch, int64_t index) const;
  void apply(const uint8_t* src, float* out, int epoch, int64_t index) const;  // bytes read as byte / 255
  // The items `indices` of data, transformed, one after another into out.
  void apply_batch(const Dataset& data, std::span<const int64_t> indices, int epoch, float* out) const;

  const Augmentation& spec() const { return spec_; }
  int64_t item_floats() const { return channels_ * height_ * width_; }

 private:
  template <class T>
  void transform(const T* src, float* out, const ImageTransform& t) const;

  Augmentation spec_;
  int64_t channels_, height_, width_;
  uint32_t key_;  // the seed, hashed
};

}  // namespace gg
