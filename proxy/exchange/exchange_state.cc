// Renewal of a lent exchange: every field back to what a new one has, strings keeping their
// capacity up to a watermark so steady-state requests do not allocate.
#include "proxy/exchange/exchange_state.h"

#include "proxy/exchange/exchange_context.h"  // complete types for the shared_ptr members

namespace ringway::proxy {
namespace {

constexpr size_t kResponseHeadLimit = 65536;
}  // namespace

ExchangeState::ExchangeState(const net::HttpLimits& limits, size_t recv_chunk)
    : parser(net::HttpParser::Mode::kRequest, limits), up_in(kResponseHeadLimit + recv_chunk) {}

void ExchangeState::release(size_t watermark) {
  // The borrower dropped its references at request_complete()/close(); these only matter
  // after an error path, and cost a null test each otherwise.
  config.reset();
  upstream.reset();
  up.reset();
  server.reset();
  route = nullptr;
  for (std::string* s : {&client_out, &client_sending_buf, &req_head, &req_body, &req_sending,
                         &req_chunk, &target, &path_scratch, &request_id, &log_target}) {
    if (s->capacity() > watermark) {
      std::string().swap(*s);
    } else {
      s->clear();
    }
  }
  if (!up_in.empty() || up_in.leased()) {
    up_in.clear();
    up_in.release();
  }
}

void ExchangeState::renew(const net::HttpLimits& limits) {
  // The last borrower may have left any state (a parse error mid-body, a pipelined tail):
  // none of it may reach this request. release() already dropped references and bytes.
  // A parser that ended a keep-alive message cleanly is as good as new (it would take a
  // pipelined request next); anything else (an error, a close, half a message) starts over.
  const net::HttpLimits& now = parser.limits();
  const bool same_limits = now.max_header_bytes == limits.max_header_bytes &&
                           now.max_headers == limits.max_headers &&
                           now.max_body_bytes == limits.max_body_bytes &&
                           now.max_chunk_ext_bytes == limits.max_chunk_ext_bytes;
  if (!parser.at_message_boundary() || !same_limits) parser.reset(limits);
  route = nullptr;
  chunks_seen = 0;
  buffering = false;
  req_framing = resp_framing = OutFraming::kNone;
  start_ns = upstream_start_ns = 0;
  attempts = 0;
  req_done = head_sent = body_sent = up_sending = up_connecting = false;
  idempotent = head_request = panic = client_http10 = upgrade_request = false;
  stale_retried = got_response_bytes = informational = in_flight_counted = false;
  client_sending = resp_started = resp_done = upstream_paused = false;
  splice_pending = splicing = false;
  status = 0;
  log_method = {};
  log_bytes_in = log_bytes_out = 0;
  upstream_ttfb_ns = queue_wait_ns = 0;
  log_flags = 0;
  // Tokens are re-collected for every chunked message; they are only ever read then.
  req_connection.clear();
  resp_connection.clear();
}

}  // namespace ringway::proxy
