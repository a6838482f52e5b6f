// Loopback helpers for e2e tests: port picking, one-shot requests via http_fetch, and a raw
// TCP client whose responses are framed by net/http_parser (restarted on each new byte batch).
#include "tests/e2e/loopback.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/address.h"
#include "net/http_parser.h"
#include "net/http_writer.h"

namespace ringway::e2e {
namespace {

// Waits for `events` until the deadline. Returns: false on timeout.
bool wait_fd(int fd, short events, base::TimePoint deadline) {
  for (;;) {
    base::Millis left = deadline - base::Clock::now();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

}  // namespace

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  int port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

std::string local_url(int port, std::string_view path) {
  return "http://127.0.0.1:" + std::to_string(port) + std::string(path);
}

net::FetchResult http_request(std::string_view method, int port, std::string_view path,
                              const Headers& headers, std::string body, base::Millis timeout) {
  net::FetchRequest req;
  req.method = std::string(method);
  req.url = local_url(port, path);
  req.headers = headers;
  req.body = std::move(body);
  req.timeout = timeout;
  net::FetchResult res;
  if (!net::http_fetch(req, &res)) res.status = 0;
  return res;
}

net::FetchResult http_get(int port, std::string_view path, const Headers& headers, base::Millis timeout) {
  return http_request("GET", port, path, headers, {}, timeout);
}

std::string RawResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (net::iequals(n, name)) return v;
  }
  return {};
}

size_t RawResponse::header_count(std::string_view name) const {
  size_t count = 0;
  for (const auto& [n, v] : headers) count += net::iequals(n, name) ? 1 : 0;
  return count;
}

RawConnection::~RawConnection() {
  close();
}

void RawConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawConnection::connect(int port, base::Millis timeout, const std::string& host) {
  close();
  in_.clear();
  peer_closed_ = false;
  net::HostPort hp{host, static_cast<uint16_t>(port)};
  net::ResolvedAddress addr;
  if (!net::to_sockaddr(hp, &addr)) {
    error_ = "not an IP literal: " + host;
    return false;
  }
  fd_ = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    error_ = std::string("socket: ") + strerror(errno);
    return false;
  }
  const std::string where = addr.to_string();
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr.addr), addr.len) < 0 &&
      errno != EINPROGRESS) {
    error_ = "connect " + where + ": " + strerror(errno);
    close();
    return false;
  }
  if (!wait_fd(fd_, POLLOUT, base::Clock::now() + timeout)) {
    error_ = "connect " + where + ": timed out";
    close();
    return false;
  }
  int soerr = 0;
  socklen_t len = sizeof soerr;
  ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &soerr, &len);
  if (soerr != 0) {
    error_ = "connect " + where + ": " + strerror(soerr);
    close();
    return false;
  }
  return true;
}

bool RawConnection::send(std::string_view bytes, base::Millis timeout) {
  const base::TimePoint deadline = base::Clock::now() + timeout;
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_fd(fd_, POLLOUT, deadline)) {
        error_ = "send: timed out";
        return false;
      }
    } else {
      error_ = std::string("send: ") + strerror(errno);
      return false;
    }
  }
  return true;
}

void RawConnection::shutdown_write() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

bool RawConnection::recv_more(base::TimePoint deadline) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      in_.append(buf, static_cast<size_t>(n));
      return true;
    }
    if (n == 0) {
      peer_closed_ = true;
      return true;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      if (!wait_fd(fd_, POLLIN, deadline)) {
        error_ = "recv: timed out";
        return false;
      }
      continue;
    }
    if (errno == ECONNRESET) {
      peer_closed_ = true;
      return true;
    }
    error_ = std::string("recv: ") + strerror(errno);
    return false;
  }
}

std::optional<RawResponse> RawConnection::read_response(base::Millis timeout, bool head_request) {
  if (fd_ < 0) {
    error_ = "not connected";
    return std::nullopt;
  }
  const base::TimePoint deadline = base::Clock::now() + timeout;
  for (;;) {
    // Parse everything buffered from the start with a fresh parser: the head slices point into
    // in_, which does not change while this pass runs. Quadratic, but responses here are small.
    net::HttpParser parser(net::HttpParser::Mode::kResponse, net::HttpLimits{1 << 20, 1000, 0});
    parser.set_response_to_head(head_request);
    RawResponse r;
    bool final_head = false;
    const char* p = in_.data();
    size_t left = in_.size();
    for (;;) {
      net::HttpParser::Step st = parser.parse(p, left);
      p += st.consumed;
      left -= st.consumed;
      bool done = false;
      switch (st.event) {
        case net::HttpParser::Event::kHead: {
          const net::HttpHead& h = parser.head();
          if (h.status < 200) {
            r.interim.push_back(h.status);
            break;
          }
          final_head = true;
          r.status = h.status;
          r.reason = std::string(h.reason);
          r.keep_alive = h.keep_alive;
          for (const net::HeaderField& f : h.headers) r.headers.emplace_back(f.name, f.value);
          break;
        }
        case net::HttpParser::Event::kBody:
          r.body.append(st.body);
          break;
        case net::HttpParser::Event::kMessageEnd:
          done = final_head;
          break;
        case net::HttpParser::Event::kError:
          error_ = std::string("malformed response: ") + parser.error_reason() + " in: " + in_;
          return std::nullopt;
        case net::HttpParser::Event::kNeedMore:
          if (peer_closed_) {
            net::HttpParser::Step end = parser.finish();
            if (end.event == net::HttpParser::Event::kMessageEnd && final_head) {
              in_.clear();
              return r;
            }
            error_ = "connection closed before a complete response; got: " + in_;
            return std::nullopt;
          }
          break;
      }
      if (done) {
        in_.erase(0, static_cast<size_t>(p - in_.data()));
        return r;
      }
      if (st.event == net::HttpParser::Event::kNeedMore) break;
    }
    if (!recv_more(deadline)) return std::nullopt;
  }
}

bool RawConnection::wait_closed(base::Millis timeout, std::string* rest) {
  const base::TimePoint deadline = base::Clock::now() + timeout;
  bool ok = true;
  while (!peer_closed_ && fd_ >= 0) {
    if (!recv_more(deadline)) {
      ok = false;
      break;
    }
  }
  if (rest) *rest = in_;
  return ok && peer_closed_;
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace ringway::e2e
