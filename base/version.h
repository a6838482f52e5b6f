// The version string every binary prints (--version, logs, ringway_build_info). CMake
// defines RINGWAY_VERSION from project(); the fallback only serves builds outside CMake.
#pragma once

#ifndef RINGWAY_VERSION
#define RINGWAY_VERSION "dev"
#endif

namespace ringway::base {
inline constexpr const char* kVersion = RINGWAY_VERSION;
}  // namespace ringway::base
