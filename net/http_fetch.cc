// Blocking HTTP client: resolve, connect and exchange with poll() deadlines, response parsed
// by the same strict parser the proxy uses.
#include "net/http_fetch.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

#include "net/address.h"
#include "net/head_writer.h"
#include "net/http_parser.h"
#include "net/http_writer.h"

namespace ringway::net {
namespace {

bool split_url(std::string_view url, std::string* hostport, std::string* target, std::string* err) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    *err = "only http:// URLs are supported: " + std::string(url);
    return false;
  }
  url.remove_prefix(kScheme.size());
  size_t slash = url.find('/');
  *hostport = std::string(url.substr(0, slash));
  *target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  if (hostport->find(':') == std::string::npos || hostport->back() == ']') *hostport += ":80";
  return true;
}

// Waits for `events` on fd until the deadline. Returns: false on timeout or poll error.
bool wait_fd(int fd, short events, base::TimePoint deadline) {
  base::Millis left = deadline - base::Clock::now();
  if (left <= 0) return false;
  pollfd p{fd, events, 0};
  int r = ::poll(&p, 1, static_cast<int>(left));
  return r > 0;
}

}  // namespace

std::string FetchResult::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return v;
  }
  return {};
}

bool http_fetch(const FetchRequest& request, FetchResult* result) {
  *result = FetchResult{};
  const base::TimePoint deadline = base::Clock::now() + request.timeout;
  std::string hostport, target;
  if (!split_url(request.url, &hostport, &target, &result->error)) return false;
  HostPort hp;
  if (!parse_host_port(hostport, &hp, &result->error)) return false;
  std::vector<ResolvedAddress> addrs;
  if (!resolve(hp, &addrs, &result->error)) return false;
  const ResolvedAddress& addr = addrs.front();

  int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    result->error = std::string("socket: ") + strerror(errno);
    return false;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  const std::string where = addr.to_string();
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr.addr), addr.len) < 0 &&
      errno != EINPROGRESS) {
    result->error = "connect " + where + ": " + strerror(errno);
    return false;
  }
  if (!wait_fd(fd, POLLOUT, deadline)) {
    result->error = "connect " + where + ": timed out after " + std::to_string(request.timeout) + " ms";
    return false;
  }
  int soerr = 0;
  socklen_t len = sizeof soerr;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
  if (soerr != 0) {
    result->error = "connect " + where + ": " + strerror(soerr);
    return false;
  }

  std::string out;
  HeadWriter head(out);
  head.request_line(request.method, target);
  head.header("Host", hostport);
  bool has_cl = false;
  for (const auto& [n, v] : request.headers) {
    head.header(n, v);
    if (iequals(n, "Content-Length")) has_cl = true;
  }
  if (!request.body.empty() && !has_cl) head.content_length(request.body.size());
  head.header("Connection", "close");
  head.end_head();
  out += request.body;
  size_t off = 0;
  while (off < out.size()) {
    ssize_t n = ::send(fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
    } else if (n < 0 && errno == EAGAIN) {
      if (!wait_fd(fd, POLLOUT, deadline)) {
        result->error = "send to " + where + ": timed out";
        return false;
      }
    } else {
      result->error = "send to " + where + ": " + strerror(errno);
      return false;
    }
  }

  // Read everything (the server closes after its response) into one stable buffer, then
  // parse: the head slices stay valid because the buffer is not appended to while parsing.
  std::string in;
  char buf[16384];
  HttpParser parser(HttpParser::Mode::kResponse, HttpLimits{65536, 200, 0});
  parser.set_response_to_head(request.method == "HEAD");
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      in.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) break;
    if (errno == EAGAIN) {
      if (!wait_fd(fd, POLLIN, deadline)) {
        result->error = "response from " + where + ": timed out after " +
                        std::to_string(request.timeout) + " ms";
        return false;
      }
      continue;
    }
    result->error = "recv from " + where + ": " + strerror(errno);
    return false;
  }
  const char* p = in.data();
  size_t left = in.size();
  bool final_seen = false;
  for (;;) {
    HttpParser::Step st = parser.parse(p, left);
    p += st.consumed;
    left -= st.consumed;
    switch (st.event) {
      case HttpParser::Event::kHead:
        if (parser.head().status >= 200) {
          final_seen = true;
          result->status = parser.head().status;
          result->headers.clear();
          for (const HeaderField& f : parser.head().headers) {
            result->headers.emplace_back(std::string(f.name), std::string(f.value));
          }
        }
        break;
      case HttpParser::Event::kBody:
        if (final_seen) result->body.append(st.body);
        break;
      case HttpParser::Event::kMessageEnd:
        if (final_seen) return true;
        break;
      case HttpParser::Event::kNeedMore: {
        HttpParser::Step end = parser.finish();
        if (end.event == HttpParser::Event::kMessageEnd && final_seen) return true;
        result->error = "incomplete response from " + where;
        return false;
      }
      case HttpParser::Event::kError:
        result->error = std::string("bad response from ") + where + ": " + parser.error_reason();
        return false;
    }
  }
}

int run_healthcheck(const std::string& url) {
  FetchRequest req;
  req.url = url;
  req.timeout = 2000;
  FetchResult res;
  if (!http_fetch(req, &res)) {
    std::fprintf(stderr, "unhealthy: %s\n", res.error.c_str());
    return 1;
  }
  if (res.status != 200) {
    std::fprintf(stderr, "unhealthy: %s answered %d\n", url.c_str(), res.status);
    return 1;
  }
  std::printf("healthy: %s answered 200\n", url.c_str());
  return 0;
}

}  // namespace ringway::net
