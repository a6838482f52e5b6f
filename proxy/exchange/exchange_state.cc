// Renewal of a lent exchange: every field back to what a new one has, strings keeping their
// capacity up to a watermark so steady-state requests do not allocate.
#include "proxy/exchange/exchange_state.h"

#include <new>

#include "proxy/exchange/exchange_context.h"  // complete types for the shared_ptr members

namespace ringway::proxy {
namespace {

constexpr unsigned kRecvChunk = 16384;
constexpr size_t kResponseHeadLimit = 65536;

void trim_string(std::string& s, size_t watermark) {
  if (s.capacity() > watermark) std::string().swap(s);
}

}  // namespace

ExchangeState::ExchangeState(const net::HttpLimits& limits)
    : parser(net::HttpParser::Mode::kRequest, limits), up_in(kResponseHeadLimit + kRecvChunk) {}

void ExchangeState::release(size_t watermark) {
  config.reset();
  route = nullptr;
  upstream.reset();
  up.reset();
  server.reset();
  for (std::string* s : {&client_out, &client_sending_buf, &req_head, &req_body, &req_sending,
                         &req_chunk, &target, &path_scratch, &request_id, &log_target}) {
    s->clear();
    trim_string(*s, watermark);
  }
  up_in.clear();
  up_in.release();
  req_connection.clear();
  resp_connection.clear();
}

void ExchangeState::renew(const net::HttpLimits& limits) {
  // The last borrower may have left any state (a parse error mid-body, a pipelined tail):
  // none of it may reach this request. release() already dropped references and bytes.
  parser.~HttpParser();
  new (&parser) net::HttpParser(net::HttpParser::Mode::kRequest, limits);
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
  status = 0;
  log_method = {};
  log_bytes_in = log_bytes_out = 0;
  upstream_ttfb_ns = queue_wait_ns = 0;
  log_flags = 0;
}

}  // namespace ringway::proxy
