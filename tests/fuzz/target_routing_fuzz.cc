// libFuzzer target: request-target normalization, then routing and the upstream target rewrite,
// over a fixed route table. Checks the invariants the proxy relies on.
#include <string>
#include <string_view>
#include <vector>

#include "net/request_target.h"
#include "proxy/exchange/router.h"

namespace {

const ringway::proxy::Router& router() {
  static const ringway::proxy::Router r([] {
    std::vector<ringway::proxy::RouteConfig> routes(4);
    const char* prefixes[] = {"/", "/service1/", "/service1/deep/", "/api"};
    for (size_t i = 0; i < routes.size(); ++i) {
      routes[i].prefix = prefixes[i];
      routes[i].upstream = "u";
      routes[i].strip_prefix = i % 2 == 1;
    }
    return routes;
  }());
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view target(reinterpret_cast<const char*>(data), size);
  std::string scratch;
  std::string_view path, query;
  if (ringway::net::normalize_target(target, scratch, &path, &query) !=
      ringway::net::TargetStatus::kOk) {
    return 0;
  }
  // A normalized path is absolute and free of dot segments.
  if (path.empty() || path[0] != '/') __builtin_trap();
  if (path.find("/../") != std::string_view::npos || path.find("/./") != std::string_view::npos)
    __builtin_trap();
  size_t index = 0;
  const ringway::proxy::RouteConfig* route = router().match(path, &index);
  if (route == nullptr) return 0;  // "/" matches everything absolute, but keep the check cheap
  std::string out;
  ringway::proxy::rewrite_target(*route, path, query, out);
  if (out.empty() || out[0] != '/') __builtin_trap();
  for (char c : out) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) __builtin_trap();  // no CTL/space goes up
  }
  return 0;
}
