// Shapes and element types of graph values. A leading dimension of kBatch is
// symbolic: it takes the batch size fed at run time.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace gg {

enum class DType : uint8_t { f32, i32 };
const char* dtype_name(DType t);

inline constexpr int64_t kBatch = -1;

class Shape {
 public:
  Shape() = default;  // a scalar
  Shape(std::initializer_list<int64_t> dims) : dims_(dims) {}
  explicit Shape(std::vector<int64_t> dims) : dims_(std::move(dims)) {}

  int rank() const { return static_cast<int>(dims_.size()); }
  int64_t operator[](int i) const { return dims_.at(static_cast<size_t>(i)); }
  const std::vector<int64_t>& dims() const { return dims_; }
  bool has_batch() const { return !dims_.empty() && dims_[0] == kBatch; }

  // Element count with the batch dimension (if any) taken as `batch`.
  int64_t numel(int64_t batch = 1) const;
  // Elements per batch item: the product of all dimensions after the first.
  int64_t per_item() const;
  // The same shape with a symbolic batch dimension replaced by `batch`.
  Shape resolved(int64_t batch) const;

  std::string str() const;  // "[N,32,26,26]"
  bool operator==(const Shape&) const = default;

 private:
  std::vector<int64_t> dims_;
};

struct TypedShape {
  Shape shape;
  DType dtype = DType::f32;
};

}  // namespace gg
