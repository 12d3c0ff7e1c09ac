#include "runtime/version.hpp"

namespace syncline::runtime {

// SYNCLINE_VERSION is defined for this file only, so a version bump recompiles one file.
const char* version() noexcept {
  return SYNCLINE_VERSION;
}

}  // namespace syncline::runtime
