// The health probe's connection: connect, send one GET with "Connection: close", parse the
// response head with the strict codec, then close without reading the body.
#include "proxy/upstream/health_probe.h"

#include <fmt/format.h>

#include <cstring>
#include <system_error>

#include "net/socket.h"

namespace ringway::proxy {
namespace {

std::string errno_text(int err) {
  return std::error_code(err, std::system_category()).message();
}

}  // namespace

const char* probe_result_name(ProbeResult result) {
  switch (result) {
    case ProbeResult::kSuccess:
      return "success";
    case ProbeResult::kFailure:
      return "failure";
    case ProbeResult::kTimeout:
      return "timeout";
  }
  return "failure";
}

std::string probe_request(const std::string& path, const net::HostPort& configured) {
  return "GET " + path + " HTTP/1.1\r\nHost: " + configured.to_string() +
         "\r\nUser-Agent: ringway-health-check\r\nConnection: close\r\n\r\n";
}

HealthProbe::HealthProbe(net::Loop& loop)
    : loop_(loop),
      parser_(net::HttpParser::Mode::kResponse, net::HttpLimits{kMaxHead, 100, 0}),
      buf_(new char[kMaxHead]) {
  timer_.set_callback(
      [this] { finish(ProbeResult::kTimeout, 0, fmt::format("timeout after {} ms", timeout_)); });
}

void HealthProbe::start(const net::ResolvedAddress& addr, std::string request, base::Millis timeout,
                        Done done) {
  running_ = true;
  done_ = std::move(done);
  request_ = std::move(request);
  timeout_ = timeout;
  filled_ = parsed_ = 0;
  parser_.reset();
  started_ns_ = base::Clock::now_ns();
  const int fd = net::connect_socket(addr.family());
  if (fd < 0) {
    fail("socket: " + errno_text(-fd));
    return;
  }
  sock_ = loop_.add(fd, this);
  loop_.add_timer(&timer_, timeout);
  loop_.connect(sock_, reinterpret_cast<const sockaddr*>(&addr.addr), addr.len);
}

void HealthProbe::cancel() {
  if (!running_) return;
  running_ = false;
  done_ = nullptr;
  loop_.cancel_timer(&timer_);
  if (sock_ != nullptr) loop_.close(sock_);
  sock_ = nullptr;
}

void HealthProbe::on_connected(int res) {
  if (res < 0) {
    fail("connect: " + errno_text(-res));
    return;
  }
  loop_.start_recv(sock_);
  iovec iov{request_.data(), request_.size()};
  loop_.send(sock_, &iov, 1);
}

void HealthProbe::on_sent(ssize_t res) {
  if (res < 0) fail("send: " + errno_text(static_cast<int>(-res)));
}

void HealthProbe::on_data(const char* data, size_t len) {
  if (!running_) return;
  if (len > kMaxHead - filled_) {
    fail(fmt::format("response head over {} bytes", kMaxHead));
    return;
  }
  memcpy(buf_.get() + filled_, data, len);
  filled_ += len;
  for (;;) {
    const net::HttpParser::Step step = parser_.parse(buf_.get() + parsed_, filled_ - parsed_);
    parsed_ += step.consumed;
    switch (step.event) {
      case net::HttpParser::Event::kNeedMore:
        return;
      case net::HttpParser::Event::kError:
        fail(std::string("malformed response: ") + parser_.error_reason());
        return;
      case net::HttpParser::Event::kHead: {
        const int status = parser_.head().status;
        // 1xx interim responses (RFC 9110 §15.2) precede the final one; 101 would switch
        // protocols, which a health endpoint must not do.
        if (status < 200 && status != 101) break;
        const double ms = static_cast<double>(base::Clock::now_ns() - started_ns_) / 1e6;
        const bool ok = status >= 200 && status < 400;
        finish(ok ? ProbeResult::kSuccess : ProbeResult::kFailure, status,
               fmt::format("{} in {:.1f} ms", status, ms));
        return;
      }
      case net::HttpParser::Event::kBody:
      case net::HttpParser::Event::kMessageEnd:
        break;
    }
  }
}

void HealthProbe::on_recv_end(int err) {
  if (err < 0) {
    fail("recv: " + errno_text(-err));
  } else {
    fail("connection closed before a response head");
  }
}

void HealthProbe::finish(ProbeResult result, int status, std::string detail) {
  if (!running_) return;
  running_ = false;
  loop_.cancel_timer(&timer_);
  if (sock_ != nullptr) loop_.close(sock_);
  sock_ = nullptr;
  Done done = std::move(done_);
  done_ = nullptr;
  // Last statement: `done` may start the next probe or destroy this object.
  done(ProbeOutcome{result, status, std::move(detail)});
}

}  // namespace ringway::proxy
