// Accept-header negotiation between the Prometheus text format and OpenMetrics. Tolerant by
// design: a scrape must never fail because of a header we do not fully understand.
#include "metrics/format.h"

#include <algorithm>
#include <charconv>
#include <string>

namespace ringway::metrics {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Media types and parameter names are case-insensitive (RFC 9110 8.3.1, 12.4.2).
std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view unquote(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') return v.substr(1, v.size() - 2);
  return v;
}

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), RFC 9110 12.4.2.
// Returns a negative number for a malformed value, so that range is ignored.
double parse_q(std::string_view v) {
  double q = -1;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), q);
  if (ec != std::errc() || end != v.data() + v.size() || q < 0 || q > 1) return -1;
  return q;
}

struct MediaRange {
  std::string type;     // "application/openmetrics-text", lower case
  std::string version;  // the version parameter, if any
  double q = 1;
};

MediaRange parse_range(std::string_view range) {
  MediaRange r;
  size_t semi = range.find(';');
  r.type = lower(trim(range.substr(0, semi)));
  while (semi != std::string_view::npos) {
    range.remove_prefix(semi + 1);
    semi = range.find(';');
    const std::string_view param = trim(range.substr(0, semi));
    const size_t eq = param.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string key = lower(trim(param.substr(0, eq)));
    const std::string_view value = unquote(trim(param.substr(eq + 1)));
    if (key == "q") {
      r.q = parse_q(value);
    } else if (key == "version") {
      r.version = std::string(value);
    }
  }
  return r;
}

}  // namespace

Format negotiate_format(std::string_view accept_header) {
  double best_openmetrics = 0;
  double best_text = 0;
  while (!accept_header.empty()) {
    const size_t comma = accept_header.find(',');
    const MediaRange r = parse_range(accept_header.substr(0, comma));
    accept_header.remove_prefix(comma == std::string_view::npos ? accept_header.size() : comma + 1);
    if (r.type == "application/openmetrics-text") {
      // We only speak 1.0.0; 0.0.1 is the same wire format under its draft name.
      if (r.version.empty() || r.version == "1.0.0" || r.version == "0.0.1") {
        best_openmetrics = std::max(best_openmetrics, r.q);
      }
    } else if (r.type == "text/plain" || r.type == "text/*") {
      best_text = std::max(best_text, r.q);
    }
  }
  return best_openmetrics > 0 && best_openmetrics >= best_text ? Format::kOpenMetrics
                                                               : Format::kPrometheusText;
}

std::string_view content_type(Format f) {
  return f == Format::kOpenMetrics ? kOpenMetricsContentType : kPrometheusTextContentType;
}

}  // namespace ringway::metrics
