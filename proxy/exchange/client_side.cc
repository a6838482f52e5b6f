// Client side of a proxied connection: request parsing and routing, request body streaming,
// response delivery, keep-alive and pipelining, timeouts and proxy-generated errors.
#include "proxy/exchange/proxy_connection.h"

#include <llhttp.h>

#include <cstring>

#include "base/json_writer.h"
#include "proxy/access_log/response_flags.h"
#include "net/http_date.h"
#include "net/http_writer.h"
#include "net/socket.h"
#include "proxy/proxy_metrics.h"
#include "net/request_target.h"

namespace ringway::proxy {
namespace {

constexpr unsigned kRecvChunk = 16384;
// Per-exchange strings keep their capacity between requests up to this (no malloc per
// request); one large response or head must not pin its peak for the connection's lifetime.
constexpr size_t kStringWatermark = 1024;

void trim(std::string& s, size_t watermark) {
  if (s.capacity() > watermark) std::string().swap(s);
}

}  // namespace

// Frees the per-exchange strings past `watermark` (0: all of them, for a pooled object).
void ProxyConnection::trim_exchange_buffers(size_t watermark) {
  for (std::string* s : {&client_out_, &client_sending_buf_, &req_head_, &req_body_, &req_sending_,
                         &target_, &path_scratch_}) {
    if (s->empty()) trim(*s, watermark);
  }
}

namespace {

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
      parser_(net::HttpParser::Mode::kRequest,
              net::HttpLimits{worker.current()->config->limits.max_header_bytes,
                              worker.current()->config->limits.max_headers,
                              worker.current()->config->limits.max_body_bytes,
                              worker.current()->config->limits.max_chunk_ext_bytes}),
      in_(worker.current()->config->limits.max_header_bytes + kRecvChunk),
      client_deadline_([this] { on_client_timer(); }),
      upstream_timer_([this] { on_upstream_timer(); }),
      up_in_(65536 + kRecvChunk) {}

ProxyConnection::~ProxyConnection() {
  if (phase_ != Phase::kClosed && start_ns_ != 0) {
    log_flags_ |= kFlagShutdownCut;  // the drain budget ran out with this request open
    log_request(resp_started_ ? status_ : 0);
  }
  client_deadline_.cancel(loop_);
  loop_.cancel_timer(&upstream_timer_);
  up_.reset();
  if (sock_) loop_.close(sock_);
}

void ProxyConnection::open(int fd) {
  const LimitsConfig& limits = worker_.current()->config->limits;
  if (in_.capacity() != limits.max_header_bytes + kRecvChunk) {
    in_.reset_capacity(limits.max_header_bytes + kRecvChunk);  // limits changed by a reload
  }
  // This object served another client before (Worker pools them): bytes that client left
  // unread (a pipelined request after a 400, the body after a 413) must never be parsed as
  // this client's request.
  while (!in_.empty()) {
    in_.consume(in_.size());
    in_.compact();
  }
  parser_.~HttpParser();
  new (&parser_) net::HttpParser(
      net::HttpParser::Mode::kRequest,
      net::HttpLimits{limits.max_header_bytes, limits.max_headers, limits.max_body_bytes,
                      limits.max_chunk_ext_bytes});
  phase_ = Phase::kIdle;
  // A pooled object keeps the last request's flags: a parse error on this connection's first
  // request must not see "whole request parsed" or "response started" from another client.
  reset_request_state();
  request_id_.clear();
  start_ns_ = 0;
  route_ = nullptr;
  head_request_ = false;  // see request_complete()
  client_paused_ = client_eof_ = close_after_response_ = false;
  client_out_.clear();
  client_sending_buf_.clear();
  client_sending_ = false;
  client_ip_ = net::peer_ip(fd, &client_port_);
  log_bytes_in_ = log_bytes_out_ = 0;
  log_flags_ = 0;
  sock_ = loop_.add(fd, this);
  loop_.start_recv(sock_);
  set_client_deadline(worker_.current()->config->timeouts.client_idle);
}

void ProxyConnection::reset_request_state() {
  req_done_ = head_sent_ = body_sent_ = up_sending_ = up_connecting_ = false;
  resp_started_ = resp_done_ = panic_ = false;
  attempts_ = 0;
  status_ = 0;
  upstream_ttfb_ns_ = queue_wait_ns_ = 0;
  req_body_.clear();
  req_chunk_.clear();
  chunks_seen_ = 0;
  buffering_ = false;
  client_http10_ = upgrade_request_ = idempotent_ = false;
  stale_retried_ = got_response_bytes_ = informational_ = false;
}

void ProxyConnection::drain() {
  close_after_response_ = true;
  if (idle()) close();
}

void ProxyConnection::set_client_deadline(base::Millis after) {
  client_deadline_.set(loop_, after);
}

void ProxyConnection::on_client_timer() {
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
  if (phase_ == Phase::kForward && buffering_) {
    // Nothing went upstream yet, so no upstream timer runs: a stalled body is ours to end.
    respond_error(408, ErrorSource::kClient, "request body timeout");
    return;
  }
  // A request in progress is governed by the upstream timers.
  set_client_deadline(worker_.current()->config->timeouts.client_idle);
}

void ProxyConnection::on_data(const char* data, size_t len) {
  if (phase_ == Phase::kClosed) return;
  if (phase_ == Phase::kTunnel) {
    tunnel_client_bytes(data, len);
    return;
  }
  if (phase_ == Phase::kIdle) {
    phase_ = Phase::kHead;
    set_client_deadline(worker_.current()->config->timeouts.client_header);
  }
  if (phase_ == Phase::kForward && buffering_) {
    set_client_deadline(worker_.current()->config->timeouts.client_idle);
  }
  in_.append(data, len);
  process_client_input();
}

void ProxyConnection::process_client_input() {
  while (phase_ == Phase::kHead || (phase_ == Phase::kForward && !req_done_)) {
    if (phase_ == Phase::kForward && !buffering_ &&
        req_body_.size() + req_sending_.size() >= stream_limit()) {
      // The upstream is slower than the client: stop reading until it catches up.
      if (!client_paused_) {
        client_paused_ = true;
        loop_.pause_recv(sock_);
      }
      return;
    }
    net::HttpParser::Step st = parser_.parse(in_.data(), in_.size());
    in_.consume(st.consumed);
    log_bytes_in_ += st.consumed;
    if (parser_.chunks_completed() != chunks_seen_ && phase_ == Phase::kForward) {
      // The parser validated the held chunk's trailing CRLF (RFC 9112 §7.1): now it may go up.
      chunks_seen_ = parser_.chunks_completed();
      queue_request_bytes(req_chunk_);
      req_chunk_.clear();
    }
    switch (st.event) {
      case net::HttpParser::Event::kNeedMore:
        if (phase_ == Phase::kForward && (in_.full() || in_.has_stash())) {
          in_.compact();  // body phase: no slice into the buffer is live
          if (in_.size() > 0) continue;
        }
        if (client_eof_) {
          log_flags_ |= kFlagDownstreamClosed;
          respond_error(400, ErrorSource::kClient, "client closed mid-request");
        }
        return;
      case net::HttpParser::Event::kError: {
        int status = parser_.error_status();
        // After any parse error the stream position is unknown: answer, then close, whatever
        // the status (505 included) and whatever the previous request on this connection left.
        close_after_response_ = true;
        if (phase_ == Phase::kHead) reset_request_state();  // a new request failed, not the last
        respond_error(status == 0 ? 400 : status, ErrorSource::kClient, parser_.error_reason());
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
  if (phase_ == Phase::kForward && req_done_ && (in_.full() || in_.has_stash()) && !client_paused_) {
    client_paused_ = true;
    loop_.pause_recv(sock_);
  }
}

void ProxyConnection::start_request() {
  start_ns_ = base::Clock::now_ns();
  config_ = worker_.current();
  route_ = &config_->no_route;
  const net::HttpHead& head = parser_.head();
  reset_request_state();
  // For trailers only (they exist only in chunked bodies): the head's views die with its
  // receive buffer, which a streamed body may release before the trailers arrive.
  if (head.framing == net::BodyFraming::kChunked) req_connection_.collect(head);
  else req_connection_.clear();
  log_method_ = head.method;
  if (worker_.access_log()) log_target_.assign(head.target);
  head_request_ = head.method_id == HTTP_HEAD;
  client_http10_ = head.version_minor == 0;
  upgrade_request_ = head.upgrade;
  // RFC 9110 §9.2.2: these methods are idempotent, so a retry cannot apply them twice.
  idempotent_ = head.method_id == HTTP_GET || head.method_id == HTTP_HEAD ||
                head.method_id == HTTP_OPTIONS || head.method_id == HTTP_PUT ||
                head.method_id == HTTP_DELETE || head.method_id == HTTP_TRACE;
  phase_ = Phase::kForward;
  if (!head.keep_alive) close_after_response_ = true;

  request_id_.clear();
  std::string_view incoming_id = usable_request_id(head);
  if (!incoming_id.empty()) {
    request_id_.assign(incoming_id);
  } else {
    char id[32];
    worker_.new_request_id(id);
    request_id_.assign(id, sizeof id);
  }

  if (head.method_id == HTTP_CONNECT) {
    respond_error(405, ErrorSource::kClient, "CONNECT is not supported by a reverse proxy");
    return;
  }
  std::string_view path, query;
  if (net::normalize_target(head.target, path_scratch_, &path, &query) != net::TargetStatus::kOk) {
    respond_error(400, ErrorSource::kClient, "invalid request target");
    return;
  }
  size_t index = 0;
  const RouteConfig* route = config_->router.match(path, &index);
  if (route == nullptr) {
    respond_error(404, ErrorSource::kClient, "no route matches the request path");
    return;
  }
  route_ = &config_->routes[index];
  upstream_ = route_->upstream;
  target_.clear();
  rewrite_target(*route, path, query, target_);
  const Config& cfg = *config_->config;
  ClientFacts facts{client_ip_, "http", request_id_};
  // Only an HTTP/1.0 request may lack Host; format the fallback only then.
  std::string default_host;
  if (head.host.empty()) default_host = cfg.upstreams[route->upstream_index].servers.front().to_string();
  req_head_.clear();
  req_framing_ =
      build_upstream_request(head, target_, facts, cfg.request_headers, default_host, req_head_);
  if (head.expect_continue && head.framing != net::BodyFraming::kNone) {
    // We accept the body ourselves (RFC 9110 §10.1.1) rather than forwarding Expect.
    client_out_.append("HTTP/1.1 100 Continue\r\n\r\n");
    flush_client();
  }
  upstream_->on_request();
  // Request buffering: a body that fits limits.request_buffer is received and validated whole
  // before anything goes upstream, so an upstream never sees a request we then reject. A
  // larger Content-Length body streams at once; a chunked one once the buffer overflows.
  const uint64_t buffer = cfg.limits.request_buffer;
  buffering_ = buffer != 0 && (head.framing == net::BodyFraming::kChunked ||
                               (head.framing == net::BodyFraming::kContentLength &&
                                head.content_length <= buffer));
  if (buffering_) {
    set_client_deadline(cfg.timeouts.client_idle);  // re-armed as body bytes arrive
    return;
  }
  pick_and_connect(nullptr);
}

void ProxyConnection::start_upstream() {
  buffering_ = false;
  if (phase_ == Phase::kForward && !resp_started_) pick_and_connect(nullptr);
}

void ProxyConnection::append_request_body(std::string_view body) {
  if (body.empty()) return;
  if (parser_.head().framing == net::BodyFraming::kChunked) {
    // Held until the parser has checked this chunk's trailing CRLF (see process_client_input).
    req_chunk_.append(body);
    // Except one chunk larger than this, which goes up in pieces: holding it whole would let a
    // client pin up to max_body_bytes per connection.
    if (req_chunk_.size() >= stream_limit()) {
      queue_request_bytes(req_chunk_);
      req_chunk_.clear();
    }
    return;
  }
  queue_request_bytes(body);
}

void ProxyConnection::queue_request_bytes(std::string_view bytes) {
  if (bytes.empty() || phase_ != Phase::kForward) return;
  if (req_framing_ == OutFraming::kChunked) {
    net::write_chunk_header(req_body_, bytes.size());
    req_body_.append(bytes);
    net::write_chunk_end(req_body_);
  } else {
    req_body_.append(bytes);
  }
  if (buffering_ && req_body_.size() > config_->config->limits.request_buffer) {
    start_upstream();  // the body outgrew the buffer: stream from here on
  } else if (head_sent_) {
    send_upstream();
  }
}

void ProxyConnection::finish_request_body() {
  req_done_ = true;
  if (req_framing_ == OutFraming::kChunked) {
    const size_t dropped = write_forwarded_trailers(parser_.trailers(), req_connection_,
                                                    config_->config->request_headers, req_body_);
    if (dropped != 0) worker_.metrics().trailer_drops.inc(worker_.index(), dropped);
  }
  if (buffering_) {
    start_upstream();  // the whole body is validated: now the request goes up
  } else if (phase_ == Phase::kForward && head_sent_) {
    send_upstream();
  }
  if (phase_ == Phase::kForward) {
    // Timeouts now belong to the upstream exchange.
    set_client_deadline(config_->config->timeouts.client_idle);
  }
}

void ProxyConnection::flush_client() {
  if (client_sending_ || client_out_.empty() || phase_ == Phase::kClosed) return;
  client_sending_buf_.swap(client_out_);
  client_out_.clear();
  client_sending_ = true;
  iovec iov{client_sending_buf_.data(), client_sending_buf_.size()};
  loop_.send(sock_, &iov, 1);
}

void ProxyConnection::on_sent(ssize_t res) {
  client_sending_ = false;
  client_sending_buf_.clear();
  if (phase_ == Phase::kClosed) return;
  if (res > 0) log_bytes_out_ += static_cast<uint64_t>(res);
  if (res < 0) {
    log_flags_ |= kFlagDownstreamClosed;
    close();
    return;
  }
  if (!client_out_.empty()) {
    flush_client();
  } else if (upstream_paused_ && up_) {
    upstream_paused_ = false;
    loop_.start_recv(up_->socket());
  }
  // With up_ still attached the response waits for its upstream send completion (see
  // finish_response), and that path completes the request.
  if (client_out_.empty() && !client_sending_ && resp_done_ && !up_) request_complete();
}

void ProxyConnection::on_recv_end(int err) {
  client_eof_ = true;
  if (phase_ == Phase::kClosed) return;
  if (phase_ == Phase::kTunnel || err < 0) {
    if (phase_ != Phase::kTunnel) log_flags_ |= kFlagDownstreamClosed;
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
  if (!req_done_) {
    log_flags_ |= kFlagDownstreamClosed;
    close();
  }
}

void ProxyConnection::request_complete() {
  // The response is fully written to the client.
  record(status_);
  log_request(status_);
  resp_done_ = false;
  resp_started_ = false;
  // A parse error (400/408/413/431) has no request of its own: it must not inherit "HEAD"
  // from this one and drop its JSON body while keeping its Content-Length.
  head_request_ = false;
  request_id_.clear();
  route_ = nullptr;
  start_ns_ = 0;
  config_.reset();
  upstream_.reset();
  server_.reset();
  if (close_after_response_ || worker_.draining() || client_eof_) {
    close();
    return;
  }
  phase_ = Phase::kIdle;
  in_.compact();
  if (in_.size() == 0) in_.release();  // idle: the receive buffer goes back to the worker's pool
  trim_exchange_buffers(kStringWatermark);
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
  if (status == 0) return;
  RouteRuntime& r = route_ ? *route_ : worker_.current()->no_route;
  worker_.route_code(r, status).inc(worker_.index());
  r.duration.observe(worker_.index(), static_cast<double>(base::Clock::now_ns() - start_ns_) * 1e-9);
}

void ProxyConnection::respond_error(int status, ErrorSource source, const char* reason,
                                    int retry_after_s) {
  static const char* const kSource[] = {"client", "upstream", "internal"};
  worker_.metrics()
      .errors.with({kSource[static_cast<int>(source)], std::to_string(status)})
      .inc(worker_.index());
  if (resp_started_) {
    // Part of the response already went out: the only honest signal left is closing.
    close();
    return;
  }
  drop_upstream(false);
  log_flags_ |= error_flags(status, log_flags_);
  if (route_ == nullptr) route_ = &worker_.current()->no_route;
  if (start_ns_ == 0) start_ns_ = base::Clock::now_ns();
  if (request_id_.empty()) {
    char fresh[32];
    worker_.new_request_id(fresh);
    request_id_.assign(fresh, sizeof fresh);
  }
  const std::string& id = request_id_;
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
  if (!req_done_ && phase_ == Phase::kForward && parser_.head().framing == net::BodyFraming::kNone) {
    // A bodiless request answered at its head: take its (already consumed) end so the
    // connection stays usable for the next request.
    net::HttpParser::Step st = parser_.parse(in_.data(), 0);
    if (st.event == net::HttpParser::Event::kMessageEnd) req_done_ = true;
  }
  // Client errors that leave the stream position unknown, and any unread request body,
  // mean this connection cannot carry another request.
  if (status == 400 || status == 408 || status == 413 || status == 431 || status == 405 ||
      status == 505 || !req_done_) {
    close_after_response_ = true;
  }
  std::string& out = client_out_;
  net::write_status_line(out, status);
  net::write_header(out, "Date", net::http_date_now());
  net::write_header(out, "Content-Type", "application/json");
  net::write_content_length(out, body.out().size());
  net::write_header(out, "X-Request-Id", id);
  if (retry_after_s > 0) net::write_header(out, "Retry-After", std::to_string(retry_after_s));
  for (const auto& [n, v] : worker_.current()->config->response_headers.set) net::write_header(out, n, v);
  if (close_after_response_) net::write_header(out, "Connection", "close");
  net::end_head(out);
  if (!head_request_) out += body.out();
  status_ = status;
  resp_started_ = true;
  resp_done_ = true;
  phase_ = Phase::kForward;
  if (close_after_response_ && !client_paused_) {
    client_paused_ = true;
    loop_.pause_recv(sock_);
  }
  flush_client();
}

void ProxyConnection::close() {
  if (phase_ == Phase::kClosed) return;
  // A request still open here was cut off (client gone, truncated response): log it now.
  if (start_ns_ != 0) log_request(resp_started_ ? status_ : 0);
  phase_ = Phase::kClosed;
  client_deadline_.cancel(loop_);
  loop_.cancel_timer(&upstream_timer_);
  drop_upstream(false);
  if (server_) {
    server_.reset();
  }
  config_.reset();
  upstream_.reset();
  in_.consume(in_.size());  // a pooled connection object holds no buffer
  in_.compact();
  in_.release();
  client_out_.clear();
  client_sending_buf_.clear();
  req_head_.clear();
  req_body_.clear();
  req_sending_.clear();
  trim_exchange_buffers(0);
  loop_.close(sock_);
  sock_ = nullptr;
  worker_.release(this);
}

}  // namespace ringway::proxy
