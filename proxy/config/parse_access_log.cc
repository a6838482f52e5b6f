// Reader for `access_log: { path, buffer, flush }`: the file (or stdout) every request is
// logged to, the per-worker buffer size ("64KiB") and the flush period.
#include <cctype>
#include <cstdint>

#include "proxy/config/parse.h"

namespace ringway::proxy::config_parse {
namespace {

// Bounds: below 4 KiB a busy worker would hand a buffer to the writer every few requests;
// above 16 MiB a crash loses too much and the writer queue holds too much memory.
constexpr uint64_t kMinBuffer = 4096, kMaxBuffer = 16u << 20;

// "65536", "64KiB", "1MiB" (binary units, as the contract spells them; "KB" is refused
// rather than guessed). Returns: false with *why.
bool parse_size(const std::string& text, uint64_t* out, std::string* why) {
  size_t i = 0;
  uint64_t v = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    if (v > (uint64_t{1} << 40)) {
      *why = "too large";
      return false;
    }
    v = v * 10 + static_cast<uint64_t>(text[i] - '0');
    ++i;
  }
  if (i == 0) {
    *why = "expected a size like 65536, 64KiB or 1MiB";
    return false;
  }
  const std::string unit = text.substr(i);
  if (unit.empty() || unit == "B") {
  } else if (unit == "KiB" || unit == "MiB") {
    const int shift = unit == "KiB" ? 10 : 20;
    if (v > (UINT64_MAX >> shift)) {  // the shift would wrap into a small, "valid" size
      *why = "too large";
      return false;
    }
    v <<= shift;
  } else {
    *why = "unknown unit '" + unit + "' (use B, KiB or MiB)";
    return false;
  }
  *out = v;
  return true;
}

}  // namespace

void read_access_log(Reader& r, const Field& f, AccessLogConfig* out) {
  bool has_path = false;
  const KeyHandler keys[] = {
      {"path",
       [&](const Field& x) {
         std::string path;
         if (!r.read_string(x, &path)) return;
         has_path = true;
         if (path.empty()) {
           r.error(x, "must be a file path or stdout");
           return;
         }
         if (path != "stdout" && path.front() != '/' && path.rfind("./", 0) != 0 &&
             path.rfind("../", 0) != 0 && path.find('/') == std::string::npos) {
           // A bare word is more likely a misspelt "stdout" than a file meant to land in
           // whatever directory the proxy was started from.
           r.error(x, "'" + path + "' is neither stdout nor a path (write ./" + path +
                          " for a file in the working directory)");
           return;
         }
         out->path = path;
       }},
      {"buffer",
       [&](const Field& x) {
         if (!x.value.IsDefined() || !x.value.IsScalar()) {
           r.error(x, "expected a size like 64KiB, got " + describe(x.value));
           return;
         }
         uint64_t v = 0;
         std::string why;
         if (!parse_size(x.value.Scalar(), &v, &why)) {
           r.error(x, "invalid size '" + x.value.Scalar() + "': " + why);
         } else if (v < kMinBuffer || v > kMaxBuffer) {
           r.error(x, "must be between 4KiB and 16MiB");
         } else {
           out->buffer_bytes = v;
         }
       }},
      {"flush", [&](const Field& x) { r.read_duration(x, 10, 60000, &out->flush); }},
  };
  r.read_map(f, keys);
  if (!has_path) {
    r.error(f, "path is required (a file path, or stdout); remove access_log to turn it off");
    return;
  }
  out->enabled = !out->path.empty();
}

}  // namespace ringway::proxy::config_parse
