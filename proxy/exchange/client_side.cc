// Client side of a proxied connection: request parsing and routing, request body streaming,
// response delivery, keep-alive and pipelining, timeouts and proxy-generated errors.
#include "proxy/exchange/proxy_connection.h"

#include <llhttp.h>

#include <cstring>

#include "base/json_writer.h"
#include "proxy/access_log/response_flags.h"
#include "net/head_writer.h"
#include "net/http_date.h"
#include "net/http_writer.h"
#include "net/socket.h"
#include "proxy/proxy_metrics.h"
#include "net/request_target.h"

namespace ringway::proxy {
namespace {

// Strings of a returned exchange keep their capacity up to this (no malloc per request); one
// large response or head must not pin its peak in the worker's spare exchanges.
constexpr size_t kStringWatermark = 1024;

net::HttpLimits request_limits(const LimitsConfig& l) {
  return net::HttpLimits{l.max_header_bytes, l.max_headers, l.max_body_bytes,
                         l.max_chunk_ext_bytes};
}

// The access log flag for an error the proxy answers itself, unless an upstream failure
// (which says more) was already flagged.
uint32_t error_flags(int status, uint32_t already) {
  if (already != 0) return 0;
  switch (status) {
    case 404: return kFlagNoRoute;
    case 408: return kFlagDownstreamHeaderTimeout;
    case 400: case 405: case 413: case 431: return kFlagDownstreamProtocolError;
    case 503: return kFlagNoHealthyUpstream;
    default: return 0;
  }
}

}  // namespace

ProxyConnection::ProxyConnection(ExchangeContext& worker)
    : worker_(worker),
      loop_(worker.loop()),
      in_(input_capacity(worker.current()->config->limits)),
      client_deadline_([this] { on_client_timer(); }),
      upstream_timer_([this] { on_upstream_timer(); }) {}

ProxyConnection::~ProxyConnection() {
  if (x_ && phase_ != Phase::kClosed && x_->start_ns != 0) {
    x_->log_flags |= kFlagShutdownCut;  // the drain budget ran out with this request open
    log_request(x_->resp_started ? x_->status : 0);
  }
  client_deadline_.cancel(loop_);
  loop_.cancel_timer(&upstream_timer_);
  if (x_) {
    x_->up.reset();
    worker_.return_exchange(x_, 0);
    x_ = nullptr;
  }
  if (sock_) loop_.close(sock_);
}

void ProxyConnection::lease_exchange() {
  x_ = worker_.lease_exchange(request_limits(worker_.current()->config->limits));
}

void ProxyConnection::maybe_return_exchange() {
  // Closed: the object waits in the worker's pool for its next client and needs none. Idle:
  // the response is out, the upstream connection parked, no pipelined byte is waiting.
  const bool idle_now = phase_ == Phase::kIdle && in_.empty() && x_->client_out.empty() &&
                        !x_->client_sending && !x_->up && x_->start_ns == 0;
  // A send cut off by the close may still be read by the kernel until its cancel is
  // processed: such an exchange stays with this object, not lent to another connection,
  // until the object is opened again for a new client.
  const bool closed_quiet = phase_ == Phase::kClosed && !x_->client_sending && !sending_at_close_;
  if (closed_quiet || idle_now) {
    worker_.return_exchange(x_, kStringWatermark);
    x_ = nullptr;
  }
}

void ProxyConnection::open(int fd) {
  const LimitsConfig& limits = worker_.current()->config->limits;
  if (in_.capacity() != input_capacity(limits)) {
    in_.reset_capacity(input_capacity(limits));  // limits changed by a reload
  }
  // This object served another client before (Worker pools them): bytes that client left
  // unread (a pipelined request after a 400, the body after a 413) must never be parsed as
  // this client's request, and its exchange (if one survived) is not this client's either.
  in_.clear();
  in_.release();
  if (x_) {
    worker_.return_exchange(x_, 0);
    x_ = nullptr;
  }
  phase_ = Phase::kIdle;
  entered_ = 0;
  sending_at_close_ = false;
  client_paused_ = client_eof_ = close_after_response_ = false;
  client_ip_ = net::peer_ip(fd, &client_port_);
  sock_ = loop_.add(fd, this);
  loop_.start_recv(sock_);
  set_client_deadline(worker_.current()->config->timeouts.client_idle);
}

void ProxyConnection::reset_request_state() {
  ExchangeState& x = ex();
  x.req_done = x.head_sent = x.body_sent = x.up_sending = x.up_connecting = false;
  x.resp_started = x.resp_done = x.panic = false;
  x.splice_pending = x.splicing = false;
  x.attempts = 0;
  x.status = 0;
  x.upstream_ttfb_ns = x.queue_wait_ns = 0;
  x.req_body.clear();
  x.req_chunk.clear();
  x.chunks_seen = 0;
  x.buffering = false;
  x.client_http10 = x.upgrade_request = x.idempotent = false;
  x.stale_retried = x.got_response_bytes = x.informational = false;
}

void ProxyConnection::drain() {
  Entered entered(*this);
  close_after_response_ = true;
  if (idle()) close();
}

void ProxyConnection::set_client_deadline(base::Millis after) {
  client_deadline_.set(loop_, after);
}

void ProxyConnection::on_client_timer() {
  Entered entered(*this);
  if (phase_ == Phase::kClosed) return;
  if (!client_deadline_.due(loop_)) return;
  if (phase_ == Phase::kHead) {
    respond_error(408, ErrorSource::kClient, "request header timeout");
    return;
  }
  if (phase_ == Phase::kIdle && idle()) {
    close();
    return;
  }
  if (phase_ == Phase::kTunnel) {
    close();
    return;
  }
  if (phase_ == Phase::kForward && ex().buffering) {
    // Nothing went upstream yet, so no upstream timer runs: a stalled body is ours to end.
    respond_error(408, ErrorSource::kClient, "request body timeout");
    return;
  }
  // A request in progress is governed by the upstream timers.
  set_client_deadline(worker_.current()->config->timeouts.client_idle);
}

void ProxyConnection::on_data(const char* data, size_t len) {
  Entered entered(*this);
  if (phase_ == Phase::kClosed) return;
  if (phase_ == Phase::kTunnel) {
    tunnel_client_bytes(data, len);
    return;
  }
  if (phase_ == Phase::kIdle) {
    phase_ = Phase::kHead;
    const Config& cfg = *worker_.current()->config;
    // The exchange's parser takes today's limits, so the receive buffer must too (a reload
    // since open() may have raised max_header_bytes): else an allowed head could not fit.
    if (!x_ && in_.empty() && in_.capacity() != input_capacity(cfg.limits)) {
      in_.reset_capacity(input_capacity(cfg.limits));
    }
    set_client_deadline(cfg.timeouts.client_header);
  }
  if (phase_ == Phase::kForward && ex().buffering) {
    set_client_deadline(worker_.current()->config->timeouts.client_idle);
  }
  in_.append(data, len);
  process_client_input();
}

void ProxyConnection::process_client_input() {
  ExchangeState& x = ex();
  while (phase_ == Phase::kHead || (phase_ == Phase::kForward && !x.req_done)) {
    if (phase_ == Phase::kForward && !x.buffering &&
        x.req_body.size() + x.req_sending.size() >= stream_limit()) {
      // The upstream is slower than the client: stop reading until it catches up.
      if (!client_paused_) {
        client_paused_ = true;
        loop_.pause_recv(sock_);
      }
      return;
    }
    net::HttpParser::Step st = x.parser.parse(in_.data(), in_.size());
    in_.consume(st.consumed);
    x.log_bytes_in += st.consumed;
    if (x.parser.chunks_completed() != x.chunks_seen && phase_ == Phase::kForward) {
      // The parser validated the held chunk's trailing CRLF (RFC 9112 §7.1): now it may go up.
      x.chunks_seen = x.parser.chunks_completed();
      queue_request_bytes(x.req_chunk);
      x.req_chunk.clear();
    }
    switch (st.event) {
      case net::HttpParser::Event::kNeedMore:
        if (phase_ == Phase::kForward && (in_.full() || in_.has_stash())) {
          in_.compact();  // body phase: no slice into the buffer is live
          if (in_.size() > 0) continue;
        }
        if (client_eof_) {
          x.log_flags |= kFlagDownstreamClosed;
          respond_error(400, ErrorSource::kClient, "client closed mid-request");
        }
        return;
      case net::HttpParser::Event::kError: {
        int status = x.parser.error_status();
        // After any parse error the stream position is unknown: answer, then close, whatever
        // the status (505 included) and whatever the previous request on this connection left.
        close_after_response_ = true;
        if (phase_ == Phase::kHead) reset_request_state();  // a new request failed, not the last
        respond_error(status == 0 ? 400 : status, ErrorSource::kClient, x.parser.error_reason());
        return;
      }
      case net::HttpParser::Event::kHead:
        start_request();
        break;
      case net::HttpParser::Event::kBody:
        append_request_body(st.body);
        break;
      case net::HttpParser::Event::kMessageEnd:
        finish_request_body();
        break;
    }
  }
  // Waiting for the response with pipelined bytes piling up: pause when the buffer is full.
  if (phase_ == Phase::kForward && x.req_done && (in_.full() || in_.has_stash()) && !client_paused_) {
    client_paused_ = true;
    loop_.pause_recv(sock_);
  }
}

void ProxyConnection::start_request() {
  ExchangeState& x = ex();
  x.start_ns = base::Clock::now_ns();
  x.config = worker_.current();
  x.route = &x.config->no_route;
  const net::HttpHead& head = x.parser.head();
  reset_request_state();
  // For trailers only (they exist only in chunked bodies): the head's views die with its
  // receive buffer, which a streamed body may release before the trailers arrive.
  if (head.framing == net::BodyFraming::kChunked) x.req_connection.collect(head);
  else x.req_connection.clear();
  x.log_method = head.method;
  if (worker_.access_log()) x.log_target.assign(head.target);
  x.head_request = head.method_id == HTTP_HEAD;
  x.client_http10 = head.version_minor == 0;
  x.upgrade_request = head.upgrade;
  // RFC 9110 §9.2.2: these methods are idempotent, so a retry cannot apply them twice.
  x.idempotent = head.method_id == HTTP_GET || head.method_id == HTTP_HEAD ||
                head.method_id == HTTP_OPTIONS || head.method_id == HTTP_PUT ||
                head.method_id == HTTP_DELETE || head.method_id == HTTP_TRACE;
  phase_ = Phase::kForward;
  if (!head.keep_alive) close_after_response_ = true;

  x.request_id.clear();
  std::string_view incoming_id = usable_request_id(head);
  if (!incoming_id.empty()) {
    x.request_id.assign(incoming_id);
  } else {
    char id[32];
    worker_.new_request_id(id);
    x.request_id.assign(id, sizeof id);
  }

  if (head.method_id == HTTP_CONNECT) {
    respond_error(405, ErrorSource::kClient, "CONNECT is not supported by a reverse proxy");
    return;
  }
  std::string_view path, query;
  if (net::normalize_target(head.target, x.path_scratch, &path, &query) != net::TargetStatus::kOk) {
    respond_error(400, ErrorSource::kClient, "invalid request target");
    return;
  }
  size_t index = 0;
  const RouteConfig* route = x.config->router.match(path, &index);
  if (route == nullptr) {
    respond_error(404, ErrorSource::kClient, "no route matches the request path");
    return;
  }
  x.route = &x.config->routes[index];
  x.upstream = x.route->upstream;
  x.target.clear();
  rewrite_target(*route, path, query, x.target);
  const Config& cfg = *x.config->config;
  ClientFacts facts{client_ip_, "http", x.request_id};
  // Only an HTTP/1.0 request may lack Host; format the fallback only then.
  std::string default_host;
  if (head.host.empty()) default_host = cfg.upstreams[route->upstream_index].servers.front().to_string();
  x.req_head.clear();
  x.req_framing =
      build_upstream_request(head, x.target, facts, cfg.request_headers, default_host, x.req_head);
  if (head.expect_continue && head.framing != net::BodyFraming::kNone) {
    // We accept the body ourselves (RFC 9110 §10.1.1) rather than forwarding Expect.
    x.client_out.append("HTTP/1.1 100 Continue\r\n\r\n");
    flush_client();
  }
  x.upstream->on_request();
  // Request buffering: a body that fits limits.request_buffer is received and validated whole
  // before anything goes upstream, so an upstream never sees a request we then reject. A
  // larger Content-Length body streams at once; a chunked one once the buffer overflows.
  const uint64_t buffer = cfg.limits.request_buffer;
  x.buffering = buffer != 0 && (head.framing == net::BodyFraming::kChunked ||
                               (head.framing == net::BodyFraming::kContentLength &&
                                head.content_length <= buffer));
  if (x.buffering) {
    set_client_deadline(cfg.timeouts.client_idle);  // re-armed as body bytes arrive
    return;
  }
  pick_and_connect(nullptr);
}

void ProxyConnection::start_upstream() {
  ExchangeState& x = ex();
  x.buffering = false;
  if (phase_ == Phase::kForward && !x.resp_started) pick_and_connect(nullptr);
}

void ProxyConnection::append_request_body(std::string_view body) {
  ExchangeState& x = ex();
  if (body.empty()) return;
  if (x.parser.head().framing == net::BodyFraming::kChunked) {
    // Held until the parser has checked this chunk's trailing CRLF (see process_client_input).
    x.req_chunk.append(body);
    // Except one chunk larger than this, which goes up in pieces: holding it whole would let a
    // client pin up to max_body_bytes per connection.
    if (x.req_chunk.size() >= stream_limit()) {
      queue_request_bytes(x.req_chunk);
      x.req_chunk.clear();
    }
    return;
  }
  queue_request_bytes(body);
}

void ProxyConnection::queue_request_bytes(std::string_view bytes) {
  ExchangeState& x = ex();
  if (bytes.empty() || phase_ != Phase::kForward) return;
  if (x.req_framing == OutFraming::kChunked) {
    net::write_chunk_header(x.req_body, bytes.size());
    x.req_body.append(bytes);
    net::write_chunk_end(x.req_body);
  } else {
    x.req_body.append(bytes);
  }
  if (x.buffering && x.req_body.size() > x.config->config->limits.request_buffer) {
    start_upstream();  // the body outgrew the buffer: stream from here on
  } else if (x.head_sent) {
    send_upstream();
  }
}

void ProxyConnection::finish_request_body() {
  ExchangeState& x = ex();
  x.req_done = true;
  if (x.req_framing == OutFraming::kChunked) {
    const size_t dropped = write_forwarded_trailers(x.parser.trailers(), x.req_connection,
                                                    x.config->config->request_headers, x.req_body);
    if (dropped != 0) worker_.metrics().trailer_drops.inc(worker_.index(), dropped);
  }
  if (x.buffering) {
    start_upstream();  // the whole body is validated: now the request goes up
  } else if (phase_ == Phase::kForward && x.head_sent) {
    send_upstream();
  }
  if (phase_ == Phase::kForward) {
    // Timeouts now belong to the upstream exchange.
    set_client_deadline(x.config->config->timeouts.client_idle);
  }
}

void ProxyConnection::flush_client() {
  ExchangeState& x = ex();
  // While a splice writes to the client socket, anything queued waits for it (REQUIRES of
  // Loop::splice); nothing but a close normally comes in between.
  if (x.client_sending || x.splicing || x.client_out.empty() || phase_ == Phase::kClosed) return;
  x.client_sending_buf.swap(x.client_out);
  x.client_out.clear();
  x.client_sending = true;
  iovec iov{x.client_sending_buf.data(), x.client_sending_buf.size()};
  loop_.send(sock_, &iov, 1);
}

void ProxyConnection::on_sent(ssize_t res) {
  Entered entered(*this);
  ExchangeState& x = ex();
  x.client_sending = false;
  x.client_sending_buf.clear();
  if (phase_ == Phase::kClosed) return;
  if (res > 0) x.log_bytes_out += static_cast<uint64_t>(res);
  if (res > 0 && phase_ == Phase::kTunnel) tunnel_activity();  // the client took bytes
  if (res < 0) {
    x.log_flags |= kFlagDownstreamClosed;
    close();
    return;
  }
  if (!x.client_out.empty()) {
    flush_client();
  } else if (x.splice_pending) {
    start_splice_when_flushed();
  } else if (x.upstream_paused && x.up) {
    x.upstream_paused = false;
    loop_.start_recv(x.up->socket());
    // The server's silence counts from when we read it again, not from before the pause:
    // else a pause ending just before the deadline would blame the server for our wait.
    // (Not once the response is whole: finish_response ended the deadline then.)
    if (!x.resp_done) set_upstream_deadline(x.config->config->timeouts.upstream_response);
  }
  // With x.up still attached the response waits for its upstream send completion (see
  // finish_response), and that path completes the request.
  if (x.client_out.empty() && !x.client_sending && x.resp_done && !x.up) request_complete();
}

void ProxyConnection::on_recv_end(int err) {
  Entered entered(*this);
  client_eof_ = true;
  if (phase_ == Phase::kClosed) return;
  if (phase_ == Phase::kTunnel || err < 0) {
    if (phase_ != Phase::kTunnel) ex().log_flags |= kFlagDownstreamClosed;
    close();
    return;
  }
  if (phase_ == Phase::kIdle) {
    if (idle()) close();
    else close_after_response_ = true;
    return;
  }
  if (phase_ == Phase::kHead) {
    // Half a head and then EOF: nothing to answer to (and nobody to read it).
    close();
    return;
  }
  // kForward: the client half-closed after its request; finish the response, then close.
  close_after_response_ = true;
  if (!ex().req_done) {
    ex().log_flags |= kFlagDownstreamClosed;
    close();
  }
}

void ProxyConnection::request_complete() {
  ExchangeState& x = ex();
  // The response is fully written to the client.
  record(x.status);
  log_request(x.status);
  x.resp_done = false;
  x.resp_started = false;
  // A parse error (400/408/413/431) has no request of its own: it must not inherit "HEAD"
  // from this one and drop its JSON body while keeping its Content-Length.
  x.head_request = false;
  x.request_id.clear();
  x.route = nullptr;
  x.start_ns = 0;
  x.config.reset();
  x.upstream.reset();
  x.server.reset();
  if (close_after_response_ || worker_.draining() || client_eof_) {
    close();
    return;
  }
  phase_ = Phase::kIdle;
  in_.compact();
  // Idle: the receive buffer goes back to the worker's pool, and the exchange too when the
  // outermost callback returns (maybe_return_exchange).
  if (in_.size() == 0) in_.release();
  set_client_deadline(worker_.current()->config->timeouts.client_idle);
  if (client_paused_) {
    client_paused_ = false;
    loop_.start_recv(sock_);
  }
  if (in_.size() > 0) {
    // A pipelined request is already buffered.
    phase_ = Phase::kHead;
    set_client_deadline(worker_.current()->config->timeouts.client_header);
    process_client_input();
  }
}

void ProxyConnection::record(int status) {
  ExchangeState& x = ex();
  if (status == 0) return;
  RouteRuntime& r = x.route ? *x.route : worker_.current()->no_route;
  worker_.route_code(r, status).inc(worker_.index());
  r.duration.observe(worker_.index(), static_cast<double>(base::Clock::now_ns() - x.start_ns) * 1e-9);
}

void ProxyConnection::respond_error(int status, ErrorSource source, const char* reason,
                                    int retry_after_s) {
  static const char* const kSource[] = {"client", "upstream", "internal"};
  worker_.metrics()
      .errors.with({kSource[static_cast<int>(source)], std::to_string(status)})
      .inc(worker_.index());
  if (ex().resp_started) {
    // Part of the response already went out: the only honest signal left is closing.
    close();
    return;
  }
  drop_upstream(false);
  ex().log_flags |= error_flags(status, ex().log_flags);
  if (ex().route == nullptr) ex().route = &worker_.current()->no_route;
  if (ex().start_ns == 0) ex().start_ns = base::Clock::now_ns();
  if (ex().request_id.empty()) {
    char fresh[32];
    worker_.new_request_id(fresh);
    ex().request_id.assign(fresh, sizeof fresh);
  }
  const std::string& id = ex().request_id;
  // The request id may hold '"' or '\' (it is any visible ASCII) and parser reasons are
  // free text: the writer escapes both, so no request byte can break the body.
  base::JsonWriter body;
  body.begin_object()
      .key("error").value(net::reason_phrase(status))
      .key("status").value(status)
      .key("detail").value(reason)
      .key("request_id").value(id)
      .end_object();
  body.out() += '\n';
  if (!ex().req_done && phase_ == Phase::kForward && ex().parser.head().framing == net::BodyFraming::kNone) {
    // A bodiless request answered at its head: take its (already consumed) end so the
    // connection stays usable for the next request.
    net::HttpParser::Step st = ex().parser.parse(in_.data(), 0);
    if (st.event == net::HttpParser::Event::kMessageEnd) ex().req_done = true;
  }
  // Client errors that leave the stream position unknown, and any unread request body,
  // mean this connection cannot carry another request.
  if (status == 400 || status == 408 || status == 413 || status == 431 || status == 405 ||
      status == 505 || !ex().req_done) {
    close_after_response_ = true;
  }
  std::string& out = ex().client_out;
  net::HeadWriter head(out);
  head.status_line(status);
  head.header("Date", net::http_date_now());
  head.header("Content-Type", "application/json");
  head.content_length(body.out().size());
  head.header("X-Request-Id", id);
  if (retry_after_s > 0) head.header("Retry-After", std::to_string(retry_after_s));
  for (const auto& [n, v] : worker_.current()->config->response_headers.set) head.header(n, v);
  if (close_after_response_) head.header("Connection", "close");
  head.end_head();
  if (!ex().head_request) out += body.out();
  ex().status = status;
  ex().resp_started = true;
  ex().resp_done = true;
  phase_ = Phase::kForward;
  if (close_after_response_ && !client_paused_) {
    client_paused_ = true;
    loop_.pause_recv(sock_);
  }
  flush_client();
}

void ProxyConnection::close() {
  if (phase_ == Phase::kClosed) return;
  // A request still open here was cut off (client gone, truncated response): log it now, with
  // what a running splice delivered (dropping the upstream below counts it).
  if (x_) settle_splice();
  if (x_ && x_->start_ns != 0) log_request(x_->resp_started ? x_->status : 0);
  phase_ = Phase::kClosed;
  client_deadline_.cancel(loop_);
  loop_.cancel_timer(&upstream_timer_);
  if (x_) {
    // drop_upstream() forgets the upstream send; its buffer may still be read until the
    // cancel is processed, so the exchange must not go back to the spares yet.
    sending_at_close_ = x_->up_sending;
    drop_upstream(false);
    x_->server.reset();
    x_->config.reset();
    x_->upstream.reset();
  }
  in_.clear();  // a pooled connection object holds no buffer
  in_.release();
  loop_.close(sock_);
  sock_ = nullptr;
  // Callers up the stack may still look at the exchange: it goes back when they are done
  // (Entered), or now when there are none.
  if (x_ && entered_ == 0) maybe_return_exchange();
  worker_.release(this);
}

}  // namespace ringway::proxy
