// Health checker, re-resolution: hostnames are looked up again every resolve_every on the
// resolver thread; the answers come back to the checker loop and update membership.
#include "proxy/upstream/health_engine.h"

#include <map>

#include "base/log.h"

namespace ringway::proxy {

void HealthChecker::Engine::start_resolve(Upstream& u) {
  loop_.add_timer(&u.resolve_timer, u.config->resolve_every);
  if (u.resolving) return;  // a slow DNS server: one lookup per upstream at a time
  u.resolving = true;
  std::vector<net::HostPort> names;
  for (const Host& h : u.hosts) {
    if (!net::is_ip_literal(h.hp.host)) names.push_back(h.hp);
  }
  resolver_.submit(std::move(names), [this, id = u.id](std::vector<ResolveOutcome> outcomes) {
    loop_.post([this, id, outcomes = std::move(outcomes)]() mutable {
      on_resolved(id, std::move(outcomes));
    });
  });
}

void HealthChecker::Engine::on_resolved(uint64_t id, std::vector<ResolveOutcome> outcomes) {
  auto it = std::find_if(upstreams_.begin(), upstreams_.end(),
                         [id](const auto& u) { return u->id == id; });
  if (it == upstreams_.end()) return;  // a reload replaced the upstream meanwhile
  Upstream& u = **it;
  u.resolving = false;
  size_t k = 0;
  for (Host& h : u.hosts) {
    if (net::is_ip_literal(h.hp.host) || k >= outcomes.size()) continue;
    ResolveOutcome& r = outcomes[k++];
    if (r.ok) {
      h.addresses = std::move(r.addresses);
      h.error.clear();
    } else {
      if (h.error != r.error) {
        base::log_warn("upstream " + u.config->name + ": server " + h.hp.to_string() + ": " +
                      r.error + " (keeping the old addresses)");
      }
      h.error = std::move(r.error);
    }
  }
  std::string errors = resolve_errors(u);
  bool changed = errors != u.resolve_error;
  u.resolve_error = std::move(errors);
  changed |= sync_servers(u, std::move(u.servers), /*reschedule=*/false);
  if (changed) publish();
}

std::string HealthChecker::Engine::resolve_errors(const Upstream& u) {
  std::string out;
  for (const Host& h : u.hosts) {
    if (h.error.empty()) continue;
    if (!out.empty()) out += "; ";
    out += h.hp.to_string() + ": " + h.error;
  }
  return out;
}

}  // namespace ringway::proxy
