// Server selection among healthy, non-ejected servers; passive outlier ejection; retry budget.
// Per worker and single-threaded: no atomics, no locks on the pick path.
#include "proxy/upstream/upstream_runtime.h"

#include <sys/random.h>

#include <algorithm>

#include "base/log.h"
#include "proxy/proxy_metrics.h"
#include "proxy/upstream/upstream_connection.h"

namespace ringway::proxy {
namespace {

// Weight for new EWMA samples: recent enough to react within a few requests.
constexpr double kEwmaAlpha = 0.3;
// Latency assumed when neither p2c candidate has a sample yet.
constexpr double kDefaultLatencyMs = 1.0;
// p2c distrusts the estimate of a server it last chose this long before the rival it is
// compared with: about one request per period re-measures a server that keeps losing.
constexpr base::Millis kStaleEstimateMs = 1000;
// Share a server gets at the very start of its slow start: enough to be measured at once.
constexpr double kMinWarmth = 0.05;

QueueMetrics queue_metrics(ProxyMetrics& m, const std::string& name) {
  return QueueMetrics{m.queue_depth.with({name}), m.queue_wait.with({name}),
                      m.queue_overflows.with({name, "full"}),
                      m.queue_overflows.with({name, "timeout"})};
}

}  // namespace

UpstreamRuntime::UpstreamRuntime(const UpstreamConfig& config, ProxyMetrics& metrics, size_t shard,
                                 net::Loop* loop, ConnectionLimits* limits)
    : config_(config),
      metrics_(metrics),
      shard_(shard),
      shared_(limits ? limits->upstream(config.name) : std::make_shared<UpstreamSlots>()),
      queue_(loop, shared_, shard, queue_metrics(metrics, config.name),
             [this, limits] {
               if (limits) limits->request_trim(shard_, config_.name);
             }),
      duration_(metrics.upstream_duration.with({config.name})),
      retry_counter_(metrics.retries.with({config.name})) {
  if (getrandom(&rng_, sizeof rng_, 0) != sizeof rng_) rng_ = 0x9e3779b97f4a7c15ull ^ shard;
  queue_.configure(config.queue.size, config.queue.timeout);
}

UpstreamRuntime::~UpstreamRuntime() {
  // Pooled connections hold their ServerRuntime; close them while the slots are reachable.
  for (auto& s : servers_) s->idle.clear();
}

void UpstreamRuntime::apply(const UpstreamConfig& config, const UpstreamMembers& members) {
  config_ = config;
  queue_.configure(config.queue.size, config.queue.timeout);
  std::vector<ServerRuntimePtr> next;
  next.reserve(members.servers.size());
  for (size_t i = 0; i < members.servers.size(); ++i) {
    const ServerAddress& a = members.servers[i];
    ServerRuntimePtr s;
    for (auto& old : servers_) {
      if (old && old->address.label == a.label) {
        s = old;
        old.reset();
        break;
      }
    }
    if (!s) {
      s = std::make_shared<ServerRuntime>();
      s->address = a;
      s->ejection_counter = metrics_.ejections.with({config_.name, a.label});
      s->slots = shared_->server(a.label);
      s->connections = metrics_.upstream_connections.with({config_.name, a.label});
      s->shard = shard_;
    }
    s->address = a;
    const bool healthy = i < members.healthy.size() ? members.healthy[i] != 0 : true;
    if (healthy && !s->healthy) {
      // Back after healthy_threshold passing checks in a row (e.g. restarted): what passive
      // detection learned during the outage is stale. Kept, it would hold the server ejected
      // for base_ejection x n, and p2c would compare against a latency estimate that
      // failures doubled (up to 60 s), so the recovered server would get no traffic at all.
      s->ewma_ms = 0;
      s->consecutive_failures = 0;
      s->ejected_until = base::TimePoint{};
      s->recovered_at = base::Clock::now();
    }
    s->healthy = healthy;
    next.push_back(std::move(s));
  }
  for (auto& gone : servers_) {
    if (!gone) continue;
    // Removed from membership: in-flight requests hold their own reference and finish;
    // pooled idle connections are closed now.
    gone->removed = true;
    gone->idle.clear();
  }
  servers_ = std::move(next);
  queue_.kick();  // new servers or higher limits may take waiters now
}

double UpstreamRuntime::warmth(const ServerRuntime& s, base::TimePoint now) const {
  const base::Millis window = config_.slow_start;
  if (window <= 0 || s.recovered_at.ms == 0) return 1.0;
  const base::Millis since = now - s.recovered_at;
  if (since >= window) return 1.0;
  const double w = static_cast<double>(since < 0 ? 0 : since) / static_cast<double>(window);
  return w < kMinWarmth ? kMinWarmth : w;
}

uint32_t UpstreamRuntime::limit_now(const ServerRuntime& s, base::TimePoint now) const {
  const uint32_t limit = config_.max_connections;
  if (limit == 0) return 0;
  const double w = warmth(s, now);
  if (w >= 1.0) return limit;
  const auto ramped = static_cast<uint32_t>(static_cast<double>(limit) * w + 0.999);
  return ramped < 1 ? 1 : ramped;
}

bool UpstreamRuntime::has_capacity(const ServerRuntime& s, base::TimePoint now) const {
  if (!s.idle.empty()) return true;
  const uint32_t limit = limit_now(s, now);
  return limit == 0 || s.slots->open() < limit;
}

void UpstreamRuntime::trim_idle() {
  // Waiters here take idle connections on their next turn; closing them would only churn.
  if (!queue_.empty()) return;
  for (auto& s : servers_) s->idle.clear();
}

ServerRuntimePtr UpstreamRuntime::share(ServerRuntime* s) const {
  for (const auto& p : servers_) {
    if (p.get() == s) return p;
  }
  return nullptr;
}

bool UpstreamRuntime::eligible(const ServerRuntime& s, base::TimePoint now) const {
  return s.healthy && !s.ejected(now);
}

uint64_t UpstreamRuntime::next_random() {
  // xorshift64*: cheap, good enough to spread picks.
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  return rng_ * 2685821657736338717ull;
}

std::pair<ServerRuntime*, ServerRuntime*> UpstreamRuntime::draw_two() {
  const size_t n = candidates_.size();
  const size_t i = next_random() % n;
  size_t j = next_random() % (n - 1);
  if (j >= i) ++j;
  return {candidates_[i], candidates_[j]};
}

ServerRuntime* UpstreamRuntime::less_loaded(ServerRuntime* a, ServerRuntime* b) {
  // Load is (in-flight + 1) x latency EWMA. A server without a usable estimate borrows its
  // rival's, so in-flight counts decide: one with no sample yet (a fixed guess would lose
  // every comparison against peers faster than the guess, sub-millisecond on a LAN), or one
  // last chosen more than kStaleEstimateMs before its rival (a failure-inflated estimate
  // would otherwise never get the request that lowers it). Either way the server would never
  // be chosen again.
  auto score = [](const ServerRuntime* s, const ServerRuntime* rival) {
    const bool stale = s->last_pick + kStaleEstimateMs < rival->last_pick;
    const double lat = s->ewma_ms > 0 && !stale ? s->ewma_ms
                       : rival->ewma_ms > 0     ? rival->ewma_ms
                                                : kDefaultLatencyMs;
    return (s->in_flight + 1) * lat;
  };
  return score(a, b) <= score(b, a) ? a : b;
}

UpstreamRuntime::Pick UpstreamRuntime::pick(base::TimePoint now, const ServerRuntime* exclude) {
  Pick result;
  if (servers_.empty()) return result;
  candidates_.clear();
  for (const auto& s : servers_) {
    if (eligible(*s, now) && s.get() != exclude) candidates_.push_back(s.get());
  }
  if (candidates_.empty()) {
    for (const auto& s : servers_) {
      if (eligible(*s, now)) candidates_.push_back(s.get());
    }
  }
  const bool panic = candidates_.empty();
  if (panic != panic_) {
    panic_ = panic;
    metrics_.panic.with({config_.name}).set(panic ? 1 : 0);
    if (panic) {
      base::log_warn("upstream " + config_.name +
                    ": no healthy server, sending requests to all servers (panic mode)");
    } else {
      base::log_info("upstream " + config_.name + ": healthy servers available again");
    }
  }
  if (panic) {
    for (const auto& s : servers_) {
      if (s.get() != exclude) candidates_.push_back(s.get());
    }
    if (candidates_.empty()) candidates_.push_back(servers_.front().get());
  }
  result.panic = panic;
  if (config_.max_connections != 0) {
    // p2c needs the room of only the two servers it draws: a pair drawn from every candidate
    // that turns out to have room in both is a uniform draw among the servers with room, so
    // the scan below runs only when one of the two is at its limit. Slow start's coin per
    // candidate is not a pair draw, so it takes the scan.
    if (config_.balance == BalancePolicy::kP2C && config_.slow_start <= 0 &&
        candidates_.size() > 1) {
      const auto [a, b] = draw_two();
      if (has_capacity(*a, now) && has_capacity(*b, now)) {
        result.server = less_loaded(a, b);
        result.server->last_pick = now;
        return result;
      }
    }
    // Only servers with a free slot (or an idle connection here) can take the request now.
    std::erase_if(candidates_, [&](const ServerRuntime* s) { return !has_capacity(*s, now); });
    if (candidates_.empty()) {
      result.full = true;
      return result;
    }
  }
  if (config_.slow_start > 0 && candidates_.size() > 1) {
    // Slow start: a warming server stays a candidate with probability = its warmth, so its
    // share of picks ramps up with it. Never drop every candidate.
    size_t kept = 0;
    for (ServerRuntime* s : candidates_) {
      const double w = warmth(*s, now);
      if (w >= 1.0 || static_cast<double>(next_random() >> 11) * 0x1p-53 < w) candidates_[kept++] = s;
    }
    if (kept > 0) candidates_.resize(kept);
  }
  const size_t n = candidates_.size();
  if (n == 1) {
    result.server = candidates_[0];
    result.server->last_pick = now;
    return result;
  }
  switch (config_.balance) {
    case BalancePolicy::kRoundRobin:
      result.server = candidates_[rr_++ % n];
      break;
    case BalancePolicy::kLeastRequest: {
      // Start at a rotating offset so ties spread instead of piling on the first server.
      size_t start = rr_++ % n;
      ServerRuntime* best = candidates_[start];
      for (size_t k = 1; k < n; ++k) {
        ServerRuntime* c = candidates_[(start + k) % n];
        if (c->in_flight < best->in_flight) best = c;
      }
      result.server = best;
      break;
    }
    case BalancePolicy::kP2C: {
      // Power of two choices: avoids both the busy and the slow server without scanning
      // all of them.
      const auto [a, b] = draw_two();
      result.server = less_loaded(a, b);
      break;
    }
  }
  result.server->last_pick = now;
  return result;
}

void UpstreamRuntime::on_success(ServerRuntime& s, double latency_ms) {
  // After failures the estimate is a penalty, not a latency: start over from this sample.
  const bool fresh = s.ewma_ms == 0 || s.consecutive_failures > 0;
  s.consecutive_failures = 0;
  s.ewma_ms = fresh ? latency_ms : s.ewma_ms + kEwmaAlpha * (latency_ms - s.ewma_ms);
}

bool UpstreamRuntime::on_failure(ServerRuntime& s, base::TimePoint now, const std::string& why) {
  s.last_error = why;
  // Failures also count as slow: pushes p2c away from a failing server even before ejection.
  s.ewma_ms = s.ewma_ms == 0 ? 100 : s.ewma_ms * 2 + 1;
  if (s.ewma_ms > 60000) s.ewma_ms = 60000;
  const OutlierConfig& o = config_.outlier;
  if (o.consecutive_failures <= 0) return false;
  if (++s.consecutive_failures < o.consecutive_failures || s.ejected(now)) return false;
  // Never eject past max_ejection_percent, and never the last eligible server.
  size_t ejected = 0, usable = 0;
  for (const auto& p : servers_) {
    if (p->ejected(now)) ++ejected;
    else if (p->healthy) ++usable;
  }
  const size_t cap = servers_.size() * static_cast<size_t>(o.max_ejection_percent) / 100;
  if (ejected + 1 > std::max<size_t>(cap, 0) || usable <= 1) {
    s.consecutive_failures = 0;
    return false;
  }
  ++s.ejections;
  base::Millis span = o.base_ejection * s.ejections;
  if (span > o.max_ejection) span = o.max_ejection;
  s.ejected_until = now + span;
  s.consecutive_failures = 0;
  // The ejection replaces the latency penalty: the server returns unmeasured, on probation
  // (p2c lets it borrow a rival's estimate), instead of losing every p2c comparison.
  s.ewma_ms = 0;
  s.ejection_counter.inc(shard_);
  base::log_warn("upstream " + config_.name + " server " + s.address.label + " ejected for " +
                std::to_string(span) + " ms after " + std::to_string(o.consecutive_failures) +
                " consecutive failures (last: " + why + ")");
  return true;
}

bool UpstreamRuntime::take_retry() {
  if (budget_fifths_ < 5) return false;
  budget_fifths_ -= 5;
  return true;
}

}  // namespace ringway::proxy
