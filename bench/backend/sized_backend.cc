// ringway_sized_backend: the benchmark's origin server on net/http_server.h. GET /size/N
// answers N bytes (the harness's 100 B .. 1 MiB cells), GET /ping the service1 pong.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/address.h"
#include "net/http_server.h"
#include "base/log.h"
#include "net/loop.h"
#include "base/process_signals.h"
#include "net/worker_pool.h"

namespace ringway::bench {
namespace {

// Larger bodies than this are refused: the harness never asks for them, and a typo must not
// make the backend allocate gigabytes.
constexpr size_t kMaxBody = 64u << 20;
constexpr std::string_view kPong = "{\"service\":\"service1\",\"message\":\"pong\"}";

// One worker's responder. Bodies are built once per size and reused, so a response costs the
// server's copy into its output buffer and nothing else: the backend stays cheap next to
// the proxy under test.
class Responder {
 public:
  void handle(const net::HttpRequest& req, net::ResponseWriter& out) {
    if (req.head.method != "GET" && req.head.method != "HEAD") {
      out.respond(405, "text/plain", "method not allowed\n");
    } else if (req.path == "/ping") {
      out.respond(200, "application/json", kPong);
    } else if (req.path.starts_with("/size/")) {
      size_t n = 0;
      if (!parse_size(req.path.substr(6), &n)) {
        out.respond(400, "text/plain", "want /size/BYTES with BYTES <= 67108864\n");
      } else {
        out.respond(200, "application/octet-stream", body(n));
      }
    } else {
      out.respond(404, "text/plain", "not found\n");
    }
  }

 private:
  static bool parse_size(std::string_view s, size_t* n) {
    if (s.empty() || s.size() > 9) return false;
    size_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<size_t>(c - '0');
    }
    if (v > kMaxBody) return false;
    *n = v;
    return true;
  }

  const std::string& body(size_t n) {
    auto it = bodies_.find(n);
    if (it == bodies_.end()) {
      std::string b(n, 'x');
      // A newline every 64 bytes keeps the body readable when someone curls it.
      for (size_t i = 63; i < n; i += 64) b[i] = '\n';
      it = bodies_.emplace(n, std::move(b)).first;
    }
    return it->second;
  }

  std::unordered_map<size_t, std::string> bodies_;
};

int run(int argc, char** argv) {
  CLI::App app{"ringway_sized_backend: origin for bench/run.sh (/size/BYTES, /ping)"};
  std::string listen = "127.0.0.1:18400";
  std::string io = "auto";
  size_t workers = 1;
  app.add_option("--listen", listen, "ADDR:PORT to listen on")->capture_default_str();
  app.add_option("--io", io, "I/O engine: auto | io_uring | epoll")->capture_default_str();
  app.add_option("--workers", workers, "worker threads on SO_REUSEPORT listeners")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  net::LoopOptions loop_options;
  net::HostPort hp;
  std::vector<net::ResolvedAddress> addrs;
  std::string error;
  if (!net::parse_io_mode(io, &loop_options.mode)) error = "--io must be auto, io_uring or epoll";
  if (error.empty() &&
      (!net::parse_host_port(listen, &hp, &error) || !net::resolve(hp, &addrs, &error))) {
    error = "--listen: " + error;
  }
  if (error.empty() && workers == 0) workers = base::cpu_count();
  if (!error.empty()) {
    std::fprintf(stderr, "ringway_sized_backend: %s\n", error.c_str());
    return 2;
  }

  base::block_process_signals();
  std::vector<std::unique_ptr<Responder>> responders(workers);
  std::vector<std::unique_ptr<net::HttpServer>> servers(workers);
  net::WorkerPool pool;
  auto setup = [&](size_t index, net::Loop& loop, std::string* err) {
    net::HttpServerOptions options;
    options.recv_chunk = loop_options.recv_buffer_size;
    // The memory rows hold 10,000 client connections through each proxy.
    options.max_connections = 30000;
    responders[index] = std::make_unique<Responder>();
    Responder* r = responders[index].get();
    servers[index] = std::make_unique<net::HttpServer>(
        loop, options,
        [r](const net::HttpRequest& req, net::ResponseWriter& out) { r->handle(req, out); });
    const net::ResolvedAddress& a = addrs.front();
    return servers[index]->listen(reinterpret_cast<const sockaddr*>(&a.addr), a.len, true, err);
  };
  if (!pool.start(workers, loop_options, setup, &error)) {
    std::fprintf(stderr, "ringway_sized_backend: %s\n", error.c_str());
    return 1;
  }
  base::log_info("sized backend listening on " + addrs.front().to_string() + " (io " +
                pool.backend() + ", workers " + std::to_string(workers) + ")");
  while (base::wait_for_signal(1000) == 0) {
  }
  // A server belongs to its loop thread: destroy each there, then stop the loops.
  std::atomic<size_t> destroyed{0};
  pool.post_all([&](size_t i, net::Loop&) {
    servers[i].reset();
    ++destroyed;
  });
  while (destroyed.load() < workers) usleep(1000);
  pool.stop();
  pool.join();
  return 0;
}

}  // namespace
}  // namespace ringway::bench

int main(int argc, char** argv) {
  return ringway::bench::run(argc, argv);
}
