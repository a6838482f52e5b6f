// Tests for proxy/access_log/access_log_file.*: buffers land whole and in order, reopen
// follows a rename, write errors (/dev/full) and a full queue are counted, nothing queued
// is lost at destruction.
#include "proxy/access_log/access_log_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "metrics/registry.h"

namespace ringway::proxy {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class AccessLogFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ringway-alog.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    unlink((dir_ + "/a.log").c_str());
    unlink((dir_ + "/a.log.1").c_str());
    rmdir(dir_.c_str());
  }
  metrics::Registry registry_{1};
  metrics::Counter errors_ = registry_.add_counter("errors_total", "h", {}).with({});
  std::string dir_;
};

TEST_F(AccessLogFileTest, WritesBuffersInOrderAndRecyclesThem) {
  const std::string path = dir_ + "/a.log";
  {
    AccessLogFile f(path, errors_);
    std::string err;
    ASSERT_TRUE(f.start(&err)) << err;
    for (int i = 0; i < 50; ++i) {
      std::string buf = "line " + std::to_string(i) + "\n";
      f.submit(buf, 1);
      EXPECT_TRUE(buf.empty());
    }
    EXPECT_TRUE(f.sync());
  }
  std::string expect;
  for (int i = 0; i < 50; ++i) expect += "line " + std::to_string(i) + "\n";
  EXPECT_EQ(slurp(path), expect);
  EXPECT_EQ(errors_.value(), 0u);
}

TEST_F(AccessLogFileTest, ReopenAfterRenameSplitsAtTheRequest) {
  const std::string path = dir_ + "/a.log";
  AccessLogFile f(path, errors_);
  std::string err;
  ASSERT_TRUE(f.start(&err)) << err;
  std::string a = "before\n";
  f.submit(a, 1);
  ASSERT_TRUE(f.sync());
  ASSERT_EQ(rename(path.c_str(), (path + ".1").c_str()), 0);
  std::string b = "still old\n";
  f.submit(b, 1);  // queued before the reopen: belongs to the renamed file
  f.reopen();
  std::string c = "after\n";
  f.submit(c, 1);
  ASSERT_TRUE(f.sync());
  EXPECT_EQ(slurp(path + ".1"), "before\nstill old\n");
  EXPECT_EQ(slurp(path), "after\n");
}

TEST_F(AccessLogFileTest, WriteErrorsAreCountedPerLine) {
  AccessLogFile f("/dev/full", errors_);
  std::string err;
  ASSERT_TRUE(f.start(&err)) << err;
  std::string buf = "a\nb\nc\n";
  f.submit(buf, 3);
  ASSERT_TRUE(f.sync());
  EXPECT_EQ(errors_.value(), 3u);
}

TEST_F(AccessLogFileTest, UnopenablePathFailsStart) {
  AccessLogFile f(dir_ + "/missing/dir/a.log", errors_);
  std::string err;
  EXPECT_FALSE(f.start(&err));
  EXPECT_NE(err.find("No such file or directory"), std::string::npos) << err;
}

TEST_F(AccessLogFileTest, FullQueueDropsAndCountsInsteadOfBlocking) {
  // A pipe nobody reads: the writer thread blocks in write(2) once the pipe fills, so the
  // queue fills behind it; submit must still return at once.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const std::string path = "/proc/self/fd/" + std::to_string(fds[1]);
  uint64_t dropped = 0;
  std::thread reader;
  {
    AccessLogFile f(path, errors_);
    std::string err;
    ASSERT_TRUE(f.start(&err)) << err;
    const std::string big(70000, 'x');  // > 64 KiB pipe capacity: the first write blocks
    for (size_t i = 0; i < AccessLogFile::kMaxQueued + 20; ++i) {
      std::string buf = big + "\n";
      f.submit(buf, 1);
    }
    dropped = errors_.value();
    EXPECT_GE(dropped, 18u);
    // Unblock the writer so the destructor can write what was queued and finish.
    reader = std::thread([&] {
      char sink[65536];
      while (read(fds[0], sink, sizeof sink) > 0) {
      }
    });
  }
  close(fds[1]);  // with the writer's own fd closed too, the reader sees EOF
  reader.join();
  close(fds[0]);
  EXPECT_EQ(errors_.value(), dropped);
}

}  // namespace
}  // namespace ringway::proxy
