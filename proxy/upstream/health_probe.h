// One active health check on the checker's loop: a fresh TCP connection, one GET, and a verdict
// from the response head (2xx/3xx pass; anything else, an error or no head in time fails).
#pragma once

#include <memory>
#include <string>

#include "net/address.h"
#include "base/clock.h"
#include "net/http_parser.h"
#include "net/loop.h"
#include "net/timer.h"

namespace ringway::proxy {

enum class ProbeResult { kSuccess, kFailure, kTimeout };

// "success", "failure", "timeout": the `result` label of ringway_upstream_health_checks_total.
const char* probe_result_name(ProbeResult result);

struct ProbeOutcome {
  ProbeResult result = ProbeResult::kFailure;
  int status = 0;      // response status when a head arrived, else 0
  std::string detail;  // "200 in 0.4 ms", "503 in 1.2 ms", "timeout after 1000 ms", "connect: ..."
};

// The request a probe sends: `path` with Host = the server as configured (not the resolved IP).
std::string probe_request(const std::string& path, const net::HostPort& configured);

class HealthProbe final : public net::SocketHandler {
 public:
  // Runs on the loop thread once per probe, after the connection is closed; it may start the
  // next probe or destroy this object.
  using Done = std::function<void(const ProbeOutcome&)>;

  explicit HealthProbe(net::Loop& loop);
  ~HealthProbe() override { cancel(); }
  HealthProbe(const HealthProbe&) = delete;
  HealthProbe& operator=(const HealthProbe&) = delete;

  // Connects to `addr`, sends `request` and waits up to `timeout` ms for a response head.
  // REQUIRES: !running(); called on the loop thread.
  void start(const net::ResolvedAddress& addr, std::string request, base::Millis timeout, Done done);
  bool running() const { return running_; }
  // Abandons a running probe: closes the connection; `done` is not called.
  void cancel();

  void on_connected(int res) override;
  void on_sent(ssize_t res) override;
  void on_data(const char* data, size_t len) override;
  void on_recv_end(int err) override;

 private:
  // Response heads larger than this fail the probe (a health endpoint answers small heads). The
  // parser needs the head's bytes contiguous and in place, so they live in one fixed buffer.
  static constexpr size_t kMaxHead = 8192;

  void finish(ProbeResult result, int status, std::string detail);
  void fail(std::string detail) { finish(ProbeResult::kFailure, 0, std::move(detail)); }

  net::Loop& loop_;
  net::Socket* sock_ = nullptr;
  net::Timer timer_;
  net::HttpParser parser_;
  std::unique_ptr<char[]> buf_;
  size_t filled_ = 0, parsed_ = 0;
  std::string request_;
  base::Millis timeout_ = 0;
  int64_t started_ns_ = 0;
  bool running_ = false;
  Done done_;
};

}  // namespace ringway::proxy
