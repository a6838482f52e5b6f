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
    const int64_t elapsed_ns = ex().start_ns != 0 ? now_ns - ex().start_ns : 0;
    AccessEntry e;
    e.start_unix_ms =
        (static_cast<int64_t>(wall.tv_sec) * 1000000000 + wall.tv_nsec - elapsed_ns) / 1000000;
    e.request_id = ex().request_id;
    e.client_ip = client_ip_;
    e.client_port = client_port_;
    // A request rejected before its head parsed (400, 431...) has no method or target.
    if (ex().start_ns != 0 && !ex().log_method.empty()) {
      e.method = ex().log_method;
      e.path = ex().log_target;
    }
    if (ex().route && ex().route->config) e.route = ex().route->config->prefix;
    if (ex().upstream) e.upstream = ex().upstream->name();
    if (ex().server) e.server = ex().server->address.label;
    e.status = status;
    e.bytes_in = ex().log_bytes_in;
    e.bytes_out = ex().log_bytes_out;
    e.duration_ns = elapsed_ns;
    e.upstream_duration_ns = ex().upstream_ttfb_ns;
    e.queue_wait_ns = ex().queue_wait_ns;
    e.attempts = ex().attempts;
    e.flags = ex().log_flags;
    log->write(e);
  }
  ex().start_ns = 0;
  ex().log_method = {};
  ex().log_target.clear();
  ex().log_bytes_in = ex().log_bytes_out = 0;
  ex().upstream_ttfb_ns = ex().queue_wait_ns = 0;
  ex().log_flags = 0;
  ex().attempts = 0;  // a 400 before the next head must not show this request's attempts
}

}  // namespace ringway::proxy
