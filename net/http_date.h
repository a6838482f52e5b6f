// The Date header value (RFC 9110 §6.6.1: an origin server with a clock MUST send it),
// formatted once per second per thread instead of once per response.
#pragma once

#include <time.h>

#include <string_view>

namespace ringway::net {

// Returns: IMF-fixdate for the current second, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
inline std::string_view http_date_now() {
  thread_local time_t cached_second = 0;
  thread_local char text[40];
  thread_local size_t len = 0;
  time_t now = time(nullptr);
  if (now != cached_second) {
    cached_second = now;
    tm parts;
    gmtime_r(&now, &parts);
    len = strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &parts);
  }
  return std::string_view(text, len);
}

}  // namespace ringway::net
