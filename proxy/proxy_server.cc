// Process orchestration for ringway: start-up order, reload and drain.
// Config and health snapshots reach workers by posting to their loops, never by locks.
#include "proxy/proxy_server.h"

#include <netinet/in.h>
#include <unistd.h>

#include <condition_variable>

#include "base/log.h"
#include "base/process_signals.h"
#include "base/version.h"
#include "net/socket.h"
#include "proxy/admin/admin_server.h"

namespace ringway::proxy {
namespace {

size_t effective_workers(const Config& c) {
  return c.workers == 0 ? base::cpu_count() : static_cast<size_t>(c.workers);
}

// Waits up to `timeout_ms` for `done` to reach `want`.
bool wait_count(std::atomic<size_t>& done, size_t want, int timeout_ms) {
  for (int waited = 0; done.load() < want; ++waited) {
    if (waited >= timeout_ms) return false;
    usleep(1000);
  }
  return true;
}

}  // namespace

ProxyServer::ProxyServer(std::string config_path, std::shared_ptr<const Config> config,
                         Overrides overrides)
    : config_path_(std::move(config_path)),
      overrides_(std::move(overrides)),
      config_(std::move(config)),
      started_with_(config_),
      worker_count_(effective_workers(*config_)),
      registry_(worker_count_),
      metrics_(registry_) {
  registry_.enable_process_metrics();
  health_ = std::make_unique<HealthChecker>(metrics_,
                                            [this](HealthSnapshotPtr s) { publish_health(std::move(s)); });
}

ProxyServer::~ProxyServer() {
  admin_.reset();
  if (health_) health_->stop();
  // Workers belong to their loop threads: destroy them there before the loops stop.
  std::atomic<size_t> done{0};
  pool_.post_all([&](size_t i, net::Loop&) {
    workers_[i].reset();
    ++done;
  });
  wait_count(done, pool_.size(), 2000);
  pool_.stop();
  pool_.join();
  access_file_.reset();  // writes what the workers handed over, then stops the writer thread
}

void ProxyServer::on_each_worker(const std::function<void(Worker&)>& fn) {
  auto done = std::make_shared<std::atomic<size_t>>(0);
  auto task = std::make_shared<std::function<void(Worker&)>>(fn);
  pool_.post_all([this, done, task](size_t i, net::Loop&) {
    if (workers_[i]) (*task)(*workers_[i]);
    ++*done;
  });
  wait_count(*done, pool_.size(), 2000);
}

bool ProxyServer::access_file_for(const Config& c, std::shared_ptr<AccessLogFile>* out,
                                  std::string* error) {
  out->reset();
  if (!c.access_log.enabled) return true;
  if (access_file_ && access_file_->path() == c.access_log.path) {
    *out = access_file_;
    return true;
  }
  auto file = std::make_shared<AccessLogFile>(c.access_log.path, metrics_.access_log_errors);
  if (!file->start(error)) return false;
  *out = std::move(file);
  return true;
}

void ProxyServer::reopen_access_log() {
  if (!access_file_) return;
  // Lines buffered before the signal belong to the file logrotate just renamed.
  on_each_worker([](Worker& w) { w.flush_access_log(); });
  access_file_->reopen();
}

std::shared_ptr<const Config> ProxyServer::config() const {
  std::lock_guard<std::mutex> lock(config_mu_);
  return config_;
}

void ProxyServer::publish_health(HealthSnapshotPtr snapshot) {
  if (!workers_ready_.load()) return;  // workers read current() when they start
  pool_.post_all([this, snapshot](size_t i, net::Loop&) {
    if (workers_[i]) workers_[i]->apply_health(snapshot);
  });
}

bool ProxyServer::start(std::string* error) {
  std::shared_ptr<const Config> cfg = config();
  if (!health_->start(cfg, cfg->io, error)) return false;
  if (!access_file_for(*cfg, &access_file_, error)) return false;

  std::vector<net::ResolvedAddress> listen_addrs;
  for (const net::HostPort& hp : cfg->listen) {
    std::vector<net::ResolvedAddress> addrs;
    if (!net::resolve(hp, &addrs, error)) {
      *error = "listen " + hp.to_string() + ": " + *error;
      return false;
    }
    listen_addrs.push_back(addrs.front());
  }
  net::LoopOptions options;
  options.mode = cfg->io;
  // The provided-buffer ring stays 4 MiB per worker whatever the buffer size (16 at 256 KiB).
  options.recv_buffer_size = static_cast<unsigned>(cfg->limits.recv_buffer);
  options.recv_buffers = static_cast<unsigned>((4u << 20) / cfg->limits.recv_buffer);
  workers_.resize(worker_count_);
  auto setup = [&](size_t i, net::Loop& loop, std::string* err) {
    workers_[i] = std::make_unique<Worker>(i, loop, metrics_, &limits_);
    workers_[i]->apply(cfg, health_->current());
    workers_[i]->set_access_log(access_file_, cfg->access_log);
    return workers_[i]->listen(listen_addrs, err);
  };
  // Port 0 ("any free port", used by tests) must resolve to one port shared by all
  // workers: bind a probe listener first and reuse its port.
  for (net::ResolvedAddress& a : listen_addrs) {
    in_port_t* port = a.family() == AF_INET6
                          ? &reinterpret_cast<sockaddr_in6*>(&a.addr)->sin6_port
                          : &reinterpret_cast<sockaddr_in*>(&a.addr)->sin_port;
    if (*port != 0) continue;
    int fd = net::listen_tcp(reinterpret_cast<sockaddr*>(&a.addr), a.len, true, 1, error);
    if (fd < 0) return false;
    *port = htons(static_cast<uint16_t>(net::local_port(fd)));
    ::close(fd);
  }
  if (!pool_.start(worker_count_, options, setup, error)) return false;
  workers_ready_ = true;
  // A health change during start-up was published before workers listened for it.
  publish_health(health_->current());

  for (const net::ResolvedAddress& a : listen_addrs) {
    base::log_info("listening on " + a.to_string() + " (proxy)");
  }
  std::string io = "io=" + pool_.backend();
  if (!pool_.fallback_reason().empty()) io += " (fell back from io_uring: " + pool_.fallback_reason() + ")";
  base::log_info(std::string("ringway ") + base::kVersion + " started: " + std::to_string(worker_count_) +
                " worker(s), " + io + ", config " + cfg->source);
  metrics_.build_info.with({base::kVersion, pool_.backend(), pool_.fallback_reason()}).set(1);

  admin_ = std::make_unique<AdminServer>(*this);
  if (!admin_->start(cfg->admin_listen, cfg->io, error)) return false;
  ready_ = true;
  return true;
}

bool ProxyServer::reload() {
  std::vector<ConfigError> errors;
  std::shared_ptr<const Config> next = load_config_file(config_path_, &errors);
  if (next && overrides_) {
    auto copy = std::make_shared<Config>(*next);
    overrides_(*copy);
    next = std::move(copy);
  }
  if (!next) {
    for (const ConfigError& e : errors) base::log_error("reload rejected: " + e.to_string());
    base::log_error("reload failed: keeping the running configuration");
    metrics_.config_reloads.with({"error"}).inc_shared();
    return false;
  }
  std::shared_ptr<AccessLogFile> log_file;
  std::string log_error;
  if (!access_file_for(*next, &log_file, &log_error)) {
    base::log_error("reload rejected: " + log_error);
    base::log_error("reload failed: keeping the running configuration");
    metrics_.config_reloads.with({"error"}).inc_shared();
    return false;
  }
  const Config& started = *started_with_;
  if (next->listen != started.listen || next->admin_listen != started.admin_listen ||
      effective_workers(*next) != worker_count_ || next->io != started.io ||
      next->limits.recv_buffer != started.limits.recv_buffer) {
    base::log_warn(
        "reload: listen, admin.listen, workers, io and limits.recv_buffer changes take effect at restart");
  }
  health_->update_config(next);
  HealthSnapshotPtr snapshot = health_->current();
  pool_.post_all([this, next, snapshot](size_t i, net::Loop&) {
    if (workers_[i]) workers_[i]->apply(next, snapshot);
  });
  // Every worker flushes its buffer at a reload; with a new path the old file gets the
  // lines logged before it, and is synced and closed here, off the event loops.
  on_each_worker([log_file, next](Worker& w) { w.set_access_log(log_file, next->access_log); });
  std::shared_ptr<AccessLogFile> previous = std::move(access_file_);
  access_file_ = std::move(log_file);
  if (previous && previous != access_file_) previous->sync();
  previous.reset();
  {
    std::lock_guard<std::mutex> lock(config_mu_);
    config_ = next;
  }
  metrics_.config_reloads.with({"success"}).inc_shared();
  base::log_info("reloaded configuration from " + config_path_);
  return true;
}

void ProxyServer::drain_and_stop() {
  draining_ = true;
  ready_ = false;
  const base::Millis budget = config()->timeouts.drain;
  base::log_info("draining: stop accepting, finishing in-flight requests (up to " +
                std::to_string(budget) + " ms)");
  std::atomic<size_t> done{0};
  pool_.post_all([&](size_t i, net::Loop&) {
    workers_[i]->begin_drain();
    ++done;
  });
  wait_count(done, pool_.size(), 2000);
  const base::TimePoint deadline = base::Clock::now() + budget;
  size_t live = 0;
  do {
    std::atomic<size_t> count{0};
    std::atomic<size_t> answered{0};
    pool_.post_all([&](size_t i, net::Loop&) {
      count += workers_[i]->active_connections();
      ++answered;
    });
    wait_count(answered, pool_.size(), 1000);
    live = count.load();
    if (live == 0) break;
    usleep(20000);
  } while (base::Clock::now() < deadline);
  if (live > 0) base::log_warn("drain timeout: closing " + std::to_string(live) + " connection(s)");
  // Lines of the requests finished while draining; those cut off now are logged (flag SD)
  // when the workers are destroyed, and written before the writer stops (~ProxyServer).
  if (access_file_) {
    on_each_worker([](Worker& w) { w.flush_access_log(); });
    access_file_->sync();
  }
  base::log_info("stopped");
}

std::vector<std::vector<ServerStatus>> ProxyServer::collect_server_status() {
  const size_t n = pool_.size();
  auto results = std::make_shared<std::vector<std::vector<ServerStatus>>>(n);
  auto done = std::make_shared<std::atomic<size_t>>(0);
  pool_.post_all([this, results, done](size_t i, net::Loop&) {
    if (workers_[i]) (*results)[i] = workers_[i]->server_status();
    ++*done;
  });
  wait_count(*done, n, 1000);
  return *results;
}

bool ProxyServer::on_worker0(const std::function<void(Worker&)>& fn) {
  auto done = std::make_shared<std::atomic<size_t>>(0);
  auto task = std::make_shared<std::function<void(Worker&)>>(fn);
  pool_.post_all([this, done, task](size_t i, net::Loop&) {
    if (i == 0 && workers_[0]) (*task)(*workers_[0]);
    if (i == 0) ++*done;
  });
  return wait_count(*done, 1, 1000);
}

ClientConnections ProxyServer::client_connections() {
  auto active = std::make_shared<std::atomic<size_t>>(0);
  auto idle = std::make_shared<std::atomic<size_t>>(0);
  auto done = std::make_shared<std::atomic<size_t>>(0);
  pool_.post_all([this, active, idle, done](size_t i, net::Loop&) {
    if (workers_[i]) {
      *active += workers_[i]->active_connections();
      *idle += workers_[i]->idle_connections();
    }
    ++*done;
  });
  wait_count(*done, pool_.size(), 1000);
  return ClientConnections{active->load(), idle->load()};
}

int ProxyServer::admin_port() const { return admin_ ? admin_->port() : 0; }

}  // namespace ringway::proxy
