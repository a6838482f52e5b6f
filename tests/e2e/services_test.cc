// End-to-end tests of service1 and service2: the real binaries on ephemeral loopback ports, on
// both I/O backends, asserted on exact bytes, connection behaviour, exit codes and metric values.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "tests/e2e/exposition.h"
#include "tests/e2e/loopback.h"
#include "tests/e2e/process.h"
#include "tests/e2e/sanitized_build.h"

namespace ringway::e2e {
namespace {

// Generous bounds: sanitizer builds start and serve several times slower. Every wait below
// returns as soon as its condition holds, so these only matter when something is broken.
constexpr base::Millis kStartTimeout = 10000;
constexpr base::Millis kIoTimeout = 5000;
constexpr base::Millis kExitTimeout = 10000;

struct ServiceCase {
  std::string service;  // "service1" | "service2"
  std::string io;       // "io_uring" | "epoll" | "auto"
};

std::string case_name(const ::testing::TestParamInfo<ServiceCase>& info) {
  std::string io = info.param.io == "io_uring" ? "IoUring"
                   : info.param.io == "epoll"  ? "Epoll"
                                               : "Auto";
  return info.param.service + "_" + io;
}

// Readable parameter in failure messages instead of a byte dump.
void PrintTo(const ServiceCase& c, std::ostream* os) {
  *os << c.service << " --io " << c.io;
}

std::string pong_body(const std::string& service) {
  return "{\"service\":\"" + service + "\",\"message\":\"pong\"}";
}

// Sockets in LISTEN state on 127.0.0.1:port (one per worker with SO_REUSEPORT).
int count_listeners(int port) {
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  std::getline(tcp, line);  // header
  char want[16];
  std::snprintf(want, sizeof want, ":%04X", port);
  int n = 0;
  while (std::getline(tcp, line)) {
    // "  sl  local_address rem_address   st ..." e.g. "0: 0100007F:1F41 00000000:0000 0A"
    char local[64], remote[64], state[8];
    if (std::sscanf(line.c_str(), "%*s %63s %63s %7s", local, remote, state) != 3) continue;
    std::string l(local);
    if (l.size() >= 5 && l.compare(l.size() - 5, 5, want) == 0 && std::string(state) == "0A") ++n;
  }
  return n;
}

// Starts the service of the test's parameter and stops it with SIGTERM in TearDown, which also
// asserts a clean exit: 0, so a crash or a sanitizer report in the service fails the test.
class ServiceFixture : public ::testing::TestWithParam<ServiceCase> {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(start_service(1)); }

  void TearDown() override { stop_service(); }

  void start_service(int workers, SpawnOptions::Env env = {}) {
    stop_service();
    proc_ = std::make_unique<ChildProcess>();
    SpawnOptions options;
    options.args = {"--listen", "127.0.0.1:0", "--workers", std::to_string(workers),
                    "--io",     GetParam().io};
    options.env = std::move(env);
    ASSERT_TRUE(proc_->start(bin_path(service()), options)) << proc_->error();
    port_ = proc_->wait_for_listen_port(kStartTimeout);
    ASSERT_GT(port_, 0) << "no 'listening on' line; stderr:\n" << proc_->log();
  }

  void stop_service() {
    if (!proc_ || !proc_->running()) return;
    ASSERT_TRUE(proc_->signal(SIGTERM));
    std::optional<int> code = proc_->wait_exit(kExitTimeout);
    EXPECT_EQ(code, std::optional<int>(0)) << "stderr:\n" << proc_->log();
  }

  const std::string& service() const { return GetParam().service; }
  std::string requests_metric() const { return service() + "_http_requests_total"; }
  std::string duration_metric() const { return service() + "_http_request_duration_seconds"; }

  std::string scrape() {
    net::FetchResult r = http_get(port_, "/metrics", {}, kIoTimeout);
    EXPECT_EQ(r.status, 200) << r.error;
    return r.body;
  }

