// Readers for the config sections that are not upstreams: limits, timeouts, header rules
// and routes. Each validates as it reads and reports through the shared Reader.
#include <algorithm>
#include <cctype>
#include <unordered_map>
#include <unordered_set>

#include "proxy/config/parse.h"
#include "net/request_target.h"

namespace ringway::proxy::config_parse {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Fields the proxy itself controls (framing, hop-by-hop, RFC 9110 §7.6.1): a configured
// value would corrupt the message or be stripped anyway.
bool is_managed_header(std::string_view lower_name) {
  static constexpr std::string_view kManaged[] = {
      "connection", "keep-alive", "proxy-connection", "transfer-encoding",
      "te",         "trailer",    "upgrade",          "content-length"};
  return std::find(std::begin(kManaged), std::end(kManaged), lower_name) != std::end(kManaged);
}

// RFC 9110 §5.5: a field value is visible characters, SP and HTAB; CR/LF/NUL would split or
// truncate the header block (response splitting).
bool has_control_char(std::string_view value) {
  for (unsigned char c : value) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return true;
  }
  return false;
}

bool check_header_name(Reader& r, const Field& at, const std::string& list_path,
                       const std::string& name) {
  if (!is_token(name)) {
    r.error_at_key(at,
                   list_path + ": invalid header name '" + name + "' (must be an RFC 9110 token)");
    return false;
  }
  return true;
}

void read_set(Reader& r, const Field& f, std::vector<std::pair<std::string, std::string>>* out) {
  std::vector<Field> fields;
  if (!r.entries(f, &fields)) return;
  std::unordered_set<std::string> seen;  // lower-case names
  for (const Field& field : fields) {
    const std::string name = field.name();
    if (!check_header_name(r, field, f.path, name)) continue;
    const std::string key = lower(name);
    if (is_managed_header(key)) {
      r.error_at_key(field,
                     f.path + ": header '" + name + "' is managed by the proxy and cannot be set");
      continue;
    }
    if (!seen.insert(key).second) {
      r.error_at_key(field,
                     f.path + ": duplicate header '" + name + "' (header names ignore case)");
      continue;
    }
    if (field.is_null()) {
      r.error(field, "expected a string value (use \"\" for an empty value)");
      continue;
    }
    std::string value;
    if (!r.read_string(field, &value)) continue;
    if (has_control_char(value)) {
      r.error(field, "header value must not contain CR, LF, NUL or other control characters");
      continue;
    }
    if (!value.empty() && (value.front() == ' ' || value.front() == '\t' || value.back() == ' ' ||
                           value.back() == '\t')) {
      r.error(field, "header value must not start or end with whitespace");
      continue;
    }
    out->emplace_back(name, std::move(value));
  }
}

// `where` receives the field of each accepted name, for errors found later.
void read_remove(Reader& r, const Field& f, bool request, std::vector<std::string>* out,
                 std::vector<Field>* where) {
  std::vector<Field> items;
  if (!r.items(f, &items)) return;
  for (const Field& item : items) {
    std::string name;
    if (!r.read_string(item, &name)) continue;
    if (!is_token(name)) {
      r.error(item, "invalid header name '" + name + "' (must be an RFC 9110 token)");
      continue;
    }
    const std::string key = lower(name);
    if (key == "content-length" || key == "transfer-encoding") {
      r.error(item, "header '" + name + "' frames the message and cannot be removed");
      continue;
    }
    if (request && key == "host") {
      r.error(item, "header 'Host' is required in HTTP/1.1 requests and cannot be removed");
      continue;
    }
    out->push_back(std::move(name));
    where->push_back(item);
  }
}

void read_rules(Reader& r, const Field& f, bool request, HeaderRules* out) {
  bool set_given = false;
  HeaderRules rules;
  std::vector<Field> removed_at;
  const KeyHandler keys[] = {
      {"set",
       [&](const Field& x) {
         set_given = true;
         read_set(r, x, &rules.set);
       }},
      {"remove", [&](const Field& x) { read_remove(r, x, request, &rules.remove, &removed_at); }},
  };
  r.read_map(f, keys);
  // An explicit `set` replaces the defaults (the security headers on responses): merging
  // would leave no way to drop one of them.
  if (set_given) out->set = std::move(rules.set);
  out->remove = std::move(rules.remove);
  for (size_t i = 0; i < out->remove.size(); ++i) {
    for (const auto& [name, value] : out->set) {
      if (lower(name) == lower(out->remove[i])) {
        r.error(removed_at[i], "header '" + out->remove[i] + "' is both set and removed" +
                                   (set_given ? std::string()
                                              : " (a default response header: list the ones "
                                                "you want under headers.response.set)"));
      }
    }
  }
}

// Returns: an error message for a route prefix, empty when it is usable.
std::string check_prefix(const std::string& prefix) {
  if (prefix.empty() || prefix.front() != '/') return "must start with '/'";
  if (prefix.find('?') != std::string::npos) {
    return "must not contain '?' (routes match the path, not the query)";
  }
  std::string scratch;
  std::string_view path;
  std::string_view query;
  if (net::normalize_target(prefix, scratch, &path, &query) != net::TargetStatus::kOk) {
    return "'" + prefix +
           "' is not a valid path (spaces, control characters, '#' or bad %-escapes)";
  }
  if (path != prefix) {
    return "'" + prefix + "' is not normalized (requests are matched after normalization, as '" +
           std::string(path) + "')";
  }
  return {};
}

void read_route_prefix(Reader& r, const Field& f, const std::string& route_path,
                       std::unordered_map<std::string, std::string>* prefixes, std::string* out,
                       bool* ok) {
  if (!r.read_string(f, out)) {
    *ok = false;
  } else if (std::string why = check_prefix(*out); !why.empty()) {
    r.error(f, why);
    *ok = false;
  } else if (auto [it, fresh] = prefixes->emplace(*out, route_path); !fresh) {
    r.error(f, "duplicate prefix '" + *out + "' (first in " + it->second + ")");
    *ok = false;
  }
}

