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

#include "tests/e2e/proxy_fixture.h"

namespace ringway::e2e {
namespace {

class ProxyBackpressure : public ProxyE2E {
 protected:
  void stalled_client_is_cut_off_without_charging_the_server(const std::string& limits);
};

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
void ProxyBackpressure::stalled_client_is_cut_off_without_charging_the_server(
    const std::string& limits) {
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
  ProxyConfig c;
  c.upstreams.push_back(UpstreamSpec("up", {a.address(), b.address()},
                                     "outlier: {consecutive_failures: 1, base_ejection: 30s}"));
  c.routes.push_back(RouteSpec("/up/", "up"));
  c.limits = limits;
  c.timeouts = "upstream_response: 300ms";
  c.top_level = "access_log: {path: \"" + log_path + "\", flush: 20ms}\n";
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));

  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(conn.send("GET /up/big HTTP/1.1\r\nHost: h\r\nX-Request-Id: stalled-1\r\n\r\n"));
  ::usleep(1500 * 1000);  // read nothing: five timeouts' worth
  std::string got;
  ASSERT_TRUE(conn.wait_closed(kIoTimeout, &got)) << "the proxy kept a client that read nothing";
  EXPECT_LT(got.size(), 64 * kMiB) << "the whole body fitted in the socket buffers: no stall";

  std::string line;
  const base::TimePoint start = base::Clock::now();
  while (line.empty() && base::Clock::now() - start < kIoTimeout) {
    std::ifstream in(log_path);
    for (std::string l; std::getline(in, l);) {
      if (l.find("\"request_id\":\"stalled-1\"") != std::string::npos) line = l;
    }
    if (line.empty()) ::usleep(20 * 1000);
  }
  EXPECT_NE(line.find("\"flags\":\"DS\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"status\":200"), std::string::npos) << line;

  const std::string m = scrape();
  for (const FakeUpstream* server : {&a, &b}) {
    EXPECT_EQ(sample_value(m, "ringway_upstream_ejections_total",
                           {{"upstream", "up"}, {"server", server->address()}}),
              std::optional<double>(0))
        << "a slow client ejected a healthy server";
  }
  auto next = exchange("GET /up/small HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(next->body, "small");
}

TEST_P(ProxyBackpressure, AStalledClientIsCutOffWithoutChargingTheServerCopied) {
  stalled_client_is_cut_off_without_charging_the_server("splice_min: 0");
}

TEST_P(ProxyBackpressure, AStalledClientIsCutOffWithoutChargingTheServerSpliced) {
  stalled_client_is_cut_off_without_charging_the_server("splice_min: 32KiB");
}

RINGWAY_PROXY_BACKENDS(ProxyBackpressure);

}  // namespace
}  // namespace ringway::e2e
