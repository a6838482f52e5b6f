// Request and response header filters: hop-by-hop removal, forwarding headers, request ids,
// configured set/remove rules and security headers, body framing.
#include "proxy/exchange/header_rules.h"

#include <algorithm>

#include "net/head_writer.h"
#include "net/http_writer.h"

namespace ringway::proxy {
namespace {

using net::HeaderField;
using net::iequals;

bool listed(const std::vector<std::string>& names, std::string_view name) {
  for (const std::string& n : names) {
    if (iequals(n, name)) return true;
  }
  return false;
}

bool iless(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const char x = net::ascii_lower(a[i]), y = net::ascii_lower(b[i]);
    if (x != y) return x < y;
  }
  return a.size() < b.size();
}

// True when a set or remove rule names the field. With the snapshot's index (the loader
// builds it) a binary search; rules built by hand without one are scanned.
bool set_by_rules(const HeaderRules& rules, std::string_view name) {
  if (!rules.owned_names.empty()) {
    // Ordered by length first (index_names), so most comparisons end at the size.
    auto it = std::lower_bound(rules.owned_names.begin(), rules.owned_names.end(), name,
                               [](const std::string& a, std::string_view b) {
                                 return a.size() != b.size() ? a.size() < b.size() : iless(a, b);
                               });
    return it != rules.owned_names.end() && iequals(*it, name);
  }
  for (const auto& [n, v] : rules.set) {
    if (iequals(n, name)) return true;
  }
  return listed(rules.remove, name);
}

}  // namespace

void ConnectionTokens::collect(const net::HttpHead& head) {
  tokens_.clear();
  for (const HeaderField& f : head.headers) {
    if (!iequals(f.name, "Connection")) continue;
    net::for_each_token(f.value, [this](std::string_view t) { tokens_.emplace_back(t); });
  }
  std::sort(tokens_.begin(), tokens_.end(),
            [](const std::string& a, const std::string& b) { return iless(a, b); });
}

bool ConnectionTokens::contains(std::string_view name) const {
  if (tokens_.empty()) return false;
  auto it = std::lower_bound(tokens_.begin(), tokens_.end(), name,
                             [](const std::string& a, std::string_view b) { return iless(a, b); });
  return it != tokens_.end() && iequals(*it, name);
}

