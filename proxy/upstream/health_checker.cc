// The health checker's thread: per-server probe schedules and health state machines, periodic
// re-resolution of hostnames, and the snapshots built from both.
#include "proxy/upstream/health_checker.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "base/log.h"
#include "proxy/upstream/health_probe.h"
#include "proxy/upstream/resolver.h"

namespace ringway::proxy {
namespace {

// Coalesces per-probe last_check updates into one current() refresh (not a publish).
constexpr base::Millis kStatusRefresh = 100;

}  // namespace

class HealthChecker::Engine {
 public:
  Engine(HealthChecker& owner, net::Loop& loop);
  ~Engine();
  // Switches to `config`, whose servers were just resolved.
  void apply(std::shared_ptr<const Config> config, ResolvedConfig resolved);

 private:
  struct Upstream;
  struct Server {
    explicit Server(net::Loop& l) : loop(l), probe(l) {}
    ~Server() { loop.cancel_timer(&timer); }
    net::Loop& loop;
    Upstream* owner = nullptr;  // updated when a reload moves the server to a new Upstream
    ServerAddress address;
    std::string request;
    bool healthy = true;
    int successes = 0, failures = 0;  // consecutive
    std::string last_check;
    int64_t last_transition_unix_ms = 0;  // 0: never flipped since it joined
    metrics::Counter results[3];  // by ProbeResult; empty while checks are disabled
    metrics::Gauge gauge;
    net::Timer timer;  // next probe
    base::TimePoint started;
    HealthProbe probe;
  };
  struct Host {
    net::HostPort hp;
    std::vector<net::ResolvedAddress> addresses;
    std::string error;  // last resolution failure (addresses kept from before)
  };
  struct Upstream {
    explicit Upstream(net::Loop& l) : loop(l) {}
    ~Upstream() { loop.cancel_timer(&resolve_timer); }
    net::Loop& loop;
    uint64_t id = 0;  // new per apply(): resolutions started before a reload are dropped
    const UpstreamConfig* config = nullptr;  // points into Engine::config_
    std::vector<Host> hosts;
    std::vector<std::unique_ptr<Server>> servers;
    std::string resolve_error;
    net::Timer resolve_timer;
    bool resolving = false;
  };

  bool sync_servers(Upstream& u, std::vector<std::unique_ptr<Server>> pool, bool reschedule);
  void configure_checks(Server& s, bool reschedule);
  void probe(Server& s);
  void on_probe_done(Server& s, const ProbeOutcome& outcome);
  void start_resolve(Upstream& u);
  void on_resolved(uint64_t id, std::vector<ResolveOutcome> outcomes);
  void publish();
  void refresh_status();
  HealthSnapshotPtr build(uint64_t generation) const;
  base::Millis random_in(base::Millis lo, base::Millis hi);
  static std::string resolve_errors(const Upstream& u);

