// Thread-per-connection test upstream: blocking accept and reads with short poll timeouts so
// that stopping never waits on a silent peer.
#include "tests/e2e/threaded_upstream.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace ringway::e2e {

ThreadedUpstream::ThreadedUpstream(base::Millis service_ms, int backlog) : service_ms_(service_ms) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      listen(listen_fd_, backlog) != 0) {
    return;
  }
  socklen_t len = sizeof a;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

ThreadedUpstream::~ThreadedUpstream() {
  stop_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> conns;
  {
    std::lock_guard<std::mutex> lock(mu_);
    conns.swap(conns_);
  }
  for (std::thread& t : conns) t.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

std::vector<base::Millis> ThreadedUpstream::ok_times() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ok_times_;
}

void ThreadedUpstream::accept_loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++accepted_;
    ++open_;
    std::lock_guard<std::mutex> lock(mu_);
    const int now = held_by_peers() + 1;
    if (now > peak_.load()) peak_ = now;
    live_.push_back(fd);
    conns_.emplace_back([this, fd] { serve(fd); });
  }
}

int ThreadedUpstream::held_by_peers() const {
  // A serving thread may not have read the EOF yet when the next connection is accepted; what
  // counts is whether the peer has closed, which the kernel knows already.
  std::vector<pollfd> p;
  p.reserve(live_.size());
  for (int fd : live_) p.push_back(pollfd{fd, POLLRDHUP, 0});
  poll(p.data(), p.size(), 0);
  int held = 0;
  for (const pollfd& q : p) held += (q.revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0;
  return held;
}

void ThreadedUpstream::serve(int fd) {
  std::string in;
  char buf[4096];
  while (!stop_) {
    size_t end = in.find("\r\n\r\n");
    if (end == std::string::npos) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
      continue;
    }
    // Requests here carry no body (GET): the head is the whole request.
    in.erase(0, end + 4);
    ++requests_;
    const base::Millis service = service_ms_.load();
    if (service > 0) usleep(static_cast<useconds_t>(service * 1000));
    const bool ok = healthy_.load();
    const char* resp = ok ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                          : "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown";
    if (ok) {
      std::lock_guard<std::mutex> lock(mu_);
      ok_times_.push_back(base::Clock::now().ms);
    }
    if (::send(fd, resp, strlen(resp), MSG_NOSIGNAL) < 0) break;
  }
  --open_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    live_.erase(std::find(live_.begin(), live_.end(), fd));
  }
  ::close(fd);
}

}  // namespace ringway::e2e