  // Counter value for {method, path, code}; 0 when the series does not exist yet.
  double requests(const std::string& text, const std::string& method, const std::string& path,
                  const std::string& code) {
    return sample_value(text, requests_metric(),
                        {{"method", method}, {"path", path}, {"code", code}})
        .value_or(0);
  }

  std::unique_ptr<ChildProcess> proc_;
  int port_ = 0;
};

using ServicesE2E = ServiceFixture;

TEST_P(ServicesE2E, StartupLogNamesServiceBackendAndWorkers) {
  auto line = proc_->wait_for_text("listening on", 0);
  ASSERT_TRUE(line) << proc_->log();
  EXPECT_NE(line->line.find(service() + " listening on 127.0.0.1:" + std::to_string(port_) +
                            " with 1 worker(s), io=" + GetParam().io),
            std::string::npos)
      << line->line;
  EXPECT_EQ(line->line.find("fell back"), std::string::npos) << line->line;
}

TEST_P(ServicesE2E, PingReturnsExactJson) {
  net::FetchResult r = http_get(port_, "/ping");
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, pong_body(service()));
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_EQ(r.header("Content-Length"), std::to_string(pong_body(service()).size()));
  EXPECT_FALSE(r.header("Date").empty());
}

TEST_P(ServicesE2E, PingIgnoresTheQueryString) {
  net::FetchResult r = http_get(port_, "/ping?verbose=1&x=%20");
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, pong_body(service()));
}

TEST_P(ServicesE2E, HeadPingSendsTheHeadersButNoBody) {
  // On one connection: if HEAD leaked body bytes, the GET after it would not parse.
  RawConnection c;
  ASSERT_TRUE(c.connect(port_)) << c.error();
  ASSERT_TRUE(c.send("HEAD /ping HTTP/1.1\r\nHost: t\r\n\r\n")) << c.error();
  auto head = c.read_response(kIoTimeout, /*head_request=*/true);
  ASSERT_TRUE(head) << c.error();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
  EXPECT_EQ(head->header("Content-Type"), "application/json");
  EXPECT_EQ(head->header("Content-Length"), std::to_string(pong_body(service()).size()));
  EXPECT_EQ(c.buffered(), "");
  ASSERT_TRUE(c.send("GET /ping HTTP/1.1\r\nHost: t\r\n\r\n")) << c.error();
  auto get = c.read_response(kIoTimeout);
  ASSERT_TRUE(get) << c.error();
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, pong_body(service()));
}

TEST_P(ServicesE2E, OtherMethodsOnPingAre405WithAllow) {
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    SCOPED_TRACE(method);
    net::FetchResult r = http_request(method, port_, "/ping", {}, "payload");
    ASSERT_EQ(r.status, 405) << r.error;
    EXPECT_EQ(r.header("Allow"), "GET, HEAD");
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_NE(r.body.find("\"error\""), std::string::npos) << r.body;
  }
}

TEST_P(ServicesE2E, UnknownPathsAre404Json) {
  for (const char* path : {"/nope", "/ping/", "/PING", "/", "/metrics/x"}) {
    SCOPED_TRACE(path);
    net::FetchResult r = http_get(port_, path);
    ASSERT_EQ(r.status, 404) << r.error;
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    ASSERT_FALSE(r.body.empty());
    EXPECT_EQ(r.body.front(), '{') << r.body;
    EXPECT_EQ(r.body.back(), '}') << r.body;
    EXPECT_NE(r.body.find("\"error\":\"not found\""), std::string::npos) << r.body;
  }
}

TEST_P(ServicesE2E, KeepAliveServesManyRequestsOnOneConnection) {
  RawConnection c;
  ASSERT_TRUE(c.connect(port_)) << c.error();
  for (int i = 0; i < 5; ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(c.send("GET /ping HTTP/1.1\r\nHost: t\r\n\r\n")) << c.error();
    auto r = c.read_response(kIoTimeout);
    ASSERT_TRUE(r) << c.error();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, pong_body(service()));
    EXPECT_TRUE(r->keep_alive);
    EXPECT_EQ(r->header_count("Connection"), 0u);
  }
  EXPECT_FALSE(c.peer_closed());
  // The client asks to close: the server answers and then closes.
  ASSERT_TRUE(c.send("GET /ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")) << c.error();
  auto last = c.read_response(kIoTimeout);
  ASSERT_TRUE(last) << c.error();
  EXPECT_EQ(last->status, 200);
  EXPECT_EQ(last->header("Connection"), "close");
  std::string rest;
  EXPECT_TRUE(c.wait_closed(kIoTimeout, &rest)) << c.error();
  EXPECT_EQ(rest, "");
}

