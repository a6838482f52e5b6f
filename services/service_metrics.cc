// Maps requests onto bounded label values and increments the worker's shard.
// Raw request paths never become label values (path is /ping, /metrics or other).
#include "services/service_metrics.h"

namespace ringway::services {
namespace {

constexpr std::string_view kMethodNames[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH",
                                             "OPTIONS", "other"};
constexpr std::string_view kPathNames[] = {"/ping", "/metrics", "other"};

size_t method_index(std::string_view m) {
  for (size_t i = 0; i + 1 < std::size(kMethodNames); ++i) {
    if (m == kMethodNames[i]) return i;
  }
  return std::size(kMethodNames) - 1;
}

}  // namespace

ServiceMetrics::ServiceMetrics(metrics::Registry& registry, const std::string& service)
    : requests_(registry.add_counter(service + "_http_requests_total",
                                     "HTTP requests served, by method, route and status code.",
                                     {"method", "path", "code"})),
      duration_(registry
                    .add_histogram(service + "_http_request_duration_seconds",
                                   "Time spent handling an HTTP request, in seconds.", {})
                    .with({})) {}

void ServiceMetrics::Shard::record(std::string_view method, PathLabel path, int status,
                                   double seconds) {
  const size_t m = method_index(method);
  const size_t p = static_cast<size_t>(path);
  const size_t c = (status >= 100 && status < 600) ? static_cast<size_t>(status) : 0;
  metrics::Counter& slot = cache_[(m * static_cast<size_t>(PathLabel::kCount) + p) * kCodes + c];
  if (!slot) {
    // First request of this kind on this worker: the family lookup takes its mutex once.
    slot = owner_.requests_.with(
        {std::string(kMethodNames[m]), std::string(kPathNames[p]), std::to_string(status)});
  }
  slot.inc(index_);
  owner_.duration_.observe(index_, seconds);
}

}  // namespace ringway::services
