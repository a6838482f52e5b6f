// Bodies of /status, /explain and the HTML status page, built from the config, the latest
// health snapshot and per-worker live numbers (summed over workers).
#include <map>

#include "proxy/admin.h"
#include "proxy/json_writer.h"
#include "proxy/proxy_server.h"
#include "proxy/target_path.h"

#ifndef RINGWAY_VERSION
#define RINGWAY_VERSION "dev"
#endif

namespace ringway::proxy {
namespace {

// Live numbers of one server summed over workers.
struct ServerView {
  uint32_t in_flight = 0;
  double ewma_ms = 0;
  int ewma_samples = 0;
  bool ejected = false;
  int64_t ejected_for_ms = 0;
  int ejections = 0;
  size_t idle = 0;
  std::string last_error;
};

using ViewMap = std::map<std::pair<std::string, std::string>, ServerView>;

ViewMap collect(ProxyServer& proxy) {
  ViewMap views;
  for (const auto& worker : proxy.collect_server_status()) {
    for (const ServerStatus& s : worker) {
      ServerView& v = views[{s.upstream, s.server}];
      v.in_flight += s.in_flight;
      if (s.ewma_ms > 0) {
        v.ewma_ms += s.ewma_ms;
        ++v.ewma_samples;
      }
      v.ejected = v.ejected || s.ejected;
      v.ejected_for_ms = std::max(v.ejected_for_ms, s.ejected_for_ms);
      v.ejections += s.ejections;
      v.idle += s.idle_connections;
      if (!s.last_error.empty()) v.last_error = s.last_error;
    }
  }
  for (auto& [k, v] : views) {
    if (v.ewma_samples > 0) v.ewma_ms /= v.ewma_samples;
  }
  return views;
}

void write_server(JsonWriter& j, const ServerAddress& a, bool healthy, const std::string& last_check,
                  const ServerView& v) {
  j.begin_object();
  j.key("address").value(a.label);
  j.key("configured").value(a.configured);
  j.key("healthy").value(healthy);
  j.key("last_check").value(last_check);
  j.key("in_flight").value(static_cast<int64_t>(v.in_flight));
  j.key("ewma_latency_ms").value(v.ewma_ms);
  j.key("ejected").value(v.ejected);
  j.key("ejected_for_ms").value(v.ejected_for_ms);
  j.key("ejections").value(v.ejections);
  j.key("idle_connections").value(static_cast<int64_t>(v.idle));
  j.key("last_error").value(v.last_error);
  j.end_object();
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

std::string render_status_json(ProxyServer& proxy) {
  std::shared_ptr<const Config> cfg = proxy.config();
  HealthSnapshotPtr health = proxy.health();
  ViewMap views = collect(proxy);
  JsonWriter j;
  j.begin_object();
  j.key("version").value(RINGWAY_VERSION);
  j.key("io").value(proxy.io_backend());
  j.key("io_fallback_reason").value(proxy.io_fallback_reason());
  j.key("workers").value(static_cast<int64_t>(proxy.workers()));
  j.key("ready").value(proxy.ready());
  j.key("draining").value(proxy.draining());
  j.key("config").value(cfg->source);
  j.key("routes").begin_array();
  for (const RouteConfig& r : cfg->routes) {
    j.begin_object();
    j.key("prefix").value(r.prefix);
    j.key("upstream").value(r.upstream);
    j.key("strip_prefix").value(r.strip_prefix);
    j.end_object();
  }
  j.end_array();
  j.key("upstreams").begin_array();
  for (size_t i = 0; i < cfg->upstreams.size(); ++i) {
    const UpstreamConfig& u = cfg->upstreams[i];
    j.begin_object();
    j.key("name").value(u.name);
    j.key("balance").value(balance_policy_name(u.balance));
    j.key("health_check").value(u.health_check.enabled ? u.health_check.path : std::string("disabled"));
    const UpstreamMembers* m = health && i < health->upstreams.size() ? &health->upstreams[i] : nullptr;
    size_t healthy = 0;
    if (m) {
      for (uint8_t h : m->healthy) healthy += h;
      j.key("resolve_error").value(m->resolve_error);
    }
    j.key("healthy_servers").value(static_cast<int64_t>(healthy));
    j.key("servers").begin_array();
    if (m) {
      for (size_t k = 0; k < m->servers.size(); ++k) {
        const ServerView& v = views[{u.name, m->servers[k].label}];
        write_server(j, m->servers[k], k < m->healthy.size() && m->healthy[k],
                     k < m->last_check.size() ? m->last_check[k] : "", v);
      }
    }
    j.end_array();
    j.end_object();
  }
  j.end_array();
  j.end_object();
  j.out() += '\n';
  return std::move(j.out());
}

std::string render_explain_json(ProxyServer& proxy, std::string_view target) {
  std::shared_ptr<const Config> cfg = proxy.config();
  JsonWriter j;
  j.begin_object();
  j.key("request_target").value(target);
  std::string scratch;
  std::string_view path, query;
  if (normalize_target(target, scratch, &path, &query) != TargetStatus::kOk) {
    j.key("result").value("400: invalid request target");
    j.end_object();
    return std::move(j.out()) + "\n";
  }
  j.key("normalized_path").value(path);
  Router router(cfg->routes);
  size_t index = 0;
  const RouteConfig* route = router.match(path, &index);
  if (route == nullptr) {
    j.key("route").null();
    j.key("result").value("404: no route matches");
    j.end_object();
    return std::move(j.out()) + "\n";
  }
  std::string upstream_target;
  rewrite_target(*route, path, query, upstream_target);
  j.key("route").begin_object();
  j.key("prefix").value(route->prefix);
  j.key("upstream").value(route->upstream);
  j.key("strip_prefix").value(route->strip_prefix);
  j.end_object();
  j.key("upstream_target").value(upstream_target);
  j.key("request_headers_injected").begin_object();
  j.key("X-Forwarded-For").value("<existing chain>, <client ip>");
  j.key("X-Real-IP").value("<client ip>");
  j.key("X-Forwarded-Proto").value("http");
  j.key("X-Request-Id").value("<kept from the client, else 32 random hex digits>");
  j.key("Via").value("1.1 ringway");
  for (const auto& [n, v] : cfg->request_headers.set) j.key(n).value(v);
  j.end_object();
  j.key("request_headers_removed").begin_array();
  for (const char* h : {"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
                        "Transfer-Encoding (re-framed)", "Upgrade (unless tunnelling)",
                        "Proxy-Authenticate", "Proxy-Authorization", "fields named in Connection"}) {
    j.value(h);
  }
  for (const std::string& r : cfg->request_headers.remove) j.value(r);
  j.end_array();
  j.key("response_headers_set").begin_object();
  for (const auto& [n, v] : cfg->response_headers.set) j.key(n).value(v);
  j.key("X-Request-Id").value("<the request id>");
  j.end_object();

  const UpstreamConfig& uc = cfg->upstreams[route->upstream_index];
  HealthSnapshotPtr health = proxy.health();
  ViewMap views = collect(proxy);
  j.key("balance").value(balance_policy_name(uc.balance));
  j.key("candidates").begin_array();
  if (health && route->upstream_index < health->upstreams.size()) {
    const UpstreamMembers& m = health->upstreams[route->upstream_index];
    for (size_t k = 0; k < m.servers.size(); ++k) {
      write_server(j, m.servers[k], k < m.healthy.size() && m.healthy[k],
                   k < m.last_check.size() ? m.last_check[k] : "", views[{uc.name, m.servers[k].label}]);
    }
  }
  j.end_array();
  // Ask worker 0's balancer, with its live in-flight and latency numbers.
  auto picked = std::make_shared<std::string>();
  auto panic = std::make_shared<bool>(false);
  const std::string upstream_name = uc.name;
  bool answered = proxy.on_worker0([picked, panic, upstream_name](Worker& w) {
    for (const RouteRuntime& r : w.current()->routes) {
      if (!r.upstream || r.upstream->name() != upstream_name) continue;
      UpstreamRuntime::Pick p = r.upstream->pick(w.loop().now(), nullptr);
      if (p.server) *picked = p.server->address.label;
      *panic = p.panic;
      return;
    }
  });
  if (answered && !picked->empty()) {
    j.key("would_pick").value(*picked);
    j.key("panic_mode").value(*panic);
    j.key("result").value(*panic ? "forward (panic: no healthy server, trying all)" : "forward");
  } else {
    j.key("would_pick").null();
    j.key("result").value("503: no server available");
  }
  j.end_object();
  return std::move(j.out()) + "\n";
}

std::string render_status_html(ProxyServer& proxy) {
  std::shared_ptr<const Config> cfg = proxy.config();
  HealthSnapshotPtr health = proxy.health();
  ViewMap views = collect(proxy);
  std::string h =
      "<!doctype html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" "
      "content=\"5\"><title>ringway status</title><style>body{font-family:sans-serif;margin:2em}"
      "table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 8px}"
      ".up{color:#070}.down{color:#b00}</style></head><body><h1>ringway</h1><p>";
  h += "version " RINGWAY_VERSION " &middot; io " + html_escape(proxy.io_backend());
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
         "<th>latency EWMA</th><th>ejected</th><th>ejections</th><th>idle conns</th></tr>";
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
             "</td></tr>";
      }
    }
    h += "</table>";
  }
  h += "<p><a href=\"/status\">/status</a> &middot; <a href=\"/metrics\">/metrics</a> &middot; "
       "<a href=\"/explain?path=/service1/ping\">/explain?path=/service1/ping</a></p></body></html>\n";
  return h;
}

}  // namespace ringway::proxy