TEST_P(ServicesE2E, PipelinedRequestsAreAnsweredInOrder) {
  RawConnection c;
  ASSERT_TRUE(c.connect(port_)) << c.error();
  // Three different answers (404, 200 + body, 405) so a reordering cannot go unnoticed; the
  // POST body checks that request framing holds inside a pipeline.
  ASSERT_TRUE(
      c.send("GET /nope HTTP/1.1\r\nHost: t\r\n\r\n"
             "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n"
             "POST /ping HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"))
      << c.error();
  auto r1 = c.read_response(kIoTimeout);
  ASSERT_TRUE(r1) << c.error();
  auto r2 = c.read_response(kIoTimeout);
  ASSERT_TRUE(r2) << c.error();
  auto r3 = c.read_response(kIoTimeout);
  ASSERT_TRUE(r3) << c.error();
  EXPECT_EQ(r1->status, 404);
  EXPECT_EQ(r2->status, 200);
  EXPECT_EQ(r2->body, pong_body(service()));
  EXPECT_EQ(r3->status, 405);
  EXPECT_EQ(r3->header("Allow"), "GET, HEAD");
  EXPECT_EQ(c.buffered(), "");
  EXPECT_FALSE(c.peer_closed());
}

// Each is answered 400 and the connection is closed (RFC 9112: a server cannot trust the
// framing of anything after a malformed message).
const char* const kMalformedRequests[] = {
    "GET /ping HTTP/1.1\r\n\r\n",                              // no Host (RFC 9112 §3.2)
    "GET /ping HTTP/1.1\nHost: t\n\n",                         // bare LF line ends
    "GET /ping HTTP/1.1\r\nHost: t\r\nNo-Colon-Here\r\n\r\n",  // field without ':'
    "GET /ping HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "POST /ping HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
    "0\r\n\r\n",                                                   // TE + CL (smuggling)
    "GET /pi ng HTTP/1.1\r\nHost: t\r\n\r\n",                      // space in the target
    "GET /ping HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n folded\r\n\r\n",  // obs-fold
    "\x01\x02\x03 garbage\r\n\r\n",
};

TEST_P(ServicesE2E, MalformedRequestsGet400AndTheConnectionCloses) {
  const double before = requests(scrape(), "other", "other", "400");
  int sent = 0;
  for (const char* bytes : kMalformedRequests) {
    SCOPED_TRACE(::testing::PrintToString(std::string(bytes)));
    RawConnection c;
    ASSERT_TRUE(c.connect(port_)) << c.error();
    ASSERT_TRUE(c.send(bytes)) << c.error();
    ++sent;
    auto r = c.read_response(kIoTimeout);
    ASSERT_TRUE(r) << c.error();
    EXPECT_EQ(r->status, 400) << r->body;
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_EQ(r->header("Content-Type"), "application/json");
    std::string rest;
    EXPECT_TRUE(c.wait_closed(kIoTimeout, &rest)) << c.error();
    EXPECT_EQ(rest, "");
  }
  // Every rejection is counted, under bounded labels.
  EXPECT_EQ(requests(scrape(), "other", "other", "400") - before, sent);
}

