// Body of /stats: everything the live page draws, from LiveStats (rates, quantiles, series),
// the health snapshot and per-worker numbers. nlohmann::ordered_json keeps documented order.
#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "proxy/admin/admin_server.h"
#include "proxy/admin/admin_source.h"
#include "proxy/admin/live_stats.h"
#include "proxy/admin/server_views.h"

namespace ringway::proxy {

std::string render_stats_json(AdminSource& proxy, const LiveStats& stats, int64_t started_unix_ms) {
  using Json = nlohmann::ordered_json;
  std::shared_ptr<const Config> cfg = proxy.config();
  HealthSnapshotPtr health = proxy.health();
  const int64_t now = base::Clock::unix_ms();
  Json j = process_facts(proxy);
  j["now_unix_ms"] = now;
  j["uptime_s"] = (now - started_unix_ms) / 1000;
  j["last_reload"] = stats.last_reload_json();
  const ClientConnections conns = proxy.client_connections();
  j["connections"] = Json{{"active", conns.active}, {"idle", conns.idle}};

  // Routes in config order, each with its upstream; "none" (no route) last when it has traffic.
  Json by_label = Json::object();
  for (Json& r : stats.routes_json()) {
    const std::string key = r["route"].get<std::string>();  // before r is moved from
    by_label[key] = std::move(r);
  }
  Json routes = Json::array();
  auto route_entry = [&](const std::string& label, const std::string& upstream) {
    Json r = by_label.contains(label) ? by_label[label] : Json{{"route", label}};
    for (const char* k : {"rps", "rate_2xx", "rate_4xx", "rate_5xx", "p50_ms", "p99_ms"}) {
      if (!r.contains(k)) r[k] = nullptr;
    }
    if (!r.contains("series"))
      r["series"] = Json{{"rps", Json::array()}, {"p99_ms", Json::array()}};
    r["upstream"] = upstream;
    routes.push_back(std::move(r));
  };
  for (const RouteConfig& r : cfg->routes) route_entry(r.prefix, r.upstream);
  if (by_label.contains("none") && by_label["none"].value("requests_total", 0.0) > 0) {
    route_entry("none", "");
  }
  j["routes"] = std::move(routes);

  ViewMap live = collect_server_views(proxy);
  Json upstreams = Json::array();
  for (size_t i = 0; i < cfg->upstreams.size(); ++i) {
    const UpstreamConfig& u = cfg->upstreams[i];
    Json uj{{"name", u.name}, {"balance", balance_policy_name(u.balance)}};
    // Connection slots and the queue are shared by all workers (proxy/upstream/connection_limit.h).
    std::shared_ptr<const UpstreamSlots> slots = proxy.connection_limits().find(u.name);
    uj["queue_depth"] = slots ? slots->queued() : 0;
    uj["queue_size"] = u.queue.size;
    Json servers = Json::array();
    if (health && i < health->upstreams.size()) {
      const UpstreamMembers& m = health->upstreams[i];
      for (size_t k = 0; k < m.servers.size(); ++k) {
        const ServerView& l = live[{u.name, m.servers[k].label}];
        servers.push_back(Json{
            {"address", m.servers[k].label},
            {"healthy", k < m.healthy.size() && m.healthy[k]},
            {"health_checked", u.health_check.enabled},
            {"last_check", k < m.last_check.size() ? m.last_check[k] : ""},
            {"last_transition_unix_ms",
             k < m.last_transition_unix_ms.size() ? m.last_transition_unix_ms[k] : 0},
            {"in_flight", l.in_flight},
            {"open_connections", slots && slots->find(m.servers[k].label)
                                     ? slots->find(m.servers[k].label)->open()
                                     : 0},
            {"max_connections", l.limit},
            {"idle_connections", l.idle},
            {"ejected", l.ejected},
            {"ejections", l.ejections},
            {"ewma_latency_ms", std::round(l.ewma_ms * 1000) / 1000}});
      }
    }
    uj["servers"] = std::move(servers);
    upstreams.push_back(std::move(uj));
  }
  j["upstreams"] = std::move(upstreams);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace ringway::proxy
