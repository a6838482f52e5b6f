// The health checker's public face: starts and stops its thread, hands config switches to
// the engine on that thread, and keeps the latest snapshot for readers on any thread.
#include "proxy/upstream/health_checker.h"

#include "base/log.h"
#include "proxy/upstream/health_engine.h"

namespace ringway::proxy {

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
