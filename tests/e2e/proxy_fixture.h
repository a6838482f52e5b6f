// End-to-end test support for ringway: a config builder that writes a temporary YAML file, a
// handle on a running proxy (ports, metrics, reload, RSS) and a gtest fixture run on both backends.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/e2e/exposition.h"
#include "tests/e2e/fake_upstream.h"
#include "tests/e2e/loopback.h"
#include "tests/e2e/process.h"
#include "tests/e2e/sanitized_build.h"

namespace ringway::e2e {

// Generous bounds for sanitizer builds; every wait returns as soon as its condition holds.
inline constexpr base::Millis kStartTimeout = 10000;
inline constexpr base::Millis kIoTimeout = 5000;
inline constexpr base::Millis kExitTimeout = 10000;

// One `upstreams:` entry. Health checks are off by default so a fake upstream sees only the
// requests a test sends; `extra` is appended inside the flow map, e.g. "retries: 0".
struct UpstreamSpec {
  UpstreamSpec(std::string n, std::vector<std::string> s, std::string e = {})
      : name(std::move(n)), servers(std::move(s)), extra(std::move(e)) {}
  std::string name;
  std::vector<std::string> servers;  // "127.0.0.1:PORT"
  std::string health_check = "{enabled: false}";
  std::string extra;
};

struct RouteSpec {
  RouteSpec(std::string p, std::string u, bool strip = true)
      : prefix(std::move(p)), upstream(std::move(u)), strip_prefix(strip) {}
  std::string prefix;
  std::string upstream;
  bool strip_prefix = true;
};

// The pieces of a ringway config a test cares about; empty strings keep the defaults.
// Listeners are always 127.0.0.1:0 (proxy and admin), workers 1.
struct ProxyConfig {
  std::vector<UpstreamSpec> upstreams;
  std::vector<RouteSpec> routes;
  std::string limits;    // flow-map body, e.g. "max_body_bytes: 10"
  std::string timeouts;  // e.g. "client_header: 300ms"
  std::string headers;   // the value of `headers:` in flow style, e.g. "{request: {set: {A: b}}}"
  int workers = 1;
  std::string top_level;  // extra top-level keys as YAML, e.g. "access_log: {path: stdout}"

  std::string to_yaml() const;
};

// A temporary directory removed (with its files) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes `text` to path()/name. Returns: the full path ("" on failure).
  std::string write(const std::string& name, std::string_view text);

 private:
  std::string path_;
};

// A running ringway process on ephemeral loopback ports.
class ProxyProcess {
 public:
  ProxyProcess() = default;
  ~ProxyProcess() = default;  // the ChildProcess kills a still-running proxy

  // Writes the config and starts `ringway --config F --io IO` plus `extra_args`, then waits for
  // both listeners. Returns: false with error() (including the proxy's stderr).
  bool start(const ProxyConfig& config, const std::string& io, SpawnOptions::Env env = {},
             std::vector<std::string> extra_args = {});
  bool start_yaml(const std::string& yaml, const std::string& io, SpawnOptions::Env env = {},
                  std::vector<std::string> extra_args = {});

  // Rewrites the config file (no reload yet).
  bool write_config(std::string_view yaml);
  // SIGHUP, then waits for the reload verdict in the log. Returns: true if the new config
  // was accepted ("reloaded configuration"), false if rejected or nothing was logged.
  bool reload();

  // SIGTERM and wait. Returns: the exit code (nullopt if it did not exit in time).
  std::optional<int> stop(base::Millis timeout = kExitTimeout);

  int port() const { return port_; }
  int admin_port() const { return admin_port_; }
  const std::string& config_path() const { return config_path_; }
  ChildProcess& process() { return *proc_; }
  std::string log() const { return proc_ ? proc_->log() : std::string(); }
  const std::string& error() const { return error_; }

  // GET /metrics on the admin port ("" on failure).
  std::string scrape();
  // A sample's value in `text`, 0 when the series does not exist (yet).
  static double value(const std::string& text, std::string_view name, const Labels& labels = {});
  // VmRSS of the proxy in KiB (0 if unreadable).
  long rss_kib() const;

 private:
  TempDir dir_;
  std::string config_path_;
  std::unique_ptr<ChildProcess> proc_;
  int port_ = 0;
  int admin_port_ = 0;
  std::string error_;
};

// Test parameter: the proxy's --io backend.
std::string backend_name(const ::testing::TestParamInfo<std::string>& info);

// Base fixture: owns the proxy, any real services and fake upstreams of a test. TearDown
// stops the proxy with SIGTERM and requires exit code 0, so a crash or a sanitizer report in
// the proxy fails the test that caused it.
class ProxyE2E : public ::testing::TestWithParam<std::string> {
 protected:
  void TearDown() override;

  const std::string& io() const { return GetParam(); }
  // Starts the proxy with `config` on this test's backend.
  void start_proxy(const ProxyConfig& config, SpawnOptions::Env env = {});
  // Starts service1 or service2 on an ephemeral port. Returns its "127.0.0.1:PORT" via *addr.
  void start_service(const std::string& name, std::string* addr);
  // Starts a fake upstream with `script`; owned by the fixture.
  FakeUpstream& start_upstream(UpstreamScript script);

  // Metrics shortcuts on the current proxy.
  std::string scrape() { return proxy_.scrape(); }
  double http_requests(const std::string& text, const std::string& route, int code) {
    return ProxyProcess::value(text, "ringway_http_requests_total",
                               {{"route", route}, {"code", std::to_string(code)}});
  }

  // Counters are recorded once a response is fully written, and gauges fall once a close is
  // processed, both a moment after the client saw the end: these poll /metrics (up to
  // kIoTimeout) until the sample equals before + n, then require exactly that.
  void expect_delta(std::string_view name, const Labels& labels, double before, double n);
  void expect_requests_delta(const std::string& route, int code, double before, double n) {
    expect_delta("ringway_http_requests_total", {{"route", route}, {"code", std::to_string(code)}},
                 before, n);
  }
  double requests_now(const std::string& route, int code) {
    return http_requests(scrape(), route, code);
  }

  // One request on a fresh raw connection; the response must arrive within kIoTimeout.
  std::optional<RawResponse> exchange(std::string_view bytes, bool head_request = false);

  ProxyProcess proxy_;
  std::vector<std::unique_ptr<ChildProcess>> services_;
  std::vector<std::unique_ptr<FakeUpstream>> upstreams_;
};

// Single-upstream config: route `prefix` (strip_prefix) to the given server.
ProxyConfig single_route(const std::string& server, const std::string& prefix = "/up/",
                         const std::string& extra = "");

// Reads from fd until `acc` contains `marker` or the timeout passes. Returns: true if found.
bool recv_until(int fd, std::string& acc, std::string_view marker, base::Millis timeout);
// Reads from fd until `acc` holds at least n bytes. Returns: false on timeout or EOF first.
bool recv_at_least(int fd, std::string& acc, size_t n, base::Millis timeout);

// Asserts the standard proxy error body: {"error":"<reason>","status":N,"detail":...,
// "request_id":"<X-Request-Id of the response>"} with Content-Type application/json.
void expect_error_response(const RawResponse& r, int status);

#define RINGWAY_PROXY_BACKENDS(Suite)                                               \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite, ::testing::Values("io_uring", "epoll"), \
                           ::ringway::e2e::backend_name)

}  // namespace ringway::e2e
