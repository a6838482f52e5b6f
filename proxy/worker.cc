// Worker: accepts client connections, owns their state and the per-upstream runtime, and
// switches config/health snapshots between requests.
#include "proxy/worker.h"

#include <unistd.h>

#include <algorithm>

#include "net/socket.h"
#include "proxy/exchange/proxy_connection.h"
#include "proxy/proxy_metrics.h"

namespace ringway::proxy {
namespace {

// Idle connection objects kept for reuse: a burst of 10,000 clients must not pin 10,000.
constexpr size_t kMaxIdleConnections = 1024;

}  // namespace

Worker::Worker(size_t index, net::Loop& loop, ProxyMetrics& metrics, ConnectionLimits* limits)
    : ExchangeContext(index, loop, metrics),
      limits_(limits),
      self_(std::make_shared<Worker*>(this)),
      pool_(kMaxIdleConnections) {
  if (!limits_) return;
  std::weak_ptr<Worker*> weak = self_;
  net::Loop* l = &loop;
  limits_->register_worker(index, [weak, l](const std::string& upstream) {
    // From another worker's thread: hop to ours; the worker may be gone by then.
    l->post([weak, upstream] {
      std::shared_ptr<Worker*> self = weak.lock();
      if (!self) return;
      for (auto& u : (*self)->upstreams_) {
        if (u->name() == upstream) u->trim_idle();
      }
    });
  });
}

Worker::~Worker() {
  if (limits_) limits_->unregister_worker(index_);
  self_.reset();
  for (net::Socket* l : listeners_) loop_.close(l);
  // Connections close their sockets in their destructors.
  pool_.clear();
  log_.reset();  // hands the last lines (including requests cut off just now) to the writer
  access_log_ = nullptr;
  // A pooled UpstreamConnection holds its ServerRuntime (shared_ptr) while the server owns
  // the pool: a reference cycle. Empty the pools first, or both leak at shutdown.
  for (auto& u : upstreams_) {
    for (const ServerRuntimePtr& s : u->servers()) s->idle.clear();
  }
  upstreams_.clear();
}

bool Worker::listen(const std::vector<net::ResolvedAddress>& addrs, std::string* error) {
  for (const net::ResolvedAddress& a : addrs) {
    int fd = net::listen_tcp(reinterpret_cast<const sockaddr*>(&a.addr), a.len, true, 4096, error);
    if (fd < 0) return false;
    net::Socket* s = loop_.add(fd, this);
    loop_.start_accept(s);
    listeners_.push_back(s);
  }
  return true;
}

void Worker::rebuild(std::shared_ptr<const Config> config) {
  auto wc = std::make_shared<WorkerConfig>(WorkerConfig{config, Router(config->routes), {}, {}});
  // Upstream runtimes are matched by name so pools, EWMA and ejections survive a reload.
  std::vector<std::shared_ptr<UpstreamRuntime>> next;
  for (size_t i = 0; i < config->upstreams.size(); ++i) {
    const UpstreamConfig& uc = config->upstreams[i];
    std::shared_ptr<UpstreamRuntime> rt;
    for (auto& old : upstreams_) {
      if (old && old->name() == uc.name) rt = old;
    }
    if (!rt) rt = std::make_shared<UpstreamRuntime>(uc, metrics_, index_, &loop_, limits_);
    const bool matches = health_ && (!health_->config || health_->config == config);
    if (matches && i < health_->upstreams.size()) {
      rt->apply(uc, health_->upstreams[i]);
    }  // else: keep the servers it has until a snapshot for this config arrives
    next.push_back(std::move(rt));
  }
  for (auto& old : upstreams_) {
    if (std::find(next.begin(), next.end(), old) == next.end()) {
      // Upstream gone from the config: idle connections close; in-flight requests finish.
      UpstreamMembers none;
      old->apply(old->config(), none);
    }
  }
  upstreams_ = std::move(next);
  for (const RouteConfig& r : config->routes) {
    RouteRuntime rr;
    rr.config = &r;
    rr.upstream = upstreams_[r.upstream_index];
    rr.duration = metrics_.http_duration.with({r.prefix});
    wc->routes.push_back(std::move(rr));
  }
  wc->no_route.duration = metrics_.http_duration.with({"none"});
  current_ = std::move(wc);
}

void Worker::apply(std::shared_ptr<const Config> config, HealthSnapshotPtr health) {
  if (health && (!health->config || health->config == config)) health_ = std::move(health);
  rebuild(std::move(config));
}

void Worker::apply_health(HealthSnapshotPtr health) {
  // A snapshot follows one config's upstream order: one for another config (published just
  // before or after a reload reaches this worker) would map servers to the wrong upstreams.
  if (health->config && current_ && health->config != current_->config) return;
  health_ = std::move(health);
  const Config& cfg = *current_->config;
  for (size_t i = 0; i < upstreams_.size() && i < cfg.upstreams.size(); ++i) {
    UpstreamMembers members;
    if (i < health_->upstreams.size()) members = health_->upstreams[i];
    upstreams_[i]->apply(cfg.upstreams[i], members);
  }
}

void Worker::begin_drain() {
  draining_ = true;
  for (net::Socket* l : listeners_) loop_.close(l);
  listeners_.clear();
  // A snapshot: drain() may release connections while we walk it.
  for (ProxyConnection* c : pool_.live_objects()) c->drain();
}

void Worker::on_accept(int fd) {
  if (fd < 0) return;
  if (draining_ || pool_.live() >= current_->config->limits.max_connections) {
    ::close(fd);  // over max_connections: refuse at once instead of queueing state
    return;
  }
  metrics_.connections_accepted.inc(index_);
  metrics_.connections_active.add(index_, 1);
  pool_.trim_idle();  // here no pooled connection is on the stack (release() never destroys)
  ProxyConnection* c = pool_.acquire([this] { return std::make_unique<ProxyConnection>(*this); });
  c->open(fd);
}

void Worker::release(ProxyConnection* c) {
  metrics_.connections_active.add(index_, -1);
  pool_.release(c);
}

void Worker::set_access_log(std::shared_ptr<AccessLogFile> file, const AccessLogConfig& config) {
  log_.reset();  // flushes to the old file (a reload may also change buffer and flush)
  access_log_ = nullptr;
  if (file) {
    log_ = std::make_unique<AccessLog>(loop_, std::move(file), config.buffer_bytes, config.flush);
    access_log_ = log_.get();
  }
}

size_t Worker::idle_connections() const {
  size_t n = 0;
  for (ProxyConnection* c : pool_.live_objects()) n += c->idle() ? 1 : 0;
  return n;
}

void Worker::flush_access_log() {
  if (log_) log_->flush();
}

std::vector<ServerStatus> Worker::server_status() const {
  std::vector<ServerStatus> out;
  const base::TimePoint now = loop_.now();
  for (const auto& u : upstreams_) {
    for (const auto& s : u->servers()) {
      ServerStatus st;
      st.upstream = u->name();
      st.server = s->address.label;
      st.in_flight = s->in_flight;
      st.ewma_ms = s->ewma_ms;
      st.ejected = s->ejected(now);
      st.ejected_for_ms = st.ejected ? s->ejected_until - now : 0;
      st.ejections = s->ejections;
      st.idle_connections = s->idle.size();
      st.connection_limit = u->limit_now(*s, now);
      st.warmth = u->warmth(*s, now);
      st.queued = u->queue().size();
      st.last_error = s->last_error;
      out.push_back(std::move(st));
    }
  }
  return out;
}

}  // namespace ringway::proxy
