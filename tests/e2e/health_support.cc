// Health-test support: the /status schema check, polling, the keep-alive load generator and
// fixed-address service start-up.
#include "tests/e2e/health_support.h"

#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

namespace ringway::e2e {

const ServerStatusView* UpstreamStatusView::server(std::string_view address) const {
  for (const ServerStatusView& s : servers) {
    if (s.address == address) return &s;
  }
  return nullptr;
}

const UpstreamStatusView* StatusView::upstream(std::string_view name) const {
  for (const UpstreamStatusView& u : upstreams) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

const ServerStatusView* StatusView::server(std::string_view upstream_name,
                                           std::string_view address) const {
  const UpstreamStatusView* u = upstream(upstream_name);
  return u ? u->server(address) : nullptr;
}

namespace {

using Json = nlohmann::json;

// Reads the typed members of one object; remembers the first missing or mistyped key.
struct SchemaReader {
  const Json& obj;
  std::string& missing;
  const Json* get(const char* key, bool (Json::*is_type)() const noexcept) {
    auto it = obj.find(key);
    if (it == obj.end() || !((*it).*is_type)()) {
      if (missing.empty()) missing = key;
      return nullptr;
    }
    return &*it;
  }
  void str(const char* key, std::string* out) {
    if (const Json* v = get(key, &Json::is_string)) *out = v->get<std::string>();
  }
  void boolean(const char* key, bool* out) {
    if (const Json* v = get(key, &Json::is_boolean)) *out = v->get<bool>();
  }
  void integer(const char* key, int64_t* out) {
    if (const Json* v = get(key, &Json::is_number_integer)) *out = v->get<int64_t>();
  }
  void number(const char* key, double* out) {
    if (const Json* v = get(key, &Json::is_number)) *out = v->get<double>();
  }
};

}  // namespace

std::optional<StatusView> fetch_status(int admin_port, std::string* error) {
  auto fail = [error](std::string why) -> std::optional<StatusView> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  net::FetchResult r = http_get(admin_port, "/status", {}, 5000);
  if (r.status != 200) return fail("GET /status: " + std::to_string(r.status) + " " + r.error);
  Json doc = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return fail("/status is not JSON: " + r.body);
  StatusView view;
  view.raw = r.body;
  std::string missing;
  auto ups = doc.find("upstreams");
  if (ups == doc.end() || !ups->is_array()) return fail("/status has no upstreams array: " + r.body);
  for (const Json& u : *ups) {
    UpstreamStatusView& uv = view.upstreams.emplace_back();
    SchemaReader ur{u, missing};
    ur.str("name", &uv.name);
    ur.str("balance", &uv.balance);
    ur.str("health_check", &uv.health_check);
    ur.str("resolve_error", &uv.resolve_error);
    ur.integer("healthy_servers", &uv.healthy_servers);
    const Json* servers = ur.get("servers", &Json::is_array);
    if (!servers) continue;
    for (const Json& s : *servers) {
      ServerStatusView& sv = uv.servers.emplace_back();
      SchemaReader sr{s, missing};
      sr.str("address", &sv.address);
      sr.str("configured", &sv.configured);
      sr.boolean("healthy", &sv.healthy);
      sr.str("last_check", &sv.last_check);
      sr.integer("in_flight", &sv.in_flight);
      sr.number("ewma_latency_ms", &sv.ewma_latency_ms);
      sr.boolean("ejected", &sv.ejected);
      sr.integer("ejected_for_ms", &sv.ejected_for_ms);
      sr.integer("ejections", &sv.ejections);
      sr.integer("idle_connections", &sv.idle_connections);
      sr.str("last_error", &sv.last_error);
    }
  }
  if (!missing.empty()) return fail("/status lacks a well-typed \"" + missing + "\": " + r.body);
  return view;
}

std::optional<base::Millis> wait_until(const std::function<bool()>& done, base::Millis timeout, base::Millis every) {
  const base::TimePoint start = base::Clock::now();
  for (;;) {
    if (done()) return base::Clock::now() - start;
    if (base::Clock::now() - start >= timeout) return std::nullopt;
    ::usleep(static_cast<useconds_t>(every * 1000));
  }
}

double upstream_responses(const std::string& metrics, const std::string& upstream,
                          const std::string& server) {
  std::vector<Sample> samples;
  std::string error;
  if (!parse_exposition(metrics, &samples, &error)) return 0;
  double sum = 0;
  for (const Sample& s : samples) {
    if (s.name != "ringway_upstream_requests_total") continue;
    auto u = s.labels.find("upstream");
    auto sv = s.labels.find("server");
    if (u != s.labels.end() && u->second == upstream && sv != s.labels.end() &&
        sv->second == server) {
      sum += s.value;
    }
  }
  return sum;
}

double metric(const std::string& metrics, std::string_view name, const Labels& labels) {
  return sample_value(metrics, name, labels).value_or(0);
}

void LoadGenerator::start() {
  started_ = base::Clock::now();
  running_ = options_.threads;
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { run(); });
}

void LoadGenerator::stop() {
  stop_ = true;
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

bool LoadGenerator::wait_done(base::Millis timeout) {
  return wait_until([this] { return running_.load() == 0; }, timeout, 5).has_value();
}

std::string LoadGenerator::failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const std::string& f : failures_) out += f + "\n";
  return out;
}

