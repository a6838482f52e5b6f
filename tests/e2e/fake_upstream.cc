// FakeUpstream: an accept thread plus one thread per connection running the test's script;
// requests are framed by net/http_parser so their exact bytes and decoded parts are recorded.
#include "tests/e2e/fake_upstream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "net/head_writer.h"
#include "net/http_parser.h"
#include "net/http_writer.h"

namespace ringway::e2e {
namespace {

// Waits for `events` on fd or for the stop eventfd. Returns: 1 ready, 0 timeout, -1 stopping.
int wait_ready(int fd, short events, int stop_fd, base::TimePoint deadline) {
  for (;;) {
    base::Millis left = deadline - base::Clock::now();
    if (left <= 0) return 0;
    pollfd p[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
    int r = ::poll(p, 2, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (p[1].revents) return -1;
    if (r > 0) return 1;
  }
}

constexpr base::Millis kForever = 24LL * 3600 * 1000;

}  // namespace

std::string ReceivedRequest::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (net::iequals(n, name)) return v;
  }
  return {};
}

size_t ReceivedRequest::header_count(std::string_view name) const {
  size_t count = 0;
  for (const auto& [n, v] : headers) count += net::iequals(n, name) ? 1 : 0;
  return count;
}

std::string http_response(int status, std::string_view body, const Headers& headers) {
  std::string out;
  net::HeadWriter head(out);
  head.status_line(status);
  for (const auto& [n, v] : headers) head.header(n, v);
  head.content_length(body.size());
  head.end_head();
  out.append(body);
  return out;
}

UpstreamScript serve(std::function<std::string(const ReceivedRequest&)> respond) {
  return [respond = std::move(respond)](UpstreamConn& c) {
    while (auto req = c.read_request(30000)) {
      if (!c.send(respond(*req))) return;
    }
  };
}

UpstreamScript reply_always(std::string response) {
  return serve([response = std::move(response)](const ReceivedRequest&) { return response; });
}

UpstreamScript hang_after_request() {
  return [](UpstreamConn& c) {
    if (c.read_request()) c.hang();
  };
}

UpstreamScript reset_after_request() {
  return [](UpstreamConn& c) {
    if (c.read_request()) c.reset();
  };
}

// ---- UpstreamConn --------------------------------------------------------------------------

UpstreamConn::UpstreamConn(FakeUpstream& owner, int fd, size_t index)
    : owner_(owner), fd_(fd), index_(index) {}

UpstreamConn::~UpstreamConn() {
  close();
}

bool UpstreamConn::recv_more(base::TimePoint deadline) {
  if (fd_ < 0 || eof_) return false;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      in_.append(buf, static_cast<size_t>(n));
      owner_.add_received(buf, static_cast<size_t>(n));
      return true;
    }
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      eof_ = true;
      return false;
    }
    if (n < 0 && errno == EINTR) continue;
    if (wait_ready(fd_, POLLIN, owner_.stop_fd(), deadline) != 1) return false;
  }
}

std::optional<ReceivedRequest> UpstreamConn::read_request(base::Millis timeout) {
  const base::TimePoint deadline = base::Clock::now() + timeout;
  net::HttpParser parser(net::HttpParser::Mode::kRequest, net::HttpLimits{1 << 20, 1000, 0});
  ReceivedRequest req;
  req.connection = index_;
  bool have_head = false;
  size_t pos = 0;
  for (;;) {
    if (!have_head && !in_.empty()) {
      // Head slices must stay at stable addresses until kHead: parse it from scratch over the
      // whole buffer each time more arrives (heads are small), then copy it out.
      parser.reset();
      net::HttpParser::Step st = parser.parse(in_.data(), in_.size());
      if (st.event == net::HttpParser::Event::kError) return std::nullopt;
      if (st.event == net::HttpParser::Event::kHead) {
        const net::HttpHead& h = parser.head();
        req.method = std::string(h.method);
        req.target = std::string(h.target);
        req.version_minor = h.version_minor;
        for (const auto& f : h.headers) req.headers.emplace_back(f.name, f.value);
        have_head = true;
        pos = st.consumed;
      }
    }
    while (have_head) {
      // Body slices are copied as they come, so the buffer may grow between calls.
      net::HttpParser::Step st = parser.parse(in_.data() + pos, in_.size() - pos);
      pos += st.consumed;
      if (st.event == net::HttpParser::Event::kError) return std::nullopt;
      if (st.event == net::HttpParser::Event::kBody) req.body.append(st.body);
      if (st.event == net::HttpParser::Event::kMessageEnd) {
        for (const auto& f : parser.trailers()) req.trailers.emplace_back(f.name, f.value);
        req.raw = in_.substr(0, pos);
        in_.erase(0, pos);
        owner_.record(req);
        return req;
      }
      if (st.event == net::HttpParser::Event::kNeedMore) break;
    }
    if (!recv_more(deadline)) return std::nullopt;
  }
}

