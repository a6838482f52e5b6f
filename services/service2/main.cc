// service2: answers /ping with {"service":"service2","message":"pong"} and serves /metrics.
// Everything but the name and port lives in services/service_runner.cc.
#include "services/service_runner.h"

int main(int argc, char** argv) {
  return ringway::services::run_service(argc, argv, {"service2", "0.0.0.0:8002"});
}
