// OpenMetrics writer: builds the whole exposition in one string; a scrape of a few thousand
// series stays a handful of allocations.
#include "metrics/openmetrics.h"

#include <charconv>
#include <cmath>
#include <string_view>

namespace ringway::metrics {
namespace {

constexpr std::string_view kTotalSuffix = "_total";

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void append_uint(std::string& out, uint64_t v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

std::string_view type_name(prometheus::MetricType t) {
  switch (t) {
    case prometheus::MetricType::Counter:
      return "counter";
    case prometheus::MetricType::Gauge:
      return "gauge";
    case prometheus::MetricType::Summary:
      return "summary";
    case prometheus::MetricType::Histogram:
      return "histogram";
    case prometheus::MetricType::Untyped:
      break;
  }
  return "unknown";
}

// Writes `name{labels[,extra_name="extra_value"]} ` (the braces only when there are labels).
void append_series(std::string& out, std::string_view name, std::string_view suffix,
                   const std::vector<prometheus::ClientMetric::Label>& labels,
                   std::string_view extra_name = {}, const std::string* extra_value = nullptr) {
  out.append(name);
  out.append(suffix);
  if (!labels.empty() || extra_value != nullptr) {
    out.push_back('{');
    bool first = true;
    for (const auto& l : labels) {
      if (!first) out.push_back(',');
      first = false;
      out.append(l.name);
      out.append("=\"");
      append_openmetrics_escaped(out, l.value);
      out.push_back('"');
    }
    if (extra_value != nullptr) {
      if (!first) out.push_back(',');
      out.append(extra_name);
      out.append("=\"");
      append_openmetrics_escaped(out, *extra_value);
      out.push_back('"');
    }
    out.push_back('}');
  }
  out.push_back(' ');
}


// The _count and _sum samples that close every histogram and summary.
void append_count_and_sum(std::string& out, const std::string& name,
                          const std::vector<prometheus::ClientMetric::Label>& labels, uint64_t count,
                          double sum) {
  append_series(out, name, "_count", labels);
  append_uint(out, count);
  out.push_back('\n');
  append_series(out, name, "_sum", labels);
  append_openmetrics_number(out, sum);
  out.push_back('\n');
}

void append_histogram(std::string& out, const std::string& name,
                      const prometheus::ClientMetric& m) {
  std::string le;
  bool saw_inf = false;
  for (const auto& b : m.histogram.bucket) {
    le.clear();
    append_openmetrics_number(le, b.upper_bound);
    saw_inf = saw_inf || std::isinf(b.upper_bound);
    append_series(out, name, "_bucket", m.label, "le", &le);
    append_uint(out, b.cumulative_count);
    out.push_back('\n');
  }
  // OpenMetrics requires the +Inf bucket; it equals the count by definition.
  if (!saw_inf) {
    le = "+Inf";
    append_series(out, name, "_bucket", m.label, "le", &le);
    append_uint(out, m.histogram.sample_count);
    out.push_back('\n');
  }
  append_count_and_sum(out, name, m.label, m.histogram.sample_count, m.histogram.sample_sum);
}

void append_summary(std::string& out, const std::string& name, const prometheus::ClientMetric& m) {
  std::string q;
  for (const auto& quantile : m.summary.quantile) {
    q.clear();
    append_openmetrics_number(q, quantile.quantile);
    append_series(out, name, "", m.label, "quantile", &q);
    append_openmetrics_number(out, quantile.value);
    out.push_back('\n');
  }
  append_count_and_sum(out, name, m.label, m.summary.sample_count, m.summary.sample_sum);
}

}  // namespace

void append_openmetrics_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out.append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out.append(v > 0 ? "+Inf" : "-Inf");
    return;
  }
  // Shortest round-trip digits, laid out like %g with 16 digits of precision: exponent form only
  // below 1e-4 or from 1e16 up. That is the layout prometheus-cpp's text writer uses, so an `le`
  // label reads the same in both formats (up to the ".0" OpenMetrics wants on integral values).
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  int exponent = 0;
  const size_t e = sci.find('e');
  std::from_chars(sci.data() + e + 1 + (sci[e + 1] == '+'), sci.data() + sci.size(), exponent);
  if (exponent < -4 || exponent >= 16) {
    out.append(sci);
    return;
  }
  res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  const std::string_view fixed(buf, static_cast<size_t>(res.ptr - buf));
  out.append(fixed);
  if (fixed.find('.') == std::string_view::npos) out.append(".0");
}

void append_openmetrics_escaped(std::string& out, const std::string& s) {
  for (const char c : s) {
    switch (c) {
      case '\\':
        out.append("\\\\");
        break;
      case '"':
        out.append("\\\"");
        break;
      case '\n':
        out.append("\\n");
        break;
      default:
        out.push_back(c);
    }
  }
}

std::string serialize_openmetrics(const std::vector<prometheus::MetricFamily>& families) {
  std::string out;
  out.reserve(4096);
  for (const auto& f : families) {
    const bool is_counter = f.type == prometheus::MetricType::Counter;
    // The OpenMetrics family name of a counter has no _total; its samples always do.
    const std::string family_name = is_counter && ends_with(f.name, kTotalSuffix)
                                        ? f.name.substr(0, f.name.size() - kTotalSuffix.size())
                                        : f.name;
    if (!f.help.empty()) {
      out.append("# HELP ").append(family_name).push_back(' ');
      append_openmetrics_escaped(out, f.help);
      out.push_back('\n');
    }
    out.append("# TYPE ").append(family_name).push_back(' ');
    out.append(type_name(f.type)).push_back('\n');
    for (const auto& m : f.metric) {
      switch (f.type) {
        case prometheus::MetricType::Counter:
          append_series(out, family_name, kTotalSuffix, m.label);
          append_openmetrics_number(out, m.counter.value);
          break;
        case prometheus::MetricType::Gauge:
          append_series(out, family_name, "", m.label);
          append_openmetrics_number(out, m.gauge.value);
          break;
        case prometheus::MetricType::Untyped:
          append_series(out, family_name, "", m.label);
          append_openmetrics_number(out, m.untyped.value);
          break;
        case prometheus::MetricType::Histogram:
          append_histogram(out, family_name, m);
          continue;
        case prometheus::MetricType::Summary:
          append_summary(out, family_name, m);
          continue;
      }
      out.push_back('\n');
    }
  }
  out.append("# EOF\n");
  return out;
}

}  // namespace ringway::metrics
