// Proxy e2e: two workers under load through two reloads, then SIGTERM (TearDown wants exit 0):
// the cross-thread paths (config snapshots, the shared listener, drain) the TSan stage runs.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/proxy_fixture.h"

namespace ringway::e2e {
namespace {

using ProxyMultiWorker = ProxyE2E;

ProxyConfig two_workers(const std::string& server, const std::string& tag) {
  ProxyConfig c = single_route(server);
  c.workers = 2;
  c.headers = "{response: {set: {X-Generation: " + tag + "}}}";
  return c;
}

TEST_P(ProxyMultiWorker, ReloadsUnderLoadOnTwoWorkersLoseNoRequestAndExitCleanly) {
  FakeUpstream& up =
      start_upstream(serve([](const ReceivedRequest& r) { return http_response(200, r.target); }));
  ASSERT_NO_FATAL_FAILURE(start_proxy(two_workers(up.address(), "one")));
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&, t] {
      while (!stop.load()) {  // fresh connections so both workers take some
        RawConnection c;
        if (!c.connect(proxy_.port())) break;  // listener gone: the drain began
        for (int i = 0; i < 5; ++i) {
          if (!c.send("GET /up/t" + std::to_string(t) + " HTTP/1.1\r\nHost: h\r\n\r\n")) break;
          auto r = c.read_response(kIoTimeout);
          if (!r) break;  // closed by the drain between requests: allowed
          (r->status == 200 ? ok : bad)++;
        }
      }
    });
  }
  auto wait_for_traffic = [&] {
    const base::TimePoint deadline = base::Clock::now() + kIoTimeout;
    while (ok.load() < 50 && base::Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_GE(ok.load(), 50);
  };
  for (const char* tag : {"two", "three"}) {
    wait_for_traffic();
    ASSERT_TRUE(proxy_.write_config(two_workers(up.address(), tag).to_yaml()));
    ASSERT_TRUE(proxy_.reload()) << proxy_.log();
    ok = 0;
  }
  wait_for_traffic();
  stop = true;
  for (auto& th : clients) th.join();
  EXPECT_EQ(bad.load(), 0);
  auto r = exchange("GET /up/last HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("X-Generation"), "three");
}

RINGWAY_PROXY_BACKENDS(ProxyMultiWorker);

}  // namespace
}  // namespace ringway::e2e
