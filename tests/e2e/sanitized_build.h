// Whether this test binary runs under a sanitizer: memory tests then print what they measure
// but do not assert their RSS bounds.
#pragma once

namespace ringway::e2e {

// RSS bounds hold for uninstrumented builds only: ASan's redzones and its quarantine of freed
// memory (and TSan's shadow) multiply what every allocation costs.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitizedBuild = true;
#else
inline constexpr bool kSanitizedBuild = false;
#endif

}  // namespace ringway::e2e
