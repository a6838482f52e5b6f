// Sums the per-worker server numbers the admin thread gathers (AdminSource) into one view.
// Runs on the admin thread, once per page or /stats poll.
#include "proxy/admin/server_views.h"

#include <algorithm>

#include "base/version.h"

namespace ringway::proxy {

ViewMap collect_server_views(AdminSource& proxy) {
  ViewMap views;
  for (const auto& worker : proxy.collect_server_status()) {
    for (const ServerStatus& s : worker) {
      ServerView& v = views[{s.upstream, s.server}];
      v.in_flight += s.in_flight;
      if (s.ewma_ms > 0) {
        v.ewma_ms += s.ewma_ms;
        ++v.ewma_samples;
      }
      v.ejected = v.ejected || s.ejected;
      v.ejected_for_ms = std::max(v.ejected_for_ms, s.ejected_for_ms);
      v.ejections += s.ejections;
      v.idle += s.idle_connections;
      v.limit = std::max(v.limit, s.connection_limit);
      v.warmth = std::min(v.warmth, s.warmth);
      if (!s.last_error.empty()) v.last_error = s.last_error;
    }
  }
  for (auto& [k, v] : views) {
    if (v.ewma_samples > 0) v.ewma_ms /= v.ewma_samples;
  }
  return views;
}

nlohmann::ordered_json process_facts(AdminSource& proxy) {
  return {{"version", base::kVersion},
          {"io", proxy.io_backend()},
          {"io_fallback_reason", proxy.io_fallback_reason()},
          {"workers", proxy.workers()},
          {"ready", proxy.ready()},
          {"draining", proxy.draining()}};
}

}  // namespace ringway::proxy
