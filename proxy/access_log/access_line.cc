// Formats access log lines: fixed field order, numbers in seconds with microsecond precision,
// strings escaped by the shared JSON writer.
#include "proxy/access_log/access_line.h"

#include <time.h>

#include <charconv>
#include <cstdio>

#include "base/json_writer.h"
#include "proxy/access_log/response_flags.h"

namespace ringway::proxy {

void TimeFormatter::append(std::string& out, int64_t unix_ms) {
  const int64_t second = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
  if (second != cached_second_) {
    const time_t t = static_cast<time_t>(second);
    tm parts{};
    gmtime_r(&t, &parts);
    std::snprintf(prefix_, sizeof prefix_, "%04d-%02d-%02dT%02d:%02d:%02d", parts.tm_year + 1900,
                  parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec);
    cached_second_ = second;
  }
  const int ms = static_cast<int>(unix_ms - second * 1000);
  char tail[8] = {'.', static_cast<char>('0' + ms / 100), static_cast<char>('0' + ms / 10 % 10),
                  static_cast<char>('0' + ms % 10), 'Z'};
  out += prefix_;
  out.append(tail, 5);
}

void append_access_line(std::string& out, const AccessEntry& e, TimeFormatter& time) {
  // Timestamp, client and flags are built on the stack and passed as ordinary values: their
  // bytes need no escaping, so the writer copies them straight through.
  std::string& scratch = time.scratch();
  scratch.clear();
  time.append(scratch, e.start_unix_ms);
  const size_t time_end = scratch.size();
  // "ip:port", IPv6 in brackets as in a URL authority.
  const bool v6 = e.client_ip.find(':') != std::string_view::npos;
  if (v6) scratch += '[';
  scratch.append(e.client_ip);
  if (v6) scratch += ']';
  char port[16];
  port[0] = ':';
  auto end = std::to_chars(port + 1, port + sizeof port, e.client_port).ptr;  // no printf per line
  scratch.append(port, static_cast<size_t>(end - port));
  const size_t client_end = scratch.size();
  append_response_flags(scratch, e.flags);
  const std::string_view all(scratch);

  base::JsonWriter w(&out);
  w.begin_object();
  w.plain_key("time").value(all.substr(0, time_end));
  w.plain_key("request_id").value(e.request_id);
  w.plain_key("client").value(all.substr(time_end, client_end - time_end));
  w.plain_key("method").value(e.method);
  w.plain_key("path").value(e.path);
  w.plain_key("route").value(e.route);
  w.plain_key("upstream").value(e.upstream);
  w.plain_key("server").value(e.server);
  w.plain_key("status").value(e.status);
  w.plain_key("bytes_in").value(e.bytes_in);
  w.plain_key("bytes_out").value(e.bytes_out);
  w.plain_key("duration").value(e.duration_s, 6);
  w.plain_key("upstream_duration").value(e.upstream_duration_s, 6);
  w.plain_key("queue_wait").value(e.queue_wait_s, 6);
  w.plain_key("attempts").value(e.attempts);
  w.plain_key("flags").value(all.substr(client_end));
  w.end_object();
  out += '\n';
}

}  // namespace ringway::proxy
