// service2: answers /ping with {"service":"service2","message":"pong"} and serves /metrics.
#include "services/service_runner.h"

int main(int argc, char** argv) {
  return ringway::services::run_service(argc, argv, {"service2", "0.0.0.0:8002"});
}
