// The admin listener: /metrics, /healthz, /readyz, /status, /explain and an HTML status page,
// served on its own thread so a slow scrape never delays proxied traffic.
#pragma once

#include <memory>
#include <string>

#include "net/address.h"
#include "net/http_server.h"
#include "net/timer.h"
#include "net/worker_pool.h"

namespace ringway::proxy {

class AdminSource;
class LiveStats;

class AdminServer {
 public:
  explicit AdminServer(AdminSource& proxy);
  ~AdminServer();
  bool start(const net::HostPort& listen, net::IoMode mode, std::string* error);
  int port() const { return port_; }

 private:
  void handle(const net::HttpRequest& req, net::ResponseWriter& out);

  void sample_stats();

  AdminSource& proxy_;
  net::WorkerPool pool_;
  std::unique_ptr<net::HttpServer> server_;
  // Touched only on the admin thread: sampled every second by stats_timer_, read by /stats.
  std::unique_ptr<LiveStats> stats_;
  std::unique_ptr<net::Timer> stats_timer_;
  net::Loop* loop_ = nullptr;
  int64_t started_unix_ms_ = 0;
  int port_ = 0;
};

// Pages, split out so they can be unit-tested from plain data.
std::string render_status_json(AdminSource& proxy);
std::string render_explain_json(AdminSource& proxy, std::string_view target);
std::string render_status_html(AdminSource& proxy);
std::string render_stats_json(AdminSource& proxy, const LiveStats& stats, int64_t started_unix_ms);
const char* live_page_script();

}  // namespace ringway::proxy
