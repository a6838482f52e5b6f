// Maps a normalized request path to its route (longest matching prefix wins) and builds the
// upstream request-target for it. Built once per config snapshot; read-only, shareable.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/config/config.h"

namespace ringway::proxy {

class Router {
 public:
  explicit Router(const std::vector<RouteConfig>& routes);
  // Copies rebuild the index (it views the copy's own strings); moves keep it.
  Router(const Router& other) : Router(other.routes_) {}
  Router& operator=(const Router& other);
  Router(Router&&) noexcept = default;
  Router& operator=(Router&&) noexcept = default;

  // Longest byte-wise prefix of `normalized_path` wins. A prefix ending in '/' also matches
  // the path equal to it minus that '/' ("/service1/" matches "/service1"): users expect
  // /service1 to reach the service root. A route whose prefix is exactly the path still
  // beats that bare match. Returns: the route (and its index in the constructor's vector
  // through `index`), or nullptr when none matches.
  const RouteConfig* match(std::string_view normalized_path, size_t* index = nullptr) const;

  const std::vector<RouteConfig>& routes() const { return routes_; }

 private:
  struct Entry {
    std::string_view prefix;  // views routes_[index].prefix
    size_t index;
  };
  std::vector<RouteConfig> routes_;  // a copy: returned pointers live as long as the Router
  std::vector<Entry> by_length_;     // longest prefix first
};

// Appends the upstream request-target to `out`. With route.strip_prefix the prefix is
// removed but a leading '/' is kept ("/service1/ping" -> "/ping", "/service1/" and the bare
// "/service1" -> "/"); then "?query" when the query is not empty.
// REQUIRES: `route` matched `path` (Router::match).
void rewrite_target(const RouteConfig& route, std::string_view path, std::string_view query,
                    std::string& out);

}  // namespace ringway::proxy
