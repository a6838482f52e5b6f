// Why a request ended abnormally, as short codes in the access log's "flags" field (after
// Envoy's %RESPONSE_FLAGS%). Flags accumulate over a request's attempts.
#pragma once

#include <cstdint>
#include <cstddef>

namespace ringway::proxy {

enum ResponseFlag : uint32_t {
  kFlagNoRoute = 1u << 0,                 // NR  no route matched (404)
  kFlagNoHealthyUpstream = 1u << 1,       // UH  the upstream had no server to pick (503)
  kFlagUpstreamConnectFailure = 1u << 2,  // UF  connect to the server failed or timed out
  kFlagUpstreamTimeout = 1u << 3,         // UT  no response within upstream_response (504)
  kFlagUpstreamReset = 1u << 4,           // UR  the server reset the connection (errno)
  kFlagUpstreamClosed = 1u << 5,          // UC  the server closed before the response ended
  kFlagUpstreamProtocolError = 1u << 6,   // UPE the server's response was not valid HTTP/1.1
  kFlagUpstreamOverflow = 1u << 7,        // UO  the upstream queue was full or timed out (503)
  kFlagDownstreamProtocolError = 1u
                                 << 8,  // DPE the client's request was malformed (400/405/413/431)
  kFlagDownstreamHeaderTimeout = 1u << 9,  // DT  the client sent no full head in time (408)
  kFlagDownstreamClosed = 1u << 10,  // DC  the client closed or reset before the response ended
  kFlagShutdownCut = 1u << 11,       // SD  cut off when the drain budget ran out at shutdown
  kFlagDownstreamStalled = 1u << 12,  // DS  reads paused for a client that took nothing for a period
};

// Writes the codes of `flags` joined by ',' in the order above ("UF,UT"); nothing for 0.
// Returns: the end of what was written, at most kResponseFlagsBound bytes.
char* write_response_flags(char* out, uint32_t flags);
inline constexpr size_t kResponseFlagsBound = 13 * 4;  // 13 codes of up to 3 letters, commas

}  // namespace ringway::proxy