// Sets route->upstream_index. Returns: false (after reporting) for an unknown name.
bool resolve_upstream(Reader& r, const Field& f, const std::vector<UpstreamConfig>& upstreams,
                      RouteConfig* route) {
  if (route->upstream.empty()) {
    r.error(f, "must name an upstream");
    return false;
  }
  std::vector<std::string_view> names;
  for (size_t i = 0; i < upstreams.size(); ++i) {
    if (upstreams[i].name == route->upstream) {
      route->upstream_index = i;
      return true;
    }
    names.push_back(upstreams[i].name);
  }
  std::string message = "unknown upstream '" + route->upstream + "'";
  if (std::string near = closest_match(route->upstream, names); !near.empty()) {
    message += " (did you mean '" + near + "'?)";
  }
  r.error(f, message);
  return false;
}

// Returns: true when `item` is a complete, valid route (written to *route).
bool read_route(Reader& r, const Field& item, const std::vector<UpstreamConfig>& upstreams,
                std::unordered_map<std::string, std::string>* prefixes, RouteConfig* route) {
  bool ok = true;
  Field prefix_field;
  Field upstream_field;
  const KeyHandler keys[] = {
      {"prefix",
       [&](const Field& x) {
         prefix_field = x;
         read_route_prefix(r, x, item.path, prefixes, &route->prefix, &ok);
       }},
      {"upstream",
       [&](const Field& x) {
         upstream_field = x;
         if (!r.read_string(x, &route->upstream)) {
           ok = false;
         } else if (!resolve_upstream(r, x, upstreams, route)) {
           ok = false;
         }
       }},
      {"strip_prefix", [&](const Field& x) { ok = r.read_bool(x, &route->strip_prefix) && ok; }},
  };
  r.read_map(item, keys);
  if (item.is_null()) {
    r.error(item, "expected a mapping, got nothing");
    return false;
  }
  if (!item.value.IsMap()) return false;  // read_map reported it
  for (const auto& [field, key] :
       {std::pair{&prefix_field, "prefix"}, {&upstream_field, "upstream"}}) {
    if (field->path.empty()) {
      r.error(item, std::string("missing required key '") + key + "'");
      ok = false;
    }
  }
  return ok;
}

}  // namespace

void read_limits(Reader& r, const Field& f, LimitsConfig* out) {
  auto limit = [&r](int64_t lo, int64_t hi, uint64_t* slot) {
    return [&r, lo, hi, slot](const Field& x) { r.read_int(x, lo, hi, slot); };
  };
  const KeyHandler keys[] = {
      {"max_connections", limit(1, 10000000, &out->max_connections)},
      {"max_header_bytes", limit(1024, 1048576, &out->max_header_bytes)},
      {"max_headers", limit(1, 10000, &out->max_headers)},
      {"max_body_bytes", limit(0, int64_t{1} << 40, &out->max_body_bytes)},
      {"request_buffer",
       [&r, out](const Field& x) { r.read_size(x, 0, 64 * 1024 * 1024, &out->request_buffer); }},
      {"max_chunk_ext_bytes",
       [&r, out](const Field& x) { r.read_size(x, 16, 1024 * 1024, &out->max_chunk_ext_bytes); }},
      {"stream_buffer",
       [&r, out](const Field& x) { r.read_size(x, 4096, 64 * 1024 * 1024, &out->stream_buffer); }},
      {"splice_min",
       [&r, out](const Field& x) { r.read_size(x, 0, uint64_t{1} << 40, &out->splice_min); }},
      {"recv_buffer",
       [&r, out](const Field& x) {
         // A power of two: io_uring's provided-buffer ring needs a power-of-two count of them.
         if (r.read_size(x, 4096, 256 * 1024, &out->recv_buffer) &&
             (out->recv_buffer & (out->recv_buffer - 1)) != 0) {
           r.error(x, x.value.Scalar() + " is not a power of two (4KiB, 8KiB, 16KiB .. 256KiB)");
         }
       }},
  };
  r.read_map(f, keys);
}

void read_timeouts(Reader& r, const Field& f, TimeoutsConfig* out) {
  auto duration = [&r](Millis lo, Millis* slot) {
    return [&r, lo, slot](const Field& x) { r.read_duration(x, lo, kMaxDuration, slot); };
  };
  const KeyHandler keys[] = {
      {"client_header", duration(1, &out->client_header)},
      {"client_idle", duration(1, &out->client_idle)},
      {"upstream_connect", duration(1, &out->upstream_connect)},
      {"upstream_response", duration(1, &out->upstream_response)},
      {"drain", duration(0, &out->drain)},  // 0: stop at once on SIGTERM
  };
  r.read_map(f, keys);
}

void read_headers(Reader& r, const Field& f, HeaderRules* request, HeaderRules* response) {
  const KeyHandler keys[] = {
      {"request", [&](const Field& x) { read_rules(r, x, true, request); }},
      {"response", [&](const Field& x) { read_rules(r, x, false, response); }},
  };
  r.read_map(f, keys);
}

void read_routes(Reader& r, const Field& f, const std::vector<UpstreamConfig>& upstreams,
                 std::vector<RouteConfig>* out) {
  std::vector<Field> items;
  if (!r.items(f, &items)) return;
  std::unordered_map<std::string, std::string> prefixes;  // prefix -> path of first route
  for (const Field& item : items) {
    RouteConfig route;
    if (read_route(r, item, upstreams, &prefixes, &route)) out->push_back(std::move(route));
  }
}

}  // namespace ringway::proxy::config_parse
