// HTTP/1.1 body framing appended to a caller-owned std::string (reused across messages), plus the
// small field utilities shared by codec and proxy: case-insensitive compare, token lists.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "net/http_head.h"

namespace ringway::net {

// ---- field utilities -------------------------------------------------------------------------

inline char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

// Field names, tokens and transfer codings compare case-insensitively (RFC 9110 §5.1, §5.6.2).
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

// OWS = *( SP / HTAB ) (RFC 9110 §5.6.3).
inline bool is_ows(char c) {
  return c == ' ' || c == '\t';
}
inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// Returns: true for the hop-by-hop fields a proxy must not forward (RFC 9110 §7.6.1; Keep-Alive and
// Proxy-Connection are legacy ones, TE/Trailer per RFC 9110 §10.1.4/§6.6.2, Proxy-Auth* §11.7).
bool is_hop_by_hop(std::string_view name);

// Calls fn(element) for each non-empty element of a comma-separated list, OWS trimmed
// (RFC 9110 §5.6.1: empty elements are ignored). fn may return bool; false stops the walk.
// Quoted strings are not interpreted: meant for token lists (Connection, Transfer-Encoding, ...).
template <typename Fn>
void for_each_token(std::string_view value, Fn&& fn) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view element = trim_ows(value.substr(0, comma));
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    if (element.empty()) continue;
    if constexpr (std::is_same_v<std::invoke_result_t<Fn&, std::string_view>, bool>) {
      if (!fn(element)) return;
    } else {
      fn(element);
    }
  }
}

// Returns: whether the comma-separated list `value` holds `token` (case-insensitive).
bool header_list_contains(std::string_view value, std::string_view token);

// Returns: the RFC 9110 §15 reason phrase, or "" for unregistered codes.
std::string_view reason_phrase(int status);

// ---- number formatting -------------------------------------------------------------------------

// Writes n's decimal digits so that they end at `end`, which has kMaxDecimalDigits bytes
// before it. Returns: where the digits begin.
inline constexpr size_t kMaxDecimalDigits = 20;  // 2^64-1
char* decimal_digits(uint64_t n, char* end);
void append_decimal(std::string& out, uint64_t n);
void append_hex(std::string& out, uint64_t n);  // lowercase, no leading zeros ("0" for 0)

// ---- body framing writers (RFC 9112 §7.1); heads are written by HeadWriter (head_writer.h) --

// "<hex len>\r\n" starting a chunk; the caller appends len data bytes, then write_chunk_end().
// REQUIRES: len > 0 (a zero-size chunk is the last chunk: write_last_chunk).
void write_chunk_header(std::string& out, uint64_t len);
// The CRLF after a chunk's data.
inline void write_chunk_end(std::string& out) {
  out.append("\r\n", 2);
}
// "0\r\n" + trailer fields + "\r\n": ends a chunked body.
void write_last_chunk(std::string& out, std::span<const HeaderField> trailers = {});

}  // namespace ringway::net