TEST_P(ServicesE2E, ValidRequestBeforeGarbageIsAnsweredThen400) {
  RawConnection c;
  ASSERT_TRUE(c.connect(port_)) << c.error();
  ASSERT_TRUE(c.send("GET /ping HTTP/1.1\r\nHost: t\r\n\r\nBROKEN REQUEST LINE\r\n\r\n"));
  auto ok = c.read_response(kIoTimeout);
  ASSERT_TRUE(ok) << c.error();
  EXPECT_EQ(ok->status, 200);
  auto bad = c.read_response(kIoTimeout);
  ASSERT_TRUE(bad) << c.error();
  EXPECT_EQ(bad->status, 400);
  EXPECT_TRUE(c.wait_closed(kIoTimeout)) << c.error();
}

// Connection state is pooled per worker: whatever a rejected client left unread must not
// reach the next client that gets the same slot.
TEST_P(ServicesE2E, NextClientIsUnaffectedByAPreviousMalformedRequest) {
  for (const char* bytes : kMalformedRequests) {
    SCOPED_TRACE(::testing::PrintToString(std::string(bytes)));
    {
      RawConnection bad;
      ASSERT_TRUE(bad.connect(port_)) << bad.error();
      ASSERT_TRUE(bad.send(std::string(bytes) + "GET /leftover HTTP/1.1\r\nHost: t\r\n\r\n"));
      auto r = bad.read_response(kIoTimeout);
      ASSERT_TRUE(r) << bad.error();
      EXPECT_EQ(r->status, 400);
      EXPECT_TRUE(bad.wait_closed(kIoTimeout)) << bad.error();
    }
    for (int i = 0; i < 3; ++i) {
      net::FetchResult r = http_get(port_, "/ping");
      ASSERT_EQ(r.status, 200) << r.error << " " << r.body;
      EXPECT_EQ(r.body, pong_body(service()));
    }
  }
}

TEST_P(ServicesE2E, CountersMoveByExactlyTheRequestsSent) {
  constexpr int kRequests = 37;
  const std::string before = scrape();
  const double pings_before = requests(before, "GET", "/ping", "200");
  const double count_before = sample_value(before, duration_metric() + "_count").value_or(-1);
  const double sum_before = sample_value(before, duration_metric() + "_sum").value_or(-1);
  ASSERT_GE(count_before, 0) << before;
  for (int i = 0; i < kRequests; ++i) {
    net::FetchResult r = http_get(port_, "/ping");
    ASSERT_EQ(r.status, 200) << r.error;
  }
  const std::string after = scrape();
  EXPECT_EQ(requests(after, "GET", "/ping", "200") - pings_before, kRequests) << after;
  // The histogram sees every request: the pings, plus the first scrape, which is recorded
  // after its own body was rendered (so the second scrape is not in its own output).
  const double count_after = sample_value(after, duration_metric() + "_count").value_or(-1);
  EXPECT_EQ(count_after - count_before, kRequests + 1) << after;
  EXPECT_EQ(sample_value(after, duration_metric() + "_bucket", {{"le", "+Inf"}}), count_after);
  EXPECT_GT(sample_value(after, duration_metric() + "_sum").value_or(-1), sum_before);
  // The first scrape is counted under path="/metrics"; nothing leaked into other labels.
  EXPECT_EQ(requests(after, "GET", "/metrics", "200") - requests(before, "GET", "/metrics", "200"),
            1);
}

TEST_P(ServicesE2E, PathLabelTakesOnlyKnownRoutes) {
  for (const char* path : {"/nope", "/a/b/c", "/ping/x", "/favicon.ico"}) {
    ASSERT_EQ(http_get(port_, path).status, 404);
  }
  ASSERT_EQ(http_request("POST", port_, "/ping").status, 405);
  const std::string text = scrape();
  EXPECT_EQ(requests(text, "GET", "other", "404"), 4) << text;
  EXPECT_EQ(requests(text, "POST", "/ping", "405"), 1) << text;
  std::vector<Sample> samples;
  std::string error;
  ASSERT_TRUE(parse_exposition(text, &samples, &error)) << error;
  for (const Sample& s : samples) {
    if (s.name != requests_metric()) continue;
    const std::string& path = s.labels.at("path");
    EXPECT_TRUE(path == "/ping" || path == "/metrics" || path == "other") << path;
  }
}

