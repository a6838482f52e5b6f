// Request-target splitting and dot-segment removal (RFC 3986 §5.2.4) before routing.
// Runs once per request: a scan decides first whether anything needs to change.
#include "net/request_target.h"

#include <array>

#include "net/http_writer.h"

namespace ringway::net {
namespace {

constexpr std::string_view kRoot = "/";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

enum CharClass : unsigned char { kPlain, kReject, kPercent, kDot };

// Rejected bytes are those that must never reach routing or an upstream: CTLs and SP
// (RFC 9112 §3.2 has no room for them) and '#' (fragments are not sent, RFC 9110 §4.2.4).
constexpr std::array<CharClass, 256> kCharClass = [] {
  std::array<CharClass, 256> table{};
  for (int c = 0; c <= 0x20; ++c) table[c] = kReject;
  table[0x7f] = kReject;
  table['#'] = kReject;
  table['%'] = kPercent;
  table['.'] = kDot;
  return table;
}();

// One pass per request-target part. Returns: false when `s` holds a rejected byte, '%00'
// (C strings upstream would end there) or a '%' not followed by two hex digits. Sets *dots
// when `s` holds '.' or "%2e" (any case): only then can it contain a dot segment.
bool scan(std::string_view s, bool* dots) {
  for (size_t i = 0; i < s.size(); ++i) {
    switch (kCharClass[static_cast<unsigned char>(s[i])]) {
      case kPlain:
        break;
      case kReject:
        return false;
      case kDot:
        *dots = true;
        break;
      case kPercent: {
        if (i + 2 >= s.size()) return false;
        const int hi = hex_value(s[i + 1]);
        const int lo = hex_value(s[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return false;
        if (hi == 2 && lo == 0xe) *dots = true;
        i += 2;
        break;
      }
    }
  }
  return true;
}

// 0 for an ordinary segment, 1 for ".", 2 for ".." (each '.' may be spelled %2e or %2E).
int dot_kind(std::string_view seg) {
  int dots = 0;
  size_t i = 0;
  while (i < seg.size()) {
    if (seg[i] == '.') {
      ++i;
    } else if (seg.size() - i >= 3 && iequals(seg.substr(i, 3), "%2e")) {
      i += 3;
    } else {
      return 0;
    }
    if (++dots > 2) return 0;
  }
  return dots;
}

bool needs_normalizing(std::string_view path) {
  size_t start = 1;  // path[0] == '/'
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (dot_kind(path.substr(start, end - start)) != 0) return true;
    start = end + 1;
  }
  return false;
}

// RFC 3986 §5.2.4 for an absolute path: "." segments vanish, ".." drops the previous
// output segment (never the root), and a trailing dot segment leaves a trailing '/'.
void remove_dot_segments(std::string_view path, std::string& out) {
  out.clear();
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    const bool last = end == std::string_view::npos;
    if (last) end = path.size();
    const std::string_view seg = path.substr(start, end - start);
    const int kind = dot_kind(seg);
    if (kind == 2) {
      const size_t slash = out.rfind('/');
      out.resize(slash == std::string::npos ? 0 : slash);
    }
    if (kind == 0) {
      out += '/';
      out.append(seg);
    } else if (last) {
      out += '/';
    }
    start = end + 1;
  }
  if (out.empty()) out.push_back('/');  // push_back: GCC 12 -Wrestrict misfires on = "/"
}

}  // namespace

TargetStatus normalize_target(std::string_view target, std::string& scratch, std::string_view* path,
                              std::string_view* query) {
  std::string_view rest = target;
  if (rest.empty()) return TargetStatus::kBadRequest;
  if (rest.front() != '/') {
    // absolute-form (RFC 9112 §3.2.2): scheme "://" authority [path-abempty] ["?" query]
    size_t scheme_len = 0;
    if (rest.size() > 7 && iequals(rest.substr(0, 7), "http://")) {
      scheme_len = 7;
    } else if (rest.size() > 8 && iequals(rest.substr(0, 8), "https://")) {
      scheme_len = 8;
    } else {
      return TargetStatus::kBadRequest;
    }
    rest.remove_prefix(scheme_len);
    const size_t authority_end = rest.find_first_of("/?");
    const std::string_view authority = rest.substr(0, authority_end);
    bool ignored = false;
    if (authority.empty() || !scan(authority, &ignored)) return TargetStatus::kBadRequest;
    rest =
        authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  }
  const size_t qmark = rest.find('?');
  std::string_view raw_path = rest.substr(0, qmark);
  *query = qmark == std::string_view::npos ? std::string_view() : rest.substr(qmark + 1);
  bool dots = false;
  bool query_dots = false;
  if (!scan(raw_path, &dots) || !scan(*query, &query_dots)) return TargetStatus::kBadRequest;
  if (raw_path.empty()) {
    *path = kRoot;  // Only absolute-form gets here: "http://h" and "http://h?q" mean "/".
    return TargetStatus::kOk;
  }
  if (!dots || !needs_normalizing(raw_path)) {
    *path = raw_path;
    return TargetStatus::kOk;
  }
  remove_dot_segments(raw_path, scratch);
  *path = scratch;
  return TargetStatus::kOk;
}

}  // namespace ringway::net
