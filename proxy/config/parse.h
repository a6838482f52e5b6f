// Internal to config loading (proxy/config*.cc only): a YAML walker that records
// FILE:LINE:COL errors and keeps going, so one --check-config run reports every problem.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/address.h"
#include "proxy/config/config.h"

namespace ringway::proxy::config_parse {

constexpr Millis kMaxDuration = 24 * 3600 * 1000;  // Longer is a typo, not a plan.

// A YAML value with where it came from: the key that introduced it (for positions when the
// value is empty) and its dotted path for messages ("upstreams.service1.retries", "routes[0]").
struct Field {
  YAML::Node key;  // undefined for sequence items and the root
  YAML::Node value;
  std::string path;  // "" for the root
  bool has_key = false;
  // Where an empty sequence item is reported: its sequence (yaml-cpp has no mark for it).
  YAML::Mark fallback = YAML::Mark::null_mark();

  std::string name() const { return has_key ? key.Scalar() : std::string(); }
  Field child(const YAML::Node& k, const YAML::Node& v) const;
  Field item(size_t index, const YAML::Node& v) const;
  bool is_null() const { return !value.IsDefined() || value.IsNull(); }
};

struct KeyHandler {
  std::string_view key;
  std::function<void(const Field&)> read;
};

class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  // Records "<path>: message" at the value (at the key when the value is empty).
  void error(const Field& at, std::string_view message);
  // Records `message` verbatim at the field's key (its value when it has no key).
  void error_at_key(const Field& at, std::string message);
  // Records `message` at a 0-based yaml-cpp mark (1:1 when the mark is unknown).
  void error_at_mark(const YAML::Mark& mark, std::string message);
  std::vector<ConfigError>& errors() { return errors_; }

  // The entries of a mapping in file order (null counts as empty). Non-scalar and duplicate
  // keys are reported and left out. Returns: false (after reporting) when not a mapping.
  bool entries(const Field& f, std::vector<Field>* out);
  // entries() dispatched to `handlers`; unknown keys are reported with a close match.
  void read_map(const Field& f, std::span<const KeyHandler> handlers);
  // The items of a sequence (null counts as empty). Returns: false when not a sequence.
  bool items(const Field& f, std::vector<Field>* out);
  // A single scalar or a sequence of them, as items (for `listen` and `servers`).
  bool scalar_or_items(const Field& f, std::vector<Field>* out);

  // Each returns false (after reporting) on a wrong type or value and leaves *out alone.
  bool read_string(const Field& f, std::string* out);
  bool read_bool(const Field& f, bool* out);
  bool read_int(const Field& f, int64_t lo, int64_t hi, int64_t* out);
  template <typename T>
  bool read_int(const Field& f, int64_t lo, int64_t hi, T* out) {
    int64_t v = 0;
    if (!read_int(f, lo, hi, &v)) return false;
    *out = static_cast<T>(v);
    return true;
  }
  bool read_duration(const Field& f, Millis lo, Millis hi, Millis* out);
  // A byte count: a plain integer or one with a KiB / MiB suffix ("64KiB", "1MiB").
  bool read_size(const Field& f, uint64_t lo, uint64_t hi, uint64_t* out);
  bool read_host_port(const Field& f, net::PortZero zero, net::HostPort* out);

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

// "a mapping", "a sequence", "nothing" or the quoted scalar text: for "expected X, got Y".
std::string describe(const YAML::Node& node);
// The candidate within edit distance 2 of `word` (empty when none is that close).
std::string closest_match(std::string_view word, const std::vector<std::string_view>& candidates);
// RFC 9110 §5.6.2 token.
bool is_token(std::string_view s);

// Section readers (config_parse_sections.cc, config_parse_upstream.cc).
void read_limits(Reader& r, const Field& f, LimitsConfig* out);
void read_timeouts(Reader& r, const Field& f, TimeoutsConfig* out);
void read_headers(Reader& r, const Field& f, HeaderRules* request, HeaderRules* response);
// `access_log: { path, buffer, flush }` (parse_access_log.cc).
void read_access_log(Reader& r, const Field& f, AccessLogConfig* out);
// Reads the whole `upstreams` mapping; every well-named upstream is appended, even one with
// errors, so routes naming it do not produce a second, misleading error.
void read_upstreams(Reader& r, const Field& f, std::vector<UpstreamConfig>* out);
// Reads `routes`, resolving each upstream name against `upstreams`.
void read_routes(Reader& r, const Field& f, const std::vector<UpstreamConfig>& upstreams,
                 std::vector<RouteConfig>* out);

}  // namespace ringway::proxy::config_parse
