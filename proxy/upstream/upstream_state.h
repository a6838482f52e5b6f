// Upstream membership and health as the health/resolver thread publishes it: an immutable
// snapshot handed to every worker (posted to its loop), never locked on the request path.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/address.h"

namespace ringway::proxy {

struct Config;

// One concrete address of an upstream (a configured host:port may resolve to several).
struct ServerAddress {
  std::string label;       // "127.0.0.1:8001": the `server` metric label and /status key
  std::string configured;  // the host:port as written in the config ("service1:8001")
  net::ResolvedAddress addr;
};

struct UpstreamMembers {
  std::vector<ServerAddress> servers;
  std::vector<uint8_t> healthy;          // parallel to servers: 1 = passing active checks
  std::vector<std::string> last_check;   // parallel: "200 in 0.4 ms", "timeout", "connect: ..."
  std::vector<int64_t> last_transition_unix_ms;  // parallel: last health flip, 0 = never
  std::string resolve_error;             // last DNS failure (old addresses are kept meanwhile)
};

struct HealthSnapshot {
  uint64_t generation = 0;
  // The config whose upstream order `upstreams` follows: a worker that has not switched to it
  // yet can tell the snapshot belongs to a newer config.
  std::shared_ptr<const Config> config;
  std::vector<UpstreamMembers> upstreams;  // index = Config::upstreams index
};

using HealthSnapshotPtr = std::shared_ptr<const HealthSnapshot>;

}  // namespace ringway::proxy
