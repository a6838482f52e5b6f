// Runtime tests for net/loop.h, run on both backends: echo over accept/recv/send, connect,
// partial sends under backpressure, pause/resume, timers, posted tasks, close and fallback.
#include "net/loop.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "net/buffer_pool.h"
#include "net/socket.h"
#include "tests/unit/net/backend_param.h"

namespace ringway::net {
namespace {

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// Blocking client socket connected to 127.0.0.1:port with a receive timeout.
int blocking_client(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = loopback(port);
  EXPECT_EQ(0, ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a));
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

std::string read_exactly(int fd, size_t n) {
  std::string out;
  char buf[65536];
  while (out.size() < n) {
    ssize_t r = ::read(fd, buf, std::min(sizeof buf, n - out.size()));
    if (r <= 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

class EchoConnection : public SocketHandler {
 public:
  EchoConnection(Loop& loop, int fd) : loop_(loop) { sock_ = loop.add(fd, this); }
  ~EchoConnection() override {
    if (!closed) loop_.close(sock_);
  }
  void start() { loop_.start_recv(sock_); }
  void on_data(const char* data, size_t len) override {
    pending_.append(data, len);
    flush();
  }
  void on_recv_end(int) override {
    loop_.close(sock_);
    closed = true;
  }
  void on_sent(ssize_t res) override {
    ASSERT_GT(res, 0);
    sending_ = false;
    flush();
  }
  bool closed = false;

 private:
  void flush() {
    if (sending_ || pending_.empty() || closed) return;
    inflight_.swap(pending_);
    pending_.clear();
    iovec iov{inflight_.data(), inflight_.size()};
    sending_ = true;
    loop_.send(sock_, &iov, 1);
  }
  Loop& loop_;
  Socket* sock_;
  std::string pending_, inflight_;
  bool sending_ = false;
};

class EchoServer : public SocketHandler {
 public:
  explicit EchoServer(Loop& loop) : loop_(loop) {
    sockaddr_in a = loopback(0);
    std::string err;
    int fd = listen_tcp(reinterpret_cast<sockaddr*>(&a), sizeof a, true, 128, &err);
    EXPECT_GE(fd, 0) << err;
    port = local_port(fd);
    listener_ = loop.add(fd, this);
    loop.start_accept(listener_);
  }
  void on_accept(int fd) override {
    ASSERT_GE(fd, 0);
    int nodelay = 0;
    socklen_t len = sizeof nodelay;
    getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len);
    nodelay_inherited = nodelay != 0;
    conns_.push_back(std::make_unique<EchoConnection>(loop_, fd));
    conns_.back()->start();
    ++accepted;
  }
  void close() {
    loop_.close(listener_);
    conns_.clear();  // closes every connection's socket: no callback may reach freed handlers
  }
  int port = 0;
  std::atomic<int> accepted{0};
  bool nodelay_inherited = false;

 private:
  Loop& loop_;
  Socket* listener_;
  std::vector<std::unique_ptr<EchoConnection>> conns_;
};

// Polls `cond` on the loop thread (up to about a second) until it holds.
void eventually(LoopThread& runner, const std::function<bool()>& cond) {
  for (int i = 0; i < 500; ++i) {
    bool holds = false;
    runner.on_loop([&] { holds = cond(); });
    if (holds) return;
    usleep(2000);
  }
}

class LoopTest : public ::testing::TestWithParam<IoMode> {
 protected:
  void run_in_background(bool send_zc = false) {
    ASSERT_NE(loop_ = runner_.start(GetParam(), send_zc), nullptr);
  }
  void on_loop(const std::function<void()>& fn) { runner_.on_loop(fn); }
  LoopThread runner_;
  Loop* loop_ = nullptr;
};

TEST_P(LoopTest, EchoesManyClients) {
  std::unique_ptr<EchoServer> server;
  // SINGLE_ISSUER rings must be driven from the thread that runs them: set up on-loop.
  run_in_background();
  on_loop([&] { server = std::make_unique<EchoServer>(*loop_); });
  std::vector<int> fds;
  for (int i = 0; i < 20; ++i) fds.push_back(blocking_client(server->port));
  for (int round = 0; round < 5; ++round) {
    for (size_t i = 0; i < fds.size(); ++i) {
      std::string msg = "hello " + std::to_string(i) + " round " + std::to_string(round);
      ASSERT_EQ(static_cast<ssize_t>(msg.size()), ::write(fds[i], msg.data(), msg.size()));
      EXPECT_EQ(msg, read_exactly(fds[i], msg.size()));
    }
  }
  EXPECT_EQ(20, server->accepted.load());
  EXPECT_TRUE(server->nodelay_inherited);
  for (int fd : fds) ::close(fd);
  on_loop([&] { server->close(); });
}

// 4 MB echoed back while we write and read in chunks: forces partial sends on both sides.
void expect_large_echo(Loop* loop, LoopThread& runner) {
  std::unique_ptr<EchoServer> server;
  runner.on_loop([&] { server = std::make_unique<EchoServer>(*loop); });
  int fd = blocking_client(server->port);
  std::string payload(4 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + (i * 7 + i / 9973) % 26);
  std::thread writer([&] {
    size_t off = 0;
    while (off < payload.size()) {
      ssize_t n = ::write(fd, payload.data() + off, std::min<size_t>(65536, payload.size() - off));
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
  });
  std::string got = read_exactly(fd, payload.size());
  writer.join();
  EXPECT_EQ(payload.size(), got.size());
  EXPECT_TRUE(got == payload);
  ::close(fd);
  runner.on_loop([&] { server->close(); });
}

// The echo reuses its send buffer the moment on_sent arrives: with zero-copy sends (io_uring;
// epoll ignores the option) that must wait until the kernel has let go of the pages.
TEST_P(LoopTest, ZeroCopySendsHoldOnSentUntilTheKernelReleasesTheBuffer) {
  run_in_background(true);
  expect_large_echo(loop_, runner_);
}

TEST_P(LoopTest, LargeTransferSurvivesPartialSends) {
  run_in_background();
  expect_large_echo(loop_, runner_);
}

class Collector : public SocketHandler {
 public:
  void on_data(const char* d, size_t n) override { data.append(d, n); }
  void on_recv_end(int err) override { end = err; ended = true; }
  void on_connected(int res) override { connected = res; }
  void on_sent(ssize_t res) override { sent = res; }
  std::string data;
  int end = 1;
  std::atomic<bool> ended{false};
  std::atomic<int> connected{1};
  std::atomic<ssize_t> sent{-1000};
};

TEST_P(LoopTest, ConnectSendAndPeerClose) {
  sockaddr_in a = loopback(0);
  std::string err;
  int lfd = listen_tcp(reinterpret_cast<sockaddr*>(&a), sizeof a, false, 16, &err);
  ASSERT_GE(lfd, 0);
  sockaddr_in target = loopback(local_port(lfd));
  Collector c;
  Socket* s = nullptr;
  run_in_background();
  const std::string msg = "GET / HTTP/1.1\r\n\r\n";
  on_loop([&] {
    s = loop_->add(connect_socket(AF_INET), &c);
    loop_->connect(s, reinterpret_cast<sockaddr*>(&target), sizeof target);
  });
  int peer = -1;
  for (int i = 0; i < 500 && peer < 0; ++i) {
    peer = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (peer < 0) usleep(10000);
  }
  ASSERT_GE(peer, 0);
  while (c.connected == 1) std::this_thread::yield();
  EXPECT_EQ(0, c.connected.load());
  on_loop([&] {
    loop_->start_recv(s);
    iovec iov[2] = {{const_cast<char*>(msg.data()), 4}, {const_cast<char*>(msg.data()) + 4, msg.size() - 4}};
    loop_->send(s, iov, 2);
  });
  EXPECT_EQ(msg, read_exactly(peer, msg.size()));
  while (c.sent == -1000) std::this_thread::yield();
  EXPECT_EQ(static_cast<ssize_t>(msg.size()), c.sent.load());
  ASSERT_EQ(5, ::write(peer, "reply", 5));
  ::close(peer);
  while (!c.ended) std::this_thread::yield();
  on_loop([&] {
    EXPECT_EQ("reply", c.data);
    EXPECT_EQ(0, c.end);
    loop_->close(s);
  });
  ::close(lfd);
}

TEST_P(LoopTest, ConnectRefusedReportsError) {
  // Bind then close a socket to get a port with nothing listening.
  sockaddr_in a = loopback(0);
  std::string err;
  int lfd = listen_tcp(reinterpret_cast<sockaddr*>(&a), sizeof a, false, 1, &err);
  sockaddr_in target = loopback(local_port(lfd));
  ::close(lfd);
  Collector c;
  run_in_background();
  Socket* s = nullptr;
  on_loop([&] {
    s = loop_->add(connect_socket(AF_INET), &c);
    loop_->connect(s, reinterpret_cast<sockaddr*>(&target), sizeof target);
  });
  while (c.connected == 1) std::this_thread::yield();
  EXPECT_EQ(-ECONNREFUSED, c.connected.load());
  on_loop([&] { loop_->close(s); });
}

TEST_P(LoopTest, PauseStopsDeliveryAndResumeDeliversBufferedBytes) {
  std::unique_ptr<EchoServer> unused;
  sockaddr_in a = loopback(0);
  std::string err;
  int lfd = listen_tcp(reinterpret_cast<sockaddr*>(&a), sizeof a, false, 16, &err);
  int client = blocking_client(local_port(lfd));
  int server_fd = -1;
  for (int i = 0; i < 500 && server_fd < 0; ++i) {
    server_fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (server_fd < 0) usleep(10000);
  }
  ASSERT_GE(server_fd, 0);
  Collector c;
  Socket* s = nullptr;
  run_in_background();
  on_loop([&] {
    s = loop_->add(server_fd, &c);
    loop_->start_recv(s);
  });
  ASSERT_EQ(3, ::write(client, "one", 3));
  eventually(runner_, [&] { return c.data == "one"; });
  on_loop([&] { loop_->pause_recv(s); });
  usleep(50000);  // let an io_uring cancel land
  ASSERT_EQ(3, ::write(client, "two", 3));
  usleep(100000);
  on_loop([&] { EXPECT_EQ("one", c.data); });
  on_loop([&] { loop_->start_recv(s); });
  eventually(runner_, [&] { return c.data == "onetwo"; });
  on_loop([&] {
    EXPECT_EQ("onetwo", c.data);
    loop_->close(s);
  });
  ::close(client);
  ::close(lfd);
}

TEST_P(LoopTest, TimersFireInDeadlineOrderAndCancel) {
  std::vector<int> fired;
  Timer t1([&] { fired.push_back(1); });
  Timer t2([&] { fired.push_back(2); });
  Timer t3([&] { fired.push_back(3); });
  run_in_background();
  on_loop([&] {
    loop_->add_timer(&t2, 60);
    loop_->add_timer(&t1, 20);
    loop_->add_timer(&t3, 40);
    loop_->cancel_timer(&t3);
  });
  usleep(200000);
  on_loop([&] { EXPECT_EQ((std::vector<int>{1, 2}), fired); });
}

// A burst leaves its buffers idle in the loop thread's pool; the loop's trim timer hands them
// back to the kernel within about two seconds, with no traffic to prompt it: nothing is
// posted to the loop until the single check, so the loop must wake for the timer itself.
TEST_P(LoopTest, IdleLoopUnmapsABurstsBuffers) {
  run_in_background();
  long before = 0, after_burst = 0;
  on_loop([&] {
    before = BufferPool::mapped();
    std::vector<char*> blocks;
    for (int i = 0; i < 100; ++i) blocks.push_back(BufferPool::take(24576));
    for (char* b : blocks) BufferPool::give(b, 24576);
    after_burst = BufferPool::mapped();
  });
  EXPECT_GE(after_burst - before, 100 - static_cast<long>(BufferPool::kIdleFloor));
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  long now = after_burst;
  on_loop([&] { now = BufferPool::mapped(); });
  EXPECT_LE(now - before, static_cast<long>(BufferPool::kIdleFloor));
}

TEST_P(LoopTest, StopFromAnotherThreadEndsRun) {
  run_in_background();
  const auto start = std::chrono::steady_clock::now();
  runner_.stop();  // joins: hangs (and the test times out) if stop() does not end run()
  // A loop with nothing armed must wake at once, not at some poll timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// A connected pair: `in_loop` non-blocking for the loop, `outside` blocking with timeouts.
struct TcpPair {
  int in_loop = -1, outside = -1;
};

TcpPair tcp_pair() {
  sockaddr_in a = loopback(0);
  std::string err;
  int lfd = listen_tcp(reinterpret_cast<sockaddr*>(&a), sizeof a, false, 4, &err);
  EXPECT_GE(lfd, 0) << err;
  TcpPair p;
  p.outside = blocking_client(local_port(lfd));
  timeval tv{5, 0};
  setsockopt(p.outside, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  for (int i = 0; i < 500 && p.in_loop < 0; ++i) {
    p.in_loop = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (p.in_loop < 0) usleep(2000);
  }
  ::close(lfd);
  return p;
}

class SpliceSource : public Collector {
 public:
  void on_spliced(uint64_t m, int e, bool sink) override {
    moved = m;
    err = e;
    sink_failed = sink;
    spliced = true;
  }
  std::atomic<uint64_t> moved{0};
  std::atomic<int> err{12345};
  std::atomic<bool> sink_failed{false};
  std::atomic<bool> spliced{false};
};

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 13 + i / 1000) % 26);
  return s;
}

// Exactly `len` bytes go across, in order; what follows them stays for the next recv.
TEST_P(LoopTest, SpliceMovesExactlyItsLengthAndLeavesTheRestToRecv) {
  TcpPair src = tcp_pair(), dst = tcp_pair();
  ASSERT_GE(src.in_loop, 0);
  ASSERT_GE(dst.in_loop, 0);
  constexpr size_t kLen = 3 * 1024 * 1024 + 17;
  const std::string body = pattern(kLen);
  std::thread writer([&] {
    const std::string all = body + "TAIL";
    size_t off = 0;
    while (off < all.size()) {
      ssize_t n = ::write(src.outside, all.data() + off, all.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
  });
  SpliceSource from;
  Collector to;
  Socket* f = nullptr;
  Socket* t = nullptr;
  run_in_background();
  bool started = false;
  on_loop([&] {
    f = loop_->add(src.in_loop, &from);
    t = loop_->add(dst.in_loop, &to);
    started = loop_->splice(f, t, kLen);
  });
  ASSERT_TRUE(started);
  const std::string got = read_exactly(dst.outside, kLen);
  writer.join();
  EXPECT_TRUE(got == body) << "got " << got.size() << " bytes";
  for (int i = 0; i < 2500 && !from.spliced; ++i) usleep(2000);
  ASSERT_TRUE(from.spliced);
  EXPECT_EQ(from.moved.load(), kLen);
  EXPECT_EQ(from.err.load(), 0);
  on_loop([&] {
    EXPECT_EQ(loop_->splice_progress(f), 0u);  // no splice runs any more
    EXPECT_GE(loop_->stats().spliced_bytes, kLen);
    loop_->start_recv(f);
  });
  eventually(runner_, [&] { return from.data == "TAIL"; });
  on_loop([&] {
    EXPECT_EQ(from.data, "TAIL");
    loop_->close(f);
    loop_->close(t);
  });
  ::close(src.outside);
  ::close(dst.outside);
}

// The source ends early: moved counts what got across; a sink that is gone fails the splice;
// closing the source mid-way ends it without a callback.
TEST_P(LoopTest, SpliceReportsAnEarlyEndAFailedSinkAndStaysSilentAfterClose) {
  run_in_background();
  {
    TcpPair src = tcp_pair(), dst = tcp_pair();
    const std::string part = pattern(100000);
    ASSERT_EQ(static_cast<ssize_t>(part.size()), ::write(src.outside, part.data(), part.size()));
    ::shutdown(src.outside, SHUT_WR);
    SpliceSource from;
    Collector to;
    Socket* f = nullptr;
    Socket* t = nullptr;
    on_loop([&] {
      f = loop_->add(src.in_loop, &from);
      t = loop_->add(dst.in_loop, &to);
      EXPECT_TRUE(loop_->splice(f, t, 1 << 20));
    });
    EXPECT_TRUE(read_exactly(dst.outside, part.size()) == part);
    for (int i = 0; i < 2500 && !from.spliced; ++i) usleep(2000);
    ASSERT_TRUE(from.spliced);
    EXPECT_EQ(from.moved.load(), part.size());
    EXPECT_EQ(from.err.load(), kSpliceSourceEnded);
    EXPECT_FALSE(from.sink_failed.load());
    on_loop([&] {
      loop_->close(f);
      loop_->close(t);
    });
    ::close(src.outside);
    ::close(dst.outside);
  }
  {
    TcpPair src = tcp_pair(), dst = tcp_pair();
    linger lg{1, 0};
    setsockopt(dst.outside, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    ::close(dst.outside);  // RST: the sink is gone
    const std::string part = pattern(200000);
    ASSERT_EQ(static_cast<ssize_t>(part.size()), ::write(src.outside, part.data(), part.size()));
    SpliceSource from;
    Collector to;
    Socket* f = nullptr;
    Socket* t = nullptr;
    usleep(20000);
    on_loop([&] {
      f = loop_->add(src.in_loop, &from);
      t = loop_->add(dst.in_loop, &to);
      EXPECT_TRUE(loop_->splice(f, t, 1 << 20));
    });
    for (int i = 0; i < 2500 && !from.spliced; ++i) usleep(2000);
    ASSERT_TRUE(from.spliced);
    EXPECT_TRUE(from.sink_failed.load());
    EXPECT_LT(from.err.load(), 0);
    on_loop([&] {
      loop_->close(f);
      loop_->close(t);
    });
    ::close(src.outside);
  }
  {
    TcpPair src = tcp_pair(), dst = tcp_pair();
    SpliceSource from;
    Collector to;
    Socket* f = nullptr;
    Socket* t = nullptr;
    on_loop([&] {
      f = loop_->add(src.in_loop, &from);
      t = loop_->add(dst.in_loop, &to);
      EXPECT_TRUE(loop_->splice(f, t, 1 << 20));  // nothing to read yet: it waits
      EXPECT_FALSE(loop_->splice(f, t, 10));      // one splice per socket at a time
      loop_->close(f);
    });
    ASSERT_EQ(5, ::write(src.outside, "bytes", 5));
    usleep(50000);
    on_loop([&] { loop_->close(t); });
    EXPECT_FALSE(from.spliced.load());
    ::close(src.outside);
    ::close(dst.outside);
  }
}

RINGWAY_INSTANTIATE_FOR_BACKENDS(LoopTest);

TEST(LoopFallback, AutoFallsBackToEpollWhenIoUringIsRefused) {
  setenv("RINGWAY_IO_URING_FAIL", "EPERM", 1);
  LoopOptions o;
  o.mode = IoMode::kAuto;
  std::string fallback, error;
  auto loop = Loop::create(o, &fallback, &error);
  unsetenv("RINGWAY_IO_URING_FAIL");
  ASSERT_NE(loop, nullptr);
  EXPECT_STREQ("epoll", loop->backend_name());
  EXPECT_NE(std::string::npos, fallback.find("EPERM from io_uring_setup (seccomp?)")) << fallback;
}

TEST(LoopFallback, ExplicitIoUringFailsInsteadOfFallingBack) {
  setenv("RINGWAY_IO_URING_FAIL", "EPERM", 1);
  LoopOptions o;
  o.mode = IoMode::kIoUring;
  std::string fallback, error;
  auto loop = Loop::create(o, &fallback, &error);
  unsetenv("RINGWAY_IO_URING_FAIL");
  EXPECT_EQ(loop, nullptr);
  EXPECT_NE(std::string::npos, error.find("EPERM")) << error;
}

TEST(LoopFallback, AutoPrefersIoUringWhenAvailable) {
  LoopOptions o;
  std::string fallback, error;
  auto loop = Loop::create(o, &fallback, &error);
  ASSERT_NE(loop, nullptr);
  EXPECT_STREQ("io_uring", loop->backend_name()) << fallback;
  EXPECT_TRUE(fallback.empty());
}

}  // namespace
}  // namespace ringway::net
