// Proxy e2e: /stats carries every documented field with numbers after traffic, and the admin
// page is self-contained with the server-rendered tables kept for browsers without scripts.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "tests/e2e/proxy_fixture.h"

namespace ringway::e2e {
namespace {

using ProxyAdminStats = ProxyE2E;

TEST_P(ProxyAdminStats, StatsHasRatesQuantilesAndServers) {
  FakeUpstream& up = start_upstream(reply_always(http_response(200, "ok")));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  // Traffic across a few one-second samples, so the 5 s rate window has two snapshots.
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 20; ++i) {
      auto r = exchange("GET /up/x HTTP/1.1\r\nHost: h\r\n\r\n");
      ASSERT_TRUE(r);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  }
  net::FetchResult res = http_get(proxy_.admin_port(), "/stats", {}, kIoTimeout);
  ASSERT_EQ(res.status, 200);
  const nlohmann::json j = nlohmann::json::parse(res.body);
  for (const char* k :
       {"version", "io", "io_fallback_reason", "workers", "ready", "draining", "now_unix_ms",
        "uptime_s", "last_reload", "connections", "routes", "upstreams"}) {
    EXPECT_TRUE(j.contains(k)) << k;
  }
  EXPECT_EQ(j["io"], io());
  EXPECT_EQ(j["last_reload"]["result"], "none");
  EXPECT_TRUE(j["connections"]["active"].is_number());
  EXPECT_TRUE(j["connections"]["idle"].is_number());
  ASSERT_EQ(j["routes"].size(), 1u);
  const auto& route = j["routes"][0];
  EXPECT_EQ(route["route"], "/up/");
  EXPECT_EQ(route["upstream"], "up");
  ASSERT_TRUE(route["rps"].is_number()) << route;
  EXPECT_GT(route["rps"].get<double>(), 0);
  EXPECT_GT(route["rate_2xx"].get<double>(), 0);
  EXPECT_EQ(route["rate_5xx"].get<double>(), 0);
  ASSERT_TRUE(route["p50_ms"].is_number()) << route;
  ASSERT_TRUE(route["p99_ms"].is_number()) << route;
  EXPECT_GE(route["p99_ms"].get<double>(), route["p50_ms"].get<double>());
  EXPECT_GE(route["series"]["rps"].size(), 2u);
  ASSERT_EQ(j["upstreams"].size(), 1u);
  const auto& server = j["upstreams"][0]["servers"][0];
  EXPECT_EQ(server["address"], up.address());
  EXPECT_EQ(server["healthy"], true);
  for (const char* k :
       {"last_check", "last_transition_unix_ms", "in_flight", "open_connections", "max_connections",
        "idle_connections", "ejected", "ejections", "ewma_latency_ms"}) {
    EXPECT_TRUE(server.contains(k)) << k;
  }
}

TEST_P(ProxyAdminStats, PageIsSelfContainedWithNoscriptTables) {
  FakeUpstream& up = start_upstream(reply_always(http_response(200, "ok")));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  net::FetchResult res = http_get(proxy_.admin_port(), "/", {}, kIoTimeout);
  ASSERT_EQ(res.status, 200);
  const std::string& html = res.body;
  const size_t ns = html.find("<noscript><p>");
  ASSERT_NE(ns, std::string::npos) << html;
  const size_t ns_end = html.find("</noscript>", ns);
  ASSERT_NE(ns_end, std::string::npos);
  EXPECT_NE(html.substr(ns, ns_end - ns).find(up.address()), std::string::npos)
      << "the server-rendered tables list the server";
  EXPECT_NE(html.find("fetch('/stats'"), std::string::npos);
  for (const char* outside : {"<script src", "<link", "@import", "url(", "http://", "https://"}) {
    EXPECT_EQ(html.find(outside), std::string::npos) << outside;
  }
}

RINGWAY_PROXY_BACKENDS(ProxyAdminStats);

}  // namespace
}  // namespace ringway::e2e
