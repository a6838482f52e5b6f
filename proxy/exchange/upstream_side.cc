// Upstream side of a proxied connection: server pick, pooled or fresh connection, request
// streaming, response parsing and forwarding, retries, timeouts and the upgrade tunnel.
#include <string.h>

#include "net/http_writer.h"
#include "proxy/access_log/response_flags.h"
#include "proxy/exchange/proxy_connection.h"
#include "proxy/proxy_metrics.h"

namespace ringway::proxy {

void ProxyConnection::pick_and_connect(const ServerRuntime* exclude) {
  ++attempts_;
  // Requests already waiting for a connection slot go first (FIFO per upstream and worker).
  if (upstream_->queue().empty() && try_connect(exclude)) return;
  if (!upstream_->queue().push(this, loop_.now())) {
    log_flags_ |= kFlagUpstreamOverflow;
    const int retry_after = static_cast<int>((upstream_->queue().timeout() + 999) / 1000);
    respond_error(503, ErrorSource::kUpstream,
                  "upstream at max_connections and its queue is full", retry_after);
  }
}

// Returns: false (and nothing changed) when every candidate is at max_connections.
bool ProxyConnection::try_connect(const ServerRuntime* exclude) {
  UpstreamRuntime::Pick pick = upstream_->pick(loop_.now(), exclude);
  if (pick.full) return false;
  if (pick.server == nullptr) {
    respond_error(503, ErrorSource::kUpstream, "upstream has no servers");
    return true;
  }
  while (std::unique_ptr<UpstreamConnection> conn = pick.server->idle.take()) {
    if (!conn->dead()) {
      panic_ = pick.panic;
      server_ = upstream_->share(pick.server);
      ++server_->in_flight;
      in_flight_counted_ = true;
      use_connection(std::move(conn));
      return true;
    }
  }
  // Another worker may have taken the last slot since the pick looked.
  if (!upstream_->take_slot(*pick.server, loop_.now())) return false;
  panic_ = pick.panic;
  server_ = upstream_->share(pick.server);
  ++server_->in_flight;
  in_flight_counted_ = true;
  auto conn = std::make_unique<UpstreamConnection>(loop_, server_);
  int err = 0;
  if (!conn->connect(server_->address.addr, &err)) {
    upstream_failed(std::string("socket: ") + strerror(-err), true, false);
    return true;
  }
  up_ = std::move(conn);
  up_->attach(this);
  up_connecting_ = true;
  set_upstream_deadline(config_->config->timeouts.upstream_connect);
  return true;
}

bool ProxyConnection::on_queue_turn() {
  if (phase_ != Phase::kForward || !upstream_) return true;  // answered meanwhile
  if (!try_connect(nullptr)) return false;
  queue_wait_ns_ += base::Clock::now_ns() - queued_since_ns();  // for the access log
  return true;
}

void ProxyConnection::on_queue_timeout() {
  queue_wait_ns_ += base::Clock::now_ns() - queued_since_ns();
  log_flags_ |= kFlagUpstreamOverflow;
  const int retry_after = static_cast<int>((upstream_->queue().timeout() + 999) / 1000);
  respond_error(503, ErrorSource::kUpstream,
                "no upstream connection slot within the queue timeout", retry_after);
}

void ProxyConnection::use_connection(std::unique_ptr<UpstreamConnection> conn) {
  up_ = std::move(conn);
  up_->attach(this);
  up_->parser().reset();
  up_->parser().set_response_to_head(head_request_);
  loop_.start_recv(up_->socket());
  send_upstream();
}

void ProxyConnection::on_upstream_connected(int res) {
  up_connecting_ = false;
  upstream_deadline_active_ = false;
  if (res < 0) {
    upstream_failed(std::string("connect: ") + strerror(-res), true, false);
    return;
  }
  up_->parser().reset();
  up_->parser().set_response_to_head(head_request_);
  loop_.start_recv(up_->socket());
  send_upstream();
}

void ProxyConnection::send_upstream() {
  if (!up_ || up_connecting_ || up_sending_) return;
  iovec iov[2];
  int n = 0;
  if (!head_sent_) {
    head_sent_ = true;
    upstream_start_ns_ = base::Clock::now_ns();
    iov[n++] = iovec{req_head_.data(), req_head_.size()};
  }
  if (!req_body_.empty()) {
    req_sending_.swap(req_body_);
    req_body_.clear();
    body_sent_ = true;
    iov[n++] = iovec{req_sending_.data(), req_sending_.size()};
  }
  if (n == 0) return;
  up_sending_ = true;
  loop_.send(up_->socket(), iov, n);
  set_upstream_deadline(config_->config->timeouts.upstream_response);
}

void ProxyConnection::on_upstream_sent(ssize_t res) {
  up_sending_ = false;
  req_sending_.clear();
  if (phase_ == Phase::kClosed) return;
  if (resp_done_ && phase_ == Phase::kForward) {
    // finish_response() waited for this completion before parking the connection.
    drop_upstream(res >= 0 && up_in_.size() == 0);
    if (!client_sending_ && client_out_.empty()) request_complete();
    return;
  }
  if (res < 0) {
    if (phase_ == Phase::kTunnel) {
      close();
      return;
    }
    // A pooled connection the server had closed: its recv end follows and replays the
    // request (on_upstream_end), which a failure here would wrongly count against it.
    if (!got_response_bytes_ && up_ && up_->reused() && !stale_retried_ && can_retry(false)) return;
    // The server reset the connection while we were sending; its response may still be
    // readable, so only fail if nothing arrived.
    if (!got_response_bytes_) log_flags_ |= kFlagUpstreamReset;
    if (!got_response_bytes_) upstream_failed(std::string("send: ") + strerror(static_cast<int>(-res)), false, false);
    return;
  }
  if (!req_body_.empty()) send_upstream();
  if (client_paused_ && req_body_.size() + req_sending_.size() < stream_limit() &&
      (phase_ == Phase::kTunnel || (phase_ == Phase::kForward && !req_done_))) {
    client_paused_ = false;
    loop_.start_recv(sock_);
    if (phase_ == Phase::kForward) process_client_input();
  }
}

void ProxyConnection::on_upstream_data(const char* data, size_t len) {
  if (phase_ == Phase::kClosed) return;
  if (resp_done_ && phase_ == Phase::kForward) {
    // Bytes after a complete response, while waiting to park: keep them so the connection
    // is judged not reusable.
    up_in_.append(data, len);
    return;
  }
  got_response_bytes_ = true;
  if (phase_ == Phase::kTunnel) {
    client_out_.append(data, len);
  } else {
    set_upstream_deadline(config_->config->timeouts.upstream_response);
    process_upstream_input(data, len);
    if (phase_ == Phase::kClosed) return;
  }
  flush_client();
  if (client_out_.size() + client_sending_buf_.size() >= stream_limit() && up_ && !upstream_paused_) {
    // The client reads slower than the server writes: stop reading the server.
    upstream_paused_ = true;
    loop_.pause_recv(up_->socket());
  }
}

void ProxyConnection::process_upstream_input(const char* data, size_t len) {
  up_in_.append(data, len);
  while (up_ && !resp_done_) {
    net::HttpParser& parser = up_->parser();
    net::HttpParser::Step st = parser.parse(up_in_.data(), up_in_.size());
    up_in_.consume(st.consumed);
    switch (st.event) {
      case net::HttpParser::Event::kNeedMore:
        if (resp_started_ && up_in_.size() == 0 && !up_in_.has_stash()) {
          // Body phase and every byte forwarded: a stream paused behind a slow client holds
          // no response buffer, only the bytes queued for the client.
          up_in_.compact();
          up_in_.release();
          return;
        }
        if (resp_started_ && (up_in_.full() || up_in_.has_stash())) {
          up_in_.compact();  // body phase: the head was already rewritten for the client
          if (up_in_.size() > 0) continue;
        }
        return;
      case net::HttpParser::Event::kError:
        log_flags_ |= kFlagUpstreamProtocolError;
        upstream_failed(std::string("invalid response: ") + parser.error_reason(), false, false);
        return;
      case net::HttpParser::Event::kHead:
        if (!on_response_head()) return;
        break;
      case net::HttpParser::Event::kBody:
        append_response_body(st.body);
        break;
      case net::HttpParser::Event::kMessageEnd:
        if (informational_) {
          informational_ = false;
          continue;  // the final response follows
        }
        finish_response();
        return;
    }
  }
}

bool ProxyConnection::on_response_head() {
  const net::HttpHead& h = up_->parser().head();
  if (h.status < 200 && h.status != 101) {
    // 1xx interim responses: our own 100 Continue already went out; drop the rest.
    informational_ = true;
    return true;
  }
  // Trailers come at the body's end, after the head's buffer may be gone: keep the tokens.
  if (h.framing == net::BodyFraming::kChunked) resp_connection_.collect(h);
  else resp_connection_.clear();
  if (h.status == 101 && !upgrade_request_) {
    upstream_failed("101 Switching Protocols without an upgrade request", false, false);
    return false;
  }
  upstream_ttfb_ns_ = base::Clock::now_ns() - upstream_start_ns_;
  const double latency_s = static_cast<double>(upstream_ttfb_ns_) * 1e-9;
  const size_t shard = worker_.index();
  upstream_->duration().observe(shard, latency_s);
  worker_.server_code(upstream_->name(), *server_, h.status).inc(shard);
  if (h.status >= 500) {
    upstream_->on_failure(*server_, loop_.now(), "status " + std::to_string(h.status));
  } else {
    upstream_->on_success(*server_, latency_s * 1000);
  }
  status_ = h.status;
  if (!req_done_) close_after_response_ = true;  // early response: the rest of the body is unread
  // A declined upgrade: the client parser already treats what follows the request as
  // tunnel data (RFC 9110 §7.8), so this connection cannot carry another request.
  if (upgrade_request_ && h.status != 101) close_after_response_ = true;
  ResponseFacts facts{head_request_, client_http10_, close_after_response_ || worker_.draining(),
                      request_id_};
  resp_framing_ = build_client_response(h, facts, config_->config->response_headers, client_out_);
  if (resp_framing_ == OutFraming::kUntilClose || facts.close) close_after_response_ = true;
  resp_started_ = true;
  return true;
}

void ProxyConnection::append_response_body(std::string_view body) {
  if (body.empty()) return;
  switch (resp_framing_) {
    case OutFraming::kChunked:
      net::write_chunk_header(client_out_, body.size());
      client_out_.append(body);
      net::write_chunk_end(client_out_);
      break;
    case OutFraming::kContentLength:
    case OutFraming::kUntilClose:
      client_out_.append(body);
      break;
    case OutFraming::kNone:
      break;
  }
}

void ProxyConnection::finish_response() {
  net::HttpParser& parser = up_->parser();
  if (parser.upgraded() && status_ == 101) {
    // WebSocket and friends: from here on bytes flow unchanged both ways.
    phase_ = Phase::kTunnel;
    upstream_deadline_active_ = false;
    if (up_in_.size() > 0) client_out_.append(up_in_.data(), up_in_.size());
    up_in_.consume(up_in_.size());
    up_in_.compact();
    if (in_.size() > 0) req_body_.append(in_.data(), in_.size());
    in_.consume(in_.size());
    send_upstream();
    if (client_paused_) {
      client_paused_ = false;
      loop_.start_recv(sock_);
    }
    set_client_deadline(config_->config->timeouts.client_idle);
    flush_client();
    return;
  }
  if (resp_framing_ == OutFraming::kChunked) {
    const size_t dropped = write_forwarded_trailers(parser.trailers(), resp_connection_,
                                                    config_->config->response_headers, client_out_);
    if (dropped != 0) worker_.metrics().trailer_drops.inc(worker_.index(), dropped);
  }
  resp_done_ = true;
  // One completed exchange: from now on, the server closing this connection before any
  // response byte means it went stale in the pool (on_upstream_end replays), not a failure.
  up_->count_request();
  const bool reusable =
      parser.head().keep_alive && req_done_ && req_body_.empty() && up_in_.size() == 0;
  if (reusable && up_sending_) {
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
  if (!client_sending_ && client_out_.empty()) request_complete();
}

void ProxyConnection::drop_upstream(bool reusable) {
  leave_queue();
  upstream_deadline_active_ = false;
  if (in_flight_counted_ && server_) {
    --server_->in_flight;
    in_flight_counted_ = false;
  }
  up_in_.consume(up_in_.size());
  up_in_.compact();
  up_in_.release();  // the response buffer lives as long as the exchange with this server
  up_connecting_ = false;
  if (!up_) {
    up_sending_ = false;
    return;
  }
  up_->attach(nullptr);
  ServerRuntime& s = up_->server();
  const size_t pool_cap = upstream_ ? static_cast<size_t>(upstream_->config().keepalive) : 0;
  if (reusable && !s.removed && s.idle.size() < pool_cap) {
    if (upstream_paused_) loop_.start_recv(up_->socket());
    s.idle.park(std::move(up_));
  } else {
    up_.reset();  // closes the socket
  }
  upstream_paused_ = false;
  up_sending_ = false;
  if (upstream_) upstream_->queue().kick();  // a pooled connection or a slot came free
}

bool ProxyConnection::can_retry(bool connect_phase) const {
  // Nothing of the response reached the client, and no body bytes are gone (they cannot
  // be replayed); past the connect phase only idempotent methods may be repeated.
  if (resp_started_ || body_sent_ || phase_ != Phase::kForward) return false;
  return connect_phase || idempotent_;
}

void ProxyConnection::upstream_failed(const std::string& reason, bool connect_phase, bool timed_out) {
  if (phase_ == Phase::kClosed) return;
  const bool retryable = can_retry(connect_phase) && !(timed_out && !connect_phase);
  if (connect_phase) log_flags_ |= kFlagUpstreamConnectFailure;
  if (timed_out && !connect_phase) log_flags_ |= kFlagUpstreamTimeout;
  ServerRuntime* failed = server_.get();
  if (failed) upstream_->on_failure(*failed, loop_.now(), reason);
  drop_upstream(false);
  head_sent_ = false;
  if (retryable && attempts_ <= upstream_->config().retries && upstream_->take_retry()) {
    upstream_->retry_counter().inc(worker_.index());
    pick_and_connect(failed);
    return;
  }
  if (resp_started_) {
    close();
    return;
  }
  const int status = timed_out && !connect_phase ? 504 : (panic_ ? 503 : 502);
  respond_error(status, ErrorSource::kUpstream, reason.c_str());
}

void ProxyConnection::on_upstream_end(int err) {
  if (phase_ == Phase::kClosed) return;
  if (resp_done_ && phase_ == Phase::kForward) {
    // Closed while finish_response() waited for our send's completion: the response is
    // complete, only the connection is lost.
    drop_upstream(false);
    if (!client_sending_ && client_out_.empty()) request_complete();
    return;
  }
  if (phase_ == Phase::kTunnel) {
    // Deliver what the server sent, then close both sides.
    close_after_response_ = true;
    resp_done_ = true;
    drop_upstream(false);
    flush_client();
    if (!client_sending_ && client_out_.empty()) close();
    return;
  }
  if (!got_response_bytes_ && up_ && up_->reused() && !stale_retried_ && can_retry(false)) {
    // A pooled connection the server had already closed: replay on a fresh one. This is
    // not a server failure and does not spend the retry budget.
    stale_retried_ = true;
    drop_upstream(false);
    head_sent_ = false;
    --attempts_;
    pick_and_connect(nullptr);
    return;
  }
  if (resp_started_ && up_) {
    net::HttpParser::Step st = up_->parser().finish();
    if (st.event == net::HttpParser::Event::kMessageEnd) {
      finish_response();
      return;
    }
    log_flags_ |= err == 0 ? kFlagUpstreamClosed : kFlagUpstreamReset;
    close();  // truncated body: closing is the only way to tell the client
    return;
  }
  log_flags_ |= err == 0 ? kFlagUpstreamClosed : kFlagUpstreamReset;
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
  if (phase_ == Phase::kClosed || !upstream_deadline_active_) return;
  if (loop_.now() < upstream_deadline_) {
    loop_.add_timer(&upstream_timer_, upstream_deadline_ - loop_.now());
    return;
  }
  upstream_deadline_active_ = false;
  if (up_connecting_) {
    upstream_failed("connect timeout after " +
                        std::to_string(config_->config->timeouts.upstream_connect) + " ms",
                    true, true);
    return;
  }
  upstream_failed("no response within " +
                      std::to_string(config_->config->timeouts.upstream_response) + " ms",
                  false, true);
}

void ProxyConnection::tunnel_client_bytes(const char* data, size_t len) {
  req_body_.append(data, len);
  send_upstream();
  if (req_body_.size() + req_sending_.size() >= stream_limit() && !client_paused_) {
    client_paused_ = true;
    loop_.pause_recv(sock_);
  }
}

}  // namespace ringway::proxy