  HealthChecker& owner_;
  net::Loop& loop_;
  ProxyMetrics& metrics_;
  std::shared_ptr<const Config> config_;
  std::vector<std::unique_ptr<Upstream>> upstreams_;
  uint64_t next_id_ = 0;
  net::Timer status_timer_;
  std::mt19937_64 rng_{std::random_device{}()};
  ResolverThread resolver_;
};

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

void HealthChecker::Engine::probe(Server& s) {
  const HealthCheckConfig& hc = s.owner->config->health_check;
  s.started = loop_.now();
  s.probe.start(s.address.addr, s.request, hc.timeout,
                [this, sp = &s](const ProbeOutcome& outcome) { on_probe_done(*sp, outcome); });
}

void HealthChecker::Engine::on_probe_done(Server& s, const ProbeOutcome& outcome) {
  const UpstreamConfig& uc = *s.owner->config;
  const HealthCheckConfig& hc = uc.health_check;
  s.results[static_cast<int>(outcome.result)].inc_shared();
  s.last_check = outcome.detail;
  bool flipped = false;
  if (outcome.result == ProbeResult::kSuccess) {
    s.failures = 0;
    ++s.successes;
    flipped = !s.healthy && s.successes >= hc.healthy_threshold;
  } else {
    s.successes = 0;
    ++s.failures;
    flipped = s.healthy && s.failures >= hc.unhealthy_threshold;
  }
  if (flipped) {
    s.healthy = !s.healthy;
    s.last_transition_unix_ms = base::Clock::unix_ms();
    s.gauge.set(s.healthy ? 1 : 0);
    const int streak = s.healthy ? s.successes : s.failures;
    const char* what = s.healthy ? (streak == 1 ? "success" : "successes")
                                 : (streak == 1 ? "failure" : "failures");
    const std::string text = "upstream " + uc.name + " server " + s.address.label + " is now " +
                             (s.healthy ? "healthy (" : "unhealthy (") + std::to_string(streak) +
                             " consecutive " + what + ": " + outcome.detail + ")";
    base::log(s.healthy ? base::LogLevel::kInfo : base::LogLevel::kWarn, text);
    publish();
  } else if (!status_timer_.armed()) {
    loop_.add_timer(&status_timer_, kStatusRefresh);
  }
  // `interval` is the period between probe starts, ±10% so probes of many servers spread out.
  const base::Millis period =
      random_in(hc.interval - hc.interval / 10, hc.interval + hc.interval / 10);
  loop_.add_timer(&s.timer, std::max<base::Millis>(0, period - (loop_.now() - s.started)));
}

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

HealthChecker::HealthChecker(ProxyMetrics& metrics, Publish publish)
    : metrics_(metrics), publish_(std::move(publish)) {}

HealthChecker::~HealthChecker() {
  stop();
}

void HealthChecker::set_current(HealthSnapshotPtr snapshot, bool publish) {
  {
    std::lock_guard<std::mutex> lock(current_mu_);
    current_ = snapshot;
  }
  if (publish && publish_) publish_(std::move(snapshot));
}

HealthSnapshotPtr HealthChecker::current() const {
  std::lock_guard<std::mutex> lock(current_mu_);
  return current_;
}

bool HealthChecker::start(std::shared_ptr<const Config> config, net::IoMode mode,
                          std::string* error) {
  std::lock_guard<std::mutex> control(control_mu_);
  if (thread_.joinable()) {
    if (error) *error = "health checker already started";
    return false;
  }
  ResolvedConfig resolved = resolve_config(*config);
  for (size_t i = 0; i < resolved.size(); ++i) {
    for (const ResolveOutcome& r : resolved[i]) {
      if (r.ok) continue;
      if (error) {
        *error = "upstream " + config->upstreams[i].name + ": server " + r.host.to_string() + ": " +
                 r.error;
      }
      return false;
    }
  }
  struct StartState {
    bool done = false;
    std::string error;
  } state;
  exited_ = false;
  thread_ = std::thread([this, config, mode, &state, resolved = std::move(resolved)]() mutable {
    // Small rings: a handful of probe connections, never bulk traffic.
    net::LoopOptions options{mode, 256, 64, 4096};
    std::string fallback, err;
    std::unique_ptr<net::Loop> loop = net::Loop::create(options, &fallback, &err);
    if (!loop && mode != net::IoMode::kEpoll) {
      base::log_warn("health checker: " + err + "; falling back to epoll");
      options.mode = net::IoMode::kEpoll;
      loop = net::Loop::create(options, &fallback, &err);
    }
    if (!loop) {
      std::lock_guard<std::mutex> lock(sync_mu_);
      state.done = true;
      state.error = "health checker: " + err;
      exited_ = true;
      sync_cv_.notify_all();
      return;
    }
    {
      Engine engine(*this, *loop);
      engine.apply(std::move(config), std::move(resolved));
      {
        std::lock_guard<std::mutex> lock(sync_mu_);
        backend_ = loop->backend_name();
        loop_ = loop.get();
        engine_ = &engine;
        state.done = true;  // `state` may be gone once the lock is released
        sync_cv_.notify_all();
      }
      loop->run();
      std::lock_guard<std::mutex> lock(sync_mu_);
      loop_ = nullptr;
      engine_ = nullptr;
      exited_ = true;
      sync_cv_.notify_all();
    }
  });
  std::unique_lock<std::mutex> lock(sync_mu_);
  sync_cv_.wait(lock, [&] { return state.done; });
  if (!state.error.empty()) {
    lock.unlock();
    thread_.join();
    if (error) *error = state.error;
    return false;
  }
  return true;
}

void HealthChecker::update_config(std::shared_ptr<const Config> config) {
  std::lock_guard<std::mutex> control(control_mu_);
  {
    std::lock_guard<std::mutex> lock(sync_mu_);
    if (loop_ == nullptr) return;  // not running
  }
  ResolvedConfig resolved = resolve_config(*config);  // blocking, off the checker's loop
  auto done = std::make_shared<bool>(false);
  std::unique_lock<std::mutex> lock(sync_mu_);
  if (loop_ == nullptr) return;
  Engine* engine = engine_;
  loop_->post(
      [this, engine, done, config = std::move(config), resolved = std::move(resolved)]() mutable {
        engine->apply(std::move(config), std::move(resolved));
        std::lock_guard<std::mutex> inner(sync_mu_);
        *done = true;
        sync_cv_.notify_all();
      });
  sync_cv_.wait(lock, [&] { return *done || exited_; });
}

void HealthChecker::stop() {
  std::lock_guard<std::mutex> control(control_mu_);
  {
    std::lock_guard<std::mutex> lock(sync_mu_);
    if (loop_ != nullptr) loop_->stop();
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace ringway::proxy
