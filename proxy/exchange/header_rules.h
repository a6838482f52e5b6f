// The header phases of a proxied exchange (Pingora-style request/response filters): build
// the upstream request head and the client response head from the parsed ones.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "net/http_head.h"
#include "proxy/config/config.h"

namespace ringway::proxy {

// Facts about the client side that the request filter injects.
struct ClientFacts {
  std::string_view ip;          // X-Forwarded-For / X-Real-IP
  std::string_view proto;       // X-Forwarded-Proto ("http")
  std::string_view request_id;  // X-Request-Id
};

// How a message body is framed on the wire we write.
enum class OutFraming { kNone, kContentLength, kChunked, kUntilClose };

// Returns: the incoming X-Request-Id if it is safe to echo (1..128 visible ASCII chars),
// else empty (the caller generates one).
std::string_view usable_request_id(const net::HttpHead& head);

// Writes "METHOD TARGET HTTP/1.1" and the forwarded fields to out:
// hop-by-hop fields and those named in Connection are dropped (RFC 9110 §7.6.1), the
// X-Forwarded-* / X-Real-IP / X-Request-Id / Via fields are (re)written, configured rules
// applied, framing re-stated. `default_host` is used when an HTTP/1.0 request had no Host.
// Returns: the framing of the body that follows.
OutFraming build_upstream_request(const net::HttpHead& head, std::string_view target,
                                  const ClientFacts& client, const HeaderRules& rules,
                                  std::string_view default_host, std::string& out);

struct ResponseFacts {
  bool head_request = false;     // the client asked HEAD: no body follows (RFC 9110 §9.3.2)
  bool client_http10 = false;    // an HTTP/1.0 client cannot take chunked (RFC 9112 §7.1)
  bool close = false;            // we close the client connection after this response
  std::string_view request_id;
};

// Appends the client response head to out. Returns: how the body must be
// framed towards the client (chunked re-framing for close-delimited bodies keeps the client
// connection reusable; an HTTP/1.0 client gets close-delimited).
OutFraming build_client_response(const net::HttpHead& head, const ResponseFacts& facts,
                                 const HeaderRules& rules, std::string& out);

// The field names listed in a message's Connection fields (RFC 9110 §7.6.1), collected once per
// message and sorted, so checking every forwarded field is O(n log n), not O(n * fields).
class ConnectionTokens {
 public:
  ConnectionTokens() = default;
  explicit ConnectionTokens(const net::HttpHead& head) { collect(head); }
  // Replaces the tokens with those of `head`'s Connection fields. The tokens are copies:
  // a message's trailers arrive after its head's receive buffer may have been released.
  void collect(const net::HttpHead& head);
  void clear() { tokens_.clear(); }
  bool contains(std::string_view name) const;  // ASCII case-insensitive

 private:
  std::vector<std::string> tokens_;  // sorted case-insensitively
};

// RFC 9110 §6.5.1: false for fields that must not be trailers (framing, routing, request
// modifiers, authentication, response control data, content processing, hop-by-hop) and for
// the forwarding fields the proxy writes itself.
bool allowed_in_trailers(std::string_view name);

// Appends the last chunk of a re-chunked body with the trailer fields that may cross the proxy:
// those allowed_in_trailers(), not named in `connection` (the message head's Connection
// tokens, collected when the head arrived) and not set or removed by
// `rules`, so a next hop that merges trailers into the header section can never undo the
// header phase. The message is forwarded either way. Returns: the number of fields dropped.
size_t write_forwarded_trailers(const std::vector<net::HeaderField>& trailers,
                                const ConnectionTokens& connection, const HeaderRules& rules,
                                std::string& out);

}  // namespace ringway::proxy
