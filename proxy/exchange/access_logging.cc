// The access log hook of a proxy connection: gathers the finished request's facts into an
// AccessEntry for the worker's AccessLog, then resets the per-request log counters.
#include <time.h>

#include "proxy/access_log/access_log.h"
#include "proxy/exchange/proxy_connection.h"

namespace ringway::proxy {

void ProxyConnection::log_request(int status) {
  ExchangeState& x = ex();
  if (AccessLog* log = worker_.access_log()) {
    const int64_t now_ns = base::Clock::now_ns();
    timespec wall{};
    clock_gettime(CLOCK_REALTIME, &wall);
    const int64_t elapsed_ns = x.start_ns != 0 ? now_ns - x.start_ns : 0;
    AccessEntry e;
    e.start_unix_ms =
        (static_cast<int64_t>(wall.tv_sec) * 1000000000 + wall.tv_nsec - elapsed_ns) / 1000000;
    e.request_id = x.request_id;
    e.client_ip = client_ip_;
    e.client_port = client_port_;
    // A request rejected before its head parsed (400, 431...) has no method or target.
    if (x.start_ns != 0 && !x.log_method.empty()) {
      e.method = x.log_method;
      e.path = x.log_target;
    }
    if (x.route && x.route->config) e.route = x.route->config->prefix;
    if (x.upstream) e.upstream = x.upstream->name();
    if (x.server) e.server = x.server->address.label;
    e.status = status;
    e.bytes_in = x.log_bytes_in;
    e.bytes_out = x.log_bytes_out;
    e.duration_ns = elapsed_ns;
    e.upstream_duration_ns = x.upstream_ttfb_ns;
    e.queue_wait_ns = x.queue_wait_ns;
    e.attempts = x.attempts;
    e.flags = x.log_flags;
    log->write(e);
  }
  x.start_ns = 0;
  x.log_method = {};
  x.log_target.clear();
  x.log_bytes_in = x.log_bytes_out = 0;
  x.upstream_ttfb_ns = x.queue_wait_ns = 0;
  x.log_flags = 0;
  x.attempts = 0;  // a 400 before the next head must not show this request's attempts
}

}  // namespace ringway::proxy
