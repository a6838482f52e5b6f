// Admin HTTP endpoints over the shared net/ HTTP server.
// Runs on its own thread and reads the proxy only through AdminSource.
#include "proxy/admin/admin_server.h"

#include <unistd.h>

#include <atomic>

#include "metrics/format.h"
#include "base/log.h"
#include "proxy/admin/admin_source.h"
#include "proxy/admin/live_stats.h"

namespace ringway::proxy {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(c | 0x20);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Returns: the percent-decoded value of `name` in a query string ("" when absent).
std::string query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      const std::string_view v = pair.substr(eq + 1);
      std::string out;
      for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '%' && i + 2 < v.size()) {
          const int hi = hex_digit(v[i + 1]);
          const int lo = hex_digit(v[i + 2]);
          if (hi >= 0 && lo >= 0) {
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
            continue;
          }
        }
        out += v[i] == '+' ? ' ' : v[i];
      }
      return out;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

// Security headers on admin pages too: they are HTML served to browsers.
std::vector<std::pair<std::string, std::string>> admin_headers() {
  return {{"X-Frame-Options", "DENY"},
          {"X-Content-Type-Options", "nosniff"},
          {"Referrer-Policy", "no-referrer"},
          {"Cache-Control", "no-store"}};
}

}  // namespace

AdminServer::AdminServer(AdminSource& proxy) : proxy_(proxy) {}

AdminServer::~AdminServer() {
  std::atomic<bool> done{false};
  pool_.post_all([&](size_t, net::Loop&) {
    if (stats_timer_) loop_->cancel_timer(stats_timer_.get());
    stats_timer_.reset();
    server_.reset();
    done = true;
  });
  for (int i = 0; i < 2000 && !done.load() && pool_.size() > 0; ++i) usleep(1000);
  pool_.stop();
  pool_.join();
}

bool AdminServer::start(const net::HostPort& listen, net::IoMode mode, std::string* error) {
  std::vector<net::ResolvedAddress> addrs;
  if (!net::resolve(listen, &addrs, error)) {
    *error = "admin.listen " + listen.to_string() + ": " + *error;
    return false;
  }
  net::LoopOptions options;
  options.mode = mode;
  options.recv_buffers = 64;
  auto setup = [&](size_t, net::Loop& loop, std::string* err) {
    net::HttpServerOptions o;
    o.limits = net::HttpLimits{16384, 100, 65536};
    o.recv_chunk = options.recv_buffer_size;
    o.max_connections = 256;
    o.response_headers = admin_headers();
    server_ = std::make_unique<net::HttpServer>(
        loop, o, [this](const net::HttpRequest& r, net::ResponseWriter& w) { handle(r, w); });
    if (!server_->listen(reinterpret_cast<const sockaddr*>(&addrs.front().addr), addrs.front().len,
                         false, err)) {
      *err = "admin.listen " + listen.to_string() + ": " + *err;
      return false;
    }
    port_ = server_->port();
    loop_ = &loop;
    started_unix_ms_ = base::Clock::unix_ms();
    stats_ = std::make_unique<LiveStats>();
    stats_timer_ = std::make_unique<net::Timer>([this] { sample_stats(); });
    sample_stats();
    return true;
  };
  if (!pool_.start(1, options, setup, error)) return false;
  base::log_info("admin listening on " + addrs.front().to_string().substr(
                    0, addrs.front().to_string().rfind(':')) + ":" + std::to_string(port_));
  return true;
}

void AdminServer::sample_stats() {
  stats_->sample(base::Clock::unix_ms(), proxy_.registry().Collect());
  loop_->add_timer(stats_timer_.get(), 1000);
}

void AdminServer::handle(const net::HttpRequest& req, net::ResponseWriter& out) {
  if (req.head.method != "GET" && req.head.method != "HEAD") {
    static const net::HeaderField allow[] = {{"Allow", "GET, HEAD"}};
    out.respond(405, "application/json", "{\"error\":\"method not allowed\"}\n", allow);
    return;
  }
  if (req.path == "/metrics") {
    const net::HeaderField* accept = req.head.find("Accept");
    metrics::Format f = metrics::negotiate_format(accept ? accept->value : "");
    out.respond(200, metrics::content_type(f), proxy_.registry().render(f));
  } else if (req.path == "/healthz") {
    out.respond(200, "application/json", "{\"status\":\"alive\"}\n");
  } else if (req.path == "/readyz") {
    if (proxy_.ready()) {
      out.respond(200, "application/json", "{\"status\":\"ready\"}\n");
    } else {
      out.respond(503, "application/json",
                  proxy_.draining() ? "{\"status\":\"draining\"}\n" : "{\"status\":\"starting\"}\n");
    }
  } else if (req.path == "/stats") {
    out.respond(200, "application/json", render_stats_json(proxy_, *stats_, started_unix_ms_));
  } else if (req.path == "/status") {
    out.respond(200, "application/json", render_status_json(proxy_));
  } else if (req.path == "/explain") {
    std::string target = query_param(req.query, "path");
    if (target.empty()) {
      out.respond(400, "application/json",
                  "{\"error\":\"missing ?path=, e.g. /explain?path=/service1/ping\"}\n");
      return;
    }
    out.respond(200, "application/json", render_explain_json(proxy_, target));
  } else if (req.path == "/") {
    out.respond(200, "text/html; charset=utf-8", render_status_html(proxy_));
  } else {
    out.respond(404, "application/json",
                "{\"error\":\"not found\",\"endpoints\":[\"/metrics\",\"/healthz\",\"/readyz\","
                "\"/status\",\"/stats\",\"/explain?path=\",\"/\"]}\n");
  }
}

}  // namespace ringway::proxy
