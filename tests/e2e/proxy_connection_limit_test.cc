// Proxy e2e: upstream max_connections with the request queue. A 2,000-client burst at a small
// thread-per-connection upstream is answered in full while the upstream never holds more than
// the limit (two workers share it); a full queue and an expired wait answer 503 + Retry-After;
// a reload changes the limit under queued requests; a recovering server ramps up (slow start).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/proxy_fixture.h"
#include "tests/e2e/threaded_upstream.h"

namespace ringway::e2e {
namespace {

using ProxyConnectionLimit = ProxyE2E;

struct BurstResult {
  int ok = 0, failed = 0;
  std::vector<int> statuses;
};

// Opens `n` client connections at once, sends one GET on each, then collects every response
// (Connection: close, so the end of each response is the peer's close).
BurstResult burst(int port, int n, const std::string& path, base::Millis timeout) {
  BurstResult r;
  std::vector<int> fds;
  std::vector<std::string> in(static_cast<size_t>(n));
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  for (int i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
      if (fd >= 0) ::close(fd);
      fds.push_back(-1);
      continue;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    fds.push_back(fd);
  }
  const base::TimePoint deadline = base::Clock::now() + timeout;
  size_t open = 0;
  for (int fd : fds) open += fd >= 0;
  std::vector<pollfd> pfds;
  char buf[8192];
  while (open > 0 && base::Clock::now() < deadline) {
    pfds.clear();
    for (int fd : fds) {
      if (fd >= 0) pfds.push_back(pollfd{fd, POLLIN, 0});
    }
    if (poll(pfds.data(), pfds.size(), 100) <= 0) continue;
    for (const pollfd& p : pfds) {
      if (!p.revents) continue;
      const auto i = static_cast<size_t>(std::find(fds.begin(), fds.end(), p.fd) - fds.begin());
      ssize_t got = ::recv(p.fd, buf, sizeof buf, 0);
      if (got > 0) {
        in[i].append(buf, static_cast<size_t>(got));
        continue;
      }
      if (got < 0 && errno == EAGAIN) continue;
      ::close(p.fd);
      fds[i] = -1;
      --open;
    }
  }
  for (size_t i = 0; i < fds.size(); ++i) {
    if (fds[i] >= 0) ::close(fds[i]);
    int status = 0;
    if (in[i].rfind("HTTP/1.1 ", 0) == 0) status = std::atoi(in[i].c_str() + 9);
    r.statuses.push_back(status);
    if (status == 200) {
      ++r.ok;
    } else {
      ++r.failed;
    }
  }
  return r;
}

TEST_P(ProxyConnectionLimit, BurstOf2000IsAnsweredWhileTheUpstreamStaysAtTheLimit) {
  ThreadedUpstream up(20, 128);
  ASSERT_NE(up.port(), 0);
  ProxyConfig cfg = single_route(up.address(), "/up/",
                                 "max_connections: 64, queue: {size: 4000, timeout: 20s}");
  cfg.workers = 2;
  cfg.timeouts = "upstream_response: 30s";
  start_proxy(cfg);
  const int64_t t0 = base::Clock::now_ns();
  const BurstResult r = burst(proxy_.port(), 2000, "/up/x", 50000);
  std::printf("[ burst  ] %s: %d answered 200, %d failed, upstream peak %d connections "
              "(%llu accepted), %.2f s\n",
              io().c_str(), r.ok, r.failed, up.peak(), static_cast<unsigned long long>(up.accepted()),
              static_cast<double>(base::Clock::now_ns() - t0) * 1e-9);
  EXPECT_EQ(r.ok, 2000) << r.failed << " failed";
  EXPECT_LE(up.peak(), 64) << "the upstream held more connections than max_connections ("
                           << up.accepted() << " accepted)";
  EXPECT_GE(up.peak(), 8) << "the limit was never approached: the test proves nothing";
  EXPECT_EQ(up.requests(), 2000u);
  const std::string m = scrape();
  EXPECT_GT(ProxyProcess::value(m, "ringway_upstream_queue_wait_seconds_count", {{"upstream", "up"}}), 0);
  EXPECT_EQ(ProxyProcess::value(m, "ringway_upstream_queue_overflows_total",
                                {{"upstream", "up"}, {"reason", "full"}}), 0);
  EXPECT_EQ(ProxyProcess::value(m, "ringway_upstream_queue_depth", {{"upstream", "up"}}), 0);
  EXPECT_LE(ProxyProcess::value(m, "ringway_upstream_connections",
                                {{"upstream", "up"}, {"server", up.address()}}), 64);
  // Every client connection is gone again.
  expect_delta("ringway_connections_active", {}, 0, 0);
}

TEST_P(ProxyConnectionLimit, FullQueueAndExpiredWaitAnswer503WithRetryAfter) {
  ThreadedUpstream up(1500, 128);
  ASSERT_NE(up.port(), 0);
  start_proxy(single_route(up.address(), "/up/",
                           "max_connections: 1, queue: {size: 1, timeout: 400ms}"));
  // First takes the only slot (1.5 s at the upstream); second waits in the queue.
  std::atomic<int> first_status{0};
  std::thread first([&] { first_status = http_get(proxy_.port(), "/up/a", {}, 5000).status; });
  const base::TimePoint t0 = base::Clock::now();
  while (up.requests() == 0 && base::Clock::now() - t0 < 3000) usleep(5000);
  ASSERT_EQ(up.requests(), 1u);
  RawConnection waiting;
  ASSERT_TRUE(waiting.connect(proxy_.port()));
  ASSERT_TRUE(waiting.send("GET /up/b HTTP/1.1\r\nHost: x\r\n\r\n"));
  // Wait until it is queued, then a third overflows at once.
  const base::TimePoint t1 = base::Clock::now();
  while (ProxyProcess::value(scrape(), "ringway_upstream_queue_depth", {{"upstream", "up"}}) < 1 &&
         base::Clock::now() - t1 < 2000) {
    usleep(5000);
  }
  RawConnection third;
  ASSERT_TRUE(third.connect(proxy_.port()));
  ASSERT_TRUE(third.send("GET /up/c HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto overflow = third.read_response(2000);
  ASSERT_TRUE(overflow) << third.error();
  expect_error_response(*overflow, 503);
  EXPECT_EQ(overflow->header("Retry-After"), "1");
  EXPECT_NE(overflow->body.find("queue is full"), std::string::npos) << overflow->body;

  auto expired = waiting.read_response(3000);
  ASSERT_TRUE(expired) << waiting.error();
  expect_error_response(*expired, 503);
  EXPECT_EQ(expired->header("Retry-After"), "1");
  EXPECT_NE(expired->body.find("queue timeout"), std::string::npos) << expired->body;
  first.join();
  EXPECT_EQ(first_status.load(), 200);
  EXPECT_EQ(up.peak(), 1);

  const std::string m = scrape();
  EXPECT_EQ(ProxyProcess::value(m, "ringway_upstream_queue_overflows_total",
                                {{"upstream", "up"}, {"reason", "full"}}), 1);
  EXPECT_EQ(ProxyProcess::value(m, "ringway_upstream_queue_overflows_total",
                                {{"upstream", "up"}, {"reason", "timeout"}}), 1);
  EXPECT_EQ(ProxyProcess::value(m, "ringway_proxy_errors_total",
                                {{"source", "upstream"}, {"reason", "503"}}), 2);
  EXPECT_EQ(ProxyProcess::value(m, "ringway_upstream_queue_wait_seconds_count", {{"upstream", "up"}}), 1);
}

TEST_P(ProxyConnectionLimit, ReloadRaisesTheLimitWithoutDroppingQueuedRequests) {
  ThreadedUpstream up(400, 128);
  ASSERT_NE(up.port(), 0);
  ProxyConfig cfg = single_route(up.address(), "/up/",
                                 "max_connections: 1, queue: {size: 100, timeout: 20s}");
  start_proxy(cfg);
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 6; ++i) {
    clients.emplace_back([&] { ok += http_get(proxy_.port(), "/up/r", {}, 15000).status == 200; });
  }
  const base::TimePoint t0 = base::Clock::now();
  while (ProxyProcess::value(scrape(), "ringway_upstream_queue_depth", {{"upstream", "up"}}) < 5 &&
         base::Clock::now() - t0 < 3000) {
    usleep(5000);
  }
  ASSERT_EQ(ProxyProcess::value(scrape(), "ringway_upstream_queue_depth", {{"upstream", "up"}}), 5);
  cfg.upstreams[0].extra = "max_connections: 6, queue: {size: 100, timeout: 20s}";
  ASSERT_TRUE(proxy_.write_config(cfg.to_yaml()));
  ASSERT_TRUE(proxy_.reload()) << proxy_.log();
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(ok.load(), 6);
  // After the reload the queued requests ran side by side, not one at a time (6 x 400 ms).
  EXPECT_GE(up.peak(), 3);
  EXPECT_LE(up.peak(), 6);
  auto st = http_get(proxy_.admin_port(), "/status");
  ASSERT_EQ(st.status, 200);
  EXPECT_NE(st.body.find("\"max_connections\":6"), std::string::npos) << st.body;
  EXPECT_NE(st.body.find("\"connection_limit\":6"), std::string::npos) << st.body;
}

TEST_P(ProxyConnectionLimit, RecoveredServerRampsUpUnderLoad) {
  ThreadedUpstream steady(2, 128);
  ThreadedUpstream back(2, 128);
  ASSERT_NE(steady.port(), 0);
  ASSERT_NE(back.port(), 0);
  back.set_healthy(false);
  ProxyConfig cfg;
  UpstreamSpec u("up", {steady.address(), back.address()},
                 "balance: round_robin, slow_start: 3s, outlier: {consecutive_failures: 0}");
  u.health_check = "{path: /ping, interval: 100ms, timeout: 100ms, healthy_threshold: 1, unhealthy_threshold: 1}";
  cfg.upstreams.push_back(u);
  cfg.routes.push_back(RouteSpec("/up/", "up"));
  start_proxy(cfg);
  // Until the health checker marks `back` down, it may take a request or two (503 then).
  usleep(400000);
  std::atomic<bool> stop{false};
  std::vector<std::thread> load;
  for (int i = 0; i < 4; ++i) {
    load.emplace_back([&] {
      RawConnection c;
      if (!c.connect(proxy_.port())) return;
      while (!stop) {
        if (!c.send("GET /up/l HTTP/1.1\r\nHost: x\r\n\r\n") || !c.read_response(3000)) return;
      }
    });
  }
  usleep(300000);
  back.set_healthy(true);
  usleep(4500000);  // the 3 s window and more
  stop = true;
  for (std::thread& t : load) t.join();
  const std::vector<base::Millis> b = back.ok_times();
  const std::vector<base::Millis> s = steady.ok_times();
  ASSERT_FALSE(b.empty());
  // `back`'s first 200 is (within one health interval) where its slow start began.
  const base::Millis start = b.front();
  auto count = [](const std::vector<base::Millis>& v, base::Millis from, base::Millis to) {
    return static_cast<double>(std::count_if(v.begin(), v.end(), [&](base::Millis t) {
      return t >= from && t < to;
    }));
  };
  const double early_b = count(b, start, start + 600), early_s = count(s, start, start + 600);
  const double late_b = count(b, start + 3200, start + 4200), late_s = count(s, start + 3200, start + 4200);
  ASSERT_GT(early_b + early_s, 20);
  ASSERT_GT(late_b + late_s, 20);
  const double early_share = early_b / (early_b + early_s);
  const double late_share = late_b / (late_b + late_s);
  // Round robin alone would give it half from the first moment.
  EXPECT_LT(early_share, 0.25) << "early " << early_share << " late " << late_share;
  EXPECT_GT(late_share, 0.35) << "early " << early_share << " late " << late_share;
}

RINGWAY_PROXY_BACKENDS(ProxyConnectionLimit);

}  // namespace
}  // namespace ringway::e2e
