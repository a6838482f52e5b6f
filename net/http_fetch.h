// A blocking one-request HTTP/1.1 client for `--healthcheck URL`, tools and tests.
// Not for the event loop: it blocks the calling thread for up to the timeout.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"

namespace ringway::net {

struct FetchResult {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string error;  // set when no complete response arrived
  // Returns: the first header named `name` (case-insensitive) or "".
  std::string header(std::string_view name) const;
};

struct FetchRequest {
  std::string method = "GET";
  std::string url;  // http://host:port/path?query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  base::Millis timeout = 2000;
};

// Returns: true when a complete response arrived (any status); false with result->error
// ("connect 127.0.0.1:8001: Connection refused", "timed out after 2000 ms", ...).
bool http_fetch(const FetchRequest& request, FetchResult* result);

// Client mode shared by all binaries: GET url; 0 if it answers 200 within 2 s, else 1 with
// a one-line reason on stderr.
int run_healthcheck(const std::string& url);

}  // namespace ringway::net
