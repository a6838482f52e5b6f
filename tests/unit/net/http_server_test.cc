// Runtime tests for net/http_server.*, on both loop backends, with blocking loopback clients:
// keep-alive, pipelining, HEAD, 100-continue, request bodies, the errors the server answers
// itself (400/408/413/431) with the error hook, idle timeout, max_connections and drain.
#include "net/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/net/backend_param.h"

namespace ringway::net {
namespace {

using SteadyClock = std::chrono::steady_clock;

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

long elapsed_ms(SteadyClock::time_point since) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - since).count());
}

// A blocking client with a 3 s receive timeout that reads whole responses (Content-Length
// framed, as HttpServer always frames them) and keeps bytes that belong to the next one.
class Client {
 public:
  explicit Client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(port);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    timeval tv{3, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Client() { close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void send(std::string_view bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::write(fd_, bytes.data() + off, bytes.size() - off);
      ASSERT_GT(n, 0) << strerror(errno);
      off += static_cast<size_t>(n);
    }
  }
  // Reads one response. The Date value is replaced by "X" so the bytes can be compared.
  // body_follows = false for a response to HEAD. Returns "" on timeout or EOF.
  std::string response(bool body_follows = true) {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return "";
    }
    std::string head = buf_.substr(0, end + 4);
    size_t length = 0;
    size_t cl = head.find("\r\nContent-Length: ");
    if (body_follows && cl != std::string::npos) length = std::stoul(head.substr(cl + 18));
    while (buf_.size() < end + 4 + length) {
      if (!fill()) return "";
    }
    std::string out = buf_.substr(0, end + 4 + length);
    buf_.erase(0, end + 4 + length);
    size_t date = out.find("\r\nDate: ");
    if (date != std::string::npos) {
      size_t eol = out.find("\r\n", date + 2);
      out.replace(date + 8, eol - date - 8, "X");
    }
    return out;
  }
  // Waits for the peer to close. Returns: true on EOF or reset with no bytes pending.
  bool closed_by_peer() {
    if (!buf_.empty()) return false;
    char c;
    ssize_t n = ::read(fd_, &c, 1);
    if (n == 1) buf_.push_back(c);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }
  const std::string& pending() const { return buf_; }

