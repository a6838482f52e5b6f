// service1: answers /ping with {"service":"service1","message":"pong"} and serves /metrics.
#include "services/service_runner.h"

int main(int argc, char** argv) {
  return ringway::services::run_service(argc, argv, {"service1", "0.0.0.0:8001"});
}