TEST_P(ServicesE2E, TwoWorkersServeAndCountAcrossBoth) {
  ASSERT_NO_FATAL_FAILURE(start_service(2));
  ASSERT_TRUE(proc_->wait_for_text("with 2 worker(s)", 0)) << proc_->log();
  // One SO_REUSEPORT listener per worker on the same port.
  EXPECT_EQ(count_listeners(port_), 2);
  const double before = requests(scrape(), "GET", "/ping", "200");
  // 8 concurrent keep-alive connections x 5 requests, plus 24 one-shot connections: the
  // kernel hashes connections across both listeners, and the total must be exact.
  constexpr int kConnections = 8, kPerConnection = 5, kOneShot = 24;
  std::vector<std::unique_ptr<RawConnection>> conns;
  for (int i = 0; i < kConnections; ++i) {
    conns.push_back(std::make_unique<RawConnection>());
    ASSERT_TRUE(conns.back()->connect(port_)) << conns.back()->error();
  }
  for (int round = 0; round < kPerConnection; ++round) {
    for (auto& c : conns) ASSERT_TRUE(c->send("GET /ping HTTP/1.1\r\nHost: t\r\n\r\n"));
    for (auto& c : conns) {
      auto r = c->read_response(kIoTimeout);
      ASSERT_TRUE(r) << c->error();
      ASSERT_EQ(r->status, 200);
    }
  }
  for (int i = 0; i < kOneShot; ++i) ASSERT_EQ(http_get(port_, "/ping").status, 200);
  const std::string text = scrape();
  EXPECT_EQ(requests(text, "GET", "/ping", "200") - before,
            kConnections * kPerConnection + kOneShot)
      << text;
}

TEST_P(ServicesE2E, HealthcheckExitsZeroAgainstTheLiveService) {
  SpawnOptions options;
  options.args = {"--healthcheck", local_url(port_, "/ping")};
  RunResult r = run_command(bin_path(service()), options, kIoTimeout);
  EXPECT_EQ(r.exit_code, std::optional<int>(0)) << r.output << r.errors;
}

TEST_P(ServicesE2E, HealthcheckExitsOneWithAReason) {
  const int dead = free_port();
  ASSERT_GT(dead, 0);
  struct Case {
    std::string url;
    std::string reason;  // expected in the one-line message
  };
  for (const Case& c : {Case{local_url(dead, "/ping"), "Connection refused"},
                        Case{local_url(port_, "/nope"), "404"}}) {
    SCOPED_TRACE(c.url);
    SpawnOptions options;
    options.args = {"--healthcheck", c.url};
    RunResult r = run_command(bin_path(service()), options, kIoTimeout);
    EXPECT_EQ(r.exit_code, std::optional<int>(1));
    EXPECT_NE(r.errors.find(c.reason), std::string::npos) << r.errors;
    // One line: container runtimes show the last line of a failed health check.
    ASSERT_FALSE(r.errors.empty());
    EXPECT_EQ(r.errors.find('\n'), r.errors.size() - 1) << r.errors;
  }
}

