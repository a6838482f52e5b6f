// Health checker, membership: a config switch or a resolution maps hosts to server
// addresses; servers that stay keep their state, new ones start healthy, gone ones leave.
#include "proxy/upstream/health_engine.h"

#include <algorithm>
#include <map>
#include <set>

#include "base/log.h"

namespace ringway::proxy {

void HealthChecker::Engine::apply(std::shared_ptr<const Config> config, ResolvedConfig resolved) {
  const std::shared_ptr<const Config> old_config = config_;  // `old` points into it
  std::map<std::string, std::unique_ptr<Upstream>> old;
  for (auto& u : upstreams_) old[u->config->name] = std::move(u);
  upstreams_.clear();
  config_ = std::move(config);
  for (size_t i = 0; i < config_->upstreams.size(); ++i) {
    const UpstreamConfig& uc = config_->upstreams[i];
    auto u = std::make_unique<Upstream>(loop_);
    u->id = ++next_id_;
    u->config = &uc;
    u->resolve_timer.set_callback([this, up = u.get()] { start_resolve(*up); });
    auto prev_it = old.find(uc.name);
    Upstream* prev = prev_it == old.end() ? nullptr : prev_it->second.get();
    for (size_t j = 0; j < uc.servers.size(); ++j) {
      const ResolveOutcome& r = resolved[i][j];
      Host h{uc.servers[j], r.addresses, r.error};
      if (!r.ok && prev != nullptr) {
        for (const Host& ph : prev->hosts) {
          if (ph.hp == h.hp) h.addresses = ph.addresses;
        }
      }
      if (!r.ok) {
        base::log_warn("upstream " + uc.name + ": server " + h.hp.to_string() + ": " + r.error +
                      " (keeping " + std::to_string(h.addresses.size()) + " old addresses)");
      }
      u->hosts.push_back(std::move(h));
    }
    u->resolve_error = resolve_errors(*u);
    std::vector<std::unique_ptr<Server>> pool;
    if (prev != nullptr) {
      pool = std::move(prev->servers);
      old.erase(prev_it);
    }
    sync_servers(*u, std::move(pool), /*reschedule=*/true);
    const bool has_names = std::any_of(uc.servers.begin(), uc.servers.end(),
                                       [](const auto& hp) { return !net::is_ip_literal(hp.host); });
    if (has_names) loop_.add_timer(&u->resolve_timer, uc.resolve_every);
    upstreams_.push_back(std::move(u));
  }
  for (auto& [name, u] : old) {  // upstreams that left the config
    for (auto& s : u->servers) metrics_.server_healthy.remove({name, s->address.label});
  }
  publish();
}

// Makes u.servers follow u.hosts' addresses: servers found in `pool` (by label) keep their
// state, others are created healthy; what is left in the pool leaves. Returns: whether the
// member list changed.
bool HealthChecker::Engine::sync_servers(Upstream& u, std::vector<std::unique_ptr<Server>> pool,
                                         bool reschedule) {
  const std::string& name = u.config->name;
  std::vector<std::string> old_labels;
  for (const auto& s : pool) old_labels.push_back(s->address.label);
  std::vector<std::unique_ptr<Server>> next;
  std::vector<std::string> labels;
  std::set<std::string> seen;
  for (const Host& h : u.hosts) {
    for (const net::ResolvedAddress& a : h.addresses) {
      std::string label = a.to_string();
      // Two configured names may resolve to one address: check and count it once.
      if (!seen.insert(label).second) continue;
      auto it = std::find_if(pool.begin(), pool.end(),
                             [&](const auto& s) { return s && s->address.label == label; });
      std::unique_ptr<Server> s;
      bool fresh = it == pool.end();
      if (!fresh) {
        s = std::move(*it);
      } else {
        s = std::make_unique<Server>(loop_);
        s->address.label = label;
        s->gauge = metrics_.server_healthy.with({name, label});
        s->gauge.set(1);
        s->timer.set_callback([this, sp = s.get()] { probe(*sp); });
        if (!reschedule) base::log_info("upstream " + name + ": server " + label + " joined");
      }
      s->owner = &u;
      s->address.configured = h.hp.to_string();
      s->address.addr = a;
      s->request = probe_request(u.config->health_check.path, h.hp);
      configure_checks(*s, reschedule || fresh);
      labels.push_back(std::move(label));
      next.push_back(std::move(s));
    }
  }
  for (auto& s : pool) {
    if (!s) continue;
    metrics_.server_healthy.remove({name, s->address.label});
    base::log_info("upstream " + name + ": server " + s->address.label + " left");
  }
  u.servers = std::move(next);
  return labels != old_labels;
}

void HealthChecker::Engine::configure_checks(Server& s, bool reschedule) {
  const HealthCheckConfig& hc = s.owner->config->health_check;
  if (!hc.enabled) {
    loop_.cancel_timer(&s.timer);
    s.probe.cancel();
    s.healthy = true;
    s.successes = s.failures = 0;
    s.last_check.clear();
    s.gauge.set(1);
    return;
  }
  if (!s.results[0]) {
    for (ProbeResult r : {ProbeResult::kSuccess, ProbeResult::kFailure, ProbeResult::kTimeout}) {
      s.results[static_cast<int>(r)] = metrics_.health_checks.with(
          {s.owner->config->name, s.address.label, probe_result_name(r)});
    }
  }
  // A running probe schedules the next one when it completes.
  if (!reschedule || s.probe.running()) return;
  // Random first delay: servers added together do not probe in lockstep.
  loop_.add_timer(&s.timer, random_in(0, hc.interval));
}

}  // namespace ringway::proxy
