// DNS for upstream servers: blocking resolution (start-up, reload) with the RINGWAY_HOSTS_FILE
// test hook, and a small thread that runs it off the health checker's loop (getaddrinfo blocks).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "net/address.h"
#include "proxy/config/config.h"

namespace ringway::proxy {

// Environment variable naming a hosts file consulted before getaddrinfo (tests, demos).
inline constexpr const char* kHostsFileEnv = "RINGWAY_HOSTS_FILE";

// Looks hp.host up in a hosts file: lines "NAME ADDR [ADDR...]" (IP literals, IPv6 with or
// without brackets), '#' starts a comment, names compare case-insensitively, several lines for
// one name add up. Returns: false when the file is unreadable or lacks the name (*out untouched);
// true when it has the name: then *error is empty and *out holds the addresses (sorted, deduped,
// port = hp.port), or *error says why none can be used (no address listed, a bad address).
bool lookup_hosts_file(const std::string& path, const net::HostPort& hp,
                       std::vector<net::ResolvedAddress>* out, std::string* error);

// Every address of one configured server. IP literals skip DNS; names are looked up in the file
// named by $RINGWAY_HOSTS_FILE first (re-read on every call so a test can change it), then with
// getaddrinfo. Blocking. Returns: false with *error ("cannot resolve 'foo': ...") on failure.
bool resolve_server(const net::HostPort& hp, std::vector<net::ResolvedAddress>* out,
                    std::string* error);

struct ResolveOutcome {
  net::HostPort host;
  bool ok = false;
  std::vector<net::ResolvedAddress> addresses;  // when ok
  std::string error;                            // when !ok
};

ResolveOutcome resolve_outcome(const net::HostPort& hp);

// [i][j] = the outcome for config.upstreams[i].servers[j]. Blocking.
using ResolvedConfig = std::vector<std::vector<ResolveOutcome>>;
ResolvedConfig resolve_config(const Config& config);

// One background thread resolving batches of servers in submission order.
class ResolverThread {
 public:
  using Done = std::function<void(std::vector<ResolveOutcome>)>;

  ResolverThread() = default;
  ~ResolverThread() { stop(); }
  ResolverThread(const ResolverThread&) = delete;
  ResolverThread& operator=(const ResolverThread&) = delete;

  void start();
  // Queues a batch; `done` runs on the resolver thread with one outcome per host, in order.
  // Batches still queued at stop() are dropped without calling `done`.
  void submit(std::vector<net::HostPort> hosts, Done done);
  // Drops queued batches and joins. A getaddrinfo already running is waited for (bounded by
  // the resolver's own timeout, see resolv.conf); hosts-file and literal lookups never block.
  void stop();

 private:
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<std::pair<std::vector<net::HostPort>, Done>> queue_;
  std::thread thread_;
};

}  // namespace ringway::proxy
