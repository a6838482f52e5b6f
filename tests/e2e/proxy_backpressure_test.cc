// Proxy e2e: backpressure. A slow client reading a 100 MB response (and a slow upstream reading
// a large upload) must stall the fast side instead of growing the proxy's memory; bytes exact.
#include <errno.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/e2e/proxy_fixture.h"

namespace ringway::e2e {
namespace {

class ProxyBackpressure : public ProxyE2E {
 protected:
  void stalled_client_is_cut_off_without_charging_the_server(bool spliced);
};

// The access-log line of the request with X-Request-Id `id`, once the writer has flushed it
// ("" if none came within the I/O timeout).
std::string log_line_of(const std::string& path, const std::string& id) {
  const base::TimePoint start = base::Clock::now();
  while (base::Clock::now() - start < kIoTimeout) {
    std::ifstream in(path);
    for (std::string l; std::getline(in, l);) {
      if (l.find("\"request_id\":\"" + id + "\"") != std::string::npos) return l;
    }
    ::usleep(20 * 1000);
  }
  return "";
}

// One upstream_response of 300 ms and the access log, for the tests of slow clients.
ProxyConfig slow_client_config(std::vector<std::string> servers, const std::string& limits,
                               const std::string& log_path) {
  ProxyConfig c;
  c.upstreams.push_back(UpstreamSpec("up", std::move(servers),
                                     "outlier: {consecutive_failures: 1, base_ejection: 30s}"));
  c.routes.push_back(RouteSpec("/up/", "up"));
  c.limits = limits;
  c.timeouts = "upstream_response: 300ms";
  c.top_level = "access_log: {path: \"" + log_path + "\", flush: 20ms}\n";
  return c;
}

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kResponseBytes = 100 * kMiB;
// Memory the proxy may gain over its idle baseline while relaying: its own queues are a few
// hundred KiB per direction; this leaves room for allocator and sanitizer slack.
constexpr long kMaxGrowthKib = 64 * 1024;

// Deterministic content so the client can check every byte, not just the count.
char body_byte(uint64_t i) {
  return static_cast<char>('a' + i % 23);
}

void fill(std::string& block, uint64_t offset) {
  for (size_t i = 0; i < block.size(); ++i) block[i] = body_byte(offset + i);
}

// Samples the proxy's RSS at most every 50 ms and keeps the peak.
class RssPeak {
 public:
  explicit RssPeak(const ProxyProcess& proxy) : proxy_(proxy) {}
  long peak() const { return peak_; }
  void sample() {
    const base::TimePoint now = base::Clock::now();
    if (now - last_ < 50) return;
    last_ = now;
    peak_ = std::max(peak_, proxy_.rss_kib());
  }

