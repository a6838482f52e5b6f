// Feeds render() output to `promtool check metrics` (parser + lint). promtool exits non-zero on a
// parse error or any lint problem, so these tests fail on malformed or unidiomatic expositions.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "metrics/registry.h"

namespace ringway::metrics {
namespace {

constexpr const char* kPromtool = "/usr/bin/promtool";

struct PromtoolResult {
  int exit_code = -1;
  std::string output;
};

PromtoolResult promtool_check(const std::string& exposition) {
  char path[] = "/tmp/ringway_metrics_XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) return {};
  ::close(fd);
  std::ofstream(path) << exposition;
  const std::string cmd = std::string(kPromtool) + " check metrics < " + path + " 2>&1";
  PromtoolResult r;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (const size_t n = std::fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
    const int status = ::pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::remove(path);
  return r;
}

class MetricsPromtool : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kPromtool, X_OK) != 0) GTEST_SKIP() << kPromtool << " not installed";
  }
};

// The ringway contract families, populated, with hostile label values.
void populate_contract(Registry& reg) {
  auto& req = reg.add_counter("ringway_http_requests_total", "HTTP requests by route and status.",
                              {"route", "code"});
  req.with({"/service1/", "200"}).inc(0, 10);
  req.with({"we\"ird\\route\n", "404"}).inc(1);
  auto& dur = reg.add_histogram("ringway_http_request_duration_seconds",
                                "Request latency through the proxy.", {"route"});
  for (int i = 0; i < 50; ++i) dur.with({"/service1/"}).observe(i % 2, 0.00003 * i);
  reg.add_gauge("ringway_upstream_server_healthy", "1 if the server passes health checks.",
                {"upstream", "server"})
      .with({"service1", "127.0.0.1:8001"})
      .set(1);
  reg.add_gauge("ringway_connections_active", "Open client connections.", {}).with({}).add(0, 7);
  reg.add_counter("ringway_config_reloads_total", "Config reloads by result.", {"result"})
      .with({"error"})
      .inc_shared();
  reg.add_gauge("ringway_build_info", "Build and I/O engine.",
                {"version", "io", "io_fallback_reason"})
      .with({"0.1.0", "epoll", "EPERM from io_uring_setup (seccomp?)"})
      .set(1);
  reg.add_counter("ringway_upstream_retries_total", "Retries.", {"upstream"});  // no children
}

TEST_F(MetricsPromtool, PopulatedRegistryPasses) {
  Registry reg(2);
  populate_contract(reg);
  const auto r = promtool_check(reg.render(Format::kPrometheusText));
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(MetricsPromtool, ProcessMetricsPass) {
  Registry reg(1);
  reg.enable_process_metrics();
  populate_contract(reg);
  const std::string text = reg.render(Format::kPrometheusText);
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                           "process_start_time_seconds"}) {
    EXPECT_NE(text.find(std::string("\n") + name + " "), std::string::npos) << name;
  }
  const auto r = promtool_check(text);
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

// Guards the guard: promtool must reject what we would never want to serve.
TEST_F(MetricsPromtool, RejectsBrokenExposition) {
  EXPECT_NE(promtool_check("t_total{a=\"unterminated} 1\n").exit_code, 0);
  EXPECT_NE(promtool_check("# TYPE t counter\nt 1\n").exit_code, 0);  // lint: counter w/o _total
}

}  // namespace
}  // namespace ringway::metrics
