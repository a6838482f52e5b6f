// Tests for proxy/upstream/resolver.*: the RINGWAY_HOSTS_FILE hook (format, re-reading, errors, fallback to
// getaddrinfo), IP literals, and the resolver thread's batches.
#include "proxy/upstream/resolver.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>

namespace ringway::proxy {
namespace {

std::vector<std::string> labels(const std::vector<net::ResolvedAddress>& addresses) {
  std::vector<std::string> out;
  for (const auto& a : addresses) out.push_back(a.to_string());
  return out;
}

class ResolverTest : public ::testing::Test {
 protected:
  void SetUp() override { setenv(kHostsFileEnv, path_.c_str(), 1); }
  void TearDown() override {
    unsetenv(kHostsFileEnv);
    std::remove(path_.c_str());
  }
  void write(const std::string& text) { std::ofstream(path_, std::ios::trunc) << text; }
  std::vector<std::string> resolve(const std::string& host, uint16_t port, std::string* error) {
    std::vector<net::ResolvedAddress> out;
    error->clear();
    if (!resolve_server({host, port}, &out, error)) return {};
    return labels(out);
  }

  const std::string path_ = ::testing::TempDir() + "ringway_resolver_" + std::to_string(getpid());
};

TEST_F(ResolverTest, HostsFileMapsNameToEveryAddressSorted) {
  write(
      "# comment line\n"
      "svc.test 127.0.0.2 127.0.0.1   # two addresses\n"
      "other.test 10.0.0.9\n"
      "\n"
      "SVC.TEST [::1] 127.0.0.1\n");
  std::string error;
  EXPECT_EQ((std::vector<std::string>{"127.0.0.1:8080", "127.0.0.2:8080", "[::1]:8080"}),
            resolve("svc.test", 8080, &error))
      << error;
  EXPECT_EQ((std::vector<std::string>{"10.0.0.9:81"}), resolve("other.test", 81, &error));
}

TEST_F(ResolverTest, HostsFileIsReReadOnEveryCall) {
  std::string error;
  write("svc.test 127.0.0.1\n");
  EXPECT_EQ((std::vector<std::string>{"127.0.0.1:80"}), resolve("svc.test", 80, &error));
  write("svc.test 127.0.0.1 127.0.0.2\n");
  EXPECT_EQ((std::vector<std::string>{"127.0.0.1:80", "127.0.0.2:80"}),
            resolve("svc.test", 80, &error));
}

TEST_F(ResolverTest, NameWithoutUsableAddressFails) {
  std::string error;
  write("empty.test\nbad.test 127.0.0.1 nope\n");
  EXPECT_TRUE(resolve("empty.test", 80, &error).empty());
  EXPECT_EQ("cannot resolve 'empty.test': no address in hosts file " + path_, error);
  EXPECT_TRUE(resolve("bad.test", 80, &error).empty());
  EXPECT_EQ("cannot resolve 'bad.test': hosts file " + path_ + ":2: invalid address 'nope'", error);
}

TEST_F(ResolverTest, IpLiteralsSkipTheFile) {
  write("127.0.0.1 10.0.0.1\n");
  std::string error;
  EXPECT_EQ((std::vector<std::string>{"127.0.0.1:9"}), resolve("127.0.0.1", 9, &error));
  EXPECT_EQ((std::vector<std::string>{"[::1]:9"}), resolve("::1", 9, &error));
}

TEST_F(ResolverTest, NamesAbsentFromTheFileUseGetaddrinfo) {
  write("svc.test 127.0.0.2\n");
  std::string error;
  const auto got = resolve("localhost", 8001, &error);
  ASSERT_FALSE(got.empty()) << error;
  EXPECT_NE(got.end(), std::find(got.begin(), got.end(), "127.0.0.1:8001"));
  // A missing file means "no overrides", not an error.
  std::remove(path_.c_str());
  EXPECT_FALSE(resolve("localhost", 8001, &error).empty()) << error;
  std::vector<net::ResolvedAddress> out;
  EXPECT_FALSE(lookup_hosts_file(path_, {"localhost", 1}, &out, &error));
}

TEST_F(ResolverTest, OutcomeCarriesHostAndError) {
  write("gone.test\n");
  const ResolveOutcome ok = resolve_outcome({"127.0.0.1", 5});
  EXPECT_TRUE(ok.ok);
  EXPECT_EQ(1u, ok.addresses.size());
  const ResolveOutcome bad = resolve_outcome({"gone.test", 5});
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ("gone.test:5", bad.host.to_string());
  EXPECT_NE(std::string::npos, bad.error.find("gone.test"));
}

TEST_F(ResolverTest, ThreadResolvesBatchesInOrderOffTheCaller) {
  write("a.test 127.0.0.3\nb.test\n");
  ResolverThread thread;
  thread.start();
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::vector<ResolveOutcome>> done;
  std::vector<std::thread::id> ran_on;
  for (int i = 0; i < 2; ++i) {
    thread.submit({{"a.test", 1}, {"b.test", 2}, {"127.0.0.1", 3}},
                  [&](std::vector<ResolveOutcome> r) {
                    std::lock_guard<std::mutex> lock(mu);
                    done.push_back(std::move(r));
                    ran_on.push_back(std::this_thread::get_id());
                    cv.notify_all();
                  });
  }
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(2), [&] { return done.size() == 2; }));
  for (const auto& batch : done) {
    ASSERT_EQ(3u, batch.size());
    EXPECT_TRUE(batch[0].ok);
    EXPECT_EQ((std::vector<std::string>{"127.0.0.3:1"}), labels(batch[0].addresses));
    EXPECT_FALSE(batch[1].ok);
    EXPECT_EQ("b.test:2", batch[1].host.to_string());
    EXPECT_TRUE(batch[2].ok);
  }
  EXPECT_NE(std::this_thread::get_id(), ran_on[0]);
  lock.unlock();
  thread.stop();
}

TEST_F(ResolverTest, StopJoinsPromptlyAndDropsLaterBatches) {
  ResolverThread thread;
  thread.start();
  const auto t0 = std::chrono::steady_clock::now();
  thread.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100));
  bool called = false;
  thread.submit({{"127.0.0.1", 1}}, [&](std::vector<ResolveOutcome>) { called = true; });
  thread.stop();
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace ringway::proxy
