// Readers for the `upstreams` section: servers, balancing, pooling, retries, DNS refresh,
// active health checks and passive outlier ejection, with their cross-field checks.
#include <algorithm>

#include "base/duration.h"
#include "proxy/config/parse.h"

namespace ringway::proxy::config_parse {
namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

void read_servers(Reader& r, const Field& f, std::vector<net::HostPort>* out) {
  std::vector<Field> items;
  if (!r.scalar_or_items(f, &items)) return;
  if (items.empty()) {
    r.error(f, "must list at least one server");
    return;
  }
  for (const Field& item : items) {
    net::HostPort hp;
    if (!r.read_host_port(item, net::PortZero::kReject, &hp)) continue;
    if (std::find(out->begin(), out->end(), hp) != out->end()) {
      r.error(item, "duplicate server '" + hp.to_string() + "'");
      continue;
    }
    out->push_back(std::move(hp));
  }
}

void read_check_path(Reader& r, const Field& f, std::string* out) {
  std::string path;
  if (!r.read_string(f, &path)) return;
  if (path.empty() || path.front() != '/') {
    r.error(f, "must start with '/'");
    return;
  }
  for (unsigned char c : path) {
    if (c <= 0x20 || c == 0x7f || c == '#') {
      r.error(f, "must not contain spaces, control characters or '#'");
      return;
    }
  }
  *out = std::move(path);
}

void read_health_check(Reader& r, const Field& f, HealthCheckConfig* out) {
  Field interval_field;
  Field timeout_field;
  bool interval_ok = false;
  bool timeout_ok = false;
  const KeyHandler keys[] = {
      {"enabled", [&](const Field& x) { r.read_bool(x, &out->enabled); }},
      {"path", [&](const Field& x) { read_check_path(r, x, &out->path); }},
      {"interval",
       [&](const Field& x) {
         interval_field = x;
         interval_ok = r.read_duration(x, 1, kMaxDuration, &out->interval);
       }},
      {"timeout",
       [&](const Field& x) {
         timeout_field = x;
         timeout_ok = r.read_duration(x, 1, kMaxDuration, &out->timeout);
       }},
      {"healthy_threshold",
       [&](const Field& x) { r.read_int(x, 1, 100, &out->healthy_threshold); }},
      {"unhealthy_threshold",
       [&](const Field& x) { r.read_int(x, 1, 100, &out->unhealthy_threshold); }},
  };
  r.read_map(f, keys);
  // One probe per server at a time: a timeout longer than the interval would silently
  // stretch the interval. An unset timeout shrinks to fit a short interval instead.
  if (timeout_ok && out->timeout > out->interval) {
    r.error(timeout_field, base::format_duration(out->timeout) + " must not exceed interval (" +
                               base::format_duration(out->interval) + ")");
  } else if (interval_ok && timeout_field.path.empty()) {
    out->timeout = std::min(out->timeout, out->interval);
  }
}

void read_outlier(Reader& r, const Field& f, OutlierConfig* out) {
  Field max_field;
  bool max_ok = false;
  const KeyHandler keys[] = {
      {"consecutive_failures",
       [&](const Field& x) { r.read_int(x, 0, 1000, &out->consecutive_failures); }},
      {"base_ejection",
       [&](const Field& x) { r.read_duration(x, 1, kMaxDuration, &out->base_ejection); }},
      {"max_ejection",
       [&](const Field& x) {
         max_field = x;
         max_ok = r.read_duration(x, 1, kMaxDuration, &out->max_ejection);
       }},
      {"max_ejection_percent",
       [&](const Field& x) { r.read_int(x, 0, 100, &out->max_ejection_percent); }},
  };
  r.read_map(f, keys);
  if (max_ok && out->max_ejection < out->base_ejection) {
    r.error(max_field, base::format_duration(out->max_ejection) +
                           " must be at least base_ejection (" +
                           base::format_duration(out->base_ejection) + ")");
  } else if (max_field.path.empty()) {
    // An unset cap follows a long base_ejection rather than contradicting it.
    out->max_ejection = std::max(out->max_ejection, out->base_ejection);
  }
}

void read_queue(Reader& r, const Field& f, QueueConfig* out) {
  const KeyHandler keys[] = {
      {"size", [&](const Field& x) { r.read_int(x, 0, 10000000, &out->size); }},
      {"timeout", [&](const Field& x) { r.read_duration(x, 1, kMaxDuration, &out->timeout); }},
  };
  r.read_map(f, keys);
}

void read_balance(Reader& r, const Field& f, BalancePolicy* out) {
  std::string text;
  if (r.read_string(f, &text) && !parse_balance_policy(text, out)) {
    r.error(f, "unknown balance policy '" + text + "' (use p2c, least_request or round_robin)");
  }
}

void read_upstream(Reader& r, const Field& f, UpstreamConfig* out) {
  bool has_servers = false;
  const KeyHandler keys[] = {
      {"servers",
       [&](const Field& x) {
         has_servers = true;
         read_servers(r, x, &out->servers);
       }},
      {"balance", [&](const Field& x) { read_balance(r, x, &out->balance); }},
      {"keepalive", [&](const Field& x) { r.read_int(x, 0, 65535, &out->keepalive); }},
      {"retries", [&](const Field& x) { r.read_int(x, 0, 10, &out->retries); }},
      {"resolve_every",
       [&](const Field& x) { r.read_duration(x, 1, kMaxDuration, &out->resolve_every); }},
      {"health_check", [&](const Field& x) { read_health_check(r, x, &out->health_check); }},
      {"outlier", [&](const Field& x) { read_outlier(r, x, &out->outlier); }},
      {"max_connections",
       [&](const Field& x) { r.read_int(x, 0, 10000000, &out->max_connections); }},
      {"queue", [&](const Field& x) { read_queue(r, x, &out->queue); }},
      {"slow_start",
       [&](const Field& x) { r.read_duration(x, 0, kMaxDuration, &out->slow_start); }},
  };
  r.read_map(f, keys);
  if (!has_servers && (f.is_null() || f.value.IsMap())) {
    r.error_at_key(f, f.path + ": missing required key 'servers'");
  }
}

}  // namespace

void read_upstreams(Reader& r, const Field& f, std::vector<UpstreamConfig>* out) {
  std::vector<Field> fields;
  if (!r.entries(f, &fields)) return;
  for (const Field& field : fields) {
    const std::string name = field.name();
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_name_char)) {
      r.error_at_key(field, "upstreams: invalid upstream name '" + name +
                                "' (use letters, digits, '_', '-' and '.')");
      continue;
    }
    UpstreamConfig upstream;
    upstream.name = name;
    read_upstream(r, field, &upstream);
    out->push_back(std::move(upstream));
  }
}

}  // namespace ringway::proxy::config_parse
