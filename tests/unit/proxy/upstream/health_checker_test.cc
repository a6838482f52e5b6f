// Tests for proxy/upstream/health_*: real loopback servers (answering a status, hanging, or a closed
// port) probed at 50 ms intervals; state flips, counters, reload and DNS changes via published
// snapshots.
#include "proxy/upstream/health_checker.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "metrics/registry.h"
#include "proxy/upstream/resolver.h"
#include "tests/unit/net/backend_param.h"

namespace ringway::proxy {
namespace {

using Clock = std::chrono::steady_clock;

int bound_socket(const char* ip, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip, &a.sin_addr);
  EXPECT_EQ(0, ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a));
  return fd;
}

int port_of(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// A blocking one-thread HTTP server: reads a request head, answers `status` with an empty body
// and closes; status 0 = hang (read the request, never answer); set_raw() = send these bytes.
class TestServer {
 public:
  explicit TestServer(int status, const char* ip = "127.0.0.1", int port = 0) : status_(status) {
    fd_ = bound_socket(ip, port);
    EXPECT_EQ(0, ::listen(fd_, 64));
    port_ = port_of(fd_);
    thread_ = std::thread([this] { run(); });
  }
  ~TestServer() {
    stop_ = true;
    thread_.join();
    for (int fd : held_) ::close(fd);
    ::close(fd_);
  }
  int port() const { return port_; }
  void set_status(int status) { status_ = status; }  // 0 = hang
  void set_raw(std::string bytes) {                  // "" = close without answering
    std::lock_guard<std::mutex> lock(mu_);
    raw_ = std::move(bytes);
    status_ = kRaw;
  }
  int connections() const { return connections_; }
  std::string last_request() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_request_;
  }

 private:
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 10) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++connections_;
      timeval tv{0, 200000};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      std::string response;
      const int status = status_;
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_request_ = request;
        response = raw_;
      }
      if (status == 0) {
        held_.push_back(c);
        continue;
      }
      if (status != kRaw) {
        response = "HTTP/1.1 " + std::to_string(status) +
                   " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      }
      (void)!::write(c, response.data(), response.size());
      ::close(c);
    }
  }

  static constexpr int kRaw = -1;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> status_;
  std::atomic<int> connections_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::string last_request_;
  std::string raw_;
  std::vector<int> held_;
  std::thread thread_;
};

HealthCheckConfig fast_checks(int healthy_threshold, int unhealthy_threshold) {
  HealthCheckConfig hc;
  hc.path = "/ping";
  hc.interval = 50;
  hc.timeout = 30;
  hc.healthy_threshold = healthy_threshold;
  hc.unhealthy_threshold = unhealthy_threshold;
  return hc;
}

UpstreamConfig upstream(std::string name, std::vector<net::HostPort> servers,
                        HealthCheckConfig hc) {
  UpstreamConfig u;
  u.name = std::move(name);
  u.servers = std::move(servers);
  u.health_check = hc;
  u.resolve_every = 50;
  return u;
}

std::shared_ptr<const Config> make_config(std::vector<UpstreamConfig> upstreams) {
  auto c = std::make_shared<Config>();
  c->upstreams = std::move(upstreams);
  return c;
}

net::HostPort local(int port) {
  return {"127.0.0.1", static_cast<uint16_t>(port)};
}
std::string label(int port) {
  return "127.0.0.1:" + std::to_string(port);
}

class HostsFile {
 public:
  HostsFile() : path_(::testing::TempDir() + "ringway_hosts_" + std::to_string(getpid())) {
    setenv(kHostsFileEnv, path_.c_str(), 1);
  }
  ~HostsFile() { std::remove(path_.c_str()); }
  // Replaces the file atomically so a concurrent reader sees the old or the new content.
  void write(const std::string& text) {
    const std::string tmp = path_ + ".tmp";
    std::ofstream(tmp) << text;
    ASSERT_EQ(0, std::rename(tmp.c_str(), path_.c_str()));
  }

