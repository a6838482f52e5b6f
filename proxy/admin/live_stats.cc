// Per-second snapshots of ringway_http_requests_total and ringway_http_request_duration_seconds
// by route; windows are differences between two snapshots, as rate() and increase() would be.
#include "proxy/admin/live_stats.h"

#include <cmath>

namespace ringway::proxy {
namespace {

using Json = nlohmann::ordered_json;

const std::string* label(const prometheus::ClientMetric& m, const char* name) {
  for (const auto& l : m.label) {
    if (l.name == name) return &l.value;
  }
  return nullptr;
}

Json number_or_null(double v, double scale = 1) {
  if (!std::isfinite(v)) return nullptr;
  return std::round(v * scale * 1000) / 1000;
}

}  // namespace

double histogram_quantile(double q, const std::vector<double>& bounds,
                          const std::vector<double>& cumulative) {
  if (cumulative.empty() || cumulative.back() <= 0) return NAN;
  const double rank = q * cumulative.back();
  for (size_t i = 0; i < cumulative.size(); ++i) {
    if (cumulative[i] < rank) continue;
    if (i >= bounds.size()) return bounds.empty() ? NAN : bounds.back();  // +Inf bucket
    const double lower = i == 0 ? 0 : bounds[i - 1];
    const double below = i == 0 ? 0 : cumulative[i - 1];
    const double in_bucket = cumulative[i] - below;
    if (in_bucket <= 0) return bounds[i];
    return lower + (bounds[i] - lower) * (rank - below) / in_bucket;
  }
  return bounds.empty() ? NAN : bounds.back();
}

void LiveStats::sample(int64_t unix_ms, const std::vector<prometheus::MetricFamily>& families) {
  Snapshot s;
  s.unix_ms = unix_ms;
  for (const prometheus::MetricFamily& f : families) {
    if (f.name == "ringway_http_requests_total") {
      for (const auto& m : f.metric) {
        const std::string* route = label(m, "route");
        const std::string* code = label(m, "code");
        if (!route || !code || code->empty()) continue;
        RouteSample& r = s.routes[*route];
        r.requests += m.counter.value;
        if ((*code)[0] == '2') r.c2 += m.counter.value;
        if ((*code)[0] == '4') r.c4 += m.counter.value;
        if ((*code)[0] == '5') r.c5 += m.counter.value;
      }
    } else if (f.name == "ringway_http_request_duration_seconds") {
      for (const auto& m : f.metric) {
        const std::string* route = label(m, "route");
        if (!route) continue;
        RouteSample& r = s.routes[*route];
        r.cumulative.clear();
        std::vector<double> bounds;
        for (const auto& b : m.histogram.bucket) {
          if (std::isfinite(b.upper_bound)) bounds.push_back(b.upper_bound);
          r.cumulative.push_back(static_cast<double>(b.cumulative_count));
        }
        if (r.cumulative.size() == bounds.size()) {
          r.cumulative.push_back(static_cast<double>(m.histogram.sample_count));
        }
        bounds_ = std::move(bounds);
      }
    } else if (f.name == "ringway_config_reloads_total") {
      for (const auto& m : f.metric) {
        const std::string* result = label(m, "result");
        if (result && *result == "success") s.reload_ok = m.counter.value;
        if (result && *result == "error") s.reload_error = m.counter.value;
      }
    }
  }
  if (!ring_.empty()) {
    // A reload counter that moved since the last sample: that is the latest verdict.
    if (s.reload_error > ring_.back().reload_error) {
      last_reload_ = "error";
      last_reload_ms_ = unix_ms;
    } else if (s.reload_ok > ring_.back().reload_ok) {
      last_reload_ = "success";
      last_reload_ms_ = unix_ms;
    }
  }
  ring_.push_back(std::move(s));
  while (ring_.size() > kKeepSeconds + 1) ring_.pop_front();
}

const LiveStats::Snapshot& LiveStats::back_by(size_t seconds) const {
  const size_t n = ring_.size();
  return seconds >= n ? ring_.front() : ring_[n - 1 - seconds];
}

Json LiveStats::routes_json() const {
  Json out = Json::array();
  if (ring_.empty()) return out;
  const Snapshot& now = ring_.back();
  auto diff = [](const RouteSample* a, const RouteSample* b, double RouteSample::*field) {
    return (a ? a->*field : 0) - (b ? b->*field : 0);
  };
  auto find = [](const Snapshot& s, const std::string& route) -> const RouteSample* {
    auto it = s.routes.find(route);
    return it == s.routes.end() ? nullptr : &it->second;
  };
  auto window_quantile = [&](const std::string& route, const Snapshot& from, const Snapshot& to,
                             double q) {
    const RouteSample* a = find(to, route);
    const RouteSample* b = find(from, route);
    if (!a || a->cumulative.empty()) return double(NAN);
    std::vector<double> d = a->cumulative;
    if (b && b->cumulative.size() == d.size()) {
      for (size_t i = 0; i < d.size(); ++i) d[i] -= b->cumulative[i];
    }
    return histogram_quantile(q, bounds_, d);
  };
  for (const auto& [route, sample] : now.routes) {
    const Snapshot& five = back_by(5);
    const Snapshot& minute = back_by(60);
    const double secs = std::max(0.001, static_cast<double>(now.unix_ms - five.unix_ms) / 1000.0);
    const RouteSample* then = find(five, route);
    Json r;
    r["route"] = route;
    const bool have_window = &five != &now;
    r["rps"] = have_window ? number_or_null(diff(&sample, then, &RouteSample::requests) / secs)
                           : Json(nullptr);
    r["rate_2xx"] =
        have_window ? number_or_null(diff(&sample, then, &RouteSample::c2) / secs) : Json(nullptr);
    r["rate_4xx"] =
        have_window ? number_or_null(diff(&sample, then, &RouteSample::c4) / secs) : Json(nullptr);
    r["rate_5xx"] =
        have_window ? number_or_null(diff(&sample, then, &RouteSample::c5) / secs) : Json(nullptr);
    r["p50_ms"] = number_or_null(window_quantile(route, minute, now, 0.5), 1000);
    r["p99_ms"] = number_or_null(window_quantile(route, minute, now, 0.99), 1000);
    r["requests_total"] = sample.requests;
    // Series: one point per sample (oldest first); p99 over the 10 s ending at each point.
    Json rps = Json::array(), p99 = Json::array();
    for (size_t i = 1; i < ring_.size(); ++i) {
      const double dt =
          std::max(0.001, static_cast<double>(ring_[i].unix_ms - ring_[i - 1].unix_ms) / 1000.0);
      rps.push_back(number_or_null(
          diff(find(ring_[i], route), find(ring_[i - 1], route), &RouteSample::requests) / dt));
      const size_t from = i >= 10 ? i - 10 : 0;
      p99.push_back(number_or_null(window_quantile(route, ring_[from], ring_[i], 0.99), 1000));
    }
    r["series"] = Json{{"rps", std::move(rps)}, {"p99_ms", std::move(p99)}};
    out.push_back(std::move(r));
  }
  return out;
}

Json LiveStats::last_reload_json() const {
  return Json{{"result", last_reload_}, {"unix_ms", last_reload_ms_}};
}

}  // namespace ringway::proxy
