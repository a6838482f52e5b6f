// Request accounting for service1/service2: `<name>_http_requests_total{method,path,code}` and
// `<name>_http_request_duration_seconds`, with per-worker cached handles (no lock per request).
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/registry.h"

namespace ringway::services {

// Label values are drawn from fixed sets so a scanner cannot create unbounded series.
enum class PathLabel { kPing, kMetrics, kOther, kCount };

class ServiceMetrics {
 public:
  ServiceMetrics(metrics::Registry& registry, const std::string& service);

  // Per-worker view: caches counter handles so the hot path is one array lookup.
  class Shard {
   public:
    Shard(ServiceMetrics& owner, size_t index) : owner_(owner), index_(index) {}
    void record(std::string_view method, PathLabel path, int status, double seconds);

   private:
    static constexpr size_t kMethods = 8;  // GET HEAD POST PUT DELETE PATCH OPTIONS other
    static constexpr size_t kCodes = 600;
    ServiceMetrics& owner_;
    size_t index_;
    std::vector<metrics::Counter> cache_ =
        std::vector<metrics::Counter>(kMethods * static_cast<size_t>(PathLabel::kCount) * kCodes);
  };

 private:
  friend class Shard;
  metrics::CounterFamily& requests_;
  metrics::Histogram duration_;
};

}  // namespace ringway::services
