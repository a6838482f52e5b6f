// End-to-end test support: talk to servers on 127.0.0.1 — free ports, one-shot HTTP requests
// over net/http_fetch.h, and a raw TCP connection that sends exact bytes and reads responses.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "net/http_fetch.h"

namespace ringway::e2e {

using base::Millis;
using Headers = std::vector<std::pair<std::string, std::string>>;

// Returns: a TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close).
// Another process may take it before you do: prefer "--listen 127.0.0.1:0" + the log line for
// our own binaries and use this only for tools that need a port up front (Prometheus) or for
// a port where nothing listens.
int free_port();

// "http://127.0.0.1:PORT" + path.
std::string local_url(int port, std::string_view path);

// One request on a fresh connection (http_fetch sends Connection: close). On failure the result
// has status 0 and `error` set, so `EXPECT_EQ(r.status, 200) << r.error` reads well.
net::FetchResult http_request(std::string_view method, int port, std::string_view path,
                              const Headers& headers = {}, std::string body = {},
                              base::Millis timeout = 5000);
net::FetchResult http_get(int port, std::string_view path, const Headers& headers = {},
                          base::Millis timeout = 5000);

// A response as read off a RawConnection; header names and values as sent.
struct RawResponse {
  int status = 0;
  std::string reason;
  Headers headers;
  std::string body;          // decoded (chunk framing removed)
  bool keep_alive = false;   // the parser's verdict: may the connection be reused
  std::vector<int> interim;  // 1xx statuses that came before this response
  // Returns: the first header named `name` (ASCII case-insensitive) or "".
  std::string header(std::string_view name) const;
  // Returns: how many times a header named `name` appears.
  size_t header_count(std::string_view name) const;
};

// A plain blocking-with-deadlines TCP client for tests that must control the bytes: keep-alive,
// pipelining, malformed requests, half-closed connections.
//
//   RawConnection c;
//   ASSERT_TRUE(c.connect(port)) << c.error();
//   ASSERT_TRUE(c.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")) << c.error();
//   auto r = c.read_response(3000);
//   ASSERT_TRUE(r) << c.error();
//
// Responses are framed by the project's strict parser (Content-Length, chunked, until-close),
// so a server that sends a wrong length fails the read rather than confusing the next one.
class RawConnection {
 public:
  RawConnection() = default;
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Connects to host:port (an IP literal). Returns: false with error() set.
  bool connect(int port, base::Millis timeout = 3000, const std::string& host = "127.0.0.1");
  // Sends all bytes. Returns: false with error() set (timeout, reset, ...).
  bool send(std::string_view bytes, base::Millis timeout = 3000);
  // Half-closes the sending side (the server sees end of input).
  void shutdown_write();
  // Reads one complete response. `head_request`: the request was HEAD (no body whatever the
  // headers say). Bytes after it stay buffered for the next call (pipelining). Returns: nullopt
  // with error() set on timeout, malformed response or close before a complete response.
  std::optional<RawResponse> read_response(base::Millis timeout = 3000, bool head_request = false);
  // Reads until the peer closes. Returns: true if it closed (EOF or reset) within `timeout`;
  // `*rest` (if given) receives every byte that arrived meanwhile, including buffered ones.
  bool wait_closed(base::Millis timeout, std::string* rest = nullptr);
  // Bytes received but not yet consumed by read_response().
  const std::string& buffered() const { return in_; }
  // True once EOF (or a reset) was seen.
  bool peer_closed() const { return peer_closed_; }
  void close();
  int fd() const { return fd_; }
  const std::string& error() const { return error_; }

 private:
  // Returns: false on timeout or error (error_ set); true after receiving bytes or EOF.
  bool recv_more(base::TimePoint deadline);

  int fd_ = -1;
  std::string in_;
  bool peer_closed_ = false;
  std::string error_;
};

// Percent-encodes a URL query component (RFC 3986 unreserved characters stay as they are).
std::string url_encode(std::string_view text);

}  // namespace ringway::e2e