 private:
  std::string path_;
};

class HealthCheckerTest : public ::testing::TestWithParam<net::IoMode> {
 protected:
  void TearDown() override {
    checker_.reset();  // before the hosts file goes: names must not reach real DNS
    hosts_.reset();
    unsetenv(kHostsFileEnv);
  }

  void start(std::shared_ptr<const Config> config) {
    checker_ = std::make_unique<HealthChecker>(metrics_, [this](HealthSnapshotPtr s) {
      std::lock_guard<std::mutex> lock(mu_);
      published_.push_back(s);
      watched_.push_back(watch_ ? watch_() : 0);
      cv_.notify_all();
    });
    std::string error;
    ASSERT_TRUE(checker_->start(std::move(config), GetParam(), &error)) << error;
    ASSERT_EQ(1u, published_count());
  }

  // Thread-safe views of what the Publish callback recorded.
  size_t published_count() {
    std::lock_guard<std::mutex> lock(mu_);
    return published_.size();
  }
  HealthSnapshotPtr snap(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return i < published_.size() ? published_[i] : nullptr;
  }
  uint64_t watched(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return i < watched_.size() ? watched_[i] : 0;
  }

  // Waits up to 2 s for a published snapshot at index >= from satisfying `pred`.
  // Returns: the first such index, or -1.
  int wait_for(const std::function<bool(const HealthSnapshot&)>& pred, size_t from = 0) {
    std::unique_lock<std::mutex> lock(mu_);
    int found = -1;
    cv_.wait_for(lock, std::chrono::seconds(2), [&] {
      for (size_t i = from; i < published_.size() && found < 0; ++i) {
        if (pred(*published_[i])) found = static_cast<int>(i);
      }
      return found >= 0;
    });
    return found;
  }