 private:
  const ProxyProcess& proxy_;
  long peak_ = 0;
  base::TimePoint last_;
};

TEST_P(ProxyBackpressure, SlowClientStallsTheUpstreamAndMemoryStaysBounded) {
  auto upstream_sent = std::make_shared<std::atomic<uint64_t>>(0);
  FakeUpstream& up = start_upstream([upstream_sent](UpstreamConn& c) {
    while (auto req = c.read_request()) {
      if (req->target != "/big") {
        if (!c.send(http_response(200, "warm"))) return;
        continue;
      }
      if (!c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kResponseBytes) +
                  "\r\n\r\n"))
        return;
      std::string block(256 * 1024, '\0');
      for (uint64_t off = 0; off < kResponseBytes; off += block.size()) {
        fill(block, off);
        if (!c.send(block)) return;
        upstream_sent->store(off + block.size());
      }
    }
  });
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  // Warm up the paths a transfer touches, then take the idle baseline.
  auto warm = exchange("GET /up/warm HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(warm && warm->status == 200);
  ::usleep(100000);
  const long baseline = proxy_.rss_kib();
  ASSERT_GT(baseline, 0);

  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  int small = 64 * 1024;
  ::setsockopt(conn.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  ASSERT_TRUE(conn.send("GET /up/big HTTP/1.1\r\nHost: h\r\n\r\n"));
  std::string head;
  ASSERT_TRUE(recv_until(conn.fd(), head, "\r\n\r\n", kIoTimeout)) << head;
  const size_t head_end = head.find("\r\n\r\n") + 4;
  EXPECT_NE(head.find("\r\nContent-Length: " + std::to_string(kResponseBytes) + "\r\n"),
            std::string::npos)
      << head.substr(0, head_end);

  RssPeak rss(proxy_);
  uint64_t received = 0;
  uint64_t mismatches = 0;
  auto consume = [&](const char* p, size_t n) {
    for (size_t i = 0; i < n; ++i) mismatches += p[i] != body_byte(received + i);
    received += n;
  };
  consume(head.data() + head_end, head.size() - head_end);

  // Slow phase: 20 MiB at about 5 MiB/s.
  const base::TimePoint slow_start = base::Clock::now();
  std::string storage(1 << 20, '\0');
  char* buf = storage.data();
  while (received < 20 * kMiB) {
    const base::Millis due = static_cast<base::Millis>(received * 1000 / (5 * kMiB));
    const base::Millis ahead = due - (base::Clock::now() - slow_start);
    if (ahead > 0) ::usleep(static_cast<useconds_t>(std::min<base::Millis>(ahead, 20) * 1000));
    rss.sample();
    ssize_t n = ::recv(conn.fd(), buf, 64 * 1024, MSG_DONTWAIT);
    if (n > 0) consume(buf, static_cast<size_t>(n));
    ASSERT_NE(n, 0) << "proxy closed after " << received << " bytes";
    ASSERT_LT(base::Clock::now() - slow_start, 12000) << "slow phase stalled at " << received;
  }
  // Had the proxy buffered instead of pausing its upstream reads, the upstream would be done.
  const uint64_t sent_when_slow = upstream_sent->load();
  EXPECT_LT(sent_when_slow, received + 40 * kMiB) << "upstream ran ahead of the slow client by "
                                                  << (sent_when_slow - received) / kMiB << " MiB";

  // Fast phase: the rest as quickly as it comes.
  const base::TimePoint fast_start = base::Clock::now();
  while (received < kResponseBytes) {
    rss.sample();
    pollfd p{conn.fd(), POLLIN, 0};
    if (::poll(&p, 1, 1000) < 0) break;
    ssize_t n = ::recv(conn.fd(), buf, storage.size(), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
    if (n > 0) consume(buf, static_cast<size_t>(n));
    ASSERT_LT(base::Clock::now() - fast_start, 15000) << "fast phase stalled at " << received;
  }
  EXPECT_EQ(received, kResponseBytes);
  EXPECT_EQ(mismatches, 0u);
  if (!kSanitizedBuild) {
    EXPECT_LT(rss.peak() - baseline, kMaxGrowthKib)
        << "baseline " << baseline << " KiB, peak " << rss.peak() << " KiB";
  }
  RecordProperty("rss_growth_kib", std::to_string(rss.peak() - baseline));
  RecordProperty("upstream_ahead_kib", std::to_string((sent_when_slow - 20 * kMiB) / 1024));
  ASSERT_EQ(received, kResponseBytes) << "stopping here: the connection is out of sync";
  // Still a working keep-alive connection.
  ASSERT_TRUE(conn.send("GET /up/warm HTTP/1.1\r\nHost: h\r\n\r\n"));
  auto after = conn.read_response(kIoTimeout);
  ASSERT_TRUE(after) << conn.error();
  EXPECT_EQ(after->body, "warm");
}

TEST_P(ProxyBackpressure, SlowUpstreamStallsAnUploadingClient) {
  constexpr uint64_t kUpload = 48 * kMiB;
  auto upstream_read = std::make_shared<std::atomic<uint64_t>>(0);
  auto mismatches = std::make_shared<std::atomic<uint64_t>>(0);
  FakeUpstream& up = start_upstream([upstream_read, mismatches](UpstreamConn& c) {
    std::string data;
    while (data.find("\r\n\r\n") == std::string::npos) {
      std::string more = c.recv_some(kIoTimeout);
      if (more.empty()) return;
      data += more;
    }
    data.erase(0, data.find("\r\n\r\n") + 4);
    uint64_t got = 0;
    const base::TimePoint start = base::Clock::now();
    while (got < kUpload) {
      for (size_t i = 0; i < data.size(); ++i) *mismatches += data[i] != body_byte(got + i);
      got += data.size();
      upstream_read->store(got);
      // Slow for the first 2 s (about 4 MiB/s), then as fast as it comes.
      if (base::Clock::now() - start < 2000) c.sleep(10);
      if (got >= kUpload) break;
      data = c.recv_some(kIoTimeout);
      if (data.empty()) return;
    }
    c.send(http_response(200, "stored " + std::to_string(got)));
  });
  ProxyConfig c = single_route(up.address());
  c.limits = "max_body_bytes: 1073741824";
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));
  ::usleep(100000);
  const long baseline = proxy_.rss_kib();

  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(conn.send("PUT /up/upload HTTP/1.1\r\nHost: h\r\nContent-Length: " +
                        std::to_string(kUpload) + "\r\n\r\n"));
  RssPeak rss(proxy_);
  std::string block(1 << 20, '\0');
  for (uint64_t off = 0; off < kUpload; off += block.size()) {
    fill(block, off);
    ASSERT_TRUE(conn.send(block, 15000)) << conn.error() << " after " << off;
    rss.sample();
  }
  auto r = conn.read_response(15000);
  ASSERT_TRUE(r) << conn.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "stored " + std::to_string(kUpload));
  EXPECT_EQ(upstream_read->load(), kUpload);
  EXPECT_EQ(mismatches->load(), 0u);
  if (!kSanitizedBuild) {
    EXPECT_LT(rss.peak() - baseline, kMaxGrowthKib)
        << "baseline " << baseline << " KiB, peak " << rss.peak();
  }
  RecordProperty("rss_growth_kib", std::to_string(rss.peak() - baseline));
}

