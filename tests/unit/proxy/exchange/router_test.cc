// Tests for proxy/exchange/router.*: longest-prefix matching, the bare "/prefix" rule for prefixes
// ending in '/', indexes into the configured order, and copies.
#include "proxy/exchange/router.h"

#include <gtest/gtest.h>

namespace ringway::proxy {
namespace {

std::vector<RouteConfig> make_routes(std::initializer_list<const char*> prefixes) {
  std::vector<RouteConfig> routes;
  for (const char* p : prefixes) {
    RouteConfig r;
    r.prefix = p;
    r.upstream = std::string("u") + p;
    routes.push_back(r);
  }
  return routes;
}

// The prefix of the matching route, or "<none>".
std::string match(const Router& router, std::string_view path) {
  const RouteConfig* r = router.match(path);
  return r == nullptr ? "<none>" : r->prefix;
}

TEST(Router, LongestPrefixWins) {
  Router router(make_routes({"/api/", "/api/v2/", "/", "/api/v2/admin/"}));
  EXPECT_EQ(match(router, "/api/x"), "/api/");
  EXPECT_EQ(match(router, "/api/v2/x"), "/api/v2/");
  EXPECT_EQ(match(router, "/api/v2/admin/users"), "/api/v2/admin/");
  EXPECT_EQ(match(router, "/other"), "/");
  EXPECT_EQ(match(router, "/"), "/");
}

TEST(Router, NoMatchIsNull) {
  Router router(make_routes({"/service1/", "/service2/"}));
  EXPECT_EQ(match(router, "/"), "<none>");
  EXPECT_EQ(match(router, "/service3/x"), "<none>");
  EXPECT_EQ(match(router, "/service"), "<none>");
  EXPECT_EQ(match(router, "/service1x"), "<none>");
  EXPECT_EQ(match(router, "/SERVICE1/ping"), "<none>");  // byte-wise, case-sensitive
  EXPECT_EQ(match(router, ""), "<none>");
  Router empty(std::vector<RouteConfig>{});
  EXPECT_EQ(match(empty, "/x"), "<none>");
}

TEST(Router, PrefixWithSlashAlsoMatchesBarePath) {
  Router router(make_routes({"/service1/", "/service2/", "/"}));
  EXPECT_EQ(match(router, "/service1/"), "/service1/");
  EXPECT_EQ(match(router, "/service1/ping"), "/service1/");
  EXPECT_EQ(match(router, "/service1"), "/service1/");  // bare beats the shorter "/"
  EXPECT_EQ(match(router, "/service2"), "/service2/");
  EXPECT_EQ(match(router, "/service"), "/");
}

TEST(Router, ExactPrefixBeatsBareMatch) {
  Router router(make_routes({"/service1/", "/service1"}));
  EXPECT_EQ(match(router, "/service1"), "/service1");
  EXPECT_EQ(match(router, "/service1/x"), "/service1/");
  EXPECT_EQ(match(router, "/service1x"), "/service1");
}

TEST(Router, PrefixWithoutSlashMatchesAnyContinuation) {
  Router router(make_routes({"/api"}));
  EXPECT_EQ(match(router, "/api"), "/api");
  EXPECT_EQ(match(router, "/api/x"), "/api");
  EXPECT_EQ(match(router, "/apix"), "/api");
  EXPECT_EQ(match(router, "/ap"), "<none>");
}

TEST(Router, ReturnsIndexInConfiguredOrder) {
  const auto routes = make_routes({"/a/", "/a/b/", "/c/"});
  Router router(routes);
  size_t index = 99;
  const RouteConfig* r = router.match("/a/b/c", &index);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(index, 1u);
  EXPECT_EQ(r->upstream, "u/a/b/");
  EXPECT_EQ(r, &router.routes()[1]);
  ASSERT_NE(router.match("/c", &index), nullptr);
  EXPECT_EQ(index, 2u);
  index = 99;
  EXPECT_EQ(router.match("/zzz", &index), nullptr);
  EXPECT_EQ(index, 99u) << "index written on a miss";
}

TEST(Router, CopiesAndMovesStayValid) {
  auto original = std::make_unique<Router>(make_routes({"/service1/", "/"}));
  Router copy(*original);
  Router assigned(make_routes({"/x/"}));
  assigned = *original;
  Router moved(std::move(*original));
  original.reset();
  for (const Router* r : {&copy, &assigned, &moved}) {
    EXPECT_EQ(match(*r, "/service1/ping"), "/service1/");
    EXPECT_EQ(match(*r, "/service1"), "/service1/");
    EXPECT_EQ(match(*r, "/zzz"), "/");
  }
}

// The upstream request-target for a route (rewrite_target).
RouteConfig rewrite_route(std::string prefix, bool strip) {
  return RouteConfig{.prefix = std::move(prefix), .upstream = "u", .strip_prefix = strip};
}

std::string rewrite(const RouteConfig& r, std::string_view path, std::string_view query) {
  std::string out = "GET ";
  rewrite_target(r, path, query, out);
  return out;
}

TEST(RewriteTarget, StripsPrefixKeepingLeadingSlash) {
  EXPECT_EQ(rewrite(rewrite_route("/service1/", true), "/service1/ping", ""), "GET /ping");
  EXPECT_EQ(rewrite(rewrite_route("/service1/", true), "/service1/", ""), "GET /");
  EXPECT_EQ(rewrite(rewrite_route("/service1/", true), "/service1", ""), "GET /");  // bare match
  EXPECT_EQ(rewrite(rewrite_route("/service1/", true), "/service1/a/b", "x=1"), "GET /a/b?x=1");
  EXPECT_EQ(rewrite(rewrite_route("/service1/", true), "/service1//x", ""), "GET //x");
  EXPECT_EQ(rewrite(rewrite_route("/api", true), "/api/v1", ""), "GET /v1");
  EXPECT_EQ(rewrite(rewrite_route("/api", true), "/api", "q"), "GET /?q");
  EXPECT_EQ(rewrite(rewrite_route("/api", true), "/apix", ""), "GET /x");
  EXPECT_EQ(rewrite(rewrite_route("/", true), "/anything", ""), "GET /anything");
}

TEST(RewriteTarget, KeepsPathWithoutStrip) {
  EXPECT_EQ(rewrite(rewrite_route("/service1/", false), "/service1/ping", ""), "GET /service1/ping");
  EXPECT_EQ(rewrite(rewrite_route("/service1/", false), "/service1/ping", "a=b"), "GET /service1/ping?a=b");
}

}  // namespace
}  // namespace ringway::proxy