  uint64_t checks(const std::string& up, const std::string& server, const char* result) {
    return metrics_.health_checks.with({up, server, result}).value();
  }
  bool has_gauge(const std::string& server) {
    for (const auto& m : metrics_.server_healthy.collect().metric) {
      for (const auto& l : m.label) {
        if (l.name == "server" && l.value == server) return true;
      }
    }
    return false;
  }
  // Polls `pred` for up to 2 s.
  static bool eventually(const std::function<bool()>& pred) {
    const auto end = Clock::now() + std::chrono::seconds(2);
    while (!pred()) {
      if (Clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  metrics::Registry registry_{1};
  ProxyMetrics metrics_{registry_};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<HealthSnapshotPtr> published_;
  std::vector<uint64_t> watched_;     // watch_() at each publish
  std::function<uint64_t()> watch_;   // set before start()
  std::unique_ptr<HostsFile> hosts_;  // set by tests that resolve names
  std::unique_ptr<HealthChecker> checker_;
};

TEST_P(HealthCheckerTest, HealthyServerStaysHealthyAndCountsSuccesses) {
  TestServer server(200);
  start(make_config({upstream("svc", {local(server.port())}, fast_checks(2, 2))}));
  EXPECT_EQ(1u, snap(0)->generation);
  ASSERT_EQ(1u, snap(0)->upstreams.size());
  ASSERT_EQ(1u, snap(0)->upstreams[0].servers.size());
  EXPECT_EQ(label(server.port()), snap(0)->upstreams[0].servers[0].label);
  EXPECT_EQ(1, snap(0)->upstreams[0].healthy[0]);
  ASSERT_TRUE(eventually([&] { return checks("svc", label(server.port()), "success") >= 4; }));
  EXPECT_EQ(0u, checks("svc", label(server.port()), "failure"));
  EXPECT_EQ(0u, checks("svc", label(server.port()), "timeout"));
  EXPECT_EQ(1.0, metrics_.server_healthy.with({"svc", label(server.port())}).value());
  EXPECT_EQ("GET /ping HTTP/1.1\r\nHost: " + label(server.port()) +
                "\r\nUser-Agent: ringway-health-check\r\nConnection: close\r\n\r\n",
            server.last_request());
  EXPECT_EQ(1u, published_count());  // probes alone publish nothing
  ASSERT_TRUE(eventually([&] { return !checker_->current()->upstreams[0].last_check[0].empty(); }));
  const std::string last = checker_->current()->upstreams[0].last_check[0];
  EXPECT_EQ(0u, last.rfind("200 in ", 0)) << last;
  EXPECT_EQ(" ms", last.substr(last.size() - 3)) << last;
}

TEST_P(HealthCheckerTest, ErrorStatusTurnsUnhealthyAfterExactlyThreshold) {
  TestServer server(500);
  const std::string l = label(server.port());
  watch_ = [&] { return checks("svc", l, "failure"); };
  start(make_config({upstream("svc", {local(server.port())}, fast_checks(2, 3))}));
  const int i = wait_for([](const HealthSnapshot& s) { return s.upstreams[0].healthy[0] == 0; });
  ASSERT_EQ(1, i);
  EXPECT_EQ(3u, watched(1));
  EXPECT_EQ(2u, snap(1)->generation);
  EXPECT_EQ(0u, snap(1)->upstreams[0].last_check[0].rfind("500 in ", 0));
  EXPECT_EQ(0.0, metrics_.server_healthy.with({"svc", l}).value());
  EXPECT_EQ(0u, checks("svc", l, "success"));
  EXPECT_EQ(snap(1), checker_->current());
}

TEST_P(HealthCheckerTest, ClosedPortFailsWithConnectError) {
  const int closed = bound_socket("127.0.0.1", 0);  // bound, not listening: connect is refused
  const int port = port_of(closed);
  start(make_config({upstream("svc", {local(port)}, fast_checks(2, 2))}));
  ASSERT_EQ(1, wait_for([](const HealthSnapshot& s) { return s.upstreams[0].healthy[0] == 0; }));
  EXPECT_EQ("connect: Connection refused", snap(1)->upstreams[0].last_check[0]);
  EXPECT_GE(checks("svc", label(port), "failure"), 2u);
  ::close(closed);
}

TEST_P(HealthCheckerTest, HangingServerTimesOut) {
  TestServer server(0);
  const std::string l = label(server.port());
  watch_ = [&] { return checks("svc", l, "timeout"); };
  start(make_config({upstream("svc", {local(server.port())}, fast_checks(2, 2))}));
  ASSERT_EQ(1, wait_for([](const HealthSnapshot& s) { return s.upstreams[0].healthy[0] == 0; }));
  EXPECT_EQ(2u, watched(1));
  EXPECT_EQ("timeout after 30 ms", snap(1)->upstreams[0].last_check[0]);
  EXPECT_EQ(0u, checks("svc", l, "failure"));
}

TEST_P(HealthCheckerTest, RecoversAfterHealthyThresholdSuccesses) {
  TestServer server(503);
  const std::string l = label(server.port());
  watch_ = [&] { return checks("svc", l, "success"); };
  start(make_config({upstream("svc", {local(server.port())}, fast_checks(3, 2))}));
  ASSERT_EQ(1, wait_for([](const HealthSnapshot& s) { return s.upstreams[0].healthy[0] == 0; }));
  server.set_status(204);
  ASSERT_EQ(2, wait_for([](const HealthSnapshot& s) { return s.upstreams[0].healthy[0] == 1; }, 2));
  EXPECT_EQ(3u, watched(2));
  EXPECT_EQ(3u, snap(2)->generation);
  EXPECT_EQ(0u, snap(2)->upstreams[0].last_check[0].rfind("204 in ", 0));
  EXPECT_EQ(1.0, metrics_.server_healthy.with({"svc", l}).value());
}

TEST_P(HealthCheckerTest, ResponsesAreJudgedByTheirHead) {
  TestServer server(200);
  const std::string l = label(server.port());
  start(make_config({upstream("svc", {local(server.port())}, fast_checks(1, 1000))}));
  auto last_check_is = [&](const std::string& prefix) {
    return eventually(
        [&] { return checker_->current()->upstreams[0].last_check[0].rfind(prefix, 0) == 0; });
  };
  // An interim 1xx is skipped; a 3xx passes (redirects are not followed).
  server.set_raw("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(last_check_is("302 in ")) << checker_->current()->upstreams[0].last_check[0];
  const uint64_t failures = checks("svc", l, "failure");
  server.set_raw("HTTP/1.1 2x0 OK\r\n\r\n");
  ASSERT_TRUE(last_check_is("malformed response: "));
  server.set_raw("");
  ASSERT_TRUE(last_check_is("connection closed before a response head"));
  EXPECT_GT(checks("svc", l, "failure"), failures + 1);
  EXPECT_EQ(1u, checker_->current()->generation);  // below unhealthy_threshold: no flip
}

TEST_P(HealthCheckerTest, DisabledChecksAreAlwaysHealthyAndNeverProbe) {
  TestServer server(500);
  const int closed = bound_socket("127.0.0.1", 0);
  HealthCheckConfig off = fast_checks(1, 1);
  off.enabled = false;
  start(make_config({upstream("svc", {local(server.port()), local(port_of(closed))}, off)}));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(0, server.connections());
  const HealthSnapshotPtr now = checker_->current();
  EXPECT_EQ(1u, now->generation);
  EXPECT_EQ((std::vector<uint8_t>{1, 1}), now->upstreams[0].healthy);
  EXPECT_TRUE(metrics_.health_checks.collect().metric.empty());
  EXPECT_EQ(1.0, metrics_.server_healthy.with({"svc", label(server.port())}).value());
  ::close(closed);
}

TEST_P(HealthCheckerTest, UpdateConfigKeepsPersistingServersAndDropsRemovedOnes) {
  TestServer bad(500), kept(200), added(200);
  start(make_config({upstream("svc", {local(bad.port()), local(kept.port())}, fast_checks(2, 2))}));
  ASSERT_EQ(1, wait_for([](const HealthSnapshot& s) { return s.upstreams[0].healthy[0] == 0; }));
  const uint64_t failures = checks("svc", label(bad.port()), "failure");
  EXPECT_TRUE(has_gauge(label(kept.port())));

  auto next =
      make_config({upstream("other", {local(added.port())}, fast_checks(2, 2)),
                   upstream("svc", {local(bad.port()), local(added.port())}, fast_checks(2, 2))});
  checker_->update_config(next);
  EXPECT_EQ(next, checker_->current()->config);  // switched before update_config returned
  const int n = wait_for([&](const HealthSnapshot& s) { return s.config == next; });
  ASSERT_GE(n, 1);
  const HealthSnapshotPtr latest = snap(n);
  ASSERT_EQ(2u, latest->upstreams.size());
  ASSERT_EQ(2u, latest->upstreams[1].servers.size());
  EXPECT_EQ(label(bad.port()), latest->upstreams[1].servers[0].label);
  EXPECT_EQ(label(added.port()), latest->upstreams[1].servers[1].label);
  EXPECT_EQ((std::vector<uint8_t>{0, 1}), latest->upstreams[1].healthy);  // state kept, new healthy
  EXPECT_FALSE(has_gauge(label(kept.port())));
  EXPECT_GE(checks("svc", label(bad.port()), "failure"), failures);
  // The kept failure streak continues: the server never flips back; the new one gets probed.
  ASSERT_TRUE(eventually([&] { return checks("svc", label(added.port()), "success") >= 2; }));
  EXPECT_EQ(0u, checker_->current()->upstreams[1].healthy[0]);
  EXPECT_EQ(0.0, metrics_.server_healthy.with({"svc", label(bad.port())}).value());

  checker_->update_config(
      make_config({upstream("other", {local(added.port())}, fast_checks(2, 2))}));
  EXPECT_EQ(1u, checker_->current()->upstreams.size());
  EXPECT_FALSE(has_gauge(label(bad.port())));
}

TEST_P(HealthCheckerTest, StartFailsOnUnresolvableServer) {
  hosts_ = std::make_unique<HostsFile>();
  hosts_->write("bad.test\n");
  HealthChecker checker(metrics_, [](HealthSnapshotPtr) { FAIL() << "published"; });
  std::string error;
  EXPECT_FALSE(checker.start(make_config({upstream("svc", {{"bad.test", 80}}, fast_checks(1, 1))}),
                             GetParam(), &error));
  EXPECT_EQ(0u, error.find("upstream svc: server bad.test:80: cannot resolve 'bad.test'")) << error;
  EXPECT_EQ(nullptr, checker.current());
}

TEST_P(HealthCheckerTest, ReResolutionAddsAndRemovesAddresses) {
  hosts_ = std::make_unique<HostsFile>();
  hosts_->write("# test names\nsvc.test 127.0.0.1\n");
  TestServer one(200, "127.0.0.1");
  TestServer two(500, "127.0.0.2", one.port());
  const uint16_t port = static_cast<uint16_t>(one.port());
  const std::string l1 = label(port), l2 = "127.0.0.2:" + std::to_string(port);
  start(make_config({upstream("svc", {{"svc.test", port}}, fast_checks(1, 1))}));
  ASSERT_EQ(1u, snap(0)->upstreams[0].servers.size());
  EXPECT_EQ("svc.test:" + std::to_string(port), snap(0)->upstreams[0].servers[0].configured);

  hosts_->write("svc.test 127.0.0.1 127.0.0.2\n");
  const int i =
      wait_for([](const HealthSnapshot& s) { return s.upstreams[0].servers.size() == 2; });
  ASSERT_GE(i, 1);
  EXPECT_EQ(l1, snap(i)->upstreams[0].servers[0].label);
  EXPECT_EQ(l2, snap(i)->upstreams[0].servers[1].label);
  // The new address is checked like any other (Host: the configured name).
  ASSERT_GE(wait_for(
                [](const HealthSnapshot& s) {
                  return s.upstreams[0].servers.size() == 2 && s.upstreams[0].healthy[1] == 0;
                },
                i),
            i);
  EXPECT_NE(std::string::npos, two.last_request().find("Host: svc.test:" + std::to_string(port)));

  hosts_->write("svc.test\n");  // resolution fails: addresses kept, error shown
  const int j =
      wait_for([](const HealthSnapshot& s) { return !s.upstreams[0].resolve_error.empty(); });
  ASSERT_GT(j, i);
  EXPECT_EQ(2u, snap(j)->upstreams[0].servers.size());
  EXPECT_EQ(0u, snap(j)->upstreams[0].resolve_error.find("svc.test:"));

  hosts_->write("svc.test 127.0.0.2\n");
  const int k = wait_for(
      [](const HealthSnapshot& s) {
        return s.upstreams[0].servers.size() == 1 && s.upstreams[0].resolve_error.empty();
      },
      j);
  ASSERT_GT(k, j);
  EXPECT_EQ(l2, snap(k)->upstreams[0].servers[0].label);
  EXPECT_EQ(0, snap(k)->upstreams[0].healthy[0]);  // kept its state
  EXPECT_FALSE(has_gauge(l1));
}

TEST_P(HealthCheckerTest, StopIsPromptWithProbesInFlight) {
  TestServer hang(0);
  HealthCheckConfig slow = fast_checks(1, 1);
  slow.interval = 1000;
  slow.timeout = 1000;
  auto u = upstream("svc", {local(hang.port())}, slow);
  u.servers.push_back({"localhost", static_cast<uint16_t>(hang.port())});
  start(make_config({u}));
  ASSERT_TRUE(eventually([&] { return hang.connections() >= 1; }));
  const auto t0 = Clock::now();
  checker_->stop();
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(100));
  checker_->stop();  // idempotent
}

RINGWAY_INSTANTIATE_FOR_BACKENDS(HealthCheckerTest);

}  // namespace
}  // namespace ringway::proxy