// limits.recv_buffer at its largest: each read may deliver 256 KiB, more than a response
// head's room in the upstream buffer and more than the stream bound, in both directions.
TEST_P(ProxyBackpressure, LargestReadBuffersKeepEveryByteBothWaysAndPipelined) {
  constexpr uint64_t kBytes = 8 * kMiB;
  auto mismatches = std::make_shared<std::atomic<uint64_t>>(0);
  FakeUpstream& up = start_upstream([mismatches](UpstreamConn& c) {
    while (auto req = c.read_request()) {
      if (req->method == "PUT") {
        uint64_t bad = 0;
        for (size_t i = 0; i < req->body.size(); ++i) bad += req->body[i] != body_byte(i);
        *mismatches += bad;
        if (!c.send(http_response(200, "stored " + std::to_string(req->body.size())))) return;
      } else if (req->target == "/big") {
        if (!c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kBytes) + "\r\n\r\n")) return;
        std::string block(1 << 20, '\0');
        for (uint64_t off = 0; off < kBytes; off += block.size()) {
          fill(block, off);
          if (!c.send(block)) return;
        }
      } else if (!c.send(http_response(200, "small " + req->target))) {
        return;
      }
    }
  });
  ProxyConfig c = single_route(up.address());
  c.limits = "recv_buffer: 256KiB, max_body_bytes: 1073741824";
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));

  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(conn.send("GET /up/big HTTP/1.1\r\nHost: h\r\n\r\n"));
  auto big = conn.read_response(15000);
  ASSERT_TRUE(big) << conn.error();
  EXPECT_EQ(big->status, 200);
  ASSERT_EQ(big->body.size(), kBytes);
  uint64_t bad = 0;
  for (uint64_t i = 0; i < kBytes; ++i) bad += big->body[i] != body_byte(i);
  EXPECT_EQ(bad, 0u);

  std::string upload(kBytes, '\0');
  fill(upload, 0);
  ASSERT_TRUE(conn.send("PUT /up/store HTTP/1.1\r\nHost: h\r\nContent-Length: " +
                        std::to_string(kBytes) + "\r\n\r\n" + upload, 15000))
      << conn.error();
  auto stored = conn.read_response(15000);
  ASSERT_TRUE(stored) << conn.error();
  EXPECT_EQ(stored->body, "stored " + std::to_string(kBytes));
  EXPECT_EQ(mismatches->load(), 0u);

  // Three requests in one write arrive in one read: each is answered, in order.
  ASSERT_TRUE(conn.send("GET /up/a HTTP/1.1\r\nHost: h\r\n\r\nGET /up/b HTTP/1.1\r\nHost: h\r\n\r\n"
                        "GET /up/c HTTP/1.1\r\nHost: h\r\n\r\n"));
  for (const char* name : {"/a", "/b", "/c"}) {
    auto r = conn.read_response(kIoTimeout);
    ASSERT_TRUE(r) << conn.error();
    EXPECT_EQ(r->body, std::string("small ") + name);
  }
}