namespace {

bool rules_set(const HeaderRules& rules, std::string_view name) {
  for (const auto& [n, v] : rules.set) {
    if (iequals(n, name)) return true;
  }
  return false;
}

// Via is a list (RFC 9110 §7.6.3): every Via line of the message, in order, then this hop.
void write_via(const net::HttpHead& head, net::HeadWriter& out) {
  out.append("Via: ");
  for (const HeaderField& f : head.headers) {
    if (iequals(f.name, "Via") && !f.value.empty()) {
      out.append(f.value);
      out.append(", ");
    }
  }
  out.append("1.1 ringway\r\n");
}

// The proxy decodes and re-applies only the chunked coding (RFC 9112 §7): any other transfer
// coding (gzip, ...) stays on the bytes it relays and must be restated before chunked.
void write_chunked_transfer_encoding(const net::HttpHead& head, net::HeadWriter& out) {
  out.append("Transfer-Encoding: ");
  for (const HeaderField& f : head.headers) {
    if (!iequals(f.name, "Transfer-Encoding")) continue;
    net::for_each_token(f.value, [&out](std::string_view coding) {
      if (iequals(coding, "chunked")) return;
      out.append(coding);
      out.append(", ");
    });
  }
  out.append("chunked\r\n");
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::string_view usable_request_id(const net::HttpHead& head) {
  const HeaderField* f = head.find("X-Request-Id");
  if (f == nullptr || f->value.empty() || f->value.size() > 128) return {};
  for (char c : f->value) {
    if (c <= 0x20 || c >= 0x7f) return {};
  }
  return f->value;
}

OutFraming build_upstream_request(const net::HttpHead& head, std::string_view target,
                                  const ClientFacts& client, const HeaderRules& rules,
                                  std::string_view default_host, std::string& buffer) {
  net::HeadWriter out(buffer);
  out.request_line(head.method, target);
  const ConnectionTokens connection(head);  // once per message: lookups stay O(log n)
  bool have_host = false;
  // X-Forwarded-For: keep the chain the client sent and append the client's address.
  std::string_view xff_first;
  bool xff_many = false;
  for (const HeaderField& f : head.headers) {
    const std::string_view n = f.name;
    if (net::is_hop_by_hop(n)) continue;
    if (iequals(n, "Content-Length") || iequals(n, "Expect")) continue;
    if (iequals(n, "X-Forwarded-For")) {
      if (xff_first.empty()) xff_first = f.value;
      else xff_many = true;
      continue;
    }
    if (iequals(n, "X-Real-IP") || iequals(n, "X-Forwarded-Proto") || iequals(n, "X-Request-Id")) {
      continue;
    }
    if (iequals(n, "Via")) continue;  // rewritten below
    if (set_by_rules(rules, n)) continue;
    if (connection.contains(n)) continue;
    if (iequals(n, "Host")) have_host = true;
    out.header(n, f.value);
  }
  // A configured Host (headers.request.set) replaces the client's and the default: two Host
  // fields would make the upstream reject the request (RFC 9112 §3.2).
  if (!have_host && !rules_set(rules, "Host")) out.header("Host", default_host);
  out.append("X-Forwarded-For: ");
  if (xff_many) {
    for (const HeaderField& f : head.headers) {
      if (iequals(f.name, "X-Forwarded-For")) {
        out.append(f.value);
        out.append(", ");
      }
    }
  } else if (!xff_first.empty()) {
    out.append(xff_first);
    out.append(", ");
  }
  out.append(client.ip);
  out.append("\r\n");
  out.header("X-Real-IP", client.ip);
  out.header("X-Forwarded-Proto", client.proto);
  out.header("X-Request-Id", client.request_id);
  write_via(head, out);
  for (const auto& [n, v] : rules.set) out.header(n, v);
  if (head.upgrade) {
    // Upgrade is hop-by-hop, but a tunnel needs it re-stated on the next hop (RFC 9110 §7.8).
    if (const HeaderField* up = head.find("Upgrade")) out.header("Upgrade", up->value);
    out.header("Connection", "upgrade");
  }
  OutFraming framing = OutFraming::kNone;
  if (head.framing == net::BodyFraming::kContentLength) {
    out.content_length(head.content_length);
    framing = OutFraming::kContentLength;
  } else if (head.framing == net::BodyFraming::kChunked) {
    write_chunked_transfer_encoding(head, out);
    framing = OutFraming::kChunked;
  }
  out.end_head();
  return framing;
}

OutFraming build_client_response(const net::HttpHead& head, const ResponseFacts& facts,
                                 const HeaderRules& rules, std::string& buffer) {
  net::HeadWriter out(buffer);
  out.status_line(head.status, head.reason.empty() ? net::reason_phrase(head.status) : head.reason);
  const ConnectionTokens connection(head);  // once per message: lookups stay O(log n)
  const bool switching = head.status == 101;
  // A response to HEAD and a 304 have no body, but their Content-Length states the size of
  // the representation (RFC 9110 §8.6) and must reach the client. The parser frames them as
  // bodiless (so head.content_length is unset): keep the field's value for the framing
  // section below; never for 1xx/204, which must not have one.
  const bool keep_length =
      (facts.head_request || head.status == 304) && head.status >= 200 && head.status != 204;
  std::string_view kept_length;
  for (const HeaderField& f : head.headers) {
    const std::string_view n = f.name;
    if (net::is_hop_by_hop(n)) continue;
    if (iequals(n, "Content-Length")) {
      if (keep_length && kept_length.empty() && all_digits(f.value)) kept_length = f.value;
      continue;
    }
    if (iequals(n, "X-Request-Id") || iequals(n, "Via")) continue;  // rewritten below
    if (set_by_rules(rules, n)) continue;
    if (connection.contains(n)) continue;
    out.header(n, f.value);
  }
  out.header("X-Request-Id", facts.request_id);
  write_via(head, out);
  for (const auto& [n, v] : rules.set) out.header(n, v);

  OutFraming framing;
  const bool no_body = facts.head_request || head.status == 204 || head.status == 304 ||
                       (head.status >= 100 && head.status < 200);
  if (switching) {
    if (const net::HeaderField* up = head.find("Upgrade")) out.header("Upgrade", up->value);
    out.header("Connection", "upgrade");
    out.end_head();
    return OutFraming::kNone;
  }
  if (head.framing == net::BodyFraming::kContentLength) {
    // For HEAD and 304 the length describes the representation, not this message: keep it.
    out.content_length(head.content_length);
    framing = no_body ? OutFraming::kNone : OutFraming::kContentLength;
  } else if (no_body) {
    if (!kept_length.empty()) out.header("Content-Length", kept_length);
    framing = OutFraming::kNone;
  } else if (facts.client_http10) {
    framing = OutFraming::kUntilClose;
  } else if (head.framing == net::BodyFraming::kNone) {
    out.content_length(0);
    framing = OutFraming::kNone;
  } else {
    write_chunked_transfer_encoding(head, out);
    framing = OutFraming::kChunked;
  }
  const bool close = facts.close || framing == OutFraming::kUntilClose;
  if (close) {
    out.header("Connection", "close");
  } else if (facts.client_http10) {
    out.header("Connection", "keep-alive");
  }
  out.end_head();
  return framing;
}

bool allowed_in_trailers(std::string_view n) {
  // RFC 9110 §6.5.1: a sender must not put in trailers what is needed for framing (Transfer-
  // Encoding, Content-Length, Trailer), routing (Host), request modifiers (controls and
  // conditionals), authentication, response control data or content processing.
  static constexpr std::string_view kNever[] = {
      "Content-Length", "Transfer-Encoding", "Trailer", "Host", "Authorization",
      "Proxy-Authorization", "WWW-Authenticate", "Proxy-Authenticate", "Authentication-Info",
      "Proxy-Authentication-Info", "Cookie", "Set-Cookie", "Cache-Control", "Expect",
      "Max-Forwards", "Pragma", "Range", "If-Match", "If-None-Match", "If-Modified-Since",
      "If-Unmodified-Since", "If-Range", "Age", "Expires", "Date", "Location", "Retry-After",
      "Vary", "Warning", "Content-Type", "Content-Encoding", "Content-Range", "Content-Location",
      "Content-Language", "Forwarded", "X-Forwarded-For", "X-Forwarded-Proto",
      "X-Forwarded-Host", "X-Real-IP", "X-Request-Id", "Via", "Upgrade", "Connection"};
  for (std::string_view never : kNever) {
    if (iequals(n, never)) return false;
  }
  return !net::is_hop_by_hop(n);
}

size_t write_forwarded_trailers(const std::vector<net::HeaderField>& trailers,
                                const ConnectionTokens& connection, const HeaderRules& rules,
                                std::string& buffer) {
  net::HeadWriter out(buffer);
  out.append("0\r\n");
  size_t dropped = 0;
  for (const HeaderField& f : trailers) {
    const std::string_view n = f.name;
    if (!allowed_in_trailers(n) || set_by_rules(rules, n) || connection.contains(n)) {
      ++dropped;
      continue;
    }
    out.header(n, f.value);
  }
  out.end_head();
  return dropped;
}

}  // namespace ringway::proxy
