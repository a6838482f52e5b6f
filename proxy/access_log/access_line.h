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
  int64_t duration_ns = 0, upstream_duration_ns = 0, queue_wait_ns = 0;  // printed as seconds
  int attempts = 0;
  uint32_t flags = 0;  // ResponseFlag bits
};

// Caches the "YYYY-MM-DDTHH:MM:SS" of the current second so most lines skip gmtime_r.
class TimeFormatter {
 public:
  static constexpr size_t kBytes = 24;  // "2026-12-06T20:06:26.123Z"
  // Writes RFC 3339 UTC with milliseconds, kBytes of them. Returns: the end.
  char* write(char* out, int64_t unix_ms);

 private:
  int64_t cached_second_ = -1;
  char prefix_[64] = {};  // "YYYY-MM-DDTHH:MM:SS": 19 bytes for years 0..9999 (room for any int)
};

// Appends `e` as one JSON object and a '\n'. Any bytes in the string fields yield valid JSON.
void append_access_line(std::string& out, const AccessEntry& e, TimeFormatter& time);

}  // namespace ringway::proxy