// A client that takes nothing holds the proxy's reads of the server paused, and the server
// then looks silent to upstream_response. That silence is the client's: the client is cut
// off (DS in the access log) and the server is not charged with a failure, which with
// consecutive_failures: 1 would eject it. Both paths: copied (splice_min: 0) and spliced.
void ProxyBackpressure::stalled_client_is_cut_off_without_charging_the_server(bool spliced) {
  const UpstreamScript serve = [](UpstreamConn& c) {
    while (auto req = c.read_request()) {
      if (req->target != "/big") {
        if (!c.send(http_response(200, "small"))) return;
        continue;
      }
      if (!c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(64 * kMiB) + "\r\n\r\n"))
        return;
      const std::string block(256 * 1024, 'b');
      for (uint64_t off = 0; off < 64 * kMiB; off += block.size()) {
        if (!c.send(block)) return;  // the proxy cut the exchange off
      }
    }
  };
  // Two servers: the balancer never ejects the last one, so one server would hide the charge.
  FakeUpstream& a = start_upstream(serve);
  FakeUpstream& b = start_upstream(serve);
  TempDir dir;
  const std::string log_path = dir.path() + "/access.log";
  ASSERT_NO_FATAL_FAILURE(start_proxy(slow_client_config(
      {a.address(), b.address()}, spliced ? "splice_min: 32KiB" : "splice_min: 0", log_path)));

  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  int rcvbuf = 1 << 20;  // so 64 MiB cannot fit in socket buffers, whatever tcp_rmem allows
  ::setsockopt(conn.fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  ASSERT_TRUE(conn.send("GET /up/big HTTP/1.1\r\nHost: h\r\nX-Request-Id: stalled-1\r\n\r\n"));
  // Read nothing until the proxy has logged the request's end: reading would be progress.
  const std::string line = log_line_of(log_path, "stalled-1");
  EXPECT_NE(line.find("\"flags\":\"DS\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"status\":200"), std::string::npos) << line;
  std::string got;
  ASSERT_TRUE(conn.wait_closed(kIoTimeout, &got)) << "the proxy kept a client that read nothing";
  EXPECT_LT(got.size(), 64 * kMiB) << "the whole body fitted in the socket buffers: no stall";

  const std::string m = scrape();
  for (const FakeUpstream* server : {&a, &b}) {
    EXPECT_EQ(sample_value(m, "ringway_upstream_ejections_total",
                           {{"upstream", "up"}, {"server", server->address()}}),
              std::optional<double>(0))
        << "a slow client ejected a healthy server";
  }
  if (spliced) {
    EXPECT_GT(ProxyProcess::value(m, "ringway_response_bytes_spliced_total"), 0);
  }
  auto next = exchange("GET /up/small HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(next->body, "small");
}

TEST_P(ProxyBackpressure, AStalledClientIsCutOffWithoutChargingTheServerCopied) {
  stalled_client_is_cut_off_without_charging_the_server(false);
}

TEST_P(ProxyBackpressure, AStalledClientIsCutOffWithoutChargingTheServerSpliced) {
  stalled_client_is_cut_off_without_charging_the_server(true);
}

// The other side of that rule, on the copy path: a client that keeps taking bytes, only
// slower than the server sends them, holds the server's reads paused for longer than
// upstream_response at a time, and still gets the whole body. With a 4 MiB stream_buffer one
// send to a client reading 8 MiB/s lasts half a second, longer than the timeout: progress
// must be seen inside a send, not only at its end. (The body outgrows the kernel's socket
// buffers, up to tcp_wmem's 4 MiB on the proxy's side, so the pauses do happen.)
TEST_P(ProxyBackpressure, AClientThatKeepsReadingSlowlyIsNotCutOff) {
  constexpr uint64_t kBody = 16 * kMiB;
  // Built before the proxy starts: under the sanitizers filling 16 MiB takes longer than
  // the 300 ms the server has for its response head.
  auto response = std::make_shared<std::string>("HTTP/1.1 200 OK\r\nContent-Length: " +
                                                std::to_string(kBody) + "\r\n\r\n");
  const size_t head_size = response->size();
  response->resize(head_size + kBody);
  for (uint64_t i = 0; i < kBody; ++i) (*response)[head_size + i] = body_byte(i);
  FakeUpstream& up = start_upstream([response](UpstreamConn& c) {
    while (auto req = c.read_request()) {
      if (!c.send(*response)) return;
    }
  });
  TempDir dir;
  const std::string log_path = dir.path() + "/access.log";
  ASSERT_NO_FATAL_FAILURE(start_proxy(
      slow_client_config({up.address()}, "splice_min: 0, stream_buffer: 4MiB", log_path)));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  int rcvbuf = 128 * 1024;
  ::setsockopt(conn.fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  ASSERT_TRUE(conn.send("GET /up/slow HTTP/1.1\r\nHost: h\r\nX-Request-Id: slow-1\r\n\r\n"));
  // Up to 800 KiB every 100 ms: about 8 MiB/s.
  std::string got;
  size_t body_at = std::string::npos;
  std::string buf(64 * 1024, '\0');
  const base::TimePoint start = base::Clock::now();
  bool closed = false;
  while (!closed && base::Clock::now() - start < 20000) {
    for (size_t tick = 0; tick < 800 * 1024;) {
      const ssize_t n = ::recv(conn.fd(), buf.data(), buf.size(), MSG_DONTWAIT);
      if (n == 0) closed = true;
      if (n <= 0) break;
      got.append(buf.data(), static_cast<size_t>(n));
      tick += static_cast<size_t>(n);
    }
    if (body_at == std::string::npos && got.find("\r\n\r\n") != std::string::npos) {
      body_at = got.find("\r\n\r\n") + 4;
    }
    if (body_at != std::string::npos && got.size() >= body_at + kBody) break;
    ::usleep(100 * 1000);
  }
  ASSERT_NE(body_at, std::string::npos) << got.substr(0, 200);
  EXPECT_EQ(got.size() - body_at, kBody) << "cut off after " << base::Clock::now() - start << " ms";
  EXPECT_GT(base::Clock::now() - start, 900) << "read in under three timeouts: no test";
  const std::string line = log_line_of(log_path, "slow-1");
  EXPECT_NE(line.find("\"flags\":\"\""), std::string::npos) << line;
}

RINGWAY_PROXY_BACKENDS(ProxyBackpressure);

}  // namespace
}  // namespace ringway::e2e
