// The ringway_* metric families of the contract, registered once per process. Workers keep
// cached handles (see WorkerMetrics) so the request path never takes a family lock.
#pragma once

#include <string>

#include "metrics/registry.h"

namespace ringway::proxy {

struct ProxyMetrics {
  explicit ProxyMetrics(metrics::Registry& registry);

  metrics::Registry& registry;
  metrics::CounterFamily& http_requests;          // {route,code}
  metrics::HistogramFamily& http_duration;        // {route}
  metrics::CounterFamily& upstream_requests;      // {upstream,server,code}
  metrics::HistogramFamily& upstream_duration;    // {upstream}
  metrics::GaugeFamily& server_healthy;           // {upstream,server}
  metrics::CounterFamily& health_checks;          // {upstream,server,result}
  metrics::CounterFamily& ejections;              // {upstream,server}
  metrics::CounterFamily& retries;                // {upstream}
  metrics::GaugeFamily& upstream_connections;   // {upstream,server}: open now, pooled included
  metrics::GaugeFamily& queue_depth;            // {upstream}: requests waiting for a slot
  metrics::HistogramFamily& queue_wait;         // {upstream}
  metrics::CounterFamily& queue_overflows;      // {upstream,reason}: full | timeout
  metrics::GaugeFamily& panic;                    // {upstream}: 1 while serving from all servers
  metrics::CounterFamily& errors;                 // {source,reason}: every proxy-generated error
  metrics::Gauge connections_active;
  metrics::Counter connections_accepted;
  metrics::Counter trailer_drops;                 // trailer fields not forwarded (RFC 9110 §6.5.1)
  metrics::Counter spliced_bytes;                 // response body bytes moved by splice(2)
  metrics::CounterFamily& config_reloads;         // {result}
  metrics::GaugeFamily& build_info;               // {version,io,io_fallback_reason}
  metrics::Counter access_log_errors;             // access log lines lost (write error, full queue)
};

}  // namespace ringway::proxy
