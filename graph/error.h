// The one base of graphgrad's exceptions: catch gg::Error to catch any of
// them (GraphError, BackendError, CheckpointError, DataError, ExportError,
// NumericsError, CommError); each message names the file, node, layer or
// flag at fault.
#pragma once
#include <stdexcept>

namespace gg {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace gg
