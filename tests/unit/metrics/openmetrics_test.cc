// Tests metrics/openmetrics.*: counter naming (_total only on samples), histogram layout, number
// and escaping rules, and the mandatory "# EOF" terminator.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "metrics/openmetrics.h"
#include "metrics/registry.h"

namespace ringway::metrics {
namespace {

std::string number(double v) {
  std::string s;
  append_openmetrics_number(s, v);
  return s;
}

TEST(MetricsOpenMetrics, ExactExposition) {
  Registry reg(2);
  auto& req = reg.add_counter("t_http_requests_total", "Requests \"by\" route.\nSecond line \\.",
                              {"route", "code"});
  req.with({"svc1", "200"}).inc(0, 3);
  req.with({"svc1", "200"}).inc(1, 2);
  req.with({"q\"b\\s\nn", "502"}).inc(1);
  reg.add_gauge("t_build_info", "Build.", {"version"}).with({"0.1.0"}).set(1);
  auto& lat = reg.add_histogram("t_duration_seconds", "Latency.", {"route"}, {0.00005, 0.01, 1});
  Histogram h = lat.with({"svc1"});
  h.observe(0, 0.00005);
  h.observe(1, 0.5);
  h.observe(1, 0.5);
  h.observe(0, 2);
  const std::string expected =
      "# HELP t_http_requests Requests \\\"by\\\" route.\\nSecond line \\\\.\n"
      "# TYPE t_http_requests counter\n"
      "t_http_requests_total{route=\"q\\\"b\\\\s\\nn\",code=\"502\"} 1.0\n"
      "t_http_requests_total{route=\"svc1\",code=\"200\"} 5.0\n"
      "# HELP t_build_info Build.\n"
      "# TYPE t_build_info gauge\n"
      "t_build_info{version=\"0.1.0\"} 1.0\n"
      "# HELP t_duration_seconds Latency.\n"
      "# TYPE t_duration_seconds histogram\n"
      "t_duration_seconds_bucket{route=\"svc1\",le=\"5e-05\"} 1\n"
      "t_duration_seconds_bucket{route=\"svc1\",le=\"0.01\"} 1\n"
      "t_duration_seconds_bucket{route=\"svc1\",le=\"1.0\"} 3\n"
      "t_duration_seconds_bucket{route=\"svc1\",le=\"+Inf\"} 4\n"
      "t_duration_seconds_count{route=\"svc1\"} 4\n"
      "t_duration_seconds_sum{route=\"svc1\"} 3.00005\n"
      "# EOF\n";
  EXPECT_EQ(reg.render(Format::kOpenMetrics), expected);
}

TEST(MetricsOpenMetrics, EmptyRegistryIsJustEof) {
  Registry reg(1);
  EXPECT_EQ(reg.render(Format::kOpenMetrics), "# EOF\n");
}

TEST(MetricsOpenMetrics, CounterWithoutTotalSuffixGetsOneOnSamples) {
  Registry reg(1);
  reg.add_counter("t_legacy", "", {}).with({}).inc(0);
  EXPECT_EQ(reg.render(Format::kOpenMetrics),
            "# TYPE t_legacy counter\nt_legacy_total 1.0\n# EOF\n");
  // The text format keeps the registered name as is.
  EXPECT_EQ(reg.render(Format::kPrometheusText), "# TYPE t_legacy counter\nt_legacy 1\n");
}

TEST(MetricsOpenMetrics, ChildlessFamiliesKeepMetadataAndEofIsLast) {
  Registry reg(1);
  reg.add_counter("t_errors_total", "Errors.", {"kind"});
  reg.add_histogram("t_seconds", "", {"route"});
  const std::string out = reg.render(Format::kOpenMetrics);
  EXPECT_EQ(out,
            "# HELP t_errors Errors.\n# TYPE t_errors counter\n"
            "# TYPE t_seconds histogram\n# EOF\n");
}

TEST(MetricsOpenMetrics, NumbersAreCanonical) {
  EXPECT_EQ(number(0), "0.0");
  EXPECT_EQ(number(1), "1.0");
  EXPECT_EQ(number(-3), "-3.0");
  EXPECT_EQ(number(0.25), "0.25");
  EXPECT_EQ(number(1e21), "1e+21");
  // Same layout as the text writer's %g-style output, so le labels match across formats.
  EXPECT_EQ(number(0.0001), "0.0001");
  EXPECT_EQ(number(0.00075), "0.00075");
  EXPECT_EQ(number(5e-05), "5e-05");
  EXPECT_EQ(number(1e6), "1000000.0");
  EXPECT_EQ(number(1e16), "1e+16");
  EXPECT_EQ(number(-2.5e-7), "-2.5e-07");
  EXPECT_EQ(number(1795627508.46), "1795627508.46");
  EXPECT_EQ(number(0.1 + 0.2), "0.30000000000000004");  // shortest round-trip, no precision loss
  EXPECT_EQ(number(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(number(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(number(std::nan("")), "NaN");
}

TEST(MetricsOpenMetrics, HistogramWithoutInfBucketGetsOne) {
  prometheus::MetricFamily f;
  f.name = "x_seconds";
  f.type = prometheus::MetricType::Histogram;
  prometheus::ClientMetric m;
  m.histogram.sample_count = 2;
  m.histogram.sample_sum = 1.5;
  m.histogram.bucket = {{1, 1.0}};
  f.metric.push_back(m);
  EXPECT_EQ(serialize_openmetrics({f}),
            "# TYPE x_seconds histogram\n"
            "x_seconds_bucket{le=\"1.0\"} 1\n"
            "x_seconds_bucket{le=\"+Inf\"} 2\n"
            "x_seconds_count 2\n"
            "x_seconds_sum 1.5\n"
            "# EOF\n");
}

TEST(MetricsOpenMetrics, UntypedBecomesUnknown) {
  prometheus::MetricFamily f;
  f.name = "x";
  f.type = prometheus::MetricType::Untyped;
  prometheus::ClientMetric m;
  m.untyped.value = 2;
  f.metric.push_back(m);
  EXPECT_EQ(serialize_openmetrics({f}), "# TYPE x unknown\nx 2.0\n# EOF\n");
}

}  // namespace
}  // namespace ringway::metrics
