// Longest-prefix route matching. Route tables are small (a handful to a few dozen), so a
// scan in descending prefix length beats a trie: one compare per route, no pointer chasing.
#include "proxy/exchange/router.h"

#include <algorithm>

namespace ringway::proxy {

Router::Router(const std::vector<RouteConfig>& routes) : routes_(routes) {
  by_length_.reserve(routes_.size());
  for (size_t i = 0; i < routes_.size(); ++i) by_length_.push_back({routes_[i].prefix, i});
  // Stable: among equal lengths the file order decides (the parser rejects duplicates).
  std::stable_sort(by_length_.begin(), by_length_.end(), [](const Entry& a, const Entry& b) {
    return a.prefix.size() > b.prefix.size();
  });
}

Router& Router::operator=(const Router& other) {
  if (this != &other) *this = Router(other.routes_);
  return *this;
}

const RouteConfig* Router::match(std::string_view path, size_t* index) const {
  // A bare match ("/service1" for "/service1/") has a prefix one byte longer than the path,
  // so the scan meets it before any real prefix match; it yields only to a route whose
  // prefix equals the path exactly.
  const Entry* bare = nullptr;
  const Entry* found = nullptr;
  for (const Entry& e : by_length_) {
    const std::string_view p = e.prefix;
    if (p.size() > path.size() + 1) continue;
    if (p.size() == path.size() + 1) {
      if (bare == nullptr && p.back() == '/' && p.compare(0, path.size(), path) == 0) bare = &e;
      continue;
    }
    if (path.compare(0, p.size(), p) == 0) {
      found = &e;
      break;
    }
  }
  if (bare != nullptr && (found == nullptr || found->prefix.size() < path.size())) found = bare;
  if (found == nullptr) return nullptr;
  if (index != nullptr) *index = found->index;
  return &routes_[found->index];
}

void rewrite_target(const RouteConfig& route, std::string_view path, std::string_view query,
                    std::string& out) {
  const std::string_view prefix = route.prefix;
  if (route.strip_prefix) {
    // Strip the prefix without its trailing '/', so the upstream path keeps its own root.
    size_t strip = prefix.size();
    if (strip > 0 && prefix.back() == '/') --strip;
    if (path.size() >= strip && path.compare(0, strip, prefix, 0, strip) == 0) {
      path.remove_prefix(strip);
    }
    if (path.empty() || path.front() != '/') out += '/';
  }
  out.append(path);
  if (!query.empty()) {
    out += '?';
    out.append(query);
  }
}

}  // namespace ringway::proxy
