// One client connection through the proxy: parse a request, pick a server, stream the request
// up and the response down with backpressure, retry what is safe, answer errors as JSON.
#pragma once

#include <memory>
#include <string>

#include "base/callback_scope.h"
#include "base/object_pool.h"
#include "net/http_parser.h"
#include "net/input_buffer.h"
#include "net/lazy_deadline.h"
#include "net/loop.h"
#include "net/timer.h"
#include "proxy/exchange/exchange_state.h"
#include "proxy/exchange/header_rules.h"
#include "proxy/upstream/upstream_connection.h"
#include "proxy/exchange/exchange_context.h"

namespace ringway::proxy {

// Where an error came from decides its status and whether a retry is allowed.
enum class ErrorSource { kClient, kUpstream, kInternal };

class ProxyConnection final : public net::SocketHandler,
                              public UpstreamEvents,
                              public QueueWaiter,
                              public base::PoolSlot {
 public:
  explicit ProxyConnection(ExchangeContext& worker);
  ~ProxyConnection() override;

  void open(int fd);
  bool idle() const {
    return phase_ == Phase::kIdle && (!x_ || (x_->client_out.empty() && !x_->client_sending));
  }
  // Holds an exchange (for tests and the admin page's memory view).
  bool has_exchange() const { return x_ != nullptr; }
  // Draining: close now if idle, else after the current response.
  void drain();

  // Client socket.
  void on_data(const char* data, size_t len) override;
  void on_recv_end(int err) override;
  void on_sent(ssize_t res) override;

  // Upstream socket (upstream_side.cc).
  void on_upstream_connected(int res) override;
  void on_upstream_data(const char* data, size_t len) override;
  void on_upstream_end(int err) override;
  void on_upstream_sent(ssize_t res) override;
  void on_upstream_spliced(uint64_t moved, int err, bool sink_failed) override;

  // Waiting for a connection slot (upstream_side.cc).
  bool on_queue_turn() override;
  void on_queue_timeout() override;

 private:
  enum class Phase { kIdle, kHead, kForward, kTunnel, kClosed };

  // The exchange, lent on first use.
  ExchangeState& ex() {
    if (x_ == nullptr) lease_exchange();
    return *x_;
  }
  void lease_exchange();
  // Gives the exchange back if the connection is idle with nothing buffered (or closed).
  void maybe_return_exchange();
  // When the outermost entry point (a callback from the loop, a timer or the queue) returns.
  void on_outermost_return() {
    if (x_) maybe_return_exchange();
  }

  // Client side (client_side.cc).
  void process_client_input();
  void start_request();
  void reset_request_state();  // per-request flags, before each request and on open()
  void append_request_body(std::string_view body);
  void queue_request_bytes(std::string_view bytes);  // frame for the upstream, send if it is up
  void start_upstream();  // request buffering ends: pick a server and send what is queued
  void finish_request_body();
  void flush_client();
  void on_client_timer();
  void set_client_deadline(base::Millis after);
  void request_complete();
  void close();
  // retry_after_s > 0 adds Retry-After (RFC 9110 §10.2.3) for a 503 the client may repeat.
  void respond_error(int status, ErrorSource source, const char* reason, int retry_after_s = 0);
  void record(int status);
  // limits.stream_buffer: bytes queued towards one side (being sent + waiting) at which
  // we stop reading from the other, so a slow reader (or a slow upstream for an upload) costs
  // at most about this much per stream and direction.
  size_t stream_limit() const {
    return (x_ && x_->config ? x_->config->config : worker_.current()->config)->limits.stream_buffer;
  }
  // The access log hook (access_logging.cc): called once where a request ends (completed,
  // or cut off in close() / at shutdown). No-op when access_log is off.
  void log_request(int status);

  // Upstream side (upstream_side.cc).
  void pick_and_connect(const ServerRuntime* exclude);
  bool try_connect(const ServerRuntime* exclude);
  void use_connection(std::unique_ptr<UpstreamConnection> conn);
  void send_upstream();
  void process_upstream_input(const char* data, size_t len);
  bool on_response_head();
  void append_response_body(std::string_view body);
  // more_unread: bytes (or EOF) already wait behind the response, so the connection answers
  // nothing more and is not reused.
  void finish_response(bool more_unread = false);
  void upstream_failed(const std::string& reason, bool connect_phase, bool timed_out);
  bool can_retry(bool connect_phase) const;
  void drop_upstream(bool reusable);
  void on_upstream_timer();
  // True while the upstream is quiet because of the client: its reads wait for the client
  // to take what is queued, or a splice's bytes wait in the pipe for the client socket.
  bool held_by_client(const ExchangeState& x) const;
  // Bytes crossed a tunnel (either way): it stays open until client_idle passes without any.
  void tunnel_activity();
  void set_upstream_deadline(base::Millis after);
  void tunnel_client_bytes(const char* data, size_t len);

  // Kernel-side body forwarding (response_splice.cc).
  // When the rest of this response's body is to be spliced: pauses the upstream's reads and
  // sets splice_pending; the splice starts once the client took what is queued.
  void begin_splice();
  void start_splice_when_flushed();
  // Bytes a splice delivered (it ended, or close() cuts it): access log and metric.
  void count_spliced(uint64_t moved);
  // A splice about to be cut off by closing a socket: counts its progress, ends the state.
  void settle_splice();
  // The client receive buffer holds the longest allowed head plus one whole read.
  size_t input_capacity(const LimitsConfig& l) const { return l.max_header_bytes + loop_.recv_buffer_size(); }

  ExchangeContext& worker_;
  net::Loop& loop_;
  net::Socket* sock_ = nullptr;
  Phase phase_ = Phase::kIdle;
  net::InputBuffer in_;
  std::string client_ip_;
  net::LazyDeadline client_deadline_;  // header, idle and drain timeouts
  net::Timer upstream_timer_;
  base::TimePoint upstream_deadline_;
  bool upstream_deadline_active_ = false;
  bool client_paused_ = false;
  bool client_eof_ = false;
  bool close_after_response_ = false;

  int client_port_ = 0;
  // The exchange in progress, lent by the worker from a request's first byte until the
  // connection is idle again (see ExchangeState); nullptr while idle.
  ExchangeState* x_ = nullptr;
  // Entry points (loop and queue callbacks) nested now: the exchange goes back only when the
  // outermost returns, so no caller up the stack still holds a reference into it.
  int entered_ = 0;
  bool sending_at_close_ = false;  // an upstream send was in flight when close() dropped it

  // The first line of every entry point.
  using Entered = base::CallbackScope<ProxyConnection, &ProxyConnection::entered_,
                                      &ProxyConnection::on_outermost_return>;
};

}  // namespace ringway::proxy
