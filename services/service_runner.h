// The whole program behind service1 and service2: CLI, workers, the /ping and /metrics
// handlers, healthcheck client mode, graceful SIGTERM shutdown.
#pragma once

#include <string>

namespace ringway::services {

struct ServiceSpec {
  std::string name;            // "service1": used in the pong body and metric names
  std::string default_listen;  // "0.0.0.0:8001"
};

// Returns: the process exit code.
int run_service(int argc, char** argv, const ServiceSpec& spec);

}  // namespace ringway::services
