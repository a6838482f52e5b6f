// One access log record and its JSON line: what a finished request looked like, gathered by
// ProxyConnection at the single place a request ends and formatted with base::JsonWriter.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringway::proxy {

struct AccessEntry {
  int64_t start_unix_ms = 0;  // wall clock when the request's head arrived
  std::string_view request_id, client_ip;
  int client_port = 0;
  std::string_view method, path;  // path: the request-target exactly as sent
  std::string_view route;         // the matched prefix, "" when none matched
  std::string_view upstream, server;
  int status = 0;  // 0: no response was sent (the client or the server went away first)
  uint64_t bytes_in = 0, bytes_out = 0;
  double duration_s = 0, upstream_duration_s = 0, queue_wait_s = 0;
  int attempts = 0;
  uint32_t flags = 0;  // ResponseFlag bits
};

// Caches the "YYYY-MM-DDTHH:MM:SS" of the current second so most lines skip gmtime_r.
class TimeFormatter {
 public:
  // Appends RFC 3339 UTC with milliseconds: "2026-12-06T20:06:26.123Z".
  void append(std::string& out, int64_t unix_ms);
  // Reused by append_access_line so formatting a line allocates nothing in steady state.
  std::string& scratch() { return scratch_; }

 private:
  int64_t cached_second_ = -1;
  char prefix_[64] = {};
  std::string scratch_;
};

// Appends `e` as one JSON object and a '\n'. Any bytes in the string fields yield valid JSON.
void append_access_line(std::string& out, const AccessEntry& e, TimeFormatter& time);

}  // namespace ringway::proxy