TEST_P(ServicesE2E, SigtermClosesIdleConnectionsAndExitsZero) {
  RawConnection idle;
  ASSERT_TRUE(idle.connect(port_)) << idle.error();
  ASSERT_TRUE(idle.send("GET /ping HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(idle.read_response(kIoTimeout)) << idle.error();
  ASSERT_TRUE(proc_->signal(SIGTERM));
  // Drain closes the idle keep-alive connection rather than waiting for the client.
  EXPECT_TRUE(idle.wait_closed(kIoTimeout)) << idle.error();
  EXPECT_EQ(proc_->wait_exit(kExitTimeout), std::optional<int>(0)) << proc_->log();
  EXPECT_TRUE(proc_->wait_for_text(service() + " draining", 0)) << proc_->log();
  EXPECT_TRUE(proc_->wait_for_text(service() + " stopped", 0)) << proc_->log();
}

// SIGTERM while a request head is half received: in-flight requests finish, and this one's
// response says Connection: close.
TEST_P(ServicesE2E, SigtermLetsAHalfReceivedRequestFinish) {
  RawConnection c;
  ASSERT_TRUE(c.connect(port_)) << c.error();
  ASSERT_TRUE(c.send("GET /ping HTTP/1.1\r\nHost: t\r\n"));
  // Let the server read the first half (it cannot be observed from outside).
  ::usleep(300 * 1000);
  const size_t mark = proc_->log_size();
  ASSERT_TRUE(proc_->signal(SIGTERM));
  ASSERT_TRUE(proc_->wait_for_text("draining", kIoTimeout, mark)) << proc_->log();
  ::usleep(100 * 1000);
  ASSERT_TRUE(c.send("\r\n"));
  auto r = c.read_response(3000);
  ASSERT_TRUE(r) << c.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_EQ(proc_->wait_exit(kExitTimeout), std::optional<int>(0)) << proc_->log();
}

TEST_P(ServicesE2E, TextExpositionPassesPromtool) {
  if (!is_executable(kPromtool)) GTEST_SKIP() << kPromtool << " not installed";
  // Traffic first, so every family has labelled children to lint.
  ASSERT_EQ(http_get(port_, "/ping").status, 200);
  ASSERT_EQ(http_get(port_, "/nope").status, 404);
  ASSERT_EQ(http_request("DELETE", port_, "/ping").status, 405);
  net::FetchResult r = http_get(port_, "/metrics");
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.header("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u)
      << r.header("Content-Type");
  PromtoolResult check = promtool_check_metrics(r.body);
  EXPECT_EQ(check.exit_code, std::optional<int>(0)) << check.output << "\n" << r.body;
  for (const char* family : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                             "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                             "process_start_time_seconds"}) {
    EXPECT_TRUE(sample_value(r.body, family)) << family << " missing";
  }
  EXPECT_GT(sample_value(r.body, "process_open_fds").value_or(0), 0);
  EXPECT_NE(r.body.find("# TYPE " + duration_metric() + " histogram\n"), std::string::npos);
}

TEST_P(ServicesE2E, OpenMetricsWhenAsked) {
  net::FetchResult r =
      http_get(port_, "/metrics", {{"Accept", "application/openmetrics-text; version=1.0.0"}});
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.header("Content-Type").rfind("application/openmetrics-text", 0), 0u)
      << r.header("Content-Type");
  ASSERT_GE(r.body.size(), 6u);
  EXPECT_EQ(r.body.substr(r.body.size() - 6), "# EOF\n");
  EXPECT_EQ(r.body.find("# EOF"), r.body.size() - 6) << "EOF marker before the end";
  // OpenMetrics names the counter family without _total; the samples keep it.
  EXPECT_NE(r.body.find("# TYPE " + service() + "_http_requests counter\n"), std::string::npos)
      << r.body;
  std::vector<Sample> samples;
  std::string error;
  EXPECT_TRUE(parse_exposition(r.body, &samples, &error)) << error;
}

// Like ringway's, the services' connections hold nothing between requests but their own
// small record: parser, head copy and output are lent while a request is in progress.
TEST_P(ServicesE2E, IdleKeepAliveConnectionsCostUnderOneKiBEach) {
  if (service() != "service1") GTEST_SKIP() << "one service is enough: they share the server";
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;  // the service, restarted below, inherits it
  setrlimit(RLIMIT_NOFILE, &rl);
  constexpr int kClients = 5000;  // the services' max_connections is 10,000
  ASSERT_GE(rl.rlim_cur, static_cast<rlim_t>(2 * kClients + 1000)) << "hard RLIMIT_NOFILE too low";
  ASSERT_NO_FATAL_FAILURE(start_service(1));
  const std::string req = "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n";
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port_));
  auto ask = [&](int fd) {  // one request, then its whole response (Content-Length framed)
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
      return false;
    }
    std::string in;
    char buf[1024];
    const size_t body = pong_body(service()).size();
    while (true) {
      const size_t end = in.find("\r\n\r\n");
      if (end != std::string::npos && in.size() >= end + 4 + body) return in.rfind("HTTP/1.1 200", 0) == 0;
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return false;
      in.append(buf, static_cast<size_t>(n));
    }
  };
  {  // Warm-up: the server's pools exist before the baseline.
    RawConnection warm;
    ASSERT_TRUE(warm.connect(port_));
    ASSERT_TRUE(warm.send(req));
    ASSERT_TRUE(warm.read_response(kIoTimeout)) << warm.error();
  }
  usleep(100000);
  const long rss_before = proc_->rss_kib();
  std::vector<int> fds;
  for (int i = 0; i < kClients; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << "client " << i;
    fds.push_back(fd);
    ASSERT_TRUE(ask(fd)) << "client " << i;
  }
  usleep(300000);
  const long rss_idle = proc_->rss_kib();
  const double per_conn = static_cast<double>(rss_idle - rss_before) / kClients;
  std::printf("[ memory ] %s %s: %d idle connections, RSS %ld -> %ld KiB, %.2f KiB per connection\n",
              service().c_str(), GetParam().io.c_str(), kClients, rss_before, rss_idle, per_conn);
  if (!kSanitizedBuild) {
    EXPECT_LE(per_conn, 1.0);
  }
  int answered = 0;
  for (int fd : fds) answered += ask(fd) ? 1 : 0;  // every one still usable
  EXPECT_EQ(answered, kClients);
  for (int fd : fds) ::close(fd);
}