 private:
  bool fill() {
    char tmp[65536];
    ssize_t n = ::read(fd_, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

std::string ok_response(std::string_view body, std::string_view extra = "") {
  std::string s = "HTTP/1.1 200 OK\r\nDate: X\r\nContent-Type: text/plain\r\nContent-Length: ";
  s += std::to_string(body.size());
  s += "\r\n";
  s += extra;
  s += "X-Test: 1\r\n\r\n";
  s += body;
  return s;
}

class HttpServerTest : public ::testing::TestWithParam<IoMode> {
 public:
  void TearDown() override {
    if (!runner_.running()) return;
    clients_.clear();
    // Let the server see every close before it is destroyed on its loop thread.
    for (int i = 0; i < 200 && server_ && connections() != 0; ++i) usleep(10000);
    on_loop([&] { server_.reset(); });
    runner_.stop();
  }

  // Starts a loop thread and an HttpServer on 127.0.0.1:0. The default handler answers
  // 200 text/plain "METHOD PATH[?QUERY] BODY".
  void start(HttpServerOptions o = {}, HttpHandler handler = nullptr) {
    o.recv_chunk = 4096;
    o.response_headers = {{"X-Test", "1"}};
    if (!handler) {
      handler = [this](const HttpRequest& r, ResponseWriter& w) {
        std::string text(r.head.method);
        text.append(" ").append(r.path);
        if (!r.query.empty()) text.append("?").append(r.query);
        if (!r.body.empty()) text.append(" ").append(r.body);
        handled_++;
        w.respond(200, "text/plain", text);
      };
    }
    ASSERT_NE(loop_ = runner_.start(GetParam()), nullptr);
    on_loop([&] {
      server_ = std::make_unique<HttpServer>(*loop_, o, handler);
      server_->set_error_hook([this](int status) {
        std::lock_guard<std::mutex> lock(mu_);
        errors_.push_back(status);
      });
      sockaddr_in a = loopback(0);
      std::string err;
      ASSERT_TRUE(server_->listen(reinterpret_cast<sockaddr*>(&a), sizeof a, false, &err)) << err;
      port_ = server_->port();
    });
  }

  void on_loop(const std::function<void()>& fn) { runner_.on_loop(fn); }
  size_t connections() {
    size_t n = 0;
    on_loop([&] { n = server_->connections(); });
    return n;
  }
  // Waits up to 2 s for the server to count `n` live connections.
  bool wait_connections(size_t n) {
    for (int i = 0; i < 200; ++i) {
      if (connections() == n) return true;
      usleep(10000);
    }
    return false;
  }
  std::vector<int> errors() {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }
  Client& client() {
    clients_.push_back(std::make_unique<Client>(port_));
    EXPECT_TRUE(clients_.back()->connected());
    return *clients_.back();
  }

  LoopThread runner_;
  Loop* loop_ = nullptr;
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
  std::atomic<int> handled_{0};
  std::mutex mu_;
  std::vector<int> errors_;
  std::vector<std::unique_ptr<Client>> clients_;
};

TEST_P(HttpServerTest, KeepAliveServesSequentialRequests) {
  start();
  Client& c = client();
  for (int i = 0; i < 3; ++i) {
    std::string path = "/r" + std::to_string(i);
    c.send("GET " + path + "?q=" + std::to_string(i) + " HTTP/1.1\r\nHost: h\r\n\r\n");
    EXPECT_EQ(c.response(), ok_response("GET " + path + "?q=" + std::to_string(i)));
  }
  EXPECT_EQ(handled_.load(), 3);
  uint64_t accepted = 0;
  on_loop([&] { accepted = server_->accepted(); });
  EXPECT_EQ(accepted, 1u);
  EXPECT_EQ(connections(), 1u);
}

TEST_P(HttpServerTest, PipelinedRequestsAnsweredInOrder) {
  start();
  Client& c = client();
  c.send(
      "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
      "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
      "GET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(c.response(), ok_response("GET /1"));
  EXPECT_EQ(c.response(), ok_response("POST /2 abc"));
  EXPECT_EQ(c.response(), ok_response("GET /3", "Connection: close\r\n"));
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_TRUE(wait_connections(0));
}

TEST_P(HttpServerTest, HttpVersion10WithoutKeepAliveCloses) {
  start();
  Client& c = client();
  c.send("GET /old HTTP/1.0\r\n\r\n");
  EXPECT_EQ(c.response(), ok_response("GET /old", "Connection: close\r\n"));
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_P(HttpServerTest, HeadOmitsBodyButKeepsLength) {
  start();
  Client& c = client();
  c.send("HEAD /x HTTP/1.1\r\nHost: h\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n");
  std::string head = ok_response("HEAD /x");
  head.resize(head.size() - 7);  // same length header, no body bytes
  EXPECT_EQ(c.response(/*body_follows=*/false), head);
  // The next response starts right after the head: no stray body bytes in between.
  EXPECT_EQ(c.response(), ok_response("GET /x"));
}

TEST_P(HttpServerTest, ExpectContinueGets100BeforeBody) {
  start();
  Client& c = client();
  c.send("PUT /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  EXPECT_EQ(c.response(/*body_follows=*/false), "HTTP/1.1 100 Continue\r\n\r\n");
  EXPECT_EQ(handled_.load(), 0);
  c.send("hello");
  EXPECT_EQ(c.response(), ok_response("PUT /up hello"));
}

TEST_P(HttpServerTest, ContentLengthBodyDeliveredAcrossWrites) {
  start();
  Client& c = client();
  c.send("POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhel");
  usleep(20000);
  c.send("lo world");
  EXPECT_EQ(c.response(), ok_response("POST /b hello world"));
}

TEST_P(HttpServerTest, ChunkedBodyDelivered) {
  start();
  Client& c = client();
  c.send("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
  usleep(20000);
  c.send("6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
  EXPECT_EQ(c.response(), ok_response("POST /c hello world"));
}

// Sends a POST /big with `size` body bytes pipelined with a GET /after; checks the handler saw
// the head and the whole body of /big.
void check_big_body(HttpServerTest& t, size_t size);

TEST_P(HttpServerTest, BodySpanningSeveralReadsIsDeliveredWhole) {
  // 12 kB: several 4 kB receive chunks, still inside the connection's buffer
  // (max_header_bytes + recv_chunk = 20 kB), so no compaction happens mid-body.
  check_big_body(*this, 12000);
}

// A body that does not fit the input buffer makes the connection compact mid-body: the head
// must survive (it once pointed into moved bytes: heap-use-after-free under ASan).
TEST_P(HttpServerTest, BodyLargerThanInputBufferIsDeliveredWithIntactHead) {
  check_big_body(*this, 300000);
}

TEST_P(HttpServerTest, MalformedRequestGets400JsonAndClose) {
  start();
  Client& c = client();
  c.send("GET / HTTP/1.1\r\nHost: h\r\nBad Header\r\n\r\n");
  std::string r = c.response();
  const std::string prefix =
      "HTTP/1.1 400 Bad Request\r\nDate: X\r\nContent-Type: application/json\r\nContent-Length: ";
  ASSERT_EQ(r.substr(0, prefix.size()), prefix) << r;
  EXPECT_NE(
      r.find("\r\nConnection: close\r\nX-Test: 1\r\n\r\n{\"error\":\"Bad Request\",\"detail\":\""),
      std::string::npos)
      << r;
  EXPECT_EQ(r.substr(r.size() - 3), "\"}\n");
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_EQ(handled_.load(), 0);
  EXPECT_EQ(errors(), std::vector<int>{400});
}

// Every parse error is answered with its status and then closes, on a fresh connection and on
// one that already carried a request; none waits for a head end that may never come.
TEST_P(HttpServerTest, EveryParseErrorAnswersAndClosesFreshAndReused) {
  struct Case {
    const char* bytes;
    const char* status_line;
  };
  const Case cases[] = {
      {"GET /\r\n", "HTTP/1.1 505 HTTP Version Not Supported"},                  // HTTP/0.9
      {"GET /\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported"},
      {"GET / HTTP/2.0\r\n", "HTTP/1.1 505 HTTP Version Not Supported"},
      {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported"},
      {"GET / HTTP/1.1\r\nHost: h\r\nBad Header\r\n\r\n", "HTTP/1.1 400 Bad Request"},
  };
  start();
  int expected = 0;
  for (const Case& k : cases) {
    for (bool reused : {false, true}) {
      SCOPED_TRACE(std::string(k.bytes) + (reused ? " (reused)" : " (fresh)"));
      Client c(port_);
      ASSERT_TRUE(c.connected());
      if (reused) {
        c.send("GET /first HTTP/1.1\r\nHost: h\r\n\r\n");
        EXPECT_EQ(c.response(), ok_response("GET /first"));
        ++expected;
      }
      c.send(k.bytes);
      std::string r = c.response();
      EXPECT_EQ(r.substr(0, r.find("\r\n")), k.status_line) << r;
      EXPECT_NE(r.find("\r\nConnection: close\r\n"), std::string::npos) << r;
      EXPECT_TRUE(c.closed_by_peer());
    }
  }
  EXPECT_EQ(handled_.load(), expected);
}

TEST_P(HttpServerTest, OversizedHeadGets431) {
  HttpServerOptions o;
  o.limits.max_header_bytes = 1024;
  start(o);
  Client& c = client();
  c.send("GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n");
  std::string r = c.response();
  EXPECT_EQ(r.substr(0, r.find("\r\n")), "HTTP/1.1 431 Request Header Fields Too Large") << r;
  EXPECT_NE(r.find("{\"error\":\"Request Header Fields Too Large\""), std::string::npos) << r;
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_EQ(errors(), std::vector<int>{431});
}

TEST_P(HttpServerTest, ContentLengthOverLimitGets413) {
  HttpServerOptions o;
  o.limits.max_body_bytes = 16;
  start(o);
  Client& c = client();
  c.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 17\r\n\r\n");
  std::string r = c.response();
  EXPECT_EQ(r.substr(0, r.find("\r\n")), "HTTP/1.1 413 Content Too Large") << r;
  EXPECT_NE(r.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_EQ(handled_.load(), 0);
  EXPECT_EQ(errors(), std::vector<int>{413});
}

TEST_P(HttpServerTest, ChunkedBodyOverLimitGets413) {
  HttpServerOptions o;
  o.limits.max_body_bytes = 16;
  start(o);
  Client& c = client();
  c.send(
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "10\r\n0123456789abcdef\r\n1\r\nx\r\n0\r\n\r\n");
  std::string r = c.response();
  EXPECT_EQ(r.substr(0, r.find("\r\n")), "HTTP/1.1 413 Content Too Large") << r;
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_EQ(errors(), std::vector<int>{413});
}

TEST_P(HttpServerTest, BodyAtLimitIsAccepted) {
  HttpServerOptions o;
  o.limits.max_body_bytes = 16;
  start(o);
  Client& c = client();
  c.send("POST /l HTTP/1.1\r\nHost: h\r\nContent-Length: 16\r\n\r\n0123456789abcdef");
  EXPECT_EQ(c.response(), ok_response("POST /l 0123456789abcdef"));
}

TEST_P(HttpServerTest, HeaderTimeoutGets408) {
  HttpServerOptions o;
  o.header_timeout = 200;
  start(o);
  Client& c = client();
  auto t0 = SteadyClock::now();
  c.send("GET / HTTP/1.1\r\nHost: h\r\n");
  std::string r = c.response();
  long ms = elapsed_ms(t0);
  EXPECT_EQ(r.substr(0, r.find("\r\n")), "HTTP/1.1 408 Request Timeout") << r;
  EXPECT_NE(r.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_GE(ms, 150);
  EXPECT_LT(ms, 2000);
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_EQ(errors(), std::vector<int>{408});
}

TEST_P(HttpServerTest, IdleTimeoutClosesQuietly) {
  HttpServerOptions o;
  o.idle_timeout = 200;
  start(o);
  Client& c = client();
  c.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.response(), ok_response("GET /a"));
  auto t0 = SteadyClock::now();
  EXPECT_TRUE(c.closed_by_peer());
  long ms = elapsed_ms(t0);
  EXPECT_GE(ms, 150);
  EXPECT_LT(ms, 2000);
  EXPECT_TRUE(c.pending().empty());
  EXPECT_TRUE(errors().empty());
  EXPECT_TRUE(wait_connections(0));
}

TEST_P(HttpServerTest, IdleTimeoutAppliesBeforeFirstRequest) {
  HttpServerOptions o;
  o.idle_timeout = 200;
  start(o);
  Client& c = client();
  auto t0 = SteadyClock::now();
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_GE(elapsed_ms(t0), 150);
}

TEST_P(HttpServerTest, MaxConnectionsRefusesExtraConnections) {
  HttpServerOptions o;
  o.max_connections = 1;
  start(o);
  Client& first = client();
  first.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(first.response(), ok_response("GET /1"));
  Client& second = client();
  EXPECT_TRUE(second.closed_by_peer());  // accepted by the kernel, closed at once
  uint64_t accepted = 0;
  on_loop([&] { accepted = server_->accepted(); });
  EXPECT_EQ(accepted, 1u);
  first.close();
  ASSERT_TRUE(wait_connections(0));
  Client& third = client();
  third.send("GET /3 HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(third.response(), ok_response("GET /3"));
}

TEST_P(HttpServerTest, DrainClosesIdleConnectionsAndStopsAccepting) {
  start();
  Client& c = client();
  c.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.response(), ok_response("GET /a"));
  on_loop([&] { server_->begin_drain(); });
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_TRUE(wait_connections(0));
  // The listener is closed: new connections are refused (io_uring may close it a turn later).
  bool refused = false;
  for (int i = 0; i < 100 && !refused; ++i) {
    Client late(port_);
    refused = !late.connected();
    if (!refused) usleep(10000);
  }
  EXPECT_TRUE(refused);
}

TEST_P(HttpServerTest, DrainLetsInFlightPipelinedBatchFinish) {
  HttpServerOptions o;
  start(o, [this](const HttpRequest& r, ResponseWriter& w) {
    // A drain that arrives while this batch is being answered (as SIGTERM handling posts it).
    if (r.path == "/drain") loop_->post([this] { server_->begin_drain(); });
    w.respond(200, "text/plain", r.path);
  });
  Client& c = client();
  c.send(
      "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
      "GET /drain HTTP/1.1\r\nHost: h\r\n\r\n"
      "GET /c HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.response(), ok_response("/a"));
  EXPECT_EQ(c.response(), ok_response("/drain"));
  EXPECT_EQ(c.response(), ok_response("/c"));
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_TRUE(wait_connections(0));
}

TEST_P(HttpServerTest, DrainLetsPartlyReceivedRequestFinish) {
  // begin_drain() promises that in-flight requests finish with Connection: close. A request
  // whose head is still arriving when the drain starts is in flight.
  start();
  Client& c = client();
  c.send("GET /slow HTTP/1.1\r\nHost: h\r\n");
  ASSERT_TRUE(wait_connections(1));
  usleep(100000);  // let the loop read the partial head
  on_loop([&] { server_->begin_drain(); });
  c.send("\r\n");
  EXPECT_EQ(c.response(), ok_response("GET /slow", "Connection: close\r\n"));
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_P(HttpServerTest, ErrorHookSeesEveryRejection) {
  HttpServerOptions o;
  o.limits.max_body_bytes = 4;
  start(o);
  Client& a = client();
  a.send("BREW / HTCPCP/1.0\r\n\r\n");
  EXPECT_EQ(a.response().substr(0, 12), "HTTP/1.1 400");
  Client& b = client();
  b.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n");
  EXPECT_EQ(b.response().substr(0, 12), "HTTP/1.1 413");
  Client& d = client();
  d.send("GET / HTTP/2.0\r\nHost: h\r\n\r\n");
  EXPECT_EQ(d.response().substr(0, 12), "HTTP/1.1 505");
  EXPECT_EQ(errors(), (std::vector<int>{400, 413, 505}));
}

TEST_P(HttpServerTest, HandlerThatDoesNotRespondGets500) {
  start({}, [](const HttpRequest&, ResponseWriter&) {});
  Client& c = client();
  c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  const std::string body = "{\"error\":\"no response\"}\n";
  EXPECT_EQ(c.response(),
            "HTTP/1.1 500 Internal Server Error\r\nDate: X\r\nContent-Type: "
            "application/json\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\nX-Test: 1\r\n\r\n" + body);
}

// Destroying a server on a running loop while a connection is busy (a head half received)
// must close that connection, not leave its socket and timer pointing at freed memory.
TEST_P(HttpServerTest, DestroyingServerWithBusyConnectionIsSafe) {
  HttpServerOptions o;
  o.header_timeout = 100;
  start(o);
  Client& c = client();
  c.send("GET / HTTP/1.1\r\nHost: h\r\n");
  ASSERT_TRUE(wait_connections(1));
  usleep(50000);
  on_loop([&] { server_.reset(); });
  // The busy connection was aborted with its server: the client sees the close, and no
  // 408 ever arrives from a timer of the freed connection.
  EXPECT_TRUE(c.closed_by_peer());
  usleep(300000);  // the loop keeps running past the connection's header deadline
  EXPECT_EQ(c.pending(), "");
  bool loop_alive = false;
  on_loop([&] { loop_alive = true; });
  EXPECT_TRUE(loop_alive);
}

void check_big_body(HttpServerTest& t, size_t size) {
  std::atomic<size_t> got{0};
  std::atomic<bool> intact{false};
  std::string payload(size, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  t.start({}, [&](const HttpRequest& r, ResponseWriter& w) {
    if (r.path == "/big") {
      got = r.body.size();
      intact = r.body == payload && r.head.method == "POST" && r.head.host == "h";
    }
    w.respond(200, "text/plain", r.path);
  });
  Client& c = t.client();
  std::string req =
      "POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(payload.size()) +
      "\r\n\r\n" + payload + "GET /after HTTP/1.1\r\nHost: h\r\n\r\n";
  std::thread writer([&] { c.send(req); });
  EXPECT_EQ(c.response(), ok_response("/big"));
  EXPECT_EQ(c.response(), ok_response("/after"));
  writer.join();
  EXPECT_EQ(got.load(), payload.size());
  EXPECT_TRUE(intact.load());
}

RINGWAY_INSTANTIATE_FOR_BACKENDS(HttpServerTest);

}  // namespace
}  // namespace ringway::net
