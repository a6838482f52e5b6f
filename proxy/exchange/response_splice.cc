// Large Content-Length response bodies cross the proxy inside the kernel: once the head and
// the body bytes of its read are queued for the client, the rest moves upstream socket ->
// pipe -> client socket by splice(2). Nothing in such a body is ours to look at (no framing
// inside a Content-Length body), so this changes who copies, not what is forwarded.
#include "net/socket.h"
#include "proxy/access_log/response_flags.h"
#include "proxy/exchange/proxy_connection.h"
#include "proxy/proxy_metrics.h"

namespace ringway::proxy {
namespace {

// Content-Length body bytes the parser has not seen yet.
uint64_t body_left(const net::HttpParser& parser) {
  return parser.head().content_length - parser.body_bytes();
}

}  // namespace

void ProxyConnection::begin_splice() {
  ExchangeState& x = ex();
  const uint64_t min = x.config->config->limits.splice_min;
  if (min == 0 || phase_ != Phase::kForward || !x.up || x.resp_done) return;
  if (x.resp_framing != OutFraming::kContentLength) return;
  const net::HttpParser& parser = x.up->parser();
  if (parser.head().framing != net::BodyFraming::kContentLength || body_left(parser) < min) return;
  x.splice_pending = true;
  x.client_seen = kClientUnseen;
  // This read's bytes are parsed; no more may reach the parser (REQUIRES of Loop::splice).
  x.upstream_paused = false;
  loop_.pause_recv(x.up->socket());
}

void ProxyConnection::start_splice_when_flushed() {
  ExchangeState& x = ex();
  if (!x.splice_pending || x.client_sending || !x.client_out.empty() || !x.up) return;
  x.splice_pending = false;
  // Reading the server again, by splice or by recv: its silence counts from now.
  set_upstream_deadline(x.config->config->timeouts.upstream_response);
  if (loop_.splice(x.up->socket(), sock_, body_left(x.up->parser()))) {
    x.splicing = true;
    x.splice_seen = 0;
    return;
  }
  loop_.start_recv(x.up->socket());  // no pipe to be had: the body is copied as usual
}

void ProxyConnection::count_spliced(uint64_t moved) {
  ExchangeState& x = ex();
  x.log_bytes_out += moved;
  worker_.metrics().spliced_bytes.inc(worker_.index(), moved);
}

void ProxyConnection::settle_splice() {
  ExchangeState& x = ex();
  if (!x.splicing || !x.up) return;
  count_spliced(loop_.splice_progress(x.up->socket()));
  x.splicing = false;
}

void ProxyConnection::on_upstream_spliced(uint64_t moved, int err, bool sink_failed) {
  Entered entered(*this);
  ExchangeState& x = ex();
  x.splicing = false;
  count_spliced(moved);
  if (phase_ == Phase::kClosed) return;
  if (err == 0) {
    // The parser saw none of these bytes; the Content-Length said where the response ends.
    // The socket's reads resume when it is parked (or it is closed), as after a pause.
    x.upstream_paused = true;
    finish_response(net::has_unread_input(loop_.fd(x.up->socket())));
    return;
  }
  if (sink_failed) {
    x.log_flags |= kFlagDownstreamClosed;
  } else {
    x.log_flags |= err == net::kSpliceSourceEnded ? kFlagUpstreamClosed : kFlagUpstreamReset;
  }
  close();  // a truncated body: closing is the only way to tell the client
}

}  // namespace ringway::proxy