bool UpstreamConn::send(std::string_view bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    if (fd_ < 0 || owner_.stopping()) return false;
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<size_t>(n);
      sent_ += static_cast<uint64_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      if (wait_ready(fd_, POLLOUT, owner_.stop_fd(), base::Clock::now() + kForever) != 1)
        return false;
    } else {
      return false;
    }
  }
  return true;
}

std::string UpstreamConn::recv_some(base::Millis timeout) {
  if (in_.empty()) recv_more(base::Clock::now() + timeout);
  std::string out;
  out.swap(in_);
  return out;
}

bool UpstreamConn::wait_eof(base::Millis timeout) {
  const base::TimePoint deadline = base::Clock::now() + timeout;
  while (!eof_) {
    if (!recv_more(deadline) && !eof_) return false;
  }
  return true;
}

void UpstreamConn::shutdown_write() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void UpstreamConn::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void UpstreamConn::reset() {
  if (fd_ < 0) return;
  linger l{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close();
}

bool UpstreamConn::sleep(base::Millis ms) {
  pollfd p{owner_.stop_fd(), POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(ms)) == 0;
}

void UpstreamConn::hang() {
  while (!owner_.stopping()) sleep(1000);
}

// ---- FakeUpstream --------------------------------------------------------------------------

FakeUpstream::~FakeUpstream() {
  stop();
}

bool FakeUpstream::start(UpstreamScript script) {
  script_ = std::move(script);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (stop_fd_ < 0 || listen_fd_ < 0) {
    error_ = std::string("socket: ") + strerror(errno);
    return false;
  }
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 128) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    error_ = std::string("listen: ") + strerror(errno);
    return false;
  }
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
  return true;
}

void FakeUpstream::set_script(UpstreamScript script) {
  std::lock_guard<std::mutex> lock(mu_);
  script_ = std::move(script);
}

void FakeUpstream::accept_loop() {
  for (;;) {
    if (wait_ready(listen_fd_, POLLIN, stop_fd_, base::Clock::now() + kForever) != 1) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    const size_t index = connections_++;
    cv_.notify_all();
    workers_.emplace_back([this, fd, index, script = script_] {
      UpstreamConn conn(*this, fd, index);
      if (script) script(conn);
    });
  }
}

void FakeUpstream::stop() {
  if (stopping_.exchange(true)) return;
  if (stop_fd_ >= 0) {
    uint64_t one = 1;
    ssize_t w = ::write(stop_fd_, &one, sizeof one);
    (void)w;
  }
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    workers.swap(workers_);
  }
  for (std::thread& t : workers) t.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
  listen_fd_ = stop_fd_ = -1;
}

void FakeUpstream::record(ReceivedRequest req) {
  std::lock_guard<std::mutex> lock(mu_);
  requests_.push_back(std::move(req));
  cv_.notify_all();
}

void FakeUpstream::add_received(const char* data, size_t n) {
  constexpr size_t kKept = 1 << 20;
  std::lock_guard<std::mutex> lock(mu_);
  bytes_received_ += n;
  if (received_.size() < kKept) received_.append(data, std::min(n, kKept - received_.size()));
}

std::string FakeUpstream::received_data() const {
  std::lock_guard<std::mutex> lock(mu_);
  return received_;
}

std::vector<ReceivedRequest> FakeUpstream::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

size_t FakeUpstream::request_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_.size();
}

size_t FakeUpstream::connection_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return connections_;
}

uint64_t FakeUpstream::bytes_received() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_received_;
}

bool FakeUpstream::wait_requests(size_t n, base::Millis timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout),
                      [&] { return requests_.size() >= n; });
}

bool FakeUpstream::wait_connections(size_t n, base::Millis timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout), [&] { return connections_ >= n; });
}

}  // namespace ringway::e2e
