// Ringway's configuration as plain data: parsed and validated once from YAML (with
// FILE:LINE:COL errors for --check-config), then shared read-only; reload builds a new one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/address.h"
#include "base/clock.h"
#include "net/loop.h"

namespace ringway::proxy {

using base::Millis;

enum class BalancePolicy { kP2C, kLeastRequest, kRoundRobin };

// "p2c", "least_request", "round_robin".
const char* balance_policy_name(BalancePolicy policy);
// Returns: false on an unknown name.
bool parse_balance_policy(std::string_view text, BalancePolicy* out);

// Active health checking: GET `path` every `interval`; a probe slower than `timeout` fails.
// Validation requires 0 < timeout <= interval, so at most one probe per server is in flight.
struct HealthCheckConfig {
  bool enabled = true;
  std::string path = "/ping";
  Millis interval = 2000, timeout = 1000;
  int healthy_threshold = 2, unhealthy_threshold = 2;  // consecutive results to flip state
};

// Passive ejection: after `consecutive_failures` (0 disables) a server is ejected for
// base_ejection * times-ejected, capped at max_ejection; never more than
// max_ejection_percent of an upstream's servers at once.
struct OutlierConfig {
  int consecutive_failures = 3;
  Millis base_ejection = 10000;
  Millis max_ejection = 300000;
  int max_ejection_percent = 50;
};

// Requests waiting for a connection slot when every server is at max_connections.
struct QueueConfig {
  uint32_t size = 1024;   // waiting requests, all workers together (0 = answer 503 at once)
  Millis timeout = 5000;  // a wait longer than this answers 503 with Retry-After
};

struct UpstreamConfig {
  std::string name;                    // letters, digits, '_', '-', '.' (it becomes a metric label)
  std::vector<net::HostPort> servers;  // at least one, no duplicates, port != 0
  BalancePolicy balance = BalancePolicy::kP2C;
  int keepalive = 64;  // idle pooled connections per server per worker (0..65535)
  int retries = 1;     // 0..10
  Millis resolve_every = 5000;
  HealthCheckConfig health_check;
  OutlierConfig outlier;
  // Open connections per server over all workers, pooled idle ones included (0 = unlimited):
  // the server's own capacity, so a burst queues here instead of in its listen backlog.
  uint32_t max_connections = 1024;
  QueueConfig queue;
  // A server that comes back healthy ramps its share of picks and its connection limit up
  // linearly over this window (0 = off), so the queue it missed does not flatten it at once.
  Millis slow_start = 0;
};

struct RouteConfig {
  std::string prefix;  // starts with '/', unique among routes
  std::string upstream;
  bool strip_prefix = false;
  size_t upstream_index = 0;  // index into Config::upstreams, resolved by the parser
};

// Header edits applied to a message: every name in `remove` is deleted, then each `set`
// pair replaces any existing field of that name. Names are RFC 9110 tokens, kept in the
// case written (compare case-insensitively); values hold no control characters except HTAB.
struct HeaderRules {
  std::vector<std::pair<std::string, std::string>> set;
  std::vector<std::string> remove;
  // The names of `set` and `remove`, lowercased, sorted by length then bytes: built once per
  // config snapshot (index_names(), called by the loader), so asking whether a rule owns a field
  // is a binary search, not a case-insensitive scan of every rule for every field.
  std::vector<std::string> owned_names;
  void index_names();
};

struct LimitsConfig {
  uint64_t max_connections = 10000;    // 1..10000000
  uint64_t max_header_bytes = 16384;   // 1024..1048576
  uint64_t max_headers = 100;          // 1..10000
  uint64_t max_body_bytes = 10485760;  // 0 (no request bodies) .. 1 TiB
  // Request bodies up to this size are received and validated whole before the request goes
  // upstream (like nginx's proxy_request_buffering); larger ones stream. 0 .. 64 MiB; 0 = stream.
  uint64_t request_buffer = 65536;
  uint64_t max_chunk_ext_bytes = 4096;  // chunk-ext bytes per chunk-size line; 16 .. 1 MiB
  // Bytes queued per stream and direction before the proxy stops reading the other side
  // (4 KiB .. 64 MiB): what one slow reader or slow upload can cost.
  uint64_t stream_buffer = 16384;
  // Bytes one socket read takes at most: the size of each io_uring provided buffer (the
  // worker's ring stays 4 MiB: 4 MiB / recv_buffer of them) or of the epoll read chunk.
  // A power of two, 4 KiB .. 256 KiB; start-up only. Larger reads move big bodies in fewer,
  // larger sends (less CPU per MB) but a read that pauses a stream can overshoot its
  // stream_buffer by up to one buffer, which is what a slow reader then holds.
  uint64_t recv_buffer = 16384;
  // Content-Length response bodies with at least this many bytes still to come once the
  // head is forwarded move from the upstream socket to the client's inside the kernel
  // (splice(2) through a pipe): no copy to user space, and a slow reader holds pipe pages,
  // not buffers. 0 = never; 0 .. 1 TiB.
  uint64_t splice_min = 32768;
};

// All > 0 except drain, where 0 means "stop at once".
struct TimeoutsConfig {
  Millis client_header = 10000, client_idle = 60000, upstream_connect = 2000,
         upstream_response = 30000, drain = 10000;
};

// One JSON line per request (proxy/access_log/). Absent from the file = off.
struct AccessLogConfig {
  bool enabled = false;
  std::string path;               // a file (opened O_APPEND, created 0640) or "stdout"
  uint64_t buffer_bytes = 65536;  // per worker: lines are handed to the writer when it fills
  Millis flush = 1000;            // ...and at least this often
};

// The security headers added to every response unless headers.response.set is given.
std::vector<std::pair<std::string, std::string>> default_response_headers();

struct Config {
  std::string source;                                       // file path (for logs)
  std::string user;  // drop privileges to this user after binding; "" = stay (start-up only)
  std::vector<net::HostPort> listen = {{"0.0.0.0", 8080}};  // port 0 = any free port
  net::HostPort admin_listen = {"127.0.0.1", 9901};
  int workers = 1;  // 0 = one per core (resolved by main, kept 0 here)
  net::IoMode io = net::IoMode::kAuto;
  LimitsConfig limits;
  TimeoutsConfig timeouts;
  HeaderRules request_headers;  // default empty
  // Default: default_response_headers(). A headers.response.set in the file REPLACES the
  // default set (it does not merge), so operators can drop or change any of them; a file
  // without it keeps the defaults.
  HeaderRules response_headers = {default_response_headers(), {}, {}};
  std::vector<UpstreamConfig> upstreams;  // in file order
  std::vector<RouteConfig> routes;        // in file order; upstream_index resolved
  AccessLogConfig access_log;

  // Returns: the index of upstream `name` in upstreams, or -1.
  int find_upstream(std::string_view name) const;
};

// One problem found in a config file. line and column are 1-based.
struct ConfigError {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;
  // "FILE:LINE:COL: message"
  std::string to_string() const;
};

// Parses and validates YAML text. On failure returns nullptr and appends every error found
// (not just the first), sorted by position, each at the offending key or value.
std::shared_ptr<const Config> parse_config(std::string_view yaml_text, const std::string& file_name,
                                           std::vector<ConfigError>* errors);

// Reads `path` and parses it; an unreadable file gives "PATH:1:1: cannot read: <strerror>".
std::shared_ptr<const Config> load_config_file(const std::string& path,
                                               std::vector<ConfigError>* errors);

}  // namespace ringway::proxy
