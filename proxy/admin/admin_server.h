// The admin listener: /metrics, /healthz, /readyz, /status, /explain and an HTML status page,
// served on its own thread so a slow scrape never delays proxied traffic.
#pragma once

#include <memory>
#include <string>

#include "net/address.h"
#include "net/http_server.h"
#include "net/worker_pool.h"

namespace ringway::proxy {

class AdminSource;

class AdminServer {
 public:
  explicit AdminServer(AdminSource& proxy);
  ~AdminServer();
  bool start(const net::HostPort& listen, net::IoMode mode, std::string* error);
  int port() const { return port_; }

 private:
  void handle(const net::HttpRequest& req, net::ResponseWriter& out);

  AdminSource& proxy_;
  net::WorkerPool pool_;
  std::unique_ptr<net::HttpServer> server_;
  int port_ = 0;
};

// Pages, split out so they can be unit-tested from plain data.
std::string render_status_json(AdminSource& proxy);
std::string render_explain_json(AdminSource& proxy, std::string_view target);
std::string render_status_html(AdminSource& proxy);

}  // namespace ringway::proxy
