// ringway_relay: a TCP byte relay on net/loop.h with no HTTP work, one upstream connection
// per client. It is the cost floor the proxy benchmark compares ringway, nginx and HAProxy to.
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "net/address.h"
#include "base/log.h"
#include "net/loop.h"
#include "net/socket.h"
#include "base/process_signals.h"
#include "net/worker_pool.h"

namespace ringway::bench {
namespace {

// One receive chunk of the loop: a message up to this size is relayed with no growth.
constexpr size_t kBufferBytes = 16384;

// Bytes flowing one way, `from` -> `to`. `sending` is owned by the kernel while a send is
// outstanding; `pending` collects what arrives meanwhile (recv is paused then, but io_uring
// may still deliver a few chunks). Both keep their capacity for the connection's lifetime.
struct Pipe {
  net::Socket* from = nullptr;
  net::Socket* to = nullptr;
  std::string sending;
  std::string pending;
  bool busy = false;    // a send on `to` is outstanding
  bool paused = false;  // we paused `from` because `pending` is not empty
  bool eof = false;     // `from` ended cleanly: close once `to` has everything
};

class Relay;
struct Conn;

// The handler of one socket: bytes it receives feed `in`; its send completions drain `out`.
struct End final : net::SocketHandler {
  End(Conn* c, Pipe* i, Pipe* o) : conn(c), in(i), out(o) {}
  Conn* conn;
  Pipe* in;
  Pipe* out;
  void on_data(const char* data, size_t len) override;
  void on_recv_end(int err) override;
  void on_sent(ssize_t res) override;
  void on_connected(int res) override;
};

// A client connection and its own upstream connection. Records are recycled through the
// relay's free list, so a reconnecting client allocates nothing either.
struct Conn {
  explicit Conn(Relay* r) : relay(r) {
    for (Pipe* p : {&up, &down}) {
      p->sending.reserve(kBufferBytes);
      p->pending.reserve(kBufferBytes);
    }
  }

  Relay* relay;
  Pipe up;    // client -> upstream
  Pipe down;  // upstream -> client
  End client_end{this, &up, &down};
  End upstream_end{this, &down, &up};
  bool closed = false;
};

class Relay final : public net::SocketHandler {
 public:
  Relay(net::Loop& loop, const net::ResolvedAddress& upstream) : loop_(loop), upstream_(upstream) {}

  net::Loop& loop() { return loop_; }

  // The listener's multishot accept: pair the client with a fresh upstream connection.
  void on_accept(int fd) override {
    if (fd < 0) return;  // EMFILE and friends: the loop keeps accepting
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // replies are small writes
    const int ufd = net::connect_socket(upstream_.family());
    if (ufd < 0) {
      net::close_fd(fd);
      return;
    }
    Conn* c = acquire();
    c->up.from = c->down.to = loop_.add(fd, &c->client_end);
    c->down.from = c->up.to = loop_.add(ufd, &c->upstream_end);
    loop_.connect(c->up.to, reinterpret_cast<const sockaddr*>(&upstream_.addr), upstream_.len);
  }

  // Client bytes are read only once the upstream accepted: nothing to buffer before that.
  void connected(Conn* c) {
    loop_.start_recv(c->up.from);
    loop_.start_recv(c->down.from);
  }

  void close(Conn* c) {
    if (c->closed) return;
    c->closed = true;
    loop_.close(c->up.from);
    loop_.close(c->down.from);
    free_.push_back(c);  // the loop promises no more callbacks for these handlers
  }

 private:
  Conn* acquire() {
    if (free_.empty()) {
      all_.push_back(std::make_unique<Conn>(this));
      free_.push_back(all_.back().get());
    }
    Conn* c = free_.back();
    free_.pop_back();
    c->closed = false;
    for (Pipe* p : {&c->up, &c->down}) {
      p->sending.clear();
      p->pending.clear();
      p->busy = p->paused = p->eof = false;
    }
    return c;
  }

