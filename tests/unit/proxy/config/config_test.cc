// Tests for proxy/config/* and base/duration.*: defaults, every key read back, and the exact
// FILE:LINE:COL messages --check-config prints for each kind of mistake.
#include "proxy/config/config.h"

#include <gtest/gtest.h>

#include "base/duration.h"

namespace ringway::proxy {
namespace {

using net::HostPort;

std::shared_ptr<const Config> parse_ok(std::string_view yaml) {
  std::vector<ConfigError> errors;
  auto config = parse_config(yaml, "t.yaml", &errors);
  for (const ConfigError& e : errors) ADD_FAILURE() << e.to_string();
  EXPECT_NE(config, nullptr);
  return config;
}

std::vector<std::string> errors_of(std::string_view yaml) {
  std::vector<ConfigError> errors;
  auto config = parse_config(yaml, "t.yaml", &errors);
  EXPECT_EQ(config, nullptr);
  std::vector<std::string> text;
  for (const ConfigError& e : errors) text.push_back(e.to_string());
  return text;
}

std::vector<std::string> file_errors(const std::string& name) {
  std::vector<ConfigError> errors;
  const std::string path = std::string(RINGWAY_TEST_DATA_DIR) + "/configs/" + name;
  EXPECT_EQ(load_config_file(path, &errors), nullptr);
  std::vector<std::string> text;
  for (const ConfigError& e : errors) {
    EXPECT_EQ(e.file, path);
    text.push_back(name + e.to_string().substr(path.size()));
  }
  return text;
}

using Errors = std::vector<std::string>;

// The contract's defaults, checked on a config that sets nothing.
void expect_defaults(const Config& c) {
  EXPECT_EQ(c.listen, (std::vector<HostPort>{{"0.0.0.0", 8080}}));
  EXPECT_EQ(c.admin_listen, (HostPort{"127.0.0.1", 9901}));
  EXPECT_EQ(c.workers, 1);
  EXPECT_EQ(c.io, net::IoMode::kAuto);
  EXPECT_EQ(c.limits.max_connections, 10000u);
  EXPECT_EQ(c.limits.max_header_bytes, 16384u);
  EXPECT_EQ(c.limits.max_headers, 100u);
  EXPECT_EQ(c.limits.max_body_bytes, 10485760u);
  EXPECT_EQ(c.timeouts.client_header, 10000);
  EXPECT_EQ(c.timeouts.client_idle, 60000);
  EXPECT_EQ(c.timeouts.upstream_connect, 2000);
  EXPECT_EQ(c.timeouts.upstream_response, 30000);
  EXPECT_EQ(c.timeouts.drain, 10000);
  EXPECT_TRUE(c.request_headers.set.empty());
  EXPECT_TRUE(c.request_headers.remove.empty());
  EXPECT_EQ(c.response_headers.set, default_response_headers());
  EXPECT_TRUE(c.response_headers.remove.empty());
}

TEST(ConfigDefaults, EmptyFileIsValidWithDefaultsAndNoRoutes) {
  for (const char* text : {"", "# nothing here\n", "---\n", "~\n"}) {
    auto c = parse_ok(text);
    ASSERT_NE(c, nullptr) << text;
    expect_defaults(*c);
    EXPECT_TRUE(c->upstreams.empty());
    EXPECT_TRUE(c->routes.empty());
    EXPECT_EQ(c->source, "t.yaml");
  }
}

TEST(ConfigDefaults, SecurityHeaders) {
  using Set = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(default_response_headers(),
            (Set{{"X-Frame-Options", "DENY"},
                 {"X-Content-Type-Options", "nosniff"},
                 {"Referrer-Policy", "no-referrer"},
                 {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"}}));
}

TEST(ConfigDefaults, UpstreamDefaults) {
  auto c = parse_ok("upstreams: { s: { servers: [\"10.0.0.1:80\"] } }");
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->upstreams.size(), 1u);
  const UpstreamConfig& u = c->upstreams[0];
  EXPECT_EQ(u.name, "s");
  EXPECT_EQ(u.servers, (std::vector<HostPort>{{"10.0.0.1", 80}}));
  EXPECT_EQ(u.balance, BalancePolicy::kP2C);
  EXPECT_EQ(u.keepalive, 64);
  EXPECT_EQ(u.retries, 1);
  EXPECT_EQ(u.resolve_every, 5000);
  EXPECT_TRUE(u.health_check.enabled);
  EXPECT_EQ(u.health_check.path, "/ping");
  EXPECT_EQ(u.health_check.interval, 2000);
  EXPECT_EQ(u.health_check.timeout, 1000);
  EXPECT_EQ(u.health_check.healthy_threshold, 2);
  EXPECT_EQ(u.health_check.unhealthy_threshold, 2);
  EXPECT_EQ(u.outlier.consecutive_failures, 3);
  EXPECT_EQ(u.outlier.base_ejection, 10000);
  EXPECT_EQ(u.outlier.max_ejection, 300000);
  EXPECT_EQ(u.outlier.max_ejection_percent, 50);
}

TEST(ConfigFiles, ValidFullReadsEveryKey) {
  std::vector<ConfigError> errors;
  const std::string path = std::string(RINGWAY_TEST_DATA_DIR) + "/configs/valid_full.yaml";
  auto c = load_config_file(path, &errors);
  for (const ConfigError& e : errors) ADD_FAILURE() << e.to_string();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->source, path);
  EXPECT_EQ(c->listen, (std::vector<HostPort>{{"127.0.0.1", 18080}, {"::1", 18081}}));
  EXPECT_EQ(c->admin_listen, (HostPort{"127.0.0.1", 19901}));
  EXPECT_EQ(c->workers, 4);
  EXPECT_EQ(c->io, net::IoMode::kEpoll);
  EXPECT_EQ(c->limits.max_connections, 5000u);
  EXPECT_EQ(c->limits.max_header_bytes, 8192u);
  EXPECT_EQ(c->limits.max_headers, 50u);
  EXPECT_EQ(c->limits.max_body_bytes, 1048576u);
  EXPECT_EQ(c->timeouts.client_header, 5000);
  EXPECT_EQ(c->timeouts.client_idle, 30000);
  EXPECT_EQ(c->timeouts.upstream_connect, 500);
  EXPECT_EQ(c->timeouts.upstream_response, 60000);
  EXPECT_EQ(c->timeouts.drain, 0);
  using Set = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(c->request_headers.set, (Set{{"X-Proxy", "ringway"}}));
  EXPECT_EQ(c->request_headers.remove, std::vector<std::string>{"X-Debug"});
  EXPECT_EQ(c->response_headers.set, (Set{{"X-Frame-Options", "SAMEORIGIN"},
                                          {"Strict-Transport-Security", "max-age=63072000"}}));
  EXPECT_EQ(c->response_headers.remove, std::vector<std::string>{"Server"});

  ASSERT_EQ(c->upstreams.size(), 2u);
  const UpstreamConfig& api = c->upstreams[0];
  EXPECT_EQ(api.name, "api");
  EXPECT_EQ(api.servers,
            (std::vector<HostPort>{{"127.0.0.1", 9001}, {"localhost", 9002}, {"::1", 9003}}));
  EXPECT_EQ(api.balance, BalancePolicy::kLeastRequest);
  EXPECT_EQ(api.keepalive, 16);
  EXPECT_EQ(api.retries, 2);
  EXPECT_EQ(api.resolve_every, 30000);
  EXPECT_TRUE(api.health_check.enabled);
  EXPECT_EQ(api.health_check.path, "/healthz");
  EXPECT_EQ(api.health_check.interval, 5000);
  EXPECT_EQ(api.health_check.timeout, 2000);
  EXPECT_EQ(api.health_check.healthy_threshold, 3);
  EXPECT_EQ(api.health_check.unhealthy_threshold, 4);
  EXPECT_EQ(api.outlier.consecutive_failures, 5);
  EXPECT_EQ(api.outlier.base_ejection, 30000);
  EXPECT_EQ(api.outlier.max_ejection, 600000);
  EXPECT_EQ(api.outlier.max_ejection_percent, 25);
  const UpstreamConfig& st = c->upstreams[1];
  EXPECT_EQ(st.name, "static");
  EXPECT_EQ(st.servers, (std::vector<HostPort>{{"127.0.0.1", 9100}}));
  EXPECT_EQ(st.balance, BalancePolicy::kRoundRobin);
  EXPECT_FALSE(st.health_check.enabled);

  ASSERT_EQ(c->routes.size(), 3u);
  EXPECT_EQ(c->routes[0].prefix, "/api/");
  EXPECT_EQ(c->routes[0].upstream, "api");
  EXPECT_TRUE(c->routes[0].strip_prefix);
  EXPECT_EQ(c->routes[0].upstream_index, 0u);
  EXPECT_EQ(c->routes[1].prefix, "/api/v2/");
  EXPECT_FALSE(c->routes[1].strip_prefix);
  EXPECT_EQ(c->routes[2].prefix, "/");
  EXPECT_EQ(c->routes[2].upstream_index, 1u);
  EXPECT_EQ(c->find_upstream("static"), 1);
  EXPECT_EQ(c->find_upstream("nope"), -1);
}

TEST(ConfigFiles, DeployDemoConfig) {
  std::vector<ConfigError> errors;
  auto c = load_config_file(std::string(RINGWAY_SOURCE_DIR) + "/deploy/ringway.yaml", &errors);
  for (const ConfigError& e : errors) ADD_FAILURE() << e.to_string();
  ASSERT_NE(c, nullptr);
  expect_defaults(*c);
  ASSERT_EQ(c->upstreams.size(), 2u);
  EXPECT_EQ(c->upstreams[0].name, "service1");
  EXPECT_EQ(c->upstreams[0].servers, (std::vector<HostPort>{{"127.0.0.1", 8001}}));
  EXPECT_EQ(c->upstreams[1].name, "service2");
  EXPECT_EQ(c->upstreams[1].servers, (std::vector<HostPort>{{"127.0.0.1", 8002}}));
  for (const UpstreamConfig& u : c->upstreams) {
    EXPECT_TRUE(u.health_check.enabled);
    EXPECT_EQ(u.health_check.path, "/ping");
  }
  ASSERT_EQ(c->routes.size(), 2u);
  EXPECT_EQ(c->routes[0].prefix, "/service1/");
  EXPECT_EQ(c->routes[0].upstream_index, 0u);
  EXPECT_TRUE(c->routes[0].strip_prefix);
  EXPECT_EQ(c->routes[1].prefix, "/service2/");
  EXPECT_EQ(c->routes[1].upstream_index, 1u);
  EXPECT_TRUE(c->routes[1].strip_prefix);
}

TEST(ConfigFiles, UnreadableFile) {
  std::vector<ConfigError> errors;
  EXPECT_EQ(load_config_file("/nonexistent/ringway.yaml", &errors), nullptr);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(),
            "/nonexistent/ringway.yaml:1:1: cannot read: No such file or directory");
  errors.clear();
  EXPECT_EQ(load_config_file(RINGWAY_TEST_DATA_DIR, &errors), nullptr);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "cannot read: Is a directory");
  errors.clear();
  EXPECT_EQ(load_config_file("/dev/zero", &errors), nullptr);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(), "/dev/zero:1:1: cannot read: larger than 4 MiB");
}

TEST(ConfigFiles, SyntaxError) {
  EXPECT_EQ(file_errors("invalid_syntax.yaml"),
            Errors{"invalid_syntax.yaml:5:1: YAML syntax error: end of sequence flow not found"});
}

TEST(ConfigFiles, UnknownKeysEverywhere) {
  EXPECT_EQ(file_errors("invalid_unknown_keys.yaml"),
            (Errors{
                "invalid_unknown_keys.yaml:2:1: unknown key 'lisen' at top level (did you mean "
                "'listen'?)",
                "invalid_unknown_keys.yaml:6:5: unknown key 'foo' in upstreams.service1",
                "invalid_unknown_keys.yaml:7:5: unknown key 'helth_check' in upstreams.service1 "
                "(did you mean 'health_check'?)",
                "invalid_unknown_keys.yaml:8:41: unknown key 'bogus' in upstreams.service1.outlier",
                "invalid_unknown_keys.yaml:10:47: unknown key 'strip' in routes[0]",
            }));
}

TEST(ConfigFiles, EveryBadValueIsReported) {
  EXPECT_EQ(
      file_errors("invalid_values.yaml"),
      (Errors{
          "invalid_values.yaml:1:10: listen[0]: invalid address '0.0.0.0:80800': port out of "
          "range (0-65535)",
          "invalid_values.yaml:2:18: admin.listen: invalid address 'localhost': missing port",
          "invalid_values.yaml:3:10: workers: 2000 is out of range 0..1024",
          "invalid_values.yaml:4:5: io: unknown io mode 'kqueue' (use auto, io_uring or epoll)",
          "invalid_values.yaml:5:28: limits.max_connections: expected an integer, got 'lots'",
          "invalid_values.yaml:5:47: limits.max_headers: 0 is out of range 1..10000",
          "invalid_values.yaml:6:28: timeouts.client_header: invalid duration '10': missing unit "
          "(use ms, s, m or h)",
          "invalid_values.yaml:6:45: timeouts.client_idle: invalid duration '1.5s': fractions are "
          "not allowed; use a smaller unit (e.g. 1500ms)",
          "invalid_values.yaml:6:58: timeouts.drain: invalid duration '-1s': negative duration",
          "invalid_values.yaml:9:33: upstreams.service1.servers[1]: invalid address "
          "'127.0.0.1:0': port out of range (1-65535)",
          "invalid_values.yaml:10:14: upstreams.service1.balance: unknown balance policy 'random' "
          "(use p2c, least_request or round_robin)",
          "invalid_values.yaml:11:16: upstreams.service1.keepalive: -1 is out of range 0..65535",
          "invalid_values.yaml:12:14: upstreams.service1.retries: 11 is out of range 0..10",
          "invalid_values.yaml:14:13: upstreams.service1.health_check.path: must start with '/'",
          "invalid_values.yaml:15:17: upstreams.service1.health_check.interval: must be greater "
          "than 0",
          "invalid_values.yaml:16:26: upstreams.service1.health_check.healthy_threshold: 0 is out "
          "of range 1..100",
          "invalid_values.yaml:18:14: upstreams.service2.servers: must list at least one server",
          "invalid_values.yaml:19:3: upstreams.service3: missing required key 'servers'",
          "invalid_values.yaml:22:15: routes[0].prefix: must start with '/'",
          "invalid_values.yaml:23:37: routes[1].upstream: unknown upstream 'servce2' (did you "
          "mean 'service2'?)",
          "invalid_values.yaml:24:15: routes[2].prefix: duplicate prefix '/service2/' (first in "
          "routes[1])",
      }));
}

TEST(ConfigFiles, HeaderRules) {
  EXPECT_EQ(
      file_errors("invalid_headers.yaml"),
      (Errors{
          "invalid_headers.yaml:4:7: headers.request.set: invalid header name 'Bad Name' (must be "
          "an RFC 9110 token)",
          "invalid_headers.yaml:5:19: headers.request.set.X-Injected: header value must not "
          "contain CR, LF, NUL or other control characters",
          "invalid_headers.yaml:6:7: headers.request.set: header 'Content-Length' is managed by "
          "the proxy and cannot be set",
          "invalid_headers.yaml:7:14: headers.request.remove[0]: header 'Host' is required in "
          "HTTP/1.1 requests and cannot be removed",
          "invalid_headers.yaml:11:7: headers.response.set: duplicate header 'x-frame-options' "
          "(header names ignore case)",
          "invalid_headers.yaml:12:7: headers.response.set.X-Empty: expected a string value (use "
          "\"\" for an empty value)",
          "invalid_headers.yaml:13:14: headers.response.remove[0]: header 'X-Frame-Options' is "
          "both set and removed",
      }));
}

TEST(ConfigParse, ContractExampleIsValid) {
  auto c = parse_ok(R"(listen: ["0.0.0.0:8080"]
admin: { listen: "127.0.0.1:9901" }
workers: 1
io: auto
limits: { max_connections: 10000, max_header_bytes: 16384, max_headers: 100, max_body_bytes: 10485760 }
timeouts: { client_header: 10s, client_idle: 60s, upstream_connect: 2s, upstream_response: 30s, drain: 10s }
headers:
  request:  { set: {}, remove: [] }
  response:
    set:
      X-Frame-Options: DENY
      X-Content-Type-Options: nosniff
      Referrer-Policy: no-referrer
      Content-Security-Policy: "default-src 'none'; frame-ancestors 'none'"
    remove: []
upstreams:
  service1:
    servers: ["127.0.0.1:8001"]     # host:port; hostnames resolve to every A/AAAA record
    balance: p2c                     # p2c | least_request | round_robin
    keepalive: 64
    retries: 1
    resolve_every: 5s
    health_check: { path: /ping, interval: 2s, timeout: 1s, healthy_threshold: 2, unhealthy_threshold: 2 }
    outlier: { consecutive_failures: 3, base_ejection: 10s }
  service2: { servers: ["127.0.0.1:8002"] }
routes:
  - { prefix: /service1/, upstream: service1, strip_prefix: true }   # /service1/ping -> /ping
  - { prefix: /service2/, upstream: service2, strip_prefix: true }
)");
  ASSERT_NE(c, nullptr);
  expect_defaults(*c);
  ASSERT_EQ(c->routes.size(), 2u);
  EXPECT_EQ(c->routes[1].upstream_index, 1u);
}

TEST(ConfigParse, HeaderSetReplacesDefaultsOnlyWhenGiven) {
  auto replaced = parse_ok("headers: { response: { set: { X-A: b } } }");
  ASSERT_NE(replaced, nullptr);
  EXPECT_EQ(replaced->response_headers.set.size(), 1u);
  auto emptied = parse_ok("headers: { response: { set: {} } }");
  ASSERT_NE(emptied, nullptr);
  EXPECT_TRUE(emptied->response_headers.set.empty());
  auto kept =
      parse_ok("headers: { response: { remove: [Server] }, request: { set: { X-B: \"\" } } }");
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(kept->response_headers.set, default_response_headers());
  EXPECT_EQ(kept->response_headers.remove, std::vector<std::string>{"Server"});
  ASSERT_EQ(kept->request_headers.set.size(), 1u);
  EXPECT_EQ(kept->request_headers.set[0].second, "");
  EXPECT_EQ(errors_of("headers:\n  response:\n    remove: [x-frame-options]\n"),
            Errors{"t.yaml:3:14: headers.response.remove[0]: header 'x-frame-options' is both set "
                   "and removed (a default response header: list the ones you want under "
                   "headers.response.set)"});
}

TEST(ConfigParse, ShorthandsAndOrder) {
  // A single string for listen/servers; routes before upstreams; 0 workers; port 0 listen.
  auto c = parse_ok(
      "routes: [{ prefix: /b/, upstream: b }, { prefix: /a/, upstream: a }]\n"
      "listen: \"127.0.0.1:0\"\n"
      "workers: 0\n"
      "upstreams:\n  a: { servers: \"h1:1\" }\n  b: { servers: [\"h2:2\"] }\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->listen, (std::vector<HostPort>{{"127.0.0.1", 0}}));
  EXPECT_EQ(c->workers, 0);
  ASSERT_EQ(c->upstreams.size(), 2u);
  EXPECT_EQ(c->upstreams[0].name, "a");
  EXPECT_EQ(c->routes[0].upstream_index, 1u);
  EXPECT_EQ(c->routes[1].upstream_index, 0u);
}

TEST(ConfigParse, HealthCheckTimeoutAgainstInterval) {
  auto shrunk =
      parse_ok("upstreams: { s: { servers: [\"h:1\"], health_check: { interval: 300ms } } }");
  ASSERT_NE(shrunk, nullptr);
  EXPECT_EQ(shrunk->upstreams[0].health_check.timeout, 300);  // unset timeout fits the interval
  auto equal = parse_ok(
      "upstreams: { s: { servers: [\"h:1\"], health_check: { interval: 1s, timeout: 1s } } }");
  ASSERT_NE(equal, nullptr);
  auto off = parse_ok("upstreams: { s: { servers: [\"h:1\"], health_check: { enabled: false } } }");
  ASSERT_NE(off, nullptr);
  EXPECT_FALSE(off->upstreams[0].health_check.enabled);
  EXPECT_EQ(
      errors_of("upstreams:\n  s:\n    servers: [\"h:1\"]\n"
                "    health_check: { interval: 2s, timeout: 3s }\n"),
      Errors{"t.yaml:4:44: upstreams.s.health_check.timeout: 3s must not exceed interval (2s)"});
}

TEST(ConfigParse, OutlierEjectionBounds) {
  auto raised =
      parse_ok("upstreams: { s: { servers: [\"h:1\"], outlier: { base_ejection: 10m } } }");
  ASSERT_NE(raised, nullptr);
  EXPECT_EQ(raised->upstreams[0].outlier.max_ejection, 600000);  // unset cap follows the base
  EXPECT_EQ(
      errors_of(
          "upstreams:\n  s:\n    servers: [\"h:1\"]\n"
          "    outlier: { base_ejection: 1m, max_ejection: 30s, max_ejection_percent: 101 }\n"),
      (Errors{"t.yaml:4:49: upstreams.s.outlier.max_ejection: 30s must be at least "
              "base_ejection (1m)",
              "t.yaml:4:76: upstreams.s.outlier.max_ejection_percent: 101 is out of range "
              "0..100"}));
}

TEST(ConfigParse, ListenerOverlap) {
  EXPECT_EQ(
      errors_of("listen: [\"0.0.0.0:8080\", \"127.0.0.1:8080\", \"[::1]:8081\", \"[::1]:8081\"]\n"
                "admin: { listen: \"127.0.0.1:8081\" }\n"),
      (Errors{"t.yaml:1:26: listen[1]: 127.0.0.1:8080 overlaps 0.0.0.0:8080",
              "t.yaml:1:58: listen[3]: [::1]:8081 overlaps [::1]:8081"}));
  EXPECT_EQ(errors_of("listen: [\"127.0.0.1:8080\"]\nadmin: { listen: \"0.0.0.0:8080\" }\n"),
            Errors{"t.yaml:2:18: admin.listen: 0.0.0.0:8080 overlaps listen address "
                   "127.0.0.1:8080"});
  EXPECT_EQ(errors_of("listen: []\n"),
            Errors{"t.yaml:1:9: listen: must list at least one address"});
  ASSERT_NE(
      parse_ok("listen: [\"127.0.0.1:0\", \"127.0.0.1:0\"]\nadmin: { listen: \"127.0.0.1:0\" }"),
      nullptr);
}

TEST(ConfigParse, RequestBufferChunkExtAndUser) {
  EXPECT_EQ(parse_ok("")->limits.request_buffer, 65536u);
  EXPECT_EQ(parse_ok("")->limits.max_chunk_ext_bytes, 4096u);
  EXPECT_EQ(parse_ok("")->user, "");
  auto c = parse_ok("limits: {request_buffer: 1MiB, max_chunk_ext_bytes: 512}\nuser: ringway\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->limits.request_buffer, 1048576u);
  EXPECT_EQ(c->limits.max_chunk_ext_bytes, 512u);
  EXPECT_EQ(c->user, "ringway");
  EXPECT_EQ(parse_ok("limits: {request_buffer: 0}")->limits.request_buffer, 0u);
  EXPECT_EQ(errors_of("limits: {request_buffer: 64kb}\n"),
            Errors{"t.yaml:1:26: limits.request_buffer: expected a size like 4096, 64KiB or 1MiB, got '64kb'"});
  EXPECT_EQ(errors_of("limits: {request_buffer: 65MiB, max_chunk_ext_bytes: 8}\n"),
            (Errors{"t.yaml:1:26: limits.request_buffer: 65MiB is out of range 0..67108864 bytes",
                    "t.yaml:1:54: limits.max_chunk_ext_bytes: 8 is out of range 16..1048576 bytes"}));
}

TEST(ConfigParse, RecvBufferIsAPowerOfTwoBetween4KiBAnd256KiB) {
  EXPECT_EQ(parse_ok("")->limits.recv_buffer, 16384u);
  EXPECT_EQ(parse_ok("limits: {recv_buffer: 64KiB}")->limits.recv_buffer, 65536u);
  EXPECT_EQ(parse_ok("limits: {recv_buffer: 4096}")->limits.recv_buffer, 4096u);
  EXPECT_EQ(parse_ok("limits: {recv_buffer: 256KiB}")->limits.recv_buffer, 262144u);
  EXPECT_EQ(errors_of("limits: {recv_buffer: 48KiB}\n"),
            Errors{"t.yaml:1:23: limits.recv_buffer: 48KiB is not a power of two (4KiB, 8KiB, 16KiB .. 256KiB)"});
  EXPECT_EQ(errors_of("limits: {recv_buffer: 512KiB}\n"),
            Errors{"t.yaml:1:23: limits.recv_buffer: 512KiB is out of range 4096..262144 bytes"});
  EXPECT_EQ(errors_of("limits: {recv_buffer: 2048}\n"),
            Errors{"t.yaml:1:23: limits.recv_buffer: 2048 is out of range 4096..262144 bytes"});
}

TEST(ConfigParse, SpliceMinIsASizeAndZeroTurnsSplicingOff) {
  EXPECT_EQ(parse_ok("")->limits.splice_min, 32768u);
  EXPECT_EQ(parse_ok("limits: {splice_min: 0}")->limits.splice_min, 0u);
  EXPECT_EQ(parse_ok("limits: {splice_min: 1MiB}")->limits.splice_min, 1048576u);
  EXPECT_EQ(errors_of("limits: {splice_min: 2097152MiB}\n"),
            Errors{"t.yaml:1:22: limits.splice_min: 2097152MiB is out of range 0..1099511627776 bytes"});
  EXPECT_EQ(errors_of("limits: {splice_min: -1}\n"),
            Errors{"t.yaml:1:22: limits.splice_min: expected a size like 4096, 64KiB or 1MiB, got '-1'"});
}

TEST(ConfigParse, WrongTypes) {
  EXPECT_EQ(errors_of("- a\n- b\n"),
            Errors{"t.yaml:1:1: expected a mapping at top level, got a sequence"});
  EXPECT_EQ(errors_of("just text\n"),
            Errors{"t.yaml:1:1: expected a mapping at top level, got 'just text'"});
  EXPECT_EQ(errors_of("limits: [1, 2]\ntimeouts: 5s\nworkers: [1]\nio:\n"),
            (Errors{"t.yaml:1:9: limits: expected a mapping, got a sequence",
                    "t.yaml:2:11: timeouts: expected a mapping, got '5s'",
                    "t.yaml:3:10: workers: expected an integer, got a sequence",
                    "t.yaml:4:1: io: expected a string, got nothing"}));
  EXPECT_EQ(errors_of("workers: 1.5\nlimits: { max_headers: 0x10, max_connections: 1e3 }\n"),
            (Errors{"t.yaml:1:10: workers: expected an integer, got '1.5'",
                    "t.yaml:2:24: limits.max_headers: expected an integer, got '0x10'",
                    "t.yaml:2:47: limits.max_connections: expected an integer, got '1e3'"}));
  EXPECT_EQ(errors_of("limits: { max_body_bytes: 99999999999999999999 }\n"),
            Errors{"t.yaml:1:27: limits.max_body_bytes: 99999999999999999999 is out of range "
                   "0..1099511627776"});
  EXPECT_EQ(errors_of("routes:\n  - { prefix: /a/, upstream: a, strip_prefix: yes }\n"
                      "upstreams: { a: { servers: [\"h:1\"] } }\n"),
            Errors{"t.yaml:2:47: routes[0].strip_prefix: expected true or false, got 'yes'"});
  EXPECT_EQ(
      errors_of("upstreams: { a: { servers: [\"h:1\"], health_check: { enabled: 1 } } }\n"),
      Errors{"t.yaml:1:62: upstreams.a.health_check.enabled: expected true or false, got '1'"});
  EXPECT_EQ(errors_of("upstreams: [a]\nroutes: { a: b }\n"),
            (Errors{"t.yaml:1:12: upstreams: expected a mapping, got a sequence",
                    "t.yaml:2:9: routes: expected a sequence, got a mapping"}));
  EXPECT_EQ(errors_of("upstreams: { a: { servers: { h: 1 } } }\n"),
            Errors{"t.yaml:1:28: upstreams.a.servers: expected a sequence, got a mapping"});
  // Quoted numbers and booleans are read by their text, as written.
  auto quoted = parse_ok("workers: \"3\"\n");
  ASSERT_NE(quoted, nullptr);
  EXPECT_EQ(quoted->workers, 3);
}

TEST(ConfigParse, DuplicateAndOddKeys) {
  EXPECT_EQ(errors_of("workers: 1\nworkers: 2\n"),
            Errors{"t.yaml:2:1: duplicate key 'workers' at top level"});
  EXPECT_EQ(errors_of("limits: { max_headers: 5, max_headers: 6 }\n"),
            Errors{"t.yaml:1:27: duplicate key 'max_headers' in limits"});
  EXPECT_EQ(errors_of("upstreams:\n  a: { servers: [\"h:1\"] }\n  a: { servers: [\"h:2\"] }\n"),
            Errors{"t.yaml:3:3: duplicate key 'a' in upstreams"});
  EXPECT_EQ(errors_of("? [a]\n: 1\n"),
            Errors{"t.yaml:1:3: expected a plain key at top level, got a sequence"});
  EXPECT_EQ(errors_of("workers: 1\n---\nworkers: 2\n"),
            Errors{"t.yaml:2:1: only one YAML document is allowed per config file"});
}

// yaml-cpp 0.7 loops forever on these (LoadAll) or calls them empty (Load).
TEST(ConfigParse, StrayTokensAreSyntaxErrors) {
  EXPECT_EQ(errors_of(",isten: [\"0.0.0.0:8080\"]\n"),
            Errors{"t.yaml:1:1: YAML syntax error: unexpected ','"});
  EXPECT_EQ(errors_of("workers: 1\n---\n  ,\n"),
            Errors{"t.yaml:3:3: YAML syntax error: unexpected ','"});
  EXPECT_EQ(errors_of("- a\n,\n"), Errors{"t.yaml:2:1: YAML syntax error: unexpected ','"});
  EXPECT_EQ(errors_of("a: 1\n,b: 2\n"),
            Errors{"t.yaml:2:1: YAML syntax error: end of map not found"});
}

TEST(ConfigParse, UpstreamProblems) {
  EXPECT_EQ(errors_of("upstreams:\n  \"bad name\": { servers: [\"h:1\"] }\n  ok:\n"
                      "  dup: { servers: [\"h:1\", \"h:1\", \"[::1]:1\", \"[::1]:1\"] }\n"),
            (Errors{"t.yaml:2:3: upstreams: invalid upstream name 'bad name' (use letters, digits, "
                    "'_', '-' and '.')",
                    "t.yaml:3:3: upstreams.ok: missing required key 'servers'",
                    "t.yaml:4:27: upstreams.dup.servers[1]: duplicate server 'h:1'",
                    "t.yaml:4:45: upstreams.dup.servers[3]: duplicate server '[::1]:1'"}));
  EXPECT_EQ(
      errors_of("upstreams: { a: { servers: [\"h:1\"], resolve_every: 0ms, keepalive: 65536 } }\n"),
      (Errors{"t.yaml:1:52: upstreams.a.resolve_every: must be greater than 0",
              "t.yaml:1:68: upstreams.a.keepalive: 65536 is out of range 0..65535"}));
  EXPECT_EQ(errors_of("upstreams: { a: { servers: [\"h:1\"], health_check: { path: \"/a b\", "
                      "interval: 25h } } }\n"),
            (Errors{"t.yaml:1:59: upstreams.a.health_check.path: must not contain spaces, control "
                    "characters or '#'",
                    "t.yaml:1:77: upstreams.a.health_check.interval: must be at most 24h"}));
}

TEST(ConfigParse, RouteProblems) {
  const std::string upstreams = "upstreams: { a: { servers: [\"h:1\"] } }\n";
  EXPECT_EQ(errors_of(upstreams + "routes:\n"
                                  "  - { upstream: a }\n"
                                  "  - { prefix: /x/ }\n"
                                  "  - /just-a-string\n"
                                  "  -\n"
                                  "  - { prefix: \"/a/../b/\", upstream: a }\n"
                                  "  - { prefix: \"/q?x\", upstream: a }\n"
                                  "  - { prefix: \"/a b\", upstream: a }\n"
                                  "  - { prefix: /ok/, upstream: \"\" }\n"
                                  "  - { prefix: /ok2/, upstream: zzz }\n"),
            (Errors{"t.yaml:2:1: routes[3]: expected a mapping, got nothing",
                    "t.yaml:3:5: routes[0]: missing required key 'prefix'",
                    "t.yaml:4:5: routes[1]: missing required key 'upstream'",
                    "t.yaml:5:5: routes[2]: expected a mapping, got '/just-a-string'",
                    "t.yaml:7:15: routes[4].prefix: '/a/../b/' is not normalized (requests are "
                    "matched after normalization, as '/b/')",
                    "t.yaml:8:15: routes[5].prefix: must not contain '?' (routes match the path, "
                    "not the query)",
                    "t.yaml:9:15: routes[6].prefix: '/a b' is not a valid path (spaces, control "
                    "characters, '#' or bad %-escapes)",
                    "t.yaml:10:31: routes[7].upstream: must name an upstream",
                    "t.yaml:11:32: routes[8].upstream: unknown upstream 'zzz'"}));
  // An upstream with errors still exists for routes: no second, misleading error.
  EXPECT_EQ(
      errors_of(
          "upstreams: { a: { servers: [\"h:99999\"] } }\nroutes: [{ prefix: /, upstream: a }]\n"),
      Errors{"t.yaml:1:29: upstreams.a.servers[0]: invalid address 'h:99999': port out of "
             "range (1-65535)"});
}

TEST(ConfigParse, ErrorsAreAppendedSortedAndFormatted) {
  std::vector<ConfigError> errors = {{"earlier.yaml", 9, 9, "kept"}};
  EXPECT_EQ(parse_config("routes: [{ prefix: /, upstream: x }]\nworkers: -1\n", "f.yaml", &errors),
            nullptr);
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].to_string(), "earlier.yaml:9:9: kept");
  EXPECT_EQ(errors[1].to_string(), "f.yaml:1:33: routes[0].upstream: unknown upstream 'x'");
  EXPECT_EQ(errors[2].file, "f.yaml");
  EXPECT_EQ(errors[2].line, 2);
  EXPECT_EQ(errors[2].column, 10);
  EXPECT_EQ(errors[2].message, "workers: -1 is out of range 0..1024");
}

TEST(ConfigParse, BalancePolicyNames) {
  for (BalancePolicy p :
       {BalancePolicy::kP2C, BalancePolicy::kLeastRequest, BalancePolicy::kRoundRobin}) {
    BalancePolicy back = BalancePolicy::kP2C;
    ASSERT_TRUE(parse_balance_policy(balance_policy_name(p), &back));
    EXPECT_EQ(back, p);
  }
  BalancePolicy out;
  EXPECT_FALSE(parse_balance_policy("P2C", &out));
  EXPECT_STREQ(balance_policy_name(BalancePolicy::kLeastRequest), "least_request");
}

TEST(Duration, ParsesUnits) {
  const std::pair<const char*, base::Millis> cases[] = {
      {"0ms", 0},      {"500ms", 500}, {"2s", 2000},   {"1m", 60000},
      {"1h", 3600000}, {"0s", 0},      {"007s", 7000}, {"90m", 5400000}};
  for (const auto& [text, want] : cases) {
    base::Millis got = -1;
    std::string error;
    ASSERT_TRUE(base::parse_duration(text, &got, &error)) << text << ": " << error;
    EXPECT_EQ(got, want) << text;
  }
}

TEST(Duration, RejectsWithClearMessages) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "empty duration"},
      {"5", "missing unit (use ms, s, m or h)"},
      {"s", "missing number before unit"},
      {"-1s", "negative duration"},
      {"+1s", "missing number before unit"},
      {"1.5s", "fractions are not allowed; use a smaller unit (e.g. 1500ms)"},
      {"1d", "unknown unit 'd' (use ms, s, m or h)"},
      {"1 s", "unknown unit ' s' (use ms, s, m or h)"},
      {"1S", "unknown unit 'S' (use ms, s, m or h)"},
      {"1s ", "unknown unit 's ' (use ms, s, m or h)"},
      {"99999999999999999999ms", "duration too large"},
      {"9223372036854775807h", "duration too large"},
  };
  for (const auto& [text, want] : cases) {
    base::Millis got = 42;
    std::string error;
    EXPECT_FALSE(base::parse_duration(text, &got, &error)) << text;
    EXPECT_EQ(error, want) << text;
    EXPECT_EQ(got, 42) << text;
  }
}