INSTANTIATE_TEST_SUITE_P(Services, ServicesE2E,
                         ::testing::Values(ServiceCase{"service1", "io_uring"},
                                           ServiceCase{"service1", "epoll"},
                                           ServiceCase{"service2", "io_uring"},
                                           ServiceCase{"service2", "epoll"}),
                         case_name);

// io_uring set-up failure (as under a seccomp profile that denies it), forced by the runtime's
// test hook.
using ServicesFallbackE2E = ServiceFixture;

TEST_P(ServicesFallbackE2E, AutoFallsBackToEpollAndSaysWhy) {
  ASSERT_NO_FATAL_FAILURE(start_service(1, {{"RINGWAY_IO_URING_FAIL", "EPERM"}}));
  auto line = proc_->wait_for_text("listening on", 0);
  ASSERT_TRUE(line) << proc_->log();
  EXPECT_NE(line->line.find("io=epoll"), std::string::npos) << line->line;
  EXPECT_NE(line->line.find("fell back from io_uring: EPERM"), std::string::npos) << line->line;
  net::FetchResult r = http_get(port_, "/ping");
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, pong_body(service()));
}

TEST_P(ServicesFallbackE2E, ExplicitIoUringFailsToStartWhenUnavailable) {
  stop_service();
  SpawnOptions options;
  options.args = {"--listen", "127.0.0.1:0", "--io", "io_uring"};
  options.env = {{"RINGWAY_IO_URING_FAIL", "EPERM"}};
  RunResult r = run_command(bin_path(service()), options, kExitTimeout);
  EXPECT_EQ(r.exit_code, std::optional<int>(1)) << r.errors;
  EXPECT_NE(r.errors.find("EPERM"), std::string::npos) << r.errors;
  EXPECT_EQ(r.errors.find("listening on"), std::string::npos) << r.errors;
}

TEST_P(ServicesFallbackE2E, InvalidIoModeIsAUsageError) {
  stop_service();
  SpawnOptions options;
  options.args = {"--listen", "127.0.0.1:0", "--io", "kqueue"};
  RunResult r = run_command(bin_path(service()), options, kExitTimeout);
  EXPECT_EQ(r.exit_code, std::optional<int>(2)) << r.errors;
  EXPECT_NE(r.errors.find("--io"), std::string::npos) << r.errors;
}

INSTANTIATE_TEST_SUITE_P(Services, ServicesFallbackE2E,
                         ::testing::Values(ServiceCase{"service1", "auto"},
                                           ServiceCase{"service2", "auto"}),
                         case_name);

}  // namespace
}  // namespace ringway::e2e
