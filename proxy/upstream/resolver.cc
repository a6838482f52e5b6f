// Upstream DNS: the hosts-file hook, getaddrinfo through net::resolve, and the resolver thread
// that keeps blocking lookups away from the health checker's event loop.
#include "proxy/upstream/resolver.h"

#include <strings.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ringway::proxy {
namespace {

std::string_view strip_brackets(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

bool lookup_hosts_file(const std::string& path, const net::HostPort& hp,
                       std::vector<net::ResolvedAddress>* out, std::string* error) {
  std::ifstream in(path);
  if (!in) return false;
  bool found = false;
  std::vector<net::ResolvedAddress> addresses;
  std::string line;
  int line_no = 0;
  error->clear();
  while (std::getline(in, line)) {
    ++line_no;
    if (const size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string name;
    if (!(words >> name) || !same_name(name, hp.host)) continue;
    found = true;
    std::string text;
    while (words >> text) {
      net::ResolvedAddress ra;
      if (!net::to_sockaddr({std::string(strip_brackets(text)), hp.port}, &ra)) {
        if (error->empty()) {
          *error = "cannot resolve '" + hp.host + "': hosts file " + path + ":" +
                   std::to_string(line_no) + ": invalid address '" + text + "'";
        }
        continue;
      }
      addresses.push_back(ra);
    }
  }
  if (!found) return false;
  if (error->empty() && addresses.empty()) {
    *error = "cannot resolve '" + hp.host + "': no address in hosts file " + path;
  }
  if (!error->empty()) return true;
  std::sort(addresses.begin(), addresses.end());
  addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
  *out = std::move(addresses);
  return true;
}

bool resolve_server(const net::HostPort& hp, std::vector<net::ResolvedAddress>* out,
                    std::string* error) {
  if (!net::is_ip_literal(hp.host)) {
    if (const char* path = std::getenv(kHostsFileEnv); path != nullptr && *path != '\0') {
      std::vector<net::ResolvedAddress> found;
      std::string why;
      if (lookup_hosts_file(path, hp, &found, &why)) {
        if (!why.empty()) {
          *error = why;
          return false;
        }
        *out = std::move(found);
        return true;
      }
    }
  }
  return net::resolve(hp, out, error);
}

ResolveOutcome resolve_outcome(const net::HostPort& hp) {
  ResolveOutcome r;
  r.host = hp;
  r.ok = resolve_server(hp, &r.addresses, &r.error);
  return r;
}

ResolvedConfig resolve_config(const Config& config) {
  ResolvedConfig out;
  for (const UpstreamConfig& u : config.upstreams) {
    std::vector<ResolveOutcome>& v = out.emplace_back();
    for (const net::HostPort& hp : u.servers) v.push_back(resolve_outcome(hp));
  }
  return out;
}

void ResolverThread::start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void ResolverThread::submit(std::vector<net::HostPort> hosts, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    queue_.emplace_back(std::move(hosts), std::move(done));
  }
  cv_.notify_one();
}

void ResolverThread::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ResolverThread::run() {
  for (;;) {
    std::pair<std::vector<net::HostPort>, Done> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    std::vector<ResolveOutcome> outcomes;
    outcomes.reserve(job.first.size());
    for (const net::HostPort& hp : job.first) outcomes.push_back(resolve_outcome(hp));
    job.second(std::move(outcomes));
  }
}

}  // namespace ringway::proxy
