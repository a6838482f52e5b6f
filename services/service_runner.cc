// service1/service2 runtime: one HttpServer per worker loop on a SO_REUSEPORT listener.
// Signals are handled on the main thread: SIGHUP is a no-op, SIGTERM drains.
#include "services/service_runner.h"

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <memory>
#include <vector>

#include "metrics/registry.h"
#include "net/address.h"
#include "net/http_fetch.h"
#include "net/http_server.h"
#include "net/http_writer.h"
#include "base/json_writer.h"
#include "base/log.h"
#include "base/sd_notify.h"
#include "base/process_signals.h"
#include "base/version.h"
#include "net/worker_pool.h"
#include "services/service_metrics.h"

namespace ringway::services {
namespace {

constexpr net::HeaderField kAllowPing[] = {{"Allow", "GET, HEAD"}};
constexpr base::Millis kDrainTimeout = 10000;

struct Worker {
  std::unique_ptr<net::HttpServer> server;
  std::unique_ptr<ServiceMetrics::Shard> metrics;
};

std::string json_not_found(std::string_view path) {
  base::JsonWriter j;
  j.begin_object().key("error").value("not found").key("path").value(path).end_object();
  return std::move(j.out());
}

}  // namespace

int run_service(int argc, char** argv, const ServiceSpec& spec) {
  CLI::App app{spec.name + ": minimal HTTP service (/ping, /metrics) on the Ringway runtime"};
  std::string listen = spec.default_listen;
  std::string io = "auto";
  size_t workers = 1;
  std::string healthcheck_url;
  bool version = false;
  app.add_option("--listen", listen, "ADDR:PORT to listen on")->capture_default_str();
  app.add_option("--workers", workers, "worker threads (0 = one per core)")->capture_default_str();
  app.add_option("--io", io, "I/O engine: auto | io_uring | epoll")->capture_default_str();
  app.add_option("--healthcheck", healthcheck_url,
                 "client mode: exit 0 if URL answers 200 within 2 s, else 1");
  app.add_flag("--version", version, "print the version and exit");
  CLI11_PARSE(app, argc, argv);
  if (version) {
    std::printf("%s %s\n", spec.name.c_str(), base::kVersion);
    return 0;
  }
  if (!healthcheck_url.empty()) return net::run_healthcheck(healthcheck_url);

  net::LoopOptions loop_options;
  if (!net::parse_io_mode(io, &loop_options.mode)) {
    std::fprintf(stderr, "%s: --io must be auto, io_uring or epoll (got '%s')\n", spec.name.c_str(),
                 io.c_str());
    return 2;
  }
  net::HostPort hp;
  std::string error;
  if (!net::parse_host_port(listen, &hp, &error, net::PortZero::kAllow)) {
    std::fprintf(stderr, "%s: --listen %s: %s\n", spec.name.c_str(), listen.c_str(), error.c_str());
    return 2;
  }
  std::vector<net::ResolvedAddress> addrs;
  if (!net::resolve(hp, &addrs, &error)) {
    std::fprintf(stderr, "%s: --listen %s: %s\n", spec.name.c_str(), listen.c_str(), error.c_str());
    return 2;
  }
  if (workers == 0) workers = base::cpu_count();

  metrics::Registry registry(workers);
  registry.enable_process_metrics();
  ServiceMetrics service_metrics(registry, spec.name);
  const std::string pong = "{\"service\":\"" + spec.name + "\",\"message\":\"pong\"}";

  base::block_process_signals();
  std::vector<Worker> state(workers);
  // With port 0 the first worker binds an ephemeral port and the others join it.
  std::atomic<int> bound_port{hp.port};
  net::WorkerPool pool;
  auto setup = [&](size_t index, net::Loop& loop, std::string* err) {
    Worker& w = state[index];
    w.metrics = std::make_unique<ServiceMetrics::Shard>(service_metrics, index);
    ServiceMetrics::Shard* shard = w.metrics.get();
    net::HttpServerOptions options;
    options.limits = net::HttpLimits{16384, 100, 1 << 20};
    options.recv_chunk = loop_options.recv_buffer_size;
    auto handler = [&, shard](const net::HttpRequest& req, net::ResponseWriter& out) {
      const int64_t start = base::Clock::now_ns();
      const std::string_view method = req.head.method;
      PathLabel label = PathLabel::kOther;
      if (req.path == "/ping") {
        label = PathLabel::kPing;
        if (method == "GET" || method == "HEAD") {
          out.respond(200, "application/json", pong);
        } else {
          out.respond(405, "application/json", "{\"error\":\"method not allowed\"}", kAllowPing);
        }
      } else if (req.path == "/metrics") {
        label = PathLabel::kMetrics;
        if (method == "GET" || method == "HEAD") {
          const net::HeaderField* accept = req.head.find("Accept");
          metrics::Format f = metrics::negotiate_format(accept ? accept->value : "");
          out.respond(200, metrics::content_type(f), registry.render(f));
        } else {
          out.respond(405, "application/json", "{\"error\":\"method not allowed\"}", kAllowPing);
        }
      } else {
        out.respond(404, "application/json",
                    json_not_found(req.path));
      }
      shard->record(method, label, out.status(),
                    static_cast<double>(base::Clock::now_ns() - start) * 1e-9);
    };
    w.server = std::make_unique<net::HttpServer>(loop, options, handler);
    w.server->set_error_hook([shard](int status) { shard->record("other", PathLabel::kOther, status, 0); });
    net::ResolvedAddress a = addrs.front();
    if (bound_port.load() != 0) {
      net::HostPort fixed = hp;
      fixed.port = static_cast<uint16_t>(bound_port.load());
      std::vector<net::ResolvedAddress> again;
      if (net::resolve(fixed, &again, err)) a = again.front();
    }
    if (!w.server->listen(reinterpret_cast<const sockaddr*>(&a.addr), a.len, true, err)) return false;
    bound_port = w.server->port();
    return true;
  };
  // Workers start one after another, so with port 0 the later ones join the first's port.
  if (!pool.start(workers, loop_options, setup, &error)) {
    std::fprintf(stderr, "%s: %s\n", spec.name.c_str(), error.c_str());
    return 1;
  }
  std::string msg = spec.name + " listening on " + hp.host + ":" + std::to_string(bound_port.load()) +
                    " with " + std::to_string(workers) + " worker(s), io=" + pool.backend();
  if (!pool.fallback_reason().empty()) msg += " (fell back from io_uring: " + pool.fallback_reason() + ")";
  base::log_info(msg);
  base::sd_notify("READY=1");

  // Runs fn on every worker's loop thread and waits for all of them.
  auto on_each_worker = [&](const std::function<void(size_t)>& fn) {
    std::atomic<size_t> done{0};
    pool.post_all([&](size_t i, net::Loop&) {
      fn(i);
      ++done;
    });
    while (done.load() < workers) usleep(1000);
  };
  for (;;) {
    int sig = base::wait_for_signal(1000);
    if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) break;
    // SIGHUP: nothing to reload in a service; SIGUSR1: it keeps no log file to reopen.
  }
  base::sd_notify("STOPPING=1");
  base::log_info(spec.name + " draining");
  on_each_worker([&](size_t i) { state[i].server->begin_drain(); });
  const base::TimePoint deadline = base::Clock::now() + kDrainTimeout;
  while (base::Clock::now() < deadline) {
    std::atomic<size_t> live{0};
    on_each_worker([&](size_t i) { live += state[i].server->connections(); });
    if (live.load() == 0) break;
    usleep(20000);
  }
  // Servers belong to their loop threads: destroy them there, then stop the loops.
  on_each_worker([&](size_t i) { state[i].server.reset(); });
  pool.stop();
  pool.join();
  base::log_info(spec.name + " stopped");
  return 0;
}

}  // namespace ringway::services
