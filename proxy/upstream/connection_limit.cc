// The registry side of connection limits: slots looked up by upstream and server name (under a
// mutex, at membership changes only) and the idle-connection trim fan-out to other workers.
#include "proxy/upstream/connection_limit.h"

namespace ringway::proxy {

std::shared_ptr<ServerSlots> UpstreamSlots::server(const std::string& label) {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<ServerSlots>& s = servers_[label];
  // Kept after the server leaves: its in-flight connections still release into it, and a
  // server that comes back (DNS flap) must not start from a second, empty count.
  if (!s) s = std::make_shared<ServerSlots>();
  return s;
}

std::shared_ptr<const ServerSlots> UpstreamSlots::find(const std::string& label) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = servers_.find(label);
  return it == servers_.end() ? nullptr : it->second;
}

std::shared_ptr<UpstreamSlots> ConnectionLimits::upstream(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<UpstreamSlots>& u = upstreams_[name];
  if (!u) u = std::make_shared<UpstreamSlots>();
  return u;
}

std::shared_ptr<const UpstreamSlots> ConnectionLimits::find(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = upstreams_.find(name);
  return it == upstreams_.end() ? nullptr : it->second;
}

void ConnectionLimits::register_worker(size_t index, TrimFn trim) {
  std::lock_guard<std::mutex> lock(mu_);
  if (workers_.size() <= index) workers_.resize(index + 1);
  workers_[index] = std::move(trim);
}

void ConnectionLimits::unregister_worker(size_t index) {
  std::lock_guard<std::mutex> lock(mu_);
  if (index < workers_.size()) workers_[index] = nullptr;
}

void ConnectionLimits::request_trim(size_t from, const std::string& upstream) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (i != from && workers_[i]) workers_[i](upstream);
  }
}

}  // namespace ringway::proxy
