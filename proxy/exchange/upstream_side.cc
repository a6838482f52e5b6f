// Upstream side of a proxied connection: server pick, pooled or fresh connection, request
// streaming, response parsing and forwarding, retries, timeouts and the upgrade tunnel.
#include <string.h>

#include "net/http_writer.h"
#include "net/socket.h"
#include "net/tcp_progress.h"
#include "proxy/access_log/response_flags.h"
#include "proxy/exchange/proxy_connection.h"
#include "proxy/proxy_metrics.h"

namespace ringway::proxy {

void ProxyConnection::pick_and_connect(const ServerRuntime* exclude) {
  ExchangeState& x = ex();
  ++x.attempts;
  // Requests already waiting for a connection slot go first (FIFO per upstream and worker).
  if (x.upstream->queue().empty() && try_connect(exclude)) return;
  if (!x.upstream->queue().push(this, loop_.now())) {
    x.log_flags |= kFlagUpstreamOverflow;
    const int retry_after = static_cast<int>((x.upstream->queue().timeout() + 999) / 1000);
    respond_error(503, ErrorSource::kUpstream,
                  "upstream at max_connections and its queue is full", retry_after);
  }
}

// Returns: false (and nothing changed) when every candidate is at max_connections.
bool ProxyConnection::try_connect(const ServerRuntime* exclude) {
  ExchangeState& x = ex();
  UpstreamRuntime::Pick pick = x.upstream->pick(loop_.now(), exclude);
  if (pick.full) return false;
  if (pick.server == nullptr) {
    respond_error(503, ErrorSource::kUpstream, "upstream has no servers");
    return true;
  }
  while (std::unique_ptr<UpstreamConnection> conn = pick.server->idle.take()) {
    if (!conn->dead()) {
      x.panic = pick.panic;
      x.server = x.upstream->share(pick.server);
      ++x.server->in_flight;
      x.in_flight_counted = true;
      use_connection(std::move(conn));
      return true;
    }
  }
  // Another worker may have taken the last slot since the pick looked.
  if (!x.upstream->take_slot(*pick.server, loop_.now())) return false;
  x.panic = pick.panic;
  x.server = x.upstream->share(pick.server);
  ++x.server->in_flight;
  x.in_flight_counted = true;
  auto conn = std::make_unique<UpstreamConnection>(loop_, x.server);
  int err = 0;
  if (!conn->connect(x.server->address.addr, &err)) {
    upstream_failed(std::string("socket: ") + strerror(-err), true, false);
    return true;
  }
  x.up = std::move(conn);
  x.up->attach(this);
  x.up_connecting = true;
  set_upstream_deadline(x.config->config->timeouts.upstream_connect);
  return true;
}

bool ProxyConnection::on_queue_turn() {
  Entered entered(*this);
  ExchangeState& x = ex();
  if (phase_ != Phase::kForward || !x.upstream) return true;  // answered meanwhile
  if (!try_connect(nullptr)) return false;
  x.queue_wait_ns += base::Clock::now_ns() - queued_since_ns();  // for the access log
  return true;
}

void ProxyConnection::on_queue_timeout() {
  Entered entered(*this);
  ExchangeState& x = ex();
  x.queue_wait_ns += base::Clock::now_ns() - queued_since_ns();
  x.log_flags |= kFlagUpstreamOverflow;
  const int retry_after = static_cast<int>((x.upstream->queue().timeout() + 999) / 1000);
  respond_error(503, ErrorSource::kUpstream,
                "no upstream connection slot within the queue timeout", retry_after);
}

void ProxyConnection::use_connection(std::unique_ptr<UpstreamConnection> conn) {
  ExchangeState& x = ex();
  x.up = std::move(conn);
  x.up->attach(this);
  x.up->parser().reset();
  x.up->parser().set_response_to_head(x.head_request);
  loop_.start_recv(x.up->socket());
  send_upstream();
}

void ProxyConnection::on_upstream_connected(int res) {
  Entered entered(*this);
  ExchangeState& x = ex();
  x.up_connecting = false;
  upstream_deadline_active_ = false;
  if (res < 0) {
    upstream_failed(std::string("connect: ") + strerror(-res), true, false);
    return;
  }
  x.up->parser().reset();
  x.up->parser().set_response_to_head(x.head_request);
  loop_.start_recv(x.up->socket());
  send_upstream();
}

void ProxyConnection::send_upstream() {
  ExchangeState& x = ex();
  if (!x.up || x.up_connecting || x.up_sending) return;
  iovec iov[2];
  int n = 0;
  if (!x.head_sent) {
    x.head_sent = true;
    x.upstream_start_ns = base::Clock::now_ns();
    iov[n++] = iovec{x.req_head.data(), x.req_head.size()};
  }
  if (!x.req_body.empty()) {
    x.req_sending.swap(x.req_body);
    x.req_body.clear();
    x.body_sent = true;
    iov[n++] = iovec{x.req_sending.data(), x.req_sending.size()};
  }
  if (n == 0) return;
  x.up_sending = true;
  loop_.send(x.up->socket(), iov, n);
  // A tunnel owes no response: a WebSocket server may stay quiet as long as it likes. The
  // tunnel's bound is client_idle with no bytes either way (tunnel_activity).
  if (phase_ != Phase::kTunnel) set_upstream_deadline(x.config->config->timeouts.upstream_response);
}

void ProxyConnection::on_upstream_sent(ssize_t res) {
  Entered entered(*this);
  ExchangeState& x = ex();
  x.up_sending = false;
  x.req_sending.clear();
  if (phase_ == Phase::kClosed) return;
  if (x.resp_done && phase_ == Phase::kForward) {
    // finish_response() waited for this completion before parking the connection. With its
    // reads paused (a spliced body, a slow client) bytes that came meanwhile went unseen:
    // look before pooling it.
    const bool unread = x.upstream_paused && x.up && net::has_unread_input(loop_.fd(x.up->socket()));
    drop_upstream(res >= 0 && x.up_in.size() == 0 && !unread);
    if (!x.client_sending && x.client_out.empty()) request_complete();
    return;
  }
  if (res < 0) {
    if (phase_ == Phase::kTunnel) {
      close();
      return;
    }
    // A pooled connection the server had closed: its recv end follows and replays the
    // request (on_upstream_end), which a failure here would wrongly count against it.
    if (!x.got_response_bytes && x.up && x.up->reused() && !x.stale_retried && can_retry(false)) return;
    // The server reset the connection while we were sending; its response may still be
    // readable, so only fail if nothing arrived.
    if (!x.got_response_bytes) x.log_flags |= kFlagUpstreamReset;
    if (!x.got_response_bytes) upstream_failed(std::string("send: ") + strerror(static_cast<int>(-res)), false, false);
    return;
  }
  if (phase_ == Phase::kTunnel) tunnel_activity();  // the server took bytes
  if (!x.req_body.empty()) send_upstream();
  if (client_paused_ && x.req_body.size() + x.req_sending.size() < stream_limit() &&
      (phase_ == Phase::kTunnel || (phase_ == Phase::kForward && !x.req_done))) {
    client_paused_ = false;
    loop_.start_recv(sock_);
    if (phase_ == Phase::kForward) process_client_input();
  }
}

void ProxyConnection::on_upstream_data(const char* data, size_t len) {
  Entered entered(*this);
  ExchangeState& x = ex();
  if (phase_ == Phase::kClosed) return;
  if (x.resp_done && phase_ == Phase::kForward) {
    // Bytes after a complete response, while waiting to park: keep them so the connection
    // is judged not reusable.
    x.up_in.append(data, len);
    return;
  }
  x.got_response_bytes = true;
  if (phase_ == Phase::kTunnel) {
    x.client_out.append(data, len);
    tunnel_activity();
  } else {
    set_upstream_deadline(x.config->config->timeouts.upstream_response);
    process_upstream_input(data, len);
    if (phase_ == Phase::kClosed) return;
  }
  flush_client();
  start_splice_when_flushed();
  if (x.splice_pending || x.splicing) return;  // the upstream's reads are the splice's now
  if (x.client_out.size() + x.client_sending_buf.size() >= stream_limit() && x.up && !x.upstream_paused) {
    // The client reads slower than the server writes: stop reading the server.
    x.upstream_paused = true;
    x.client_seen = kClientUnseen;
    loop_.pause_recv(x.up->socket());
  }
}

void ProxyConnection::process_upstream_input(const char* data, size_t len) {
  ExchangeState& x = ex();
  x.up_in.append(data, len);
  while (x.up && !x.resp_done) {
    net::HttpParser& parser = x.up->parser();
    net::HttpParser::Step st = parser.parse(x.up_in.data(), x.up_in.size());
    x.up_in.consume(st.consumed);
    switch (st.event) {
      case net::HttpParser::Event::kNeedMore:
        if (x.resp_started && x.up_in.size() == 0 && !x.up_in.has_stash()) {
          // Body phase and every byte forwarded: a stream paused behind a slow client holds
          // no response buffer, only the bytes queued for the client.
          x.up_in.compact();
          x.up_in.release();
          begin_splice();
          return;
        }
        if (x.resp_started && (x.up_in.full() || x.up_in.has_stash())) {
          x.up_in.compact();  // body phase: the head was already rewritten for the client
          if (x.up_in.size() > 0) continue;
        }
        return;
      case net::HttpParser::Event::kError:
        x.log_flags |= kFlagUpstreamProtocolError;
        upstream_failed(std::string("invalid response: ") + parser.error_reason(), false, false);
        return;
      case net::HttpParser::Event::kHead:
        if (!on_response_head()) return;
        break;
      case net::HttpParser::Event::kBody:
        append_response_body(st.body);
        break;
      case net::HttpParser::Event::kMessageEnd:
        if (x.informational) {
          x.informational = false;
          continue;  // the final response follows
        }
        finish_response();
        return;
    }
  }
}

bool ProxyConnection::on_response_head() {
  ExchangeState& x = ex();
  const net::HttpHead& h = x.up->parser().head();
  if (h.status < 200 && h.status != 101) {
    // 1xx interim responses: our own 100 Continue already went out; drop the rest.
    x.informational = true;
    return true;
  }
  // Trailers come at the body's end, after the head's buffer may be gone: keep the tokens.
  if (h.framing == net::BodyFraming::kChunked) x.resp_connection.collect(h);
  else x.resp_connection.clear();
  if (h.status == 101 && !x.upgrade_request) {
    upstream_failed("101 Switching Protocols without an upgrade request", false, false);
    return false;
  }
  x.upstream_ttfb_ns = base::Clock::now_ns() - x.upstream_start_ns;
  const double latency_s = static_cast<double>(x.upstream_ttfb_ns) * 1e-9;
  const size_t shard = worker_.index();
  x.upstream->duration().observe(shard, latency_s);
  worker_.server_code(x.upstream->name(), *x.server, h.status).inc(shard);
  if (h.status >= 500) {
    x.upstream->on_failure(*x.server, loop_.now(), "status " + std::to_string(h.status));
  } else {
    x.upstream->on_success(*x.server, latency_s * 1000);
  }
  x.status = h.status;
  if (!x.req_done) close_after_response_ = true;  // early response: the rest of the body is unread
  // A declined upgrade: the client parser already treats what follows the request as
  // tunnel data (RFC 9110 §7.8), so this connection cannot carry another request.
  if (x.upgrade_request && h.status != 101) close_after_response_ = true;
  ResponseFacts facts{x.head_request, x.client_http10, close_after_response_ || worker_.draining(),
                      x.request_id};
  x.resp_framing = build_client_response(h, facts, x.config->config->response_headers, x.client_out);
  if (x.resp_framing == OutFraming::kUntilClose || facts.close) close_after_response_ = true;
  x.resp_started = true;
  return true;
}

void ProxyConnection::append_response_body(std::string_view body) {
  ExchangeState& x = ex();
  if (body.empty()) return;
  switch (x.resp_framing) {
    case OutFraming::kChunked:
      net::write_chunk_header(x.client_out, body.size());
      x.client_out.append(body);
      net::write_chunk_end(x.client_out);
      break;
    case OutFraming::kContentLength:
    case OutFraming::kUntilClose:
      x.client_out.append(body);
      break;
    case OutFraming::kNone:
      break;
  }
}

void ProxyConnection::finish_response(bool more_unread) {
  ExchangeState& x = ex();
  net::HttpParser& parser = x.up->parser();
  if (parser.upgraded() && x.status == 101) {
    // WebSocket and friends: from here on bytes flow unchanged both ways.
    phase_ = Phase::kTunnel;
    upstream_deadline_active_ = false;
    if (x.up_in.size() > 0) x.client_out.append(x.up_in.data(), x.up_in.size());
    x.up_in.consume(x.up_in.size());
    x.up_in.compact();
    if (in_.size() > 0) x.req_body.append(in_.data(), in_.size());
    in_.consume(in_.size());
    send_upstream();
    if (client_paused_) {
      client_paused_ = false;
      loop_.start_recv(sock_);
    }
    set_client_deadline(x.config->config->timeouts.client_idle);
    flush_client();
    return;
  }
  if (x.resp_framing == OutFraming::kChunked) {
    const size_t dropped = write_forwarded_trailers(parser.trailers(), x.resp_connection,
                                                    x.config->config->response_headers, x.client_out);
    if (dropped != 0) worker_.metrics().trailer_drops.inc(worker_.index(), dropped);
  }
  x.resp_done = true;
  // One completed exchange: from now on, the server closing this connection before any
  // response byte means it went stale in the pool (on_upstream_end replays), not a failure.
  x.up->count_request();
  const bool reusable =
      parser.head().keep_alive && x.req_done && x.req_body.empty() && x.up_in.size() == 0 && !more_unread;
  if (reusable && x.up_sending) {
    // The response beat the completion of our own send (epoll reports completions after the
    // next read attempt; CQEs may come in either order). The kernel may still reference the
    // send buffers, so wait for on_upstream_sent to park the connection and complete the
    // request; dropping it instead would cost the pool every fast response.
    upstream_deadline_active_ = false;
    flush_client();
    return;
  }
  drop_upstream(reusable);
  flush_client();
  if (!x.client_sending && x.client_out.empty()) request_complete();
}

void ProxyConnection::drop_upstream(bool reusable) {
  ExchangeState& x = ex();
  settle_splice();  // closing the socket cancels a splice: count what it delivered first
  leave_queue();
  upstream_deadline_active_ = false;
  if (x.in_flight_counted && x.server) {
    --x.server->in_flight;
    x.in_flight_counted = false;
  }
  x.up_in.consume(x.up_in.size());
  x.up_in.compact();
  x.up_in.release();  // the response buffer lives as long as the exchange with this server
  x.up_connecting = false;
  if (!x.up) {
    x.up_sending = false;
    return;
  }
  x.up->attach(nullptr);
  ServerRuntime& s = x.up->server();
  const size_t pool_cap = x.upstream ? static_cast<size_t>(x.upstream->config().keepalive) : 0;
  if (reusable && !s.removed && s.idle.size() < pool_cap) {
    if (x.upstream_paused) loop_.start_recv(x.up->socket());
    s.idle.park(std::move(x.up));
  } else {
    x.up.reset();  // closes the socket
  }
  x.upstream_paused = false;
  x.up_sending = false;
  if (x.upstream) x.upstream->queue().kick();  // a pooled connection or a slot came free
}

bool ProxyConnection::can_retry(bool connect_phase) const {
  // Nothing of the response reached the client, and no body bytes are gone (they cannot
  // be replayed); past the connect phase only idempotent methods may be repeated.
  if (!x_ || x_->resp_started || x_->body_sent || phase_ != Phase::kForward) return false;
  return connect_phase || x_->idempotent;
}

void ProxyConnection::upstream_failed(const std::string& reason, bool connect_phase, bool timed_out) {
  ExchangeState& x = ex();
  if (phase_ == Phase::kClosed) return;
  const bool retryable = can_retry(connect_phase) && !(timed_out && !connect_phase);
  if (connect_phase) x.log_flags |= kFlagUpstreamConnectFailure;
  if (timed_out && !connect_phase) x.log_flags |= kFlagUpstreamTimeout;
  ServerRuntime* failed = x.server.get();
  if (failed) x.upstream->on_failure(*failed, loop_.now(), reason);
  drop_upstream(false);
  x.head_sent = false;
  if (retryable && x.attempts <= x.upstream->config().retries && x.upstream->take_retry()) {
    x.upstream->retry_counter().inc(worker_.index());
    pick_and_connect(failed);
    return;
  }
  if (x.resp_started) {
    close();
    return;
  }
  const int status = timed_out && !connect_phase ? 504 : (x.panic ? 503 : 502);
  respond_error(status, ErrorSource::kUpstream, reason.c_str());
}

void ProxyConnection::on_upstream_end(int err) {
  Entered entered(*this);
  ExchangeState& x = ex();
  if (phase_ == Phase::kClosed) return;
  if (x.resp_done && phase_ == Phase::kForward) {
    // Closed while finish_response() waited for our send's completion: the response is
    // complete, only the connection is lost.
    drop_upstream(false);
    if (!x.client_sending && x.client_out.empty()) request_complete();
    return;
  }
  if (phase_ == Phase::kTunnel) {
    // Deliver what the server sent, then close both sides.
    close_after_response_ = true;
    x.resp_done = true;
    drop_upstream(false);
    flush_client();
    if (!x.client_sending && x.client_out.empty()) close();
    return;
  }
  if (!x.got_response_bytes && x.up && x.up->reused() && !x.stale_retried && can_retry(false)) {
    // A pooled connection the server had already closed: replay on a fresh one. This is
    // not a server failure and does not spend the retry budget.
    x.stale_retried = true;
    drop_upstream(false);
    x.head_sent = false;
    --x.attempts;
    pick_and_connect(nullptr);
    return;
  }
  if (x.resp_started && x.up) {
    net::HttpParser::Step st = x.up->parser().finish();
    if (st.event == net::HttpParser::Event::kMessageEnd) {
      finish_response();
      return;
    }
    x.log_flags |= err == 0 ? kFlagUpstreamClosed : kFlagUpstreamReset;
    close();  // truncated body: closing is the only way to tell the client
    return;
  }
  x.log_flags |= err == 0 ? kFlagUpstreamClosed : kFlagUpstreamReset;
  upstream_failed(err == 0 ? std::string("upstream closed the connection before responding")
                           : std::string("upstream reset: ") + strerror(-err),
                  false, false);
}

void ProxyConnection::set_upstream_deadline(base::Millis after) {
  upstream_deadline_ = loop_.now() + after;
  upstream_deadline_active_ = true;
  // Lazy timer: the heap entry moves only when the deadline gets earlier; a later deadline
  // is noticed when the timer fires. Saves heap work on every request of a busy connection.
  if (!upstream_timer_.armed() || upstream_deadline_ < upstream_timer_.deadline()) {
    loop_.add_timer(&upstream_timer_, after);
  }
}

void ProxyConnection::on_upstream_timer() {
  Entered entered(*this);
  // The timer is lazy (a finished exchange does not cancel it): an idle connection must not
  // lease an exchange just to find nothing due.
  if (phase_ == Phase::kClosed || !upstream_deadline_active_ || !x_) return;
  if (loop_.now() < upstream_deadline_) {
    loop_.add_timer(&upstream_timer_, upstream_deadline_ - loop_.now());
    return;
  }
  ExchangeState& x = *x_;
  if (x.splicing && loop_.splice_progress(x.up->socket()) != x.splice_seen) {
    // Bytes moved since the last look: the upstream is not silent, only unseen by us.
    x.splice_seen = loop_.splice_progress(x.up->socket());
    x.client_seen = kClientUnseen;
    set_upstream_deadline(x.config->config->timeouts.upstream_response);
    return;
  }
  if (held_by_client(x)) {
    // The server is quiet because we stopped taking its bytes for a client that takes none
    // of ours: the silence is the client's. Cut the client off and do not charge the server,
    // or one slow reader could eject a healthy server. A client still taking bytes gets
    // another period: TCP's count of acknowledged bytes moves even inside one long send of
    // ours (log_bytes_out stands in where the kernel gives no count). The first look after
    // a pause only takes the count, so the pause path itself costs no syscall: a client is
    // cut off after one to two periods without progress.
    const uint64_t progress = net::bytes_acked(loop_.fd(sock_)) + x.log_bytes_out;
    if (x.client_seen == kClientUnseen || progress != x.client_seen) {
      x.client_seen = progress;
      set_upstream_deadline(x.config->config->timeouts.upstream_response);
      return;
    }
    x.log_flags |= kFlagDownstreamStalled;
    close();
    return;
  }
  upstream_deadline_active_ = false;
  if (x.up_connecting) {
    upstream_failed("connect timeout after " +
                        std::to_string(x.config->config->timeouts.upstream_connect) + " ms",
                    true, true);
    return;
  }
  upstream_failed("no response within " +
                      std::to_string(x.config->config->timeouts.upstream_response) + " ms",
                  false, true);
}

void ProxyConnection::tunnel_activity() {
  set_client_deadline(ex().config->config->timeouts.client_idle);
}

bool ProxyConnection::held_by_client(const ExchangeState& x) const {
  if (!x.up) return false;
  // Reads paused for a client queue at its bound, or until the queue drains for a splice.
  if (x.upstream_paused || x.splice_pending) return true;
  // A splice with no progress (on_upstream_timer looked) and bytes in its pipe: the sink.
  return x.splicing && loop_.splice_backlog(x.up->socket()) > 0;
}

void ProxyConnection::tunnel_client_bytes(const char* data, size_t len) {
  ExchangeState& x = ex();
  x.req_body.append(data, len);
  tunnel_activity();
  send_upstream();
  if (x.req_body.size() + x.req_sending.size() >= stream_limit() && !client_paused_) {
    client_paused_ = true;
    loop_.pause_recv(sock_);
  }
}

}  // namespace ringway::proxy
