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

class LoopTest : public ::testing::TestWithParam<IoMode> {
 protected:
  void run_in_background() { ASSERT_NE(loop_ = runner_.start(GetParam()), nullptr); }
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

TEST_P(LoopTest, LargeTransferSurvivesPartialSends) {
  std::unique_ptr<EchoServer> server;
  run_in_background();
  on_loop([&] { server = std::make_unique<EchoServer>(*loop_); });
  int fd = blocking_client(server->port);
  // 4 MB echoed back while we write and read in chunks: forces partial sends on both sides.
  std::string payload(4 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
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
  on_loop([&] { server->close(); });
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
  for (int i = 0; i < 500; ++i) {
    bool got = false;
    on_loop([&] { got = c.data == "one"; });
    if (got) break;
    usleep(2000);
  }
  on_loop([&] { loop_->pause_recv(s); });
  usleep(50000);  // let an io_uring cancel land
  ASSERT_EQ(3, ::write(client, "two", 3));
  usleep(100000);
  on_loop([&] { EXPECT_EQ("one", c.data); });
  on_loop([&] { loop_->start_recv(s); });
  for (int i = 0; i < 500; ++i) {
    bool got = false;
    on_loop([&] { got = c.data == "onetwo"; });
    if (got) break;
    usleep(2000);
  }
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
