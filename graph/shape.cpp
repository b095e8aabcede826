#include "shape.h"

namespace gg {

const char* dtype_name(DType t) { return t == DType::f32 ? "f32" : "i32"; }

int64_t Shape::numel(int64_t batch) const {
  int64_t n = 1;
  for (int64_t d : dims_) n *= (d == kBatch ? batch : d);
  return n;
}

int64_t Shape::per_item() const {
  int64_t n = 1;
  for (size_t i = 1; i < dims_.size(); ++i) n *= dims_[i];
  return n;
}

Shape Shape::resolved(int64_t batch) const {
  std::vector<int64_t> d = dims_;
  for (auto& x : d)
    if (x == kBatch) x = batch;
  return Shape(std::move(d));
}

std::string Shape::str() const {
  std::string s = "[";
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (i) s += ",";
    s += dims_[i] == kBatch ? std::string("N") : std::to_string(dims_[i]);
  }
  return s + "]";
}

}  // namespace gg
