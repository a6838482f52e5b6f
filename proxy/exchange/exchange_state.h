// Everything one request/response exchange holds: parser, per-request strings and flags, the
// upstream connection and its response buffer. Leased from the worker while bytes are in flight.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "net/http_parser.h"
#include "net/input_buffer.h"
#include "proxy/exchange/header_rules.h"
#include "proxy/upstream/upstream_connection.h"

namespace ringway::proxy {

struct RouteRuntime;
struct WorkerConfig;
class UpstreamRuntime;
struct ServerRuntime;

// ExchangeState::client_seen before the upstream timer has looked at the client.
inline constexpr uint64_t kClientUnseen = ~uint64_t{0};

// A keep-alive connection between requests holds none of this: the worker lends an exchange
// when a request's first byte arrives and takes it back once the connection is idle again,
// so memory follows the requests in flight, not the connections open. A returned exchange
// keeps its strings' capacity (up to a watermark) for the next request, on any connection.
struct ExchangeState {
  // `recv_chunk`: the most bytes one read delivers (limits.recv_buffer), so the response
  // buffer holds a whole read beside the longest head.
  ExchangeState(const net::HttpLimits& limits, size_t recv_chunk);

  // Back from a borrower: drops references (config, upstream, server) and every byte, and
  // frees string capacity past `watermark` (0: all), so a spare pins nothing but that.
  void release(size_t watermark);
  // Makes a spare exchange as a new one for a request under `limits`.
  void renew(const net::HttpLimits& limits);

  net::HttpParser parser;

  // Current request.
  std::shared_ptr<WorkerConfig> config;
  RouteRuntime* route = nullptr;
  std::shared_ptr<UpstreamRuntime> upstream;
  std::unique_ptr<UpstreamConnection> up;
  std::shared_ptr<ServerRuntime> server;
  std::string path_scratch;
  std::string target;
  std::string req_head;
  std::string req_body;      // framed body bytes not yet handed to the upstream socket
  std::string req_sending;   // bytes in the upstream send in flight
  std::string req_chunk;     // chunk data not yet known to end in CRLF: never sent before that
  uint64_t chunks_seen = 0;  // parser.chunks_completed() already moved to req_body
  bool buffering = false;    // body (within limits.request_buffer) held until validated
  OutFraming req_framing = OutFraming::kNone;
  std::string request_id;
  int64_t start_ns = 0;
  int64_t upstream_start_ns = 0;
  int attempts = 0;
  bool req_done = false;        // whole request parsed
  bool head_sent = false;       // request head handed to the current upstream connection
  bool body_sent = false;       // some body bytes left for an upstream: no retry after this
  bool up_sending = false;
  bool up_connecting = false;
  bool idempotent = false;
  bool head_request = false;
  bool panic = false;
  bool client_http10 = false;
  bool upgrade_request = false;
  bool stale_retried = false;     // a dead pooled connection was already replaced once
  bool got_response_bytes = false;
  bool informational = false;     // the response head just parsed was a 1xx
  bool in_flight_counted = false; // server->in_flight includes this request

  // Current response.
  std::string client_out;       // bytes queued for the client
  std::string client_sending_buf;
  bool client_sending = false;
  bool resp_started = false;    // response head queued for the client
  bool resp_done = false;
  bool upstream_paused = false;
  bool splice_pending = false;  // body to be spliced once the client has taken what is queued
  bool splicing = false;        // Loop::splice() from the upstream to the client is running
  uint64_t splice_seen = 0;     // its progress when the upstream timer last looked
  // The client's progress (TCP bytes acked + log_bytes_out) when the upstream timer last
  // looked while reads wait for the client; kClientUnseen right after a pause.
  uint64_t client_seen = 0;
  OutFraming resp_framing = OutFraming::kNone;
  int status = 0;
  net::InputBuffer up_in;

  // Access log facts of the current request (reset by log_request()).
  std::string_view log_method;  // static storage (HttpHead::method)
  std::string log_target;       // copied: the head's slice does not outlive body compaction
  uint64_t log_bytes_in = 0, log_bytes_out = 0;
  int64_t upstream_ttfb_ns = 0;  // request head sent -> response head, last attempt
  int64_t queue_wait_ns = 0;     // waiting for an upstream connection slot
  uint32_t log_flags = 0;        // ResponseFlag bits
  ConnectionTokens req_connection;   // the request head's Connection tokens (chunked bodies)
  ConnectionTokens resp_connection;  // the response head's, likewise

  ExchangeState* next_spare = nullptr;  // the worker's list of exchanges not lent out
};

}  // namespace ringway::proxy
