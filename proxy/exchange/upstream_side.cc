// Upstream side of a proxied connection: server pick, pooled or fresh connection, request
// streaming, response parsing and forwarding, retries, timeouts and the upgrade tunnel.
#include <string.h>

#include "net/http_writer.h"
#include "proxy/access_log/response_flags.h"
#include "proxy/exchange/proxy_connection.h"
#include "proxy/proxy_metrics.h"

namespace ringway::proxy {

void ProxyConnection::pick_and_connect(const ServerRuntime* exclude) {
  ++ex().attempts;
  // Requests already waiting for a connection slot go first (FIFO per upstream and worker).
  if (ex().upstream->queue().empty() && try_connect(exclude)) return;
  if (!ex().upstream->queue().push(this, loop_.now())) {
    ex().log_flags |= kFlagUpstreamOverflow;
    const int retry_after = static_cast<int>((ex().upstream->queue().timeout() + 999) / 1000);
    respond_error(503, ErrorSource::kUpstream,
                  "upstream at max_connections and its queue is full", retry_after);
  }
}

// Returns: false (and nothing changed) when every candidate is at max_connections.
bool ProxyConnection::try_connect(const ServerRuntime* exclude) {
  UpstreamRuntime::Pick pick = ex().upstream->pick(loop_.now(), exclude);
  if (pick.full) return false;
  if (pick.server == nullptr) {
    respond_error(503, ErrorSource::kUpstream, "upstream has no servers");
    return true;
  }
  while (std::unique_ptr<UpstreamConnection> conn = pick.server->idle.take()) {
    if (!conn->dead()) {
      ex().panic = pick.panic;
      ex().server = ex().upstream->share(pick.server);
      ++ex().server->in_flight;
      ex().in_flight_counted = true;
      use_connection(std::move(conn));
      return true;
    }
  }
  // Another worker may have taken the last slot since the pick looked.
  if (!ex().upstream->take_slot(*pick.server, loop_.now())) return false;
  ex().panic = pick.panic;
  ex().server = ex().upstream->share(pick.server);
  ++ex().server->in_flight;
  ex().in_flight_counted = true;
  auto conn = std::make_unique<UpstreamConnection>(loop_, ex().server);
  int err = 0;
  if (!conn->connect(ex().server->address.addr, &err)) {
    upstream_failed(std::string("socket: ") + strerror(-err), true, false);
    return true;
  }
  ex().up = std::move(conn);
  ex().up->attach(this);
  ex().up_connecting = true;
  set_upstream_deadline(ex().config->config->timeouts.upstream_connect);
  return true;
}

bool ProxyConnection::on_queue_turn() {
  Entered entered(*this);
  if (phase_ != Phase::kForward || !ex().upstream) return true;  // answered meanwhile
  if (!try_connect(nullptr)) return false;
  ex().queue_wait_ns += base::Clock::now_ns() - queued_since_ns();  // for the access log
  return true;
}

void ProxyConnection::on_queue_timeout() {
  Entered entered(*this);
  ex().queue_wait_ns += base::Clock::now_ns() - queued_since_ns();
  ex().log_flags |= kFlagUpstreamOverflow;
  const int retry_after = static_cast<int>((ex().upstream->queue().timeout() + 999) / 1000);
  respond_error(503, ErrorSource::kUpstream,
                "no upstream connection slot within the queue timeout", retry_after);
}

void ProxyConnection::use_connection(std::unique_ptr<UpstreamConnection> conn) {
  ex().up = std::move(conn);
  ex().up->attach(this);
  ex().up->parser().reset();
  ex().up->parser().set_response_to_head(ex().head_request);
  loop_.start_recv(ex().up->socket());
  send_upstream();
}

void ProxyConnection::on_upstream_connected(int res) {
  Entered entered(*this);
  ex().up_connecting = false;
  upstream_deadline_active_ = false;
  if (res < 0) {
    upstream_failed(std::string("connect: ") + strerror(-res), true, false);
    return;
  }
  ex().up->parser().reset();
  ex().up->parser().set_response_to_head(ex().head_request);
  loop_.start_recv(ex().up->socket());
  send_upstream();
}

void ProxyConnection::send_upstream() {
  if (!ex().up || ex().up_connecting || ex().up_sending) return;
  iovec iov[2];
  int n = 0;
  if (!ex().head_sent) {
    ex().head_sent = true;
    ex().upstream_start_ns = base::Clock::now_ns();
    iov[n++] = iovec{ex().req_head.data(), ex().req_head.size()};
  }
  if (!ex().req_body.empty()) {
    ex().req_sending.swap(ex().req_body);
    ex().req_body.clear();
    ex().body_sent = true;
    iov[n++] = iovec{ex().req_sending.data(), ex().req_sending.size()};
  }
  if (n == 0) return;
  ex().up_sending = true;
  loop_.send(ex().up->socket(), iov, n);
  set_upstream_deadline(ex().config->config->timeouts.upstream_response);
}

void ProxyConnection::on_upstream_sent(ssize_t res) {
  Entered entered(*this);
  ex().up_sending = false;
  ex().req_sending.clear();
  if (phase_ == Phase::kClosed) return;
  if (ex().resp_done && phase_ == Phase::kForward) {
    // finish_response() waited for this completion before parking the connection.
    drop_upstream(res >= 0 && ex().up_in.size() == 0);
    if (!ex().client_sending && ex().client_out.empty()) request_complete();
    return;
  }
  if (res < 0) {
    if (phase_ == Phase::kTunnel) {
      close();
      return;
    }
    // A pooled connection the server had closed: its recv end follows and replays the
    // request (on_upstream_end), which a failure here would wrongly count against it.
    if (!ex().got_response_bytes && ex().up && ex().up->reused() && !ex().stale_retried && can_retry(false)) return;
    // The server reset the connection while we were sending; its response may still be
    // readable, so only fail if nothing arrived.
    if (!ex().got_response_bytes) ex().log_flags |= kFlagUpstreamReset;
    if (!ex().got_response_bytes) upstream_failed(std::string("send: ") + strerror(static_cast<int>(-res)), false, false);
    return;
  }
  if (!ex().req_body.empty()) send_upstream();
  if (client_paused_ && ex().req_body.size() + ex().req_sending.size() < stream_limit() &&
      (phase_ == Phase::kTunnel || (phase_ == Phase::kForward && !ex().req_done))) {
    client_paused_ = false;
    loop_.start_recv(sock_);
    if (phase_ == Phase::kForward) process_client_input();
  }
}

void ProxyConnection::on_upstream_data(const char* data, size_t len) {
  Entered entered(*this);
  if (phase_ == Phase::kClosed) return;
  if (ex().resp_done && phase_ == Phase::kForward) {
    // Bytes after a complete response, while waiting to park: keep them so the connection
    // is judged not reusable.
    ex().up_in.append(data, len);
    return;
  }
  ex().got_response_bytes = true;
  if (phase_ == Phase::kTunnel) {
    ex().client_out.append(data, len);
  } else {
    set_upstream_deadline(ex().config->config->timeouts.upstream_response);
    process_upstream_input(data, len);
    if (phase_ == Phase::kClosed) return;
  }
  flush_client();
  if (ex().client_out.size() + ex().client_sending_buf.size() >= stream_limit() && ex().up && !ex().upstream_paused) {
    // The client reads slower than the server writes: stop reading the server.
    ex().upstream_paused = true;
    loop_.pause_recv(ex().up->socket());
  }
}

void ProxyConnection::process_upstream_input(const char* data, size_t len) {
  ex().up_in.append(data, len);
  while (ex().up && !ex().resp_done) {
    net::HttpParser& parser = ex().up->parser();
    net::HttpParser::Step st = parser.parse(ex().up_in.data(), ex().up_in.size());
    ex().up_in.consume(st.consumed);
    switch (st.event) {
      case net::HttpParser::Event::kNeedMore:
        if (ex().resp_started && ex().up_in.size() == 0 && !ex().up_in.has_stash()) {
          // Body phase and every byte forwarded: a stream paused behind a slow client holds
          // no response buffer, only the bytes queued for the client.
          ex().up_in.compact();
          ex().up_in.release();
          return;
        }
        if (ex().resp_started && (ex().up_in.full() || ex().up_in.has_stash())) {
          ex().up_in.compact();  // body phase: the head was already rewritten for the client
          if (ex().up_in.size() > 0) continue;
        }
        return;
      case net::HttpParser::Event::kError:
        ex().log_flags |= kFlagUpstreamProtocolError;
        upstream_failed(std::string("invalid response: ") + parser.error_reason(), false, false);
        return;
      case net::HttpParser::Event::kHead:
        if (!on_response_head()) return;
        break;
      case net::HttpParser::Event::kBody:
        append_response_body(st.body);
        break;
      case net::HttpParser::Event::kMessageEnd:
        if (ex().informational) {
          ex().informational = false;
          continue;  // the final response follows
        }
        finish_response();
        return;
    }
  }
}

bool ProxyConnection::on_response_head() {
  const net::HttpHead& h = ex().up->parser().head();
  if (h.status < 200 && h.status != 101) {
    // 1xx interim responses: our own 100 Continue already went out; drop the rest.
    ex().informational = true;
    return true;
  }
  // Trailers come at the body's end, after the head's buffer may be gone: keep the tokens.
  if (h.framing == net::BodyFraming::kChunked) ex().resp_connection.collect(h);
  else ex().resp_connection.clear();
  if (h.status == 101 && !ex().upgrade_request) {
    upstream_failed("101 Switching Protocols without an upgrade request", false, false);
    return false;
  }
  ex().upstream_ttfb_ns = base::Clock::now_ns() - ex().upstream_start_ns;
  const double latency_s = static_cast<double>(ex().upstream_ttfb_ns) * 1e-9;
  const size_t shard = worker_.index();
  ex().upstream->duration().observe(shard, latency_s);
  worker_.server_code(ex().upstream->name(), *ex().server, h.status).inc(shard);
  if (h.status >= 500) {
    ex().upstream->on_failure(*ex().server, loop_.now(), "status " + std::to_string(h.status));
  } else {
    ex().upstream->on_success(*ex().server, latency_s * 1000);
  }
  ex().status = h.status;
  if (!ex().req_done) close_after_response_ = true;  // early response: the rest of the body is unread
  // A declined upgrade: the client parser already treats what follows the request as
  // tunnel data (RFC 9110 §7.8), so this connection cannot carry another request.
  if (ex().upgrade_request && h.status != 101) close_after_response_ = true;
  ResponseFacts facts{ex().head_request, ex().client_http10, close_after_response_ || worker_.draining(),
                      ex().request_id};
  ex().resp_framing = build_client_response(h, facts, ex().config->config->response_headers, ex().client_out);
  if (ex().resp_framing == OutFraming::kUntilClose || facts.close) close_after_response_ = true;
  ex().resp_started = true;
  return true;
}

void ProxyConnection::append_response_body(std::string_view body) {
  if (body.empty()) return;
  switch (ex().resp_framing) {
    case OutFraming::kChunked:
      net::write_chunk_header(ex().client_out, body.size());
      ex().client_out.append(body);
      net::write_chunk_end(ex().client_out);
      break;
    case OutFraming::kContentLength:
    case OutFraming::kUntilClose:
      ex().client_out.append(body);
      break;
    case OutFraming::kNone:
      break;
  }
}

void ProxyConnection::finish_response() {
  net::HttpParser& parser = ex().up->parser();
  if (parser.upgraded() && ex().status == 101) {
    // WebSocket and friends: from here on bytes flow unchanged both ways.
    phase_ = Phase::kTunnel;
    upstream_deadline_active_ = false;
    if (ex().up_in.size() > 0) ex().client_out.append(ex().up_in.data(), ex().up_in.size());
    ex().up_in.consume(ex().up_in.size());
    ex().up_in.compact();
    if (in_.size() > 0) ex().req_body.append(in_.data(), in_.size());
    in_.consume(in_.size());
    send_upstream();
    if (client_paused_) {
      client_paused_ = false;
      loop_.start_recv(sock_);
    }
    set_client_deadline(ex().config->config->timeouts.client_idle);
    flush_client();
    return;
  }
  if (ex().resp_framing == OutFraming::kChunked) {
    const size_t dropped = write_forwarded_trailers(parser.trailers(), ex().resp_connection,
                                                    ex().config->config->response_headers, ex().client_out);
    if (dropped != 0) worker_.metrics().trailer_drops.inc(worker_.index(), dropped);
  }
  ex().resp_done = true;
  // One completed exchange: from now on, the server closing this connection before any
  // response byte means it went stale in the pool (on_upstream_end replays), not a failure.
  ex().up->count_request();
  const bool reusable =
      parser.head().keep_alive && ex().req_done && ex().req_body.empty() && ex().up_in.size() == 0;
  if (reusable && ex().up_sending) {
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
  if (!ex().client_sending && ex().client_out.empty()) request_complete();
}

void ProxyConnection::drop_upstream(bool reusable) {
  leave_queue();
  upstream_deadline_active_ = false;
  if (ex().in_flight_counted && ex().server) {
    --ex().server->in_flight;
    ex().in_flight_counted = false;
  }
  ex().up_in.consume(ex().up_in.size());
  ex().up_in.compact();
  ex().up_in.release();  // the response buffer lives as long as the exchange with this server
  ex().up_connecting = false;
  if (!ex().up) {
    ex().up_sending = false;
    return;
  }
  ex().up->attach(nullptr);
  ServerRuntime& s = ex().up->server();
  const size_t pool_cap = ex().upstream ? static_cast<size_t>(ex().upstream->config().keepalive) : 0;
  if (reusable && !s.removed && s.idle.size() < pool_cap) {
    if (ex().upstream_paused) loop_.start_recv(ex().up->socket());
    s.idle.park(std::move(ex().up));
  } else {
    ex().up.reset();  // closes the socket
  }
  ex().upstream_paused = false;
  ex().up_sending = false;
  if (ex().upstream) ex().upstream->queue().kick();  // a pooled connection or a slot came free
}

bool ProxyConnection::can_retry(bool connect_phase) const {
  // Nothing of the response reached the client, and no body bytes are gone (they cannot
  // be replayed); past the connect phase only idempotent methods may be repeated.
  if (!x_ || x_->resp_started || x_->body_sent || phase_ != Phase::kForward) return false;
  return connect_phase || x_->idempotent;
}

void ProxyConnection::upstream_failed(const std::string& reason, bool connect_phase, bool timed_out) {
  if (phase_ == Phase::kClosed) return;
  const bool retryable = can_retry(connect_phase) && !(timed_out && !connect_phase);
  if (connect_phase) ex().log_flags |= kFlagUpstreamConnectFailure;
  if (timed_out && !connect_phase) ex().log_flags |= kFlagUpstreamTimeout;
  ServerRuntime* failed = ex().server.get();
  if (failed) ex().upstream->on_failure(*failed, loop_.now(), reason);
  drop_upstream(false);
  ex().head_sent = false;
  if (retryable && ex().attempts <= ex().upstream->config().retries && ex().upstream->take_retry()) {
    ex().upstream->retry_counter().inc(worker_.index());
    pick_and_connect(failed);
    return;
  }
  if (ex().resp_started) {
    close();
    return;
  }
  const int status = timed_out && !connect_phase ? 504 : (ex().panic ? 503 : 502);
  respond_error(status, ErrorSource::kUpstream, reason.c_str());
}

void ProxyConnection::on_upstream_end(int err) {
  Entered entered(*this);
  if (phase_ == Phase::kClosed) return;
  if (ex().resp_done && phase_ == Phase::kForward) {
    // Closed while finish_response() waited for our send's completion: the response is
    // complete, only the connection is lost.
    drop_upstream(false);
    if (!ex().client_sending && ex().client_out.empty()) request_complete();
    return;
  }
  if (phase_ == Phase::kTunnel) {
    // Deliver what the server sent, then close both sides.
    close_after_response_ = true;
    ex().resp_done = true;
    drop_upstream(false);
    flush_client();
    if (!ex().client_sending && ex().client_out.empty()) close();
    return;
  }
  if (!ex().got_response_bytes && ex().up && ex().up->reused() && !ex().stale_retried && can_retry(false)) {
    // A pooled connection the server had already closed: replay on a fresh one. This is
    // not a server failure and does not spend the retry budget.
    ex().stale_retried = true;
    drop_upstream(false);
    ex().head_sent = false;
    --ex().attempts;
    pick_and_connect(nullptr);
    return;
  }
  if (ex().resp_started && ex().up) {
    net::HttpParser::Step st = ex().up->parser().finish();
    if (st.event == net::HttpParser::Event::kMessageEnd) {
      finish_response();
      return;
    }
    ex().log_flags |= err == 0 ? kFlagUpstreamClosed : kFlagUpstreamReset;
    close();  // truncated body: closing is the only way to tell the client
    return;
  }
  ex().log_flags |= err == 0 ? kFlagUpstreamClosed : kFlagUpstreamReset;
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
  if (phase_ == Phase::kClosed || !upstream_deadline_active_) return;
  if (loop_.now() < upstream_deadline_) {
    loop_.add_timer(&upstream_timer_, upstream_deadline_ - loop_.now());
    return;
  }
  upstream_deadline_active_ = false;
  if (ex().up_connecting) {
    upstream_failed("connect timeout after " +
                        std::to_string(ex().config->config->timeouts.upstream_connect) + " ms",
                    true, true);
    return;
  }
  upstream_failed("no response within " +
                      std::to_string(ex().config->config->timeouts.upstream_response) + " ms",
                  false, true);
}

void ProxyConnection::tunnel_client_bytes(const char* data, size_t len) {
  ex().req_body.append(data, len);
  send_upstream();
  if (ex().req_body.size() + ex().req_sending.size() >= stream_limit() && !client_paused_) {
    client_paused_ = true;
    loop_.pause_recv(sock_);
  }
}

}  // namespace ringway::proxy
