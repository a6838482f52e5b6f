// Formats access log lines in one pass into one buffer: fixed field order, times as seconds
// with microsecond precision from integer nanoseconds, strings escaped by base's JSON writer.
#include "proxy/access_log/access_line.h"

#include <time.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "base/json_writer.h"
#include "proxy/access_log/response_flags.h"

namespace ringway::proxy {
namespace {

// Copies a literal without its NUL; the length is a compile-time constant.
template <size_t N>
char* put(char* d, const char (&literal)[N]) {
  std::memcpy(d, literal, N - 1);
  return d + N - 1;
}

char* put_uint(char* d, uint64_t v) { return std::to_chars(d, d + 20, v).ptr; }

char* put_int(char* d, int64_t v) { return std::to_chars(d, d + 20, v).ptr; }

// Seconds with six decimals, rounded to the nearest microsecond: 1234567 ns -> "0.001235".
// Integer arithmetic: exact, and a fraction of what printing a double costs.
char* put_seconds(char* d, int64_t ns) {
  const uint64_t us = (static_cast<uint64_t>(std::max<int64_t>(ns, 0)) + 500) / 1000;
  d = put_uint(d, us / 1000000);
  *d++ = '.';
  uint64_t frac = us % 1000000;
  for (int i = 5; i >= 0; --i) {
    d[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  return d + 6;
}

// Everything but the escaped strings, generously: keys and punctuation (~190 bytes), the
// time, seven numbers of at most 27 bytes, the port, the brackets and the flags.
constexpr size_t kFixedBytes = 256 + TimeFormatter::kBytes + 7 * 27 + 8 + kResponseFlagsBound;

}  // namespace

char* TimeFormatter::write(char* out, int64_t unix_ms) {
  const int64_t second = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
  if (second != cached_second_) {
    const time_t t = static_cast<time_t>(second);
    tm parts{};
    gmtime_r(&t, &parts);
    std::snprintf(prefix_, sizeof prefix_, "%04d-%02d-%02dT%02d:%02d:%02d", parts.tm_year + 1900,
                  parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec);
    cached_second_ = second;
  }
  std::memcpy(out, prefix_, 19);
  const int ms = static_cast<int>(unix_ms - second * 1000);
  out[19] = '.';
  out[20] = static_cast<char>('0' + ms / 100);
  out[21] = static_cast<char>('0' + ms / 10 % 10);
  out[22] = static_cast<char>('0' + ms % 10);
  out[23] = 'Z';
  return out + kBytes;
}

void append_access_line(std::string& out, const AccessEntry& e, TimeFormatter& time) {
  const size_t string_bytes = e.request_id.size() + e.client_ip.size() + e.method.size() +
                              e.path.size() + e.route.size() + e.upstream.size() + e.server.size();
  const size_t bound = kFixedBytes + base::json_string_bound(string_bytes);
  // Typical lines are built on the stack and appended once; a line with a huge target (up to
  // the head limit, six bytes per escaped byte) is built in the string's own tail instead.
  char stack[2048];
  const size_t old = out.size();
  const bool on_stack = bound <= sizeof stack;
  if (!on_stack) out.resize(old + bound);
  char* const begin = on_stack ? stack : out.data() + old;
  char* d = begin;
  d = put(d, "{\"time\":\"");
  d = time.write(d, e.start_unix_ms);
  d = put(d, "\",\"request_id\":");
  d = base::write_json_string(d, e.request_id);
  d = put(d, ",\"client\":\"");
  // "ip:port", IPv6 in brackets as in a URL authority.
  const bool v6 = e.client_ip.find(':') != std::string_view::npos;
  if (v6) *d++ = '[';
  d = base::write_json_chars(d, e.client_ip);
  if (v6) *d++ = ']';
  *d++ = ':';
  d = put_int(d, e.client_port);
  d = put(d, "\",\"method\":");
  d = base::write_json_string(d, e.method);
  d = put(d, ",\"path\":");
  d = base::write_json_string(d, e.path);
  d = put(d, ",\"route\":");
  d = base::write_json_string(d, e.route);
  d = put(d, ",\"upstream\":");
  d = base::write_json_string(d, e.upstream);
  d = put(d, ",\"server\":");
  d = base::write_json_string(d, e.server);
  d = put(d, ",\"status\":");
  d = put_int(d, e.status);
  d = put(d, ",\"bytes_in\":");
  d = put_uint(d, e.bytes_in);
  d = put(d, ",\"bytes_out\":");
  d = put_uint(d, e.bytes_out);
  d = put(d, ",\"duration\":");
  d = put_seconds(d, e.duration_ns);
  d = put(d, ",\"upstream_duration\":");
  d = put_seconds(d, e.upstream_duration_ns);
  d = put(d, ",\"queue_wait\":");
  d = put_seconds(d, e.queue_wait_ns);
  d = put(d, ",\"attempts\":");
  d = put_int(d, e.attempts);
  d = put(d, ",\"flags\":\"");
  d = write_response_flags(d, e.flags);
  d = put(d, "\"}\n");
  if (on_stack) {
    out.append(stack, static_cast<size_t>(d - stack));
  } else {
    out.resize(old + static_cast<size_t>(d - begin));
  }
}

}  // namespace ringway::proxy
