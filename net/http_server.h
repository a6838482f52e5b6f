// A small HTTP/1.1 server on the event loop for services and admin endpoints: keep-alive,
// pipelining (responses in order, one send per batch), limits, timeouts and graceful drain.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/object_pool.h"
#include "net/http_head.h"
#include "net/http_parser.h"
#include "net/loop.h"

namespace ringway::net {

struct HttpServerOptions {
  HttpLimits limits{16384, 100, 1 << 20};
  base::Millis header_timeout = 10000;  // first byte of a request head until its end (408)
  base::Millis idle_timeout = 60000;    // keep-alive connection with no request in progress
  size_t max_connections = 10000;
  unsigned recv_chunk = 16384;    // must match the loop's receive buffer size
  // Extra fields on every response (e.g. security headers on admin pages).
  std::vector<std::pair<std::string, std::string>> response_headers;
};

struct HttpRequest {
  const HttpHead& head;
  std::string_view path;   // target up to '?'
  std::string_view query;  // after '?', without it
  std::string_view body;
};

// Writes the one response of a request into the connection's output buffer.
class ResponseWriter {
 public:
  // Content-Length framing; for HEAD requests the body is left out (RFC 9110 §9.3.2).
  void respond(int status, std::string_view content_type, std::string_view body,
               std::span<const HeaderField> extra = {});
  bool responded() const { return responded_; }
  int status() const { return status_; }

 private:
  friend class HttpServerConnection;
  std::string* out_ = nullptr;
  const std::vector<std::pair<std::string, std::string>>* common_ = nullptr;
  bool head_request_ = false;
  bool close_ = false;
  bool responded_ = false;
  int status_ = 0;
};

// Called on the loop thread for every complete request; must call writer.respond() once.
using HttpHandler = std::function<void(const HttpRequest&, ResponseWriter&)>;
// Called for requests the server rejects itself (400/408/413/431/505...), for metrics.
using HttpErrorHook = std::function<void(int status)>;

class HttpServerConnection;
struct ServerExchange;

class HttpServer : public SocketHandler {
 public:
  HttpServer(Loop& loop, HttpServerOptions options, HttpHandler handler);
  ~HttpServer() override;

  // Binds and starts accepting. Returns: false with *error on failure.
  bool listen(const sockaddr* addr, socklen_t len, bool reuse_port, std::string* error);
  int port() const { return port_; }
  void set_error_hook(HttpErrorHook hook) { error_hook_ = std::move(hook); }

  // Stops accepting, closes idle connections and lets in-flight requests finish (their
  // responses carry Connection: close).
  void begin_drain();
  size_t connections() const { return pool_.live(); }
  uint64_t accepted() const { return accepted_; }

  void on_accept(int fd) override;

 private:
  friend class HttpServerConnection;
  void release(HttpServerConnection* c);
  // A request's parser, head copy, body and output, lent from the first byte of a request
  // until its connection is idle again; spares keep their strings' capacity (bounded).
  ServerExchange* lease_exchange();
  void return_exchange(ServerExchange* x);

  Loop& loop_;
  HttpServerOptions options_;
  HttpHandler handler_;
  HttpErrorHook error_hook_;
  Socket* listener_ = nullptr;
  int port_ = 0;
  bool draining_ = false;
  uint64_t accepted_ = 0;
  // Declared before pool_: connections give their exchange back while pool_ is destroyed.
  std::vector<std::unique_ptr<ServerExchange>> spare_exchanges_;
  base::ObjectPool<HttpServerConnection> pool_;
};

}  // namespace ringway::net
