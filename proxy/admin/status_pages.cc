// Bodies of /status, /explain and the HTML status page, built from the config, the latest
// health snapshot and per-worker live numbers (summed over workers). Off the hot path, so
// JSON is built with nlohmann::json (ordered: keys stay in the documented order).
#include <map>
#include <nlohmann/json.hpp>

#include "base/version.h"
#include "proxy/admin/admin_server.h"
#include "proxy/admin/admin_source.h"
#include "proxy/admin/server_views.h"
#include "proxy/exchange/router.h"
#include "net/request_target.h"

namespace ringway::proxy {
namespace {

using Json = nlohmann::ordered_json;

// nlohmann rejects invalid UTF-8 on dump; addresses and errors are ours, but a hostname or
// a request target may carry any byte, so replace rather than throw.
std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Json server_json(const ServerAddress& a, bool healthy, const std::string& last_check,
                 const ServerView& v, const UpstreamSlots* slots) {
  std::shared_ptr<const ServerSlots> ss = slots ? slots->find(a.label) : nullptr;
  return Json{{"address", a.label},
              {"configured", a.configured},
              {"healthy", healthy},
              {"last_check", last_check},
              {"in_flight", v.in_flight},
              {"ewma_latency_ms", v.ewma_ms},
              {"ejected", v.ejected},
              {"ejected_for_ms", v.ejected_for_ms},
              {"ejections", v.ejections},
              {"idle_connections", v.idle},
              {"connections", ss ? ss->open() : 0},
              {"connection_limit", v.limit},
              {"slow_start_progress", v.warmth},
              {"last_error", v.last_error}};
}

Json servers_json(const UpstreamConfig& u, const UpstreamMembers& m, ViewMap& views,
                  const ConnectionLimits& limits) {
  std::shared_ptr<const UpstreamSlots> slots = limits.find(u.name);
  Json list = Json::array();
  for (size_t k = 0; k < m.servers.size(); ++k) {
    list.push_back(server_json(m.servers[k], k < m.healthy.size() && m.healthy[k],
                               k < m.last_check.size() ? m.last_check[k] : "",
                               views[{u.name, m.servers[k].label}], slots.get()));
  }
  return list;
}

Json queue_json(const UpstreamConfig& u, const ConnectionLimits& limits) {
  std::shared_ptr<const UpstreamSlots> slots = limits.find(u.name);
  return Json{{"max_connections", u.max_connections},
              {"size", u.queue.size},
              {"timeout_ms", u.queue.timeout},
              {"waiting", slots ? slots->queued() : 0},
              {"slow_start_ms", u.slow_start}};
}

std::string conns_cell(const UpstreamSlots* slots, const std::string& label, uint32_t limit) {
  std::shared_ptr<const ServerSlots> ss = slots ? slots->find(label) : nullptr;
  return std::to_string(ss ? ss->open() : 0) + " / " +
         (limit == 0 ? std::string("unlimited") : std::to_string(limit));
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

std::string render_status_json(AdminSource& proxy) {
  std::shared_ptr<const Config> cfg = proxy.config();
  HealthSnapshotPtr health = proxy.health();
  ViewMap views = collect_server_views(proxy);
  Json j = process_facts(proxy);
  j["config"] = cfg->source;
  Json routes = Json::array();
  for (const RouteConfig& r : cfg->routes) {
    routes.push_back({{"prefix", r.prefix}, {"upstream", r.upstream}, {"strip_prefix", r.strip_prefix}});
  }
  j["routes"] = std::move(routes);
  Json upstreams = Json::array();
  for (size_t i = 0; i < cfg->upstreams.size(); ++i) {
    const UpstreamConfig& u = cfg->upstreams[i];
    Json uj{{"name", u.name},
            {"balance", balance_policy_name(u.balance)},
            {"health_check", u.health_check.enabled ? u.health_check.path : std::string("disabled")}};
    const UpstreamMembers* m = health && i < health->upstreams.size() ? &health->upstreams[i] : nullptr;
    size_t healthy = 0;
    if (m) {
      for (uint8_t h : m->healthy) healthy += h;
      uj["resolve_error"] = m->resolve_error;
    }
    uj["healthy_servers"] = healthy;
    uj["queue"] = queue_json(u, proxy.connection_limits());
    uj["servers"] = m ? servers_json(u, *m, views, proxy.connection_limits()) : Json::array();
    upstreams.push_back(std::move(uj));
  }
  j["upstreams"] = std::move(upstreams);
  return dump(j);
}

std::string render_explain_json(AdminSource& proxy, std::string_view target) {
  std::shared_ptr<const Config> cfg = proxy.config();
  Json j{{"request_target", target}};
  std::string scratch;
  std::string_view path, query;
  if (net::normalize_target(target, scratch, &path, &query) != net::TargetStatus::kOk) {
    j["result"] = "400: invalid request target";
    return dump(j);
  }
  j["normalized_path"] = path;
  Router router(cfg->routes);
  size_t index = 0;
  const RouteConfig* route = router.match(path, &index);
  if (route == nullptr) {
    j["route"] = nullptr;
    j["result"] = "404: no route matches";
    return dump(j);
  }
  std::string upstream_target;
  rewrite_target(*route, path, query, upstream_target);
  j["route"] = {{"prefix", route->prefix}, {"upstream", route->upstream}, {"strip_prefix", route->strip_prefix}};
  j["upstream_target"] = upstream_target;
  Json injected{{"X-Forwarded-For", "<existing chain>, <client ip>"},
                {"X-Real-IP", "<client ip>"},
                {"X-Forwarded-Proto", "http"},
                {"X-Request-Id", "<kept from the client, else 32 random hex digits>"},
                {"Via", "1.1 ringway"}};
  for (const auto& [n, v] : cfg->request_headers.set) injected[n] = v;
  j["request_headers_injected"] = std::move(injected);
  Json removed = Json::array();
  for (const char* h : {"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
                        "Transfer-Encoding (re-framed)", "Upgrade (unless tunnelling)",
                        "Proxy-Authenticate", "Proxy-Authorization", "fields named in Connection"}) {
    removed.push_back(h);
  }
  for (const std::string& r : cfg->request_headers.remove) removed.push_back(r);
  j["request_headers_removed"] = std::move(removed);
  Json response_set = Json::object();
  for (const auto& [n, v] : cfg->response_headers.set) response_set[n] = v;
  response_set["X-Request-Id"] = "<the request id>";
  j["response_headers_set"] = std::move(response_set);

  const UpstreamConfig& uc = cfg->upstreams[route->upstream_index];
  HealthSnapshotPtr health = proxy.health();
  ViewMap views = collect_server_views(proxy);
  j["balance"] = balance_policy_name(uc.balance);
  j["candidates"] = health && route->upstream_index < health->upstreams.size()
                        ? servers_json(uc, health->upstreams[route->upstream_index], views,
                                       proxy.connection_limits())
                        : Json::array();
  j["queue"] = queue_json(uc, proxy.connection_limits());
  // Ask worker 0's balancer, with its live in-flight and latency numbers.
  auto picked = std::make_shared<std::string>();
  auto panic = std::make_shared<bool>(false);
  auto full = std::make_shared<bool>(false);
  const std::string upstream_name = uc.name;
  bool answered = proxy.on_worker0([picked, panic, full, upstream_name](Worker& w) {
    for (const RouteRuntime& r : w.current()->routes) {
      if (!r.upstream || r.upstream->name() != upstream_name) continue;
      UpstreamRuntime::Pick p = r.upstream->pick(w.loop().now(), nullptr);
      if (p.server) *picked = p.server->address.label;
      *panic = p.panic;
      *full = p.full;
      return;
    }
  });
  if (answered && !picked->empty()) {
    j["would_pick"] = *picked;
    j["panic_mode"] = *panic;
    j["result"] = *panic ? "forward (panic: no healthy server, trying all)" : "forward";
  } else if (answered && *full) {
    j["would_pick"] = nullptr;
    j["result"] = "queue: every server is at max_connections";
  } else {
    j["would_pick"] = nullptr;
    j["result"] = "503: no server available";
  }
  return dump(j);
}

std::string render_status_html(AdminSource& proxy) {
  std::shared_ptr<const Config> cfg = proxy.config();
  HealthSnapshotPtr health = proxy.health();
  ViewMap views = collect_server_views(proxy);
  // Live when scripts run (live_page.cc polls /stats); without them the server-rendered
  // tables inside <noscript> show, refreshed every 5 s.
  std::string h =
      "<!doctype html><html><head><meta charset=\"utf-8\"><noscript><meta http-equiv=\"refresh\" "
      "content=\"5\"></noscript><title>ringway status</title><style>body{font-family:sans-serif;margin:2em}"
      "table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 8px}"
      ".up{color:#070}.down{color:#b00}.spark{vertical-align:middle}small,#poll{color:#666}"
      "</style></head><body><h1>ringway</h1><p id=\"poll\"></p><div id=\"live\" hidden></div>"
      "<noscript><p>";
  h += std::string("version ") + base::kVersion + " &middot; io " + html_escape(proxy.io_backend());
  if (!proxy.io_fallback_reason().empty()) {
    h += " (fell back: " + html_escape(proxy.io_fallback_reason()) + ")";
  }
  h += " &middot; " + std::to_string(proxy.workers()) + " worker(s) &middot; ";
  h += proxy.draining() ? "draining" : (proxy.ready() ? "ready" : "starting");
  h += "</p><h2>Routes</h2><table><tr><th>prefix</th><th>upstream</th><th>strip prefix</th></tr>";
  for (const RouteConfig& r : cfg->routes) {
    h += "<tr><td>" + html_escape(r.prefix) + "</td><td>" + html_escape(r.upstream) + "</td><td>" +
         (r.strip_prefix ? "yes" : "no") + "</td></tr>";
  }
  h += "</table><h2>Upstreams</h2>";
  for (size_t i = 0; i < cfg->upstreams.size(); ++i) {
    const UpstreamConfig& u = cfg->upstreams[i];
    h += "<h3>" + html_escape(u.name) + " <small>(" + balance_policy_name(u.balance) +
         ")</small></h3><table><tr><th>server</th><th>health</th><th>last check</th><th>in flight</th>"
         "<th>latency EWMA</th><th>ejected</th><th>ejections</th><th>idle conns</th>"
         "<th>conns / limit</th></tr>";
    std::shared_ptr<const UpstreamSlots> slots = proxy.connection_limits().find(u.name);
    if (health && i < health->upstreams.size()) {
      const UpstreamMembers& m = health->upstreams[i];
      for (size_t k = 0; k < m.servers.size(); ++k) {
        const bool up = k < m.healthy.size() && m.healthy[k];
        const ServerView& v = views[{u.name, m.servers[k].label}];
        char ewma[32];
        std::snprintf(ewma, sizeof ewma, "%.2f ms", v.ewma_ms);
        h += "<tr><td>" + html_escape(m.servers[k].label) + "</td><td class=\"" +
             (up ? "up\">healthy" : "down\">unhealthy") + "</td><td>" +
             html_escape(k < m.last_check.size() ? m.last_check[k] : "") + "</td><td>" +
             std::to_string(v.in_flight) + "</td><td>" + ewma + "</td><td>" +
             (v.ejected ? "for " + std::to_string(v.ejected_for_ms) + " ms" : std::string("no")) +
             "</td><td>" + std::to_string(v.ejections) + "</td><td>" + std::to_string(v.idle) +
             "</td><td>" + conns_cell(slots.get(), m.servers[k].label, v.limit) + "</td></tr>";
      }
    }
    h += "</table><p>queue: " + std::to_string(slots ? slots->queued() : 0) + " waiting (size " +
         std::to_string(u.queue.size) + ", timeout " + std::to_string(u.queue.timeout) + " ms)</p>";
  }
  h += "<p><a href=\"/status\">/status</a> &middot; <a href=\"/metrics\">/metrics</a> &middot; "
       "<a href=\"/explain?path=/service1/ping\">/explain?path=/service1/ping</a></p></noscript>";
  h += "<p><a href=\"/stats\">/stats</a> &middot; <a href=\"/status\">/status</a> &middot; "
       "<a href=\"/metrics\">/metrics</a></p><script>";
  h += live_page_script();
  h += "</script></body></html>\n";
  return h;
}

}  // namespace ringway::proxy
