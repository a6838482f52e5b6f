// The access log hook of a proxy connection: gathers the finished request's facts into an
// AccessEntry for the worker's AccessLog, then resets the per-request log counters.
#include <time.h>

#include "proxy/access_log/access_log.h"
#include "proxy/exchange/proxy_connection.h"

namespace ringway::proxy {

void ProxyConnection::log_request(int status) {
  if (AccessLog* log = worker_.access_log()) {
    const int64_t now_ns = base::Clock::now_ns();
    timespec wall{};
    clock_gettime(CLOCK_REALTIME, &wall);
    const int64_t elapsed_ns = start_ns_ != 0 ? now_ns - start_ns_ : 0;
    AccessEntry e;
    e.start_unix_ms =
        (static_cast<int64_t>(wall.tv_sec) * 1000000000 + wall.tv_nsec - elapsed_ns) / 1000000;
    e.request_id = request_id_;
    e.client_ip = client_ip_;
    e.client_port = client_port_;
    // A request rejected before its head parsed (400, 431...) has no method or target.
    if (start_ns_ != 0 && !log_method_.empty()) {
      e.method = log_method_;
      e.path = log_target_;
    }
    if (route_ && route_->config) e.route = route_->config->prefix;
    if (upstream_) e.upstream = upstream_->name();
    if (server_) e.server = server_->address.label;
    e.status = status;
    e.bytes_in = log_bytes_in_;
    e.bytes_out = log_bytes_out_;
    e.duration_ns = elapsed_ns;
    e.upstream_duration_ns = upstream_ttfb_ns_;
    e.queue_wait_ns = queue_wait_ns_;
    e.attempts = attempts_;
    e.flags = log_flags_;
    log->write(e);
  }
  start_ns_ = 0;
  log_method_ = {};
  log_target_.clear();
  log_bytes_in_ = log_bytes_out_ = 0;
  upstream_ttfb_ns_ = queue_wait_ns_ = 0;
  log_flags_ = 0;
  attempts_ = 0;  // a 400 before the next head must not show this request's attempts
}

}  // namespace ringway::proxy