  net::Loop& loop_;
  net::ResolvedAddress upstream_;
  std::vector<std::unique_ptr<Conn>> all_;
  std::vector<Conn*> free_;
};

void send_pipe(net::Loop& loop, Pipe* p) {
  p->busy = true;
  const iovec iov{p->sending.data(), p->sending.size()};
  loop.send(p->to, &iov, 1);
}

void End::on_data(const char* data, size_t len) {
  if (conn->closed) return;
  if (!in->busy) {
    in->sending.assign(data, len);
    send_pipe(conn->relay->loop(), in);
    return;
  }
  // The other side has not taken the previous bytes yet: hold these and stop reading
  // until it has (backpressure), instead of buffering without bound.
  in->pending.append(data, len);
  if (!in->paused) {
    in->paused = true;
    conn->relay->loop().pause_recv(in->from);
  }
}

void End::on_recv_end(int err) {
  if (conn->closed) return;
  // An orderly EOF still lets bytes already received reach the other side.
  if (err < 0 || !in->busy) {
    conn->relay->close(conn);
  } else {
    in->eof = true;
  }
}

void End::on_sent(ssize_t res) {
  if (conn->closed) return;
  out->busy = false;
  if (res < 0) return conn->relay->close(conn);
  out->sending.clear();
  if (!out->pending.empty()) {
    out->sending.swap(out->pending);
    send_pipe(conn->relay->loop(), out);
  } else if (out->eof) {
    conn->relay->close(conn);
  } else if (out->paused) {
    out->paused = false;
    conn->relay->loop().start_recv(out->from);
  }
}

void End::on_connected(int res) {
  if (conn->closed) return;
  if (res < 0) return conn->relay->close(conn);
  conn->relay->connected(conn);
}

bool resolve_arg(const std::string& text, net::ResolvedAddress* out, std::string* error) {
  net::HostPort hp;
  std::vector<net::ResolvedAddress> addrs;
  if (!net::parse_host_port(text, &hp, error) || !net::resolve(hp, &addrs, error)) return false;
  *out = addrs.front();
  return true;
}

int run(int argc, char** argv) {
  CLI::App app{"ringway_relay: TCP byte relay on the Ringway event loop (benchmark floor)"};
  std::string listen = "127.0.0.1:18081";
  std::string upstream = "127.0.0.1:8001";
  std::string io = "io_uring";
  size_t workers = 1;
  app.add_option("--listen", listen, "ADDR:PORT to accept clients on")->capture_default_str();
  app.add_option("--upstream", upstream, "ADDR:PORT to relay each client to")->capture_default_str();
  app.add_option("--io", io, "I/O engine: auto | io_uring | epoll")->capture_default_str();
  app.add_option("--workers", workers, "worker threads on SO_REUSEPORT listeners")->capture_default_str();
  bool send_zc = false;
  app.add_flag("--send-zc", send_zc, "io_uring: send with IORING_OP_SENDMSG_ZC (zero-copy)");
  CLI11_PARSE(app, argc, argv);

  net::LoopOptions options;
  options.send_zc = send_zc;
  net::ResolvedAddress listen_addr, upstream_addr;
  std::string error;
  if (!net::parse_io_mode(io, &options.mode)) error = "--io must be auto, io_uring or epoll";
  if (error.empty() && !resolve_arg(listen, &listen_addr, &error)) error = "--listen: " + error;
  if (error.empty() && !resolve_arg(upstream, &upstream_addr, &error)) error = "--upstream: " + error;
  if (error.empty() && workers == 0) workers = base::cpu_count();
  if (!error.empty()) {
    std::fprintf(stderr, "ringway_relay: %s\n", error.c_str());
    return 2;
  }

  base::block_process_signals();
  // Declared before the pool so the loops are gone before the relays they call into.
  std::vector<std::unique_ptr<Relay>> relays(workers);
  net::WorkerPool pool;
  auto setup = [&](size_t index, net::Loop& loop, std::string* err) {
    const int fd = net::listen_tcp(reinterpret_cast<const sockaddr*>(&listen_addr.addr),
                                   listen_addr.len, true, 1024, err);
    if (fd < 0) return false;
    relays[index] = std::make_unique<Relay>(loop, upstream_addr);
    loop.start_accept(loop.add(fd, relays[index].get()));
    return true;
  };
  if (!pool.start(workers, options, setup, &error)) {
    std::fprintf(stderr, "ringway_relay: %s\n", error.c_str());
    return 1;
  }
  base::log_info("listening on " + listen_addr.to_string() + " (relay to " + upstream_addr.to_string() +
                ", io " + pool.backend() + ", workers " + std::to_string(workers) + ")");
  while (base::wait_for_signal(1000) == 0) {
  }
  pool.stop();
  pool.join();
  return 0;
}

}  // namespace
}  // namespace ringway::bench

int main(int argc, char** argv) { return ringway::bench::run(argc, argv); }
