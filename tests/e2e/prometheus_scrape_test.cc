// End-to-end: a real Prometheus (Debian's /usr/bin/prometheus) scrapes service1 and service2 on
// loopback every second; both targets must come up and the request counters must be queryable.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tests/e2e/loopback.h"
#include "tests/e2e/process.h"

namespace ringway::e2e {
namespace {

constexpr const char* kPrometheus = "/usr/bin/prometheus";
constexpr base::Millis kStartTimeout = 10000;
// Upper bound for Prometheus to start, scrape and answer; typically 2-4 s.
constexpr base::Millis kScrapeDeadline = 40000;

// A private directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/ringway_e2e_XXXXXX";
    if (::mkdtemp(pattern.data())) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Returns: the value of the single series an instant query returns, or nullopt (no series
// yet, several series, or Prometheus not answering).
std::optional<std::string> query_single_value(int prom_port, const std::string& promql) {
  net::FetchResult r = http_get(prom_port, "/api/v1/query?query=" + url_encode(promql), {}, 3000);
  if (r.status != 200) return std::nullopt;
  // {"status":"success","data":{"resultType":"vector","result":[{"metric":{...},"value":[ts,"v"]}]}}
  // (Read by hand, not with std::regex: see parse_listen_line in process.cc.)
  constexpr std::string_view kKey = "\"value\":[";
  const std::string_view body = r.body;
  const size_t at = body.find(kKey);
  if (at == std::string_view::npos || body.find(kKey, at + 1) != std::string_view::npos) {
    return std::nullopt;  // no series, or several
  }
  const size_t open = body.find(",\"", at + kKey.size());
  const size_t close = open == std::string_view::npos ? open : body.find('"', open + 2);
  if (close == std::string_view::npos) return std::nullopt;
  return std::string(body.substr(open + 2, close - open - 2));
}

// Polls until `promql` yields exactly `want` (any value if `want` is empty) or the deadline
// passes. Returns: the last value
// seen ("<none>" if never any) so a failure message can say what Prometheus had.
std::string wait_for_value(int prom_port, const std::string& promql, const std::string& want,
                           base::TimePoint deadline) {
  std::string last = "<none>";
  while (base::Clock::now() < deadline) {
    if (auto v = query_single_value(prom_port, promql)) {
      last = *v;
      if (want.empty() || last == want) break;
    }
    ::usleep(200 * 1000);
  }
  return last;
}

class PrometheusScrapeE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_executable(kPrometheus)) GTEST_SKIP() << kPrometheus << " is not installed";
    ASSERT_FALSE(dir_.path().empty()) << "mkdtemp failed";
  }

  void TearDown() override {
    // Prometheus first, so it does not log scrape failures of services that are going away.
    for (ChildProcess* p : {prometheus_.get(), &service1_, &service2_}) {
      if (!p || !p->running()) continue;
      p->signal(SIGTERM);
      EXPECT_EQ(p->wait_exit(15000), std::optional<int>(0)) << p->log();
    }
  }

  static int start_service(ChildProcess& proc, const char* name) {
    SpawnOptions options;
    options.args = {"--listen", "127.0.0.1:0", "--io", "auto"};
    if (!proc.start(bin_path(name), options)) {
      ADD_FAILURE() << proc.error();
      return 0;
    }
    int port = proc.wait_for_listen_port(kStartTimeout);
    if (port == 0) ADD_FAILURE() << name << " did not start:\n" << proc.log();
    return port;
  }

  TempDir dir_;
  ChildProcess service1_, service2_;
  std::unique_ptr<ChildProcess> prometheus_;
};

TEST_F(PrometheusScrapeE2E, ScrapesBothServicesAndTheirCounters) {
  const int port1 = start_service(service1_, "service1");
  const int port2 = start_service(service2_, "service2");
  ASSERT_TRUE(port1 && port2);

  const std::string config = dir_.path() + "/prometheus.yml";
  {
    std::ofstream f(config);
    f << "global:\n"
         "  scrape_interval: 1s\n"
         "  scrape_timeout: 1s\n"
         "scrape_configs:\n"
         "  - job_name: service1\n"
         "    static_configs:\n"
         "      - targets: ['127.0.0.1:"
      << port1
      << "']\n"
         "  - job_name: service2\n"
         "    static_configs:\n"
         "      - targets: ['127.0.0.1:"
      << port2 << "']\n";
    ASSERT_TRUE(f.good());
  }
  const base::TimePoint deadline = base::Clock::now() + kScrapeDeadline;
  // The port comes from free_port(), so another process may take it first: retry then.
  int prom_port = 0;
  for (int attempt = 0; attempt < 3 && prom_port == 0; ++attempt) {
    const int port = free_port();
    ASSERT_GT(port, 0);
    SpawnOptions options;
    options.args = {"--config.file=" + config, "--storage.tsdb.path=" + dir_.path() + "/data",
                    "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=warn"};
    options.working_dir = dir_.path();
    prometheus_ = std::make_unique<ChildProcess>();
    ASSERT_TRUE(prometheus_->start(kPrometheus, options)) << prometheus_->error();
    while (base::Clock::now() < deadline && prometheus_->running()) {
      if (http_get(port, "/-/ready", {}, 1000).status == 200) {
        prom_port = port;
        break;
      }
      ::usleep(100 * 1000);
    }
    if (prom_port == 0 && prometheus_->running()) FAIL() << "not ready:\n" << prometheus_->log();
    if (prom_port == 0) prometheus_->wait_exit(2000);  // collects the rest of its stderr
    if (prom_port == 0 && prometheus_->log().find("address already in use") == std::string::npos) {
      FAIL() << "prometheus exited:\n" << prometheus_->log();
    }
  }
  ASSERT_GT(prom_port, 0) << "no free port for prometheus after 3 attempts";

  // Both targets healthy: Prometheus fetched and parsed each exposition.
  for (const char* job : {"service1", "service2"}) {
    const std::string up = std::string("up{job=\"") + job + "\"}";
    EXPECT_EQ(wait_for_value(prom_port, up, "1", deadline), "1")
        << job << " not up; prometheus stderr:\n"
        << prometheus_->log();
  }
  ASSERT_FALSE(HasFailure());

  // Requests made now show up, exactly, in a later scrape (scrapes are /metrics, not /ping).
  for (int i = 0; i < 5; ++i) ASSERT_EQ(http_get(port1, "/ping").status, 200);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(http_get(port2, "/ping").status, 200);
  EXPECT_EQ(
      wait_for_value(prom_port,
                     "service1_http_requests_total{method=\"GET\",path=\"/ping\",code=\"200\"}",
                     "5", deadline),
      "5")
      << prometheus_->log();
  EXPECT_EQ(
      wait_for_value(prom_port,
                     "service2_http_requests_total{method=\"GET\",path=\"/ping\",code=\"200\"}",
                     "3", deadline),
      "3")
      << prometheus_->log();
  // The histogram and a process family made it through as well.
  EXPECT_NE(wait_for_value(prom_port,
                           "service1_http_request_duration_seconds_count{job=\"service1\"} > 0", "",
                           deadline),
            "<none>");
  EXPECT_NE(
      wait_for_value(prom_port, "process_start_time_seconds{job=\"service2\"} > 0", "", deadline),
      "<none>");
}

}  // namespace
}  // namespace ringway::e2e
