// Health checker engine: construction, teardown and the immutable snapshots it builds from
// every server's state (published on changes, refreshed for last_check texts).
#include "proxy/upstream/health_engine.h"

namespace ringway::proxy {

HealthChecker::Engine::Engine(HealthChecker& owner, net::Loop& loop)
    : owner_(owner), loop_(loop), metrics_(owner.metrics_) {
  status_timer_.set_callback([this] { refresh_status(); });
  resolver_.start();
}

HealthChecker::Engine::~Engine() {
  resolver_.stop();  // first: it posts to loop_
  loop_.cancel_timer(&status_timer_);
  upstreams_.clear();
}

void HealthChecker::Engine::publish() {
  loop_.cancel_timer(&status_timer_);
  owner_.set_current(build(++owner_.generation_), /*publish=*/true);
}

void HealthChecker::Engine::refresh_status() {
  owner_.set_current(build(owner_.generation_), /*publish=*/false);
}

HealthSnapshotPtr HealthChecker::Engine::build(uint64_t generation) const {
  auto snap = std::make_shared<HealthSnapshot>();
  snap->generation = generation;
  snap->config = config_;
  snap->upstreams.reserve(upstreams_.size());
  for (const auto& u : upstreams_) {
    UpstreamMembers& m = snap->upstreams.emplace_back();
    for (const auto& s : u->servers) {
      m.servers.push_back(s->address);
      m.healthy.push_back(s->healthy ? 1 : 0);
      m.last_check.push_back(s->last_check);
      m.last_transition_unix_ms.push_back(s->last_transition_unix_ms);
    }
    m.resolve_error = u->resolve_error;
  }
  return snap;
}

base::Millis HealthChecker::Engine::random_in(base::Millis lo, base::Millis hi) {
  if (hi <= lo) return lo;
  return std::uniform_int_distribution<base::Millis>(lo, hi)(rng_);
}

}  // namespace ringway::proxy