TEST(Duration, FormatsWithLargestExactUnit) {
  EXPECT_EQ(base::format_duration(0), "0ms");
  EXPECT_EQ(base::format_duration(1500), "1500ms");
  EXPECT_EQ(base::format_duration(2000), "2s");
  EXPECT_EQ(base::format_duration(90000), "90s");
  EXPECT_EQ(base::format_duration(120000), "2m");
  EXPECT_EQ(base::format_duration(7200000), "2h");
  base::Millis back = 0;
  std::string error;
  ASSERT_TRUE(base::parse_duration(base::format_duration(123456), &back, &error));
  EXPECT_EQ(back, 123456);
}

}  // namespace
}  // namespace ringway::proxy

namespace ringway::proxy {
namespace {

TEST(ConfigParse, ConnectionLimitQueueAndSlowStart) {
  auto d = parse_ok("upstreams: { s: { servers: [\"h:1\"] } }");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->upstreams[0].max_connections, 1024u);
  EXPECT_EQ(d->upstreams[0].queue.size, 1024u);
  EXPECT_EQ(d->upstreams[0].queue.timeout, 5000);
  EXPECT_EQ(d->upstreams[0].slow_start, 0);
  auto c = parse_ok(
      "upstreams:\n  s:\n    servers: [\"h:1\"]\n    max_connections: 64\n"
      "    queue: { size: 10, timeout: 250ms }\n    slow_start: 30s\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->upstreams[0].max_connections, 64u);
  EXPECT_EQ(c->upstreams[0].queue.size, 10u);
  EXPECT_EQ(c->upstreams[0].queue.timeout, 250);
  EXPECT_EQ(c->upstreams[0].slow_start, 30000);
  auto unlimited = parse_ok("upstreams: { s: { servers: [\"h:1\"], max_connections: 0 } }");
  ASSERT_NE(unlimited, nullptr);
  EXPECT_EQ(unlimited->upstreams[0].max_connections, 0u);
  const std::vector<std::string> errors = errors_of(
      "upstreams:\n  s:\n    servers: [\"h:1\"]\n    max_connections: -1\n"
      "    queue: { size: x, timeout: 0s, sise: 3 }\n    slow_start: soon\n");
  ASSERT_EQ(errors.size(), 5u);
  EXPECT_EQ(errors[0].rfind("t.yaml:4:22: upstreams.s.max_connections: -1 is out of range", 0), 0u)
      << errors[0];
  EXPECT_EQ(errors[1], "t.yaml:5:20: upstreams.s.queue.size: expected an integer, got 'x'");
  EXPECT_EQ(errors[2], "t.yaml:5:32: upstreams.s.queue.timeout: must be greater than 0");
  EXPECT_EQ(errors[3], "t.yaml:5:36: unknown key 'sise' in upstreams.s.queue (did you mean 'size'?)");
  EXPECT_EQ(errors[4].rfind("t.yaml:6:17: upstreams.s.slow_start: invalid duration 'soon'", 0), 0u)
      << errors[4];
}

}  // namespace
}  // namespace ringway::proxy
