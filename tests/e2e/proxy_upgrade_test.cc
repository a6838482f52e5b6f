// Proxy e2e: protocol upgrades. The 101 tunnel carries bytes both ways (early bytes, server
// close), and a declined upgrade never leaves the client on a half-switched connection.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/e2e/proxy_fixture.h"

namespace ringway::e2e {
namespace {

using ProxyUpgrade = ProxyE2E;

TEST_P(ProxyUpgrade, TunnelCarriesBytesBothWays) {
  FakeUpstream& up = start_upstream([](UpstreamConn& c) {
    auto req = c.read_request();
    if (!req) return;
    if (req->header("Upgrade") != "websocket") {
      c.send(http_response(400, "no upgrade"));
      return;
    }
    // The 101 and the first server frame in one write: both must reach the client.
    if (!c.send(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            "server-hello")) {
      return;
    }
    for (;;) {
      std::string bytes = c.recv_some(10000);
      if (bytes.empty() || !c.send(bytes)) return;
    }
  });
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(conn.send(
      "GET /up/ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
  std::string got;
  ASSERT_TRUE(recv_until(conn.fd(), got, "server-hello", kIoTimeout)) << got;
  const size_t head_end = got.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos);
  const std::string head = got.substr(0, head_end + 4);
  EXPECT_EQ(head.rfind("HTTP/1.1 101 ", 0), 0u) << head;
  EXPECT_NE(head.find("\r\nUpgrade: websocket\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nConnection: upgrade\r\n"), std::string::npos) << head;
  EXPECT_EQ(got.substr(head_end + 4), "server-hello");

  ASSERT_EQ(up.request_count(), 1u);
  const ReceivedRequest req = up.requests()[0];
  EXPECT_EQ(req.header("Upgrade"), "websocket");
  EXPECT_EQ(req.header("Connection"), "upgrade");
  EXPECT_EQ(req.header("Sec-WebSocket-Key"), "dGhlIHNhbXBsZSBub25jZQ==");

  // Small and large messages echo back byte for byte.
  std::string big(1 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31 + 7);
  for (const std::string& msg : {std::string("ping-1"), std::string("\0binary\xff", 8), big}) {
    ASSERT_TRUE(conn.send(msg)) << conn.error();
    std::string echo;
    EXPECT_TRUE(recv_at_least(conn.fd(), echo, msg.size(), kIoTimeout));
    ASSERT_EQ(echo.size(), msg.size());
    EXPECT_TRUE(echo == msg);
  }
}

TEST_P(ProxyUpgrade, EarlyClientBytesAndServerCloseCrossTheTunnel) {
  // Bytes the client sends right behind its upgrade request reach the server after the 101;
  // the server closing the tunnel closes the client side after its last bytes.
  FakeUpstream& up = start_upstream([](UpstreamConn& c) {
    if (!c.read_request()) return;
    if (!c.send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: upgrade\r\n\r\n"))
      return;
    std::string early;
    while (early.size() < 11) {
      std::string more = c.recv_some(kIoTimeout);
      if (more.empty()) break;
      early += more;
    }
    c.send("got:" + early + ":bye");
    c.close();
  });
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(
      conn.send("GET /up/t HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n"
                "early-bytes"));
  std::string all;
  EXPECT_TRUE(conn.wait_closed(kIoTimeout, &all)) << conn.error();
  const size_t head_end = all.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << all;
  EXPECT_EQ(all.rfind("HTTP/1.1 101 ", 0), 0u) << all;
  EXPECT_EQ(all.substr(head_end + 4), "got:early-bytes:bye");
}

TEST_P(ProxyUpgrade, DeclinedUpgradeLeavesAUsableOrClosedConnection) {
  // The server answers the upgrade request with a plain 200: no tunnel. The client must not
  // be left on a connection whose next request is misread as tunnel data.
  FakeUpstream& up =
      start_upstream(serve([](const ReceivedRequest& r) { return http_response(200, r.target); }));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(conn.send(
      "GET /up/ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"));
  auto declined = conn.read_response(kIoTimeout);
  ASSERT_TRUE(declined) << conn.error();
  EXPECT_EQ(declined->status, 200);
  EXPECT_EQ(declined->body, "/ws");
  if (declined->header("Connection") == "close") {
    EXPECT_TRUE(conn.wait_closed(kIoTimeout)) << conn.error();
    return;
  }
  ASSERT_TRUE(conn.send("GET /up/next HTTP/1.1\r\nHost: h\r\n\r\n"));
  auto next = conn.read_response(kIoTimeout);
  ASSERT_TRUE(next) << conn.error();
  EXPECT_EQ(next->status, 200) << next->body;
  EXPECT_EQ(next->body, "/next");
}

// A tunnel owes no response, so upstream_response does not apply to it: the server may take
// longer than that to answer a message. Its bound is client_idle with no bytes either way,
// counted from the last byte, not from the 101.
TEST_P(ProxyUpgrade, ATunnelLivesWhileBytesCrossItAndClosesAfterClientIdleWithout) {
  FakeUpstream& up = start_upstream([](UpstreamConn& c) {
    if (!c.read_request()) return;
    if (!c.send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: upgrade\r\n\r\n"))
      return;
    for (;;) {
      std::string bytes = c.recv_some(10000);
      if (bytes.empty()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));  // > upstream_response
      if (!c.send(bytes)) return;
    }
  });
  ProxyConfig c = single_route(up.address());
  c.timeouts = "client_idle: 600ms, upstream_response: 200ms";
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(conn.send("GET /up/ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"));
  std::string got;
  ASSERT_TRUE(recv_until(conn.fd(), got, "\r\n\r\n", kIoTimeout)) << got;
  ASSERT_EQ(got.rfind("HTTP/1.1 101 ", 0), 0u) << got;
  got.erase(0, got.find("\r\n\r\n") + 4);
  // Five messages, each answered 300 ms late, 250 ms apart: 2.75 s of tunnel, more than four
  // times client_idle, with no gap in traffic longer than half of it.
  const base::TimePoint start = base::Clock::now();
  for (int i = 0; i < 5; ++i) {
    const std::string msg = "message-" + std::to_string(i);
    ASSERT_TRUE(conn.send(msg)) << "round " << i << ": " << conn.error();
    std::string echo = std::move(got);
    got.clear();
    ASSERT_TRUE(recv_at_least(conn.fd(), echo, msg.size(), kIoTimeout))
        << "round " << i << " after " << base::Clock::now() - start << " ms: the tunnel closed";
    EXPECT_EQ(echo, msg);
    if (i < 4) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  // Then nothing either way: closed once client_idle has passed since the last byte.
  const base::TimePoint quiet = base::Clock::now();
  std::string rest;
  ASSERT_TRUE(conn.wait_closed(kIoTimeout, &rest)) << conn.error();
  const base::Millis took = base::Clock::now() - quiet;
  EXPECT_EQ(rest, "");
  EXPECT_GE(took, 450) << "closed before client_idle (600 ms) had passed since the last byte";
  EXPECT_LT(took, 3000);
}

RINGWAY_PROXY_BACKENDS(ProxyUpgrade);

}  // namespace
}  // namespace ringway::e2e
