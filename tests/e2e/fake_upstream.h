// End-to-end test support: a scriptable raw-TCP server on 127.0.0.1 standing in for an upstream.
// It records every request's exact bytes and answers each connection as the test's script says.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/e2e/loopback.h"

namespace ringway::e2e {

// One request as the upstream received it.
struct ReceivedRequest {
  std::string raw;  // exact bytes: head and framed body (chunk framing and trailers included)
  std::string method;
  std::string target;
  int version_minor = 1;
  Headers headers;   // names and values as received, in order
  std::string body;  // decoded body
  Headers trailers;
  size_t connection = 0;  // which accepted connection carried it (0-based, accept order)

  // Returns: the first header named `name` (ASCII case-insensitive) or "".
  std::string header(std::string_view name) const;
  size_t header_count(std::string_view name) const;
  // Returns: true if a header line named `name` is present (even with an empty value).
  bool has(std::string_view name) const { return header_count(name) > 0; }
};

class FakeUpstream;

// One accepted connection, handed to the script on a thread of its own. Every wait also ends
// when the FakeUpstream stops, so a script that hangs never outlives its test.
class UpstreamConn {
 public:
  UpstreamConn(FakeUpstream& owner, int fd, size_t index);
  ~UpstreamConn();
  UpstreamConn(const UpstreamConn&) = delete;
  UpstreamConn& operator=(const UpstreamConn&) = delete;

  // Reads the next complete request and records it in FakeUpstream::requests().
  // Returns: nullopt on EOF, timeout, stop or a request the strict parser rejects.
  std::optional<ReceivedRequest> read_request(base::Millis timeout = 5000);
  // Sends all of `bytes`. Returns: false if the peer is gone or the upstream stopped.
  bool send(std::string_view bytes);
  // Returns: buffered and newly arrived bytes (tunnel data); "" on EOF, timeout or stop.
  std::string recv_some(base::Millis timeout);
  // Waits for the peer to close. Returns: true on EOF/reset within `timeout`.
  bool wait_eof(base::Millis timeout);
  void shutdown_write();
  void close();  // orderly close (FIN)
  void reset();  // abortive close (RST via SO_LINGER 0)
  // Sleeps `ms`. Returns: false early when the upstream stops.
  bool sleep(base::Millis ms);
  // Blocks until the upstream stops: a server that accepted and never answers.
  void hang();
  size_t index() const { return index_; }
  uint64_t bytes_sent() const { return sent_; }
  int fd() const { return fd_; }

 private:
  bool recv_more(base::TimePoint deadline);

  FakeUpstream& owner_;
  int fd_;
  size_t index_;
  std::string in_;
  bool eof_ = false;
  uint64_t sent_ = 0;
};

// What to do with each accepted connection (runs on that connection's thread).
using UpstreamScript = std::function<void(UpstreamConn&)>;

// A response with Content-Length: "HTTP/1.1 <status> <reason>\r\n<headers>Content-Length:
// N\r\n\r\n<body>". `headers` are written as given, each "Name: value\r\n".
std::string http_response(int status, std::string_view body, const Headers& headers = {});

// Scripts for the usual cases.
// Answers every request on the connection with respond(request) (keep-alive) until EOF.
UpstreamScript serve(std::function<std::string(const ReceivedRequest&)> respond);
// Answers every request with the same bytes.
UpstreamScript reply_always(std::string response);
// Reads one request, then never answers.
UpstreamScript hang_after_request();
// Reads one request, then resets the connection.
UpstreamScript reset_after_request();

//   FakeUpstream up;
//   ASSERT_TRUE(up.start(reply_always(http_response(200, "hi")))) << up.error();
//   ... point a route at 127.0.0.1:up.port() ...
//   EXPECT_EQ(up.requests().at(0).target, "/x");
class FakeUpstream {
 public:
  FakeUpstream() = default;
  ~FakeUpstream();  // stop()
  FakeUpstream(const FakeUpstream&) = delete;
  FakeUpstream& operator=(const FakeUpstream&) = delete;

  // Listens on 127.0.0.1:0 and starts the accept thread. Returns: false with error().
  bool start(UpstreamScript script);
  // Replaces the script for connections accepted from now on.
  void set_script(UpstreamScript script);
  // Wakes every waiting script, closes all connections and joins every thread. Idempotent.
  void stop();

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& error() const { return error_; }

  // Snapshots, thread-safe.
  std::vector<ReceivedRequest> requests() const;
  size_t request_count() const;
  size_t connection_count() const;
  uint64_t bytes_received() const;  // every byte read on any connection
  // The first 1 MiB of those bytes, in arrival order (connections interleaved).
  std::string received_data() const;
  // Waits until at least n requests were recorded. Returns: false on timeout.
  bool wait_requests(size_t n, base::Millis timeout);
  bool wait_connections(size_t n, base::Millis timeout);

  bool stopping() const { return stopping_.load(); }
  int stop_fd() const { return stop_fd_; }

 private:
  friend class UpstreamConn;
  void accept_loop();
  void record(ReceivedRequest req);
  void add_received(const char* data, size_t n);

  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd, readable once stopping
  int port_ = 0;
  std::string error_;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  UpstreamScript script_;                  // guarded by mu_
  std::vector<std::thread> workers_;       // guarded by mu_
  std::vector<ReceivedRequest> requests_;  // guarded by mu_
  size_t connections_ = 0;                 // guarded by mu_
  uint64_t bytes_received_ = 0;            // guarded by mu_
  std::string received_;                   // guarded by mu_
};

}  // namespace ringway::e2e
