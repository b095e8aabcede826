// The op test table's cases for softmax and log_softmax over any axis, the losses (see op_cases.h).
#include <graphgrad/ops/ops.h>

#include "op_cases.h"

namespace gg::test {

void loss_cases(std::vector<OpCase>& out) { (void)out; }

}  // namespace gg::test
