// Proxy e2e: labelled series that dashboards and alerts query exist at 0 on a fresh proxy,
// before anything moved them (a panel on a counter that never moved must not show "no data").
#include <gtest/gtest.h>

#include "tests/e2e/proxy_fixture.h"

namespace ringway::e2e {
namespace {

using ProxyMetricsInit = ProxyE2E;

TEST_P(ProxyMetricsInit, ReloadAndAccessLogCountersStartAtZero) {
  FakeUpstream& up = start_upstream(reply_always(http_response(200, "ok")));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  const std::string text = scrape();
  for (const char* result : {"success", "error"}) {
    const std::string sample =
        std::string("ringway_config_reloads_total{result=\"") + result + "\"} 0";
    EXPECT_NE(text.find(sample), std::string::npos) << sample << " missing in:\n" << text;
  }
  EXPECT_NE(text.find("\nringway_access_log_errors_total 0"), std::string::npos) << text;
}

RINGWAY_PROXY_BACKENDS(ProxyMetricsInit);

}  // namespace
}  // namespace ringway::e2e
