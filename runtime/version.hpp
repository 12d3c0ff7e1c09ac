// runtime/version.hpp: the version of this build.
#pragma once

namespace syncline::runtime {

/// The project version from CMake, e.g. `"0.1.0"`.
const char* version() noexcept;

}  // namespace syncline::runtime
