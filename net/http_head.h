// HTTP/1.1 message head as the codec hands it out: start line, fields in order and the framing
// decisions derived from them. All views are slices of the bytes the parser was given (no copies).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace ringway::net {

struct HeaderField {
  std::string_view name;
  std::string_view value;
};

// How the message body is delimited (RFC 9112 §6.3).
enum class BodyFraming : uint8_t {
  kNone,           // no body: bodiless request, response to HEAD, 1xx/204/304, CONNECT
  kContentLength,  // exactly content_length bytes (may be 0)
  kChunked,        // chunked transfer coding is final (RFC 9112 §7.1)
  kUntilClose,     // response read until the server closes (RFC 9112 §6.3 rules 4 and 8)
};

struct HttpHead {
  std::string_view method;  // request: "GET" (static storage, identical to what was sent)
  int method_id = -1;       // request: llhttp_method_t value (HTTP_GET ...)
  std::string_view target;  // request-target exactly as sent
  int status = 0;           // response status code
  std::string_view reason;  // response reason phrase (may be empty)
  int version_major = 1, version_minor = 1;
  std::vector<HeaderField> headers;  // in order; slices into the parsed bytes (values without OWS)
  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;  // when framing == kContentLength
  bool keep_alive = false;      // RFC 9112 §9.3: may the connection be reused after this message
  bool upgrade = false;  // request: Connection: upgrade + Upgrade (or CONNECT); response: 101
  bool expect_continue =
      false;              // request has Expect: 100-continue (HTTP/1.1 only, RFC 9110 §10.1.1)
  std::string_view host;  // request Host value

  // Returns: first header with this name (ASCII case-insensitive) or nullptr.
  const HeaderField* find(std::string_view name) const;
  // Forgets the message; keeps the headers' capacity so steady-state parsing does not allocate.
  void clear();
};

}  // namespace ringway::net
