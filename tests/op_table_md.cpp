// Prints the README's op table (between its op-table markers) from the op
// table itself: every op's name, kind, arity and ONNX mapping or refusal.
// The readme_ops test compares it with README.md;
// scripts/update_readme_ops.sh writes it there.
#include <cstdio>
#include <string>

#include <graphgrad/frontends/onnx_export.h>
#include <graphgrad/ops/eltwise.h>
#include <graphgrad/ops/op_table.h>

int main() {
  using namespace gg;
  static const char* const kKinds[] = {"leaf", "unary", "binary", "reduction", "shape", "nn", "loss", "update", "comm"};
  std::printf("| op | kind | inputs | ONNX (opset 13) |\n| --- | --- | --- | --- |\n");
  for (OpId op = 0; op < ops::id::builtin_count; ++op) {
    const ops::OpInfo& r = ops::op_info(op);
    if (r.kind == ops::OpKind::leaf) continue;
    const OnnxSupport s = onnx_support(op);
    std::string onnx = s.exported ? "exported" : "refused: " + s.why_not;
    if (const ops::UnaryInfo* u = ops::unary_info(op); u && s.exported && !u->onnx.empty()) onnx = std::string(u->onnx);
    if (const ops::BinaryInfo* b = ops::binary_info(op); b && s.exported && !b->onnx.empty()) onnx = std::string(b->onnx);
    const std::string inputs = r.min_inputs == r.max_inputs ? std::to_string(r.min_inputs)
                                                            : std::to_string(r.min_inputs) + "-" + std::to_string(r.max_inputs);
    std::printf("| `%s` | %s | %s | %s |\n", std::string(r.name).c_str(), kKinds[static_cast<int>(r.kind)], inputs.c_str(),
                onnx.c_str());
  }
  return 0;
}
