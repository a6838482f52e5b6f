// One client connection through the proxy: parse a request, pick a server, stream the request
// up and the response down with backpressure, retry what is safe, answer errors as JSON.
#pragma once

#include <memory>
#include <string>

#include "base/object_pool.h"
#include "net/http_parser.h"
#include "net/input_buffer.h"
#include "net/lazy_deadline.h"
#include "net/loop.h"
#include "net/timer.h"
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
  bool idle() const { return phase_ == Phase::kIdle && client_out_.empty() && !client_sending_; }
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

  // Waiting for a connection slot (upstream_side.cc).
  bool on_queue_turn() override;
  void on_queue_timeout() override;

 private:
  enum class Phase { kIdle, kHead, kForward, kTunnel, kClosed };

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
  void trim_exchange_buffers(size_t watermark);
  // limits.stream_buffer: bytes queued towards one side (being sent + waiting) at which
  // we stop reading from the other, so a slow reader (or a slow upstream for an upload) costs
  // at most about this much per stream and direction.
  size_t stream_limit() const {
    return (config_ ? config_->config : worker_.current()->config)->limits.stream_buffer;
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
  void finish_response();
  void upstream_failed(const std::string& reason, bool connect_phase, bool timed_out);
  bool can_retry(bool connect_phase) const;
  void drop_upstream(bool reusable);
  void on_upstream_timer();
  void set_upstream_deadline(base::Millis after);
  void tunnel_client_bytes(const char* data, size_t len);

  ExchangeContext& worker_;
  net::Loop& loop_;
  net::Socket* sock_ = nullptr;
  Phase phase_ = Phase::kIdle;
  net::HttpParser parser_;
  net::InputBuffer in_;
  std::string client_ip_;
  net::LazyDeadline client_deadline_;  // header, idle and drain timeouts
  net::Timer upstream_timer_;
  base::TimePoint upstream_deadline_;
  bool upstream_deadline_active_ = false;
  bool client_paused_ = false;
  bool client_eof_ = false;
  bool close_after_response_ = false;

  // Current request.
  std::shared_ptr<WorkerConfig> config_;
  RouteRuntime* route_ = nullptr;
  std::shared_ptr<UpstreamRuntime> upstream_;
  std::unique_ptr<UpstreamConnection> up_;
  std::shared_ptr<ServerRuntime> server_;
  std::string path_scratch_;
  std::string target_;
  std::string req_head_;
  std::string req_body_;      // framed body bytes not yet handed to the upstream socket
  std::string req_sending_;   // bytes in the upstream send in flight
  std::string req_chunk_;     // chunk data not yet known to end in CRLF: never sent before that
  uint64_t chunks_seen_ = 0;  // parser_.chunks_completed() already moved to req_body_
  bool buffering_ = false;    // body (within limits.request_buffer) held until validated
  OutFraming req_framing_ = OutFraming::kNone;
  std::string request_id_;
  int64_t start_ns_ = 0;
  int64_t upstream_start_ns_ = 0;
  int attempts_ = 0;
  bool req_done_ = false;        // whole request parsed
  bool head_sent_ = false;       // request head handed to the current upstream connection
  bool body_sent_ = false;       // some body bytes left for an upstream: no retry after this
  bool up_sending_ = false;
  bool up_connecting_ = false;
  bool idempotent_ = false;
  bool head_request_ = false;
  bool panic_ = false;
  bool client_http10_ = false;
  bool upgrade_request_ = false;
  bool stale_retried_ = false;     // a dead pooled connection was already replaced once
  bool got_response_bytes_ = false;
  bool informational_ = false;     // the response head just parsed was a 1xx
  bool in_flight_counted_ = false; // server_->in_flight includes this request

  // Current response.
  std::string client_out_;       // bytes queued for the client
  std::string client_sending_buf_;
  bool client_sending_ = false;
  bool resp_started_ = false;    // response head queued for the client
  bool resp_done_ = false;
  bool upstream_paused_ = false;
  OutFraming resp_framing_ = OutFraming::kNone;
  int status_ = 0;
  net::InputBuffer up_in_;

  // Access log facts of the current request (reset by log_request()).
  int client_port_ = 0;
  std::string_view log_method_;  // static storage (HttpHead::method)
  std::string log_target_;       // copied: the head's slice does not outlive body compaction
  uint64_t log_bytes_in_ = 0, log_bytes_out_ = 0;
  int64_t upstream_ttfb_ns_ = 0;  // request head sent -> response head, last attempt
  // Time spent waiting for an upstream connection slot; stays 0 until the upstream queue
  // ("Frugal under load") sets it.
  int64_t queue_wait_ns_ = 0;
  uint32_t log_flags_ = 0;        // ResponseFlag bits
  ConnectionTokens req_connection_;   // the request head's Connection tokens (chunked bodies)
  ConnectionTokens resp_connection_;  // the response head's, likewise
};

}  // namespace ringway::proxy
