// Proxy e2e: memory per connection. 10,000 keep-alive clients, each after one proxied request,
// held idle and then all answered again, with the proxy's RSS growth per connection bounded;
// 200 clients reading a huge response slowly with RSS per stream bounded; afterwards open fds
// and ringway_connections_active are back to their baseline.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/e2e/proxy_fixture.h"
#include "tests/e2e/threaded_upstream.h"

namespace ringway::e2e {
namespace {

using ProxyMemory = ProxyE2E;

constexpr int kIdleClients = 10000;
// The target. Measured 0.62 KiB (io_uring) / 0.53 KiB (epoll): between requests a
// connection holds its 336-byte object and the loop's 64-byte socket record; the exchange
// (parser, strings, buffers) and the send/connect op state are lent only while in use.
constexpr double kMaxKibPerIdleConnection = 1.0;
constexpr int kSlowReaders = 200;
// Both backends: io_uring paces upstream receives (one buffer per recv), so a pause stops a
// response after at most one more buffer. Measured 60 KiB (io_uring, its 4 MiB buffer ring
// included) and 40 KiB (epoll) per stream.
constexpr double kMaxKibPerSlowStream = 64.0;

void raise_fd_limit() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;  // the proxy, started after this, inherits it
  setrlimit(RLIMIT_NOFILE, &rl);
}

int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads one "200 ... ok" response (the ThreadedUpstream's body) within 10 s.
bool read_ok(int fd) {
  std::string in;
  char buf[4096];
  const base::TimePoint deadline = base::Clock::now() + 10000;
  while (base::Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    in.append(buf, static_cast<size_t>(n));
    size_t end = in.find("\r\n\r\n");
    if (end != std::string::npos && in.size() >= end + 6) {
      return in.rfind("HTTP/1.1 200", 0) == 0 && in.compare(end + 4, 2, "ok") == 0;
    }
  }
  return false;
}

int open_fds(const std::string& metrics) {
  return static_cast<int>(ProxyProcess::value(metrics, "process_open_fds"));
}

// Closing is asynchronous on the proxy's side: polls until no client connection is left.
double wait_no_connections(ProxyProcess& proxy) {
  const base::TimePoint deadline = base::Clock::now() + kIoTimeout;
  double active = ProxyProcess::value(proxy.scrape(), "ringway_connections_active");
  while (active != 0 && base::Clock::now() < deadline) {
    usleep(20000);
    active = ProxyProcess::value(proxy.scrape(), "ringway_connections_active");
  }
  return active;
}

TEST_P(ProxyMemory, TenThousandIdleConnectionsCostLittleAndStayUsable) {
  raise_fd_limit();
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  ASSERT_GE(rl.rlim_cur, static_cast<rlim_t>(kIdleClients + 1000)) << "hard RLIMIT_NOFILE too low";
  ThreadedUpstream up(0, 128);
  ASSERT_NE(up.port(), 0);
  // The upstream is thread-per-connection: the queue keeps it at 64 threads when all 10,000
  // clients ask at once.
  ProxyConfig cfg = single_route(up.address(), "/up/", "max_connections: 64, queue: {size: 20000, timeout: 30s}");
  cfg.limits = "max_connections: 20000";
  start_proxy(cfg);
  const std::string req = "GET /up/x HTTP/1.1\r\nHost: x\r\n\r\n";
  {  // Warm-up: pools and lazily built state exist before the baseline.
    int fd = connect_loopback(proxy_.port());
    ASSERT_GE(fd, 0);
    for (int i = 0; i < 3; ++i) {
      ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
      ASSERT_TRUE(read_ok(fd));
    }
    ::close(fd);
  }
  ASSERT_EQ(wait_no_connections(proxy_), 0);
  const int fds_before = open_fds(scrape());
  const long rss_before = proxy_.rss_kib();
  std::vector<int> fds;
  for (int i = 0; i < kIdleClients; i += 500) {
    const size_t first = fds.size();
    for (int k = 0; k < 500; ++k) {
      int fd = connect_loopback(proxy_.port());
      ASSERT_GE(fd, 0) << "client " << i + k << ": " << strerror(errno);
      ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
      fds.push_back(fd);
    }
    for (size_t k = first; k < fds.size(); ++k) ASSERT_TRUE(read_ok(fds[k])) << "client " << k;
  }
  usleep(500000);
  const long rss_idle = proxy_.rss_kib();
  const double per_conn = static_cast<double>(rss_idle - rss_before) / kIdleClients;
  std::printf("[ memory ] %s: %d idle connections, RSS %ld -> %ld KiB, %.2f KiB per connection\n",
              io().c_str(), kIdleClients, rss_before, rss_idle, per_conn);
  if (!kSanitizedBuild) {
    EXPECT_LE(per_conn, kMaxKibPerIdleConnection);
  }
  EXPECT_EQ(ProxyProcess::value(scrape(), "ringway_connections_active"), kIdleClients);
  // All of them answered again: send on every connection, then read every response.
  for (int fd : fds) {
    ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  }
  int answered = 0;
  for (int fd : fds) answered += read_ok(fd) ? 1 : 0;
  EXPECT_EQ(answered, kIdleClients);
  for (int fd : fds) ::close(fd);
  EXPECT_EQ(wait_no_connections(proxy_), 0);
  // Client sockets are all closed; the upstream keep-alive pool may now hold up to
  // max_connections (64) connections where the baseline had one.
  const base::TimePoint deadline = base::Clock::now() + kIoTimeout;
  while (open_fds(scrape()) > fds_before + 64 && base::Clock::now() < deadline) usleep(20000);
  EXPECT_LE(open_fds(scrape()), fds_before + 64);
}

TEST_P(ProxyMemory, SlowReadersOfAHugeResponseHaveBoundedMemory) {
  raise_fd_limit();
  // Declares 500 MB and writes until the proxy stops reading (or the client goes away).
  FakeUpstream& up = start_upstream([](UpstreamConn& c) {
    if (!c.read_request()) return;
    if (!c.send("HTTP/1.1 200 OK\r\nContent-Length: 524288000\r\n\r\n")) return;
    const std::string block(65536, 'x');
    for (uint64_t sent = 0; sent < 524288000; sent += block.size()) {
      if (!c.send(block)) return;
    }
  });
  start_proxy(single_route(up.address()));
  const int fds_before = open_fds(scrape());
  const long rss_before = proxy_.rss_kib();
  std::vector<int> fds;
  const std::string req = "GET /up/big HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < kSlowReaders; ++i) {
    int fd = connect_loopback(proxy_.port());
    ASSERT_GE(fd, 0);
    int small = 16384;  // a slow reader's small window, so the proxy feels it soon
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
    fds.push_back(fd);
  }
  // Read slowly: a few KiB per client per round, and track the peak RSS meanwhile.
  long peak = 0;
  uint64_t got = 0;
  char buf[4096];
  for (int round = 0; round < 20; ++round) {
    for (int fd : fds) {
      ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) got += static_cast<uint64_t>(n);
    }
    usleep(100000);
    peak = std::max(peak, proxy_.rss_kib());
  }
  const double per_stream = static_cast<double>(peak - rss_before) / kSlowReaders;
  std::printf("[ memory ] %s: %d slow readers, RSS %ld -> peak %ld KiB, %.1f KiB per stream, "
              "%llu bytes read\n",
              io().c_str(), kSlowReaders, rss_before, peak, per_stream,
              static_cast<unsigned long long>(got));
  EXPECT_GT(got, static_cast<uint64_t>(kSlowReaders) * 4096) << "the responses did not flow";
  if (!kSanitizedBuild) {
    EXPECT_LE(per_stream, kMaxKibPerSlowStream);
  }
  for (int fd : fds) ::close(fd);
  EXPECT_EQ(wait_no_connections(proxy_), 0);
  const base::TimePoint deadline = base::Clock::now() + kIoTimeout;
  while (open_fds(scrape()) > fds_before + 2 && base::Clock::now() < deadline) usleep(20000);
  EXPECT_LE(open_fds(scrape()), fds_before + 2);
}

RINGWAY_PROXY_BACKENDS(ProxyMemory);

}  // namespace
}  // namespace ringway::e2e