void LoadGenerator::fail(const std::string& what) {
  ++failed_;
  std::lock_guard<std::mutex> lock(mu_);
  if (failures_.size() < 20) {
    // Appended piecewise: GCC 12 misreports `"literal" + std::string&&` (-Wrestrict).
    std::string line = "+";
    line += std::to_string(base::Clock::now() - started_);
    line += " ms: ";
    line += what;
    failures_.push_back(std::move(line));
  }
}

void LoadGenerator::run() {
  const std::string request = "GET " + options_.path + " HTTP/1.1\r\nHost: ringway.test\r\n\r\n";
  std::unique_ptr<RawConnection> conn;
  for (int sent = 0; !stop_.load(); ++sent) {
    if (options_.requests_per_thread > 0 && sent >= options_.requests_per_thread) break;
    if (!conn) {
      conn = std::make_unique<RawConnection>();
      if (!conn->connect(options_.port, options_.timeout)) {
        fail("connect: " + conn->error());
        conn.reset();
        ::usleep(10000);
        continue;
      }
    }
    if (!conn->send(request, options_.timeout)) {
      fail("send: " + conn->error());
      conn.reset();
      continue;
    }
    std::optional<RawResponse> r = conn->read_response(options_.timeout);
    if (!r) {
      fail("no response: " + conn->error());
      conn.reset();
      continue;
    }
    if (r->status != 200 || (!options_.expect_body.empty() && r->body != options_.expect_body)) {
      fail("status " + std::to_string(r->status) + " " + r->body);
    } else {
      ++ok_;
    }
    if (!r->keep_alive) conn.reset();
  }
  --running_;
}

int port_of(const std::string& address) {
  const size_t colon = address.rfind(':');
  return colon == std::string::npos ? 0 : std::atoi(address.c_str() + colon + 1);
}

std::unique_ptr<ChildProcess> start_service_at(const std::string& name, const std::string& addr,
                                               const std::string& io, std::string* error,
                                               base::Millis retry_for) {
  const base::TimePoint deadline = base::Clock::now() + retry_for;
  std::string log;
  do {
    auto svc = std::make_unique<ChildProcess>();
    SpawnOptions options;
    options.args = {"--listen", addr, "--workers", "1", "--io", io};
    if (!svc->start(bin_path(name), options)) {
      if (error) *error = svc->error();
      return nullptr;
    }
    if (svc->wait_for_listen_port(10000) > 0) return svc;
    log = svc->log();
    svc->kill();
    ::usleep(50000);
  } while (base::Clock::now() < deadline);
  if (error) *error = name + " could not listen on " + addr + ":\n" + log;
  return nullptr;
}

}  // namespace ringway::e2e
