// Shared by the upstream-runtime tests: injected time points and membership built from
// labels, so each test states only the servers and health it is about.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/clock.h"
#include "proxy/upstream/upstream_state.h"

namespace ringway::proxy::test_support {

inline base::TimePoint at(base::Millis ms) { return base::TimePoint{ms}; }

// Servers labelled `labels` (address label = configured name); `healthy` parallel, or empty
// for all healthy.
inline UpstreamMembers members(const std::vector<std::string>& labels,
                               const std::vector<uint8_t>& healthy = {}) {
  UpstreamMembers m;
  for (const std::string& l : labels) {
    ServerAddress a;
    a.label = l;
    a.configured = l;
    m.servers.push_back(a);
  }
  m.healthy = healthy;
  return m;
}

}  // namespace ringway::proxy::test_support
