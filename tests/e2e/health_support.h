// End-to-end support for the proxy health tests: typed views of /status with a schema check,
// bounded polling, a keep-alive load generator and services on fixed addresses.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/e2e/exposition.h"
#include "tests/e2e/loopback.h"
#include "tests/e2e/process.h"

namespace ringway::e2e {

// Timing bounds are multiplied by this: sanitizer builds run the proxy several times slower.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr base::Millis kTimingFactor = 3;
#else
inline constexpr base::Millis kTimingFactor = 1;
#endif

// One server of an upstream as /status shows it.
struct ServerStatusView {
  std::string address, configured, last_check, last_error;
  bool healthy = false, ejected = false;
  int64_t in_flight = 0, ejections = 0, ejected_for_ms = 0, idle_connections = 0;
  double ewma_latency_ms = 0;
};

struct UpstreamStatusView {
  std::string name, balance, health_check, resolve_error;
  int64_t healthy_servers = 0;
  std::vector<ServerStatusView> servers;
  // Returns: the server with this address label, or nullptr.
  const ServerStatusView* server(std::string_view address) const;
};

struct StatusView {
  std::vector<UpstreamStatusView> upstreams;
  std::string raw;  // the body as served, for failure messages
  const UpstreamStatusView* upstream(std::string_view name) const;
  // Returns: the server, or nullptr when the upstream or the address is not listed.
  const ServerStatusView* server(std::string_view upstream, std::string_view address) const;
};

// GET /status on the admin port. Every key the README documents for upstreams and servers must
// be present with its JSON type. Returns: nullopt with *error (transport, status, JSON, schema).
std::optional<StatusView> fetch_status(int admin_port, std::string* error = nullptr);

// Polls `done` every `every` ms until it returns true or `timeout` passes. Returns: the ms it
// took when it held, nullopt on timeout.
std::optional<base::Millis> wait_until(const std::function<bool()>& done, base::Millis timeout,
                                 base::Millis every = 20);

// Sum of ringway_upstream_requests_total over every code for one server (0 if none yet).
double upstream_responses(const std::string& metrics, const std::string& upstream,
                          const std::string& server);
// One sample's value in `metrics` (0 when the series does not exist yet).
double metric(const std::string& metrics, std::string_view name, const Labels& labels = {});

struct LoadOptions {
  int port = 0;                 // the proxy
  std::string path;             // e.g. "/svc/ping"
  int threads = 3;              // one keep-alive connection each
  int requests_per_thread = 0;  // 0: until stop()
  std::string expect_body;      // empty: any body; a 200 is always required
  base::Millis timeout = 5000;        // per response
};

// Client threads sending GET `path` in a loop over keep-alive connections; every response must
// be a 200 (with `expect_body` if set). Anything else, including a lost connection, is a
// failure: recorded with its time and the client reconnects.
class LoadGenerator {
 public:
  explicit LoadGenerator(LoadOptions options) : options_(std::move(options)) {}
  ~LoadGenerator() { stop(); }
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;

  void start();
  // Asks the threads to stop after their current request and joins them. Idempotent.
  void stop();
  // Waits for every thread to finish its requests_per_thread. Returns: false on timeout.
  bool wait_done(base::Millis timeout);

  uint64_t ok() const { return ok_.load(); }
  uint64_t failed() const { return failed_.load(); }
  // The first failures, "+123 ms: status 502 {...}", for messages.
  std::string failures() const;

 private:
  void run();
  void fail(const std::string& what);

  LoadOptions options_;
  base::TimePoint started_;
  std::atomic<bool> stop_{false};
  std::atomic<int> running_{0};
  std::atomic<uint64_t> ok_{0}, failed_{0};
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::vector<std::string> failures_;  // guarded by mu_; the first 20
};

// Starts `name` (service1/service2) with --listen `addr` on backend `io` and waits for it to
// listen. A just-killed server's port can be briefly unavailable: retries for up to `retry_for`.
// Returns: the child, or nullptr with *error (including the service's stderr).
std::unique_ptr<ChildProcess> start_service_at(const std::string& name, const std::string& addr,
                                               const std::string& io, std::string* error,
                                               base::Millis retry_for = 3000);

// The port of "HOST:PORT".
int port_of(const std::string& address);

}  // namespace ringway::e2e
