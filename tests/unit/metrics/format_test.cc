// Tests metrics/format.*: Accept-header negotiation between Prometheus text and OpenMetrics.
#include <gtest/gtest.h>

#include "metrics/format.h"

namespace ringway::metrics {
namespace {

constexpr Format kText = Format::kPrometheusText;
constexpr Format kOm = Format::kOpenMetrics;

TEST(MetricsFormat, NegotiateFormat) {
  struct Case {
    const char* accept;
    Format want;
  };
  const Case cases[] = {
      {"", kText},
      {"*/*", kText},
      {"text/plain", kText},
      {"text/plain;version=0.0.4", kText},
      {"application/openmetrics-text", kOm},
      {"Application/OpenMetrics-Text; Version=1.0.0", kOm},
      {"application/openmetrics-text; version=\"1.0.0\"; charset=utf-8", kOm},
      {"application/openmetrics-text;version=0.0.1", kOm},
      {"application/openmetrics-text;version=2.0.0", kText},  // a version we do not speak
      // What Prometheus 2.x sends by default.
      {"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
       "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
       kOm},
      // Prometheus with scrape_protocols preferring text.
      {"text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.5", kText},
      {"application/openmetrics-text; q=0", kText},  // q=0 means "not acceptable"
      {"application/openmetrics-text;q=0.0, text/plain", kText},
      {"application/openmetrics-text;q=0.001", kOm},
      {"application/openmetrics-text;q=bogus", kText},
      {"application/openmetrics-text;q=1.5", kText},
      {"text/*;q=0.9, application/openmetrics-text;q=0.8", kText},
      {"text/plain;q=0.5, application/openmetrics-text;q=0.5", kOm},  // tie: the richer format
      {"  application/openmetrics-text  ,text/plain;q=0.1", kOm},
      {"application/json", kText},
      {",,;;", kText},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(negotiate_format(c.accept), c.want) << "Accept: " << c.accept;
  }
}

TEST(MetricsFormat, ContentTypes) {
  EXPECT_EQ(content_type(kText), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(content_type(kOm), "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

}  // namespace
}  // namespace ringway::metrics
