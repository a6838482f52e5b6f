// The error-collecting YAML walker behind parse_config: typed reads of scalars, mappings
// and sequences, each failure recorded with its position and the walk continued.
#include "proxy/config/parse.h"

#include <algorithm>
#include <charconv>
#include <unordered_set>

#include "base/duration.h"

namespace ringway::proxy::config_parse {
namespace {

bool mark_known(const YAML::Mark& m) {
  return m.line >= 0 && m.column >= 0;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      const size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

Field Field::child(const YAML::Node& k, const YAML::Node& v) const {
  Field f;
  f.key = k;
  f.value = v;
  f.has_key = true;
  f.path = path.empty() ? k.Scalar() : path + "." + k.Scalar();
  return f;
}

Field Field::item(size_t index, const YAML::Node& v) const {
  Field f;
  f.value = v;
  f.path = path + "[" + std::to_string(index) + "]";
  f.fallback = has_key ? key.Mark() : value.Mark();
  return f;
}

std::string describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a sequence";
  return "'" + node.Scalar() + "'";
}

std::string closest_match(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  size_t best_distance = 3;  // Further than 2 edits is a different word, not a typo.
  for (std::string_view c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_distance && d < std::max<size_t>(c.size(), 2)) {
      best = c;
      best_distance = d;
    }
  }
  return std::string(best);
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum &&
        std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

void Reader::error_at_mark(const YAML::Mark& mark, std::string message) {
  ConfigError e;
  e.file = file_;
  e.line = mark_known(mark) ? mark.line + 1 : 1;
  e.column = mark_known(mark) ? mark.column + 1 : 1;
  e.message = std::move(message);
  errors_.push_back(std::move(e));
}

void Reader::error(const Field& at, std::string_view message) {
  std::string text = at.path.empty() ? std::string(message) : at.path + ": " + std::string(message);
  // yaml-cpp places an empty value at the start of the next token, possibly lines later;
  // the key is where the reader should look.
  if (!at.is_null() && mark_known(at.value.Mark())) {
    error_at_mark(at.value.Mark(), std::move(text));
  } else if (at.has_key) {
    error_at_mark(at.key.Mark(), std::move(text));
  } else {
    error_at_mark(at.fallback, std::move(text));
  }
}

void Reader::error_at_key(const Field& at, std::string message) {
  if (at.has_key) {
    error_at_mark(at.key.Mark(), std::move(message));
  } else if (!at.is_null()) {
    error_at_mark(at.value.Mark(), std::move(message));
  } else {
    error_at_mark(at.fallback, std::move(message));
  }
}

bool Reader::entries(const Field& f, std::vector<Field>* out) {
  out->clear();
  if (f.is_null()) return true;
  if (!f.value.IsMap()) {
    if (f.path.empty()) {
      error_at_mark(f.value.Mark(), "expected a mapping at top level, got " + describe(f.value));
    } else {
      error(f, "expected a mapping, got " + describe(f.value));
    }
    return false;
  }
  std::unordered_set<std::string> seen;
  const std::string where = f.path.empty() ? "at top level" : "in " + f.path;
  for (auto it = f.value.begin(); it != f.value.end(); ++it) {
    // Copies: the iterator's pair is a temporary proxy (yaml-cpp node handles are cheap).
    const YAML::Node k = it->first;
    const YAML::Node v = it->second;
    if (!k.IsScalar()) {
      error_at_mark(k.Mark(), "expected a plain key " + where + ", got " + describe(k));
      continue;
    }
    if (!seen.insert(k.Scalar()).second) {
      error_at_mark(k.Mark(), "duplicate key '" + k.Scalar() + "' " + where);
      continue;
    }
    out->push_back(f.child(k, v));
  }
  return true;
}

void Reader::read_map(const Field& f, std::span<const KeyHandler> handlers) {
  std::vector<Field> fields;
  if (!entries(f, &fields)) return;
  for (const Field& field : fields) {
    const std::string name = field.name();
    const KeyHandler* match = nullptr;
    for (const KeyHandler& h : handlers) {
      if (h.key == name) match = &h;
    }
    if (match != nullptr) {
      match->read(field);
      continue;
    }
    std::vector<std::string_view> keys;
    for (const KeyHandler& h : handlers) keys.push_back(h.key);
    std::string message = "unknown key '" + name + "' " +
                          (f.path.empty() ? std::string("at top level") : "in " + f.path);
    if (std::string near = closest_match(name, keys); !near.empty()) {
      message += " (did you mean '" + near + "'?)";
    }
    error_at_key(field, std::move(message));
  }
}

bool Reader::items(const Field& f, std::vector<Field>* out) {
  out->clear();
  if (f.is_null()) return true;
  if (!f.value.IsSequence()) {
    error(f, "expected a sequence, got " + describe(f.value));
    return false;
  }
  size_t index = 0;
  for (auto it = f.value.begin(); it != f.value.end(); ++it) out->push_back(f.item(index++, *it));
  return true;
}

bool Reader::scalar_or_items(const Field& f, std::vector<Field>* out) {
  if (f.value.IsDefined() && f.value.IsScalar()) {
    out->assign(1, f);
    return true;
  }
  return items(f, out);
}

bool Reader::read_string(const Field& f, std::string* out) {
  if (!f.value.IsDefined() || !f.value.IsScalar()) {
    error(f, "expected a string, got " + describe(f.value));
    return false;
  }
  *out = f.value.Scalar();
  return true;
}

bool Reader::read_bool(const Field& f, bool* out) {
  if (f.value.IsDefined() && f.value.IsScalar()) {
    const std::string& s = f.value.Scalar();
    // YAML 1.2 core schema spellings only: "yes"/"on" are YAML 1.1 surprises.
    if (s == "true" || s == "True" || s == "TRUE") {
      *out = true;
      return true;
    }
    if (s == "false" || s == "False" || s == "FALSE") {
      *out = false;
      return true;
    }
  }
  error(f, "expected true or false, got " + describe(f.value));
  return false;
}

bool Reader::read_int(const Field& f, int64_t lo, int64_t hi, int64_t* out) {
  const std::string_view text =
      f.value.IsDefined() && f.value.IsScalar() ? std::string_view(f.value.Scalar()) : "";
  int64_t v = 0;
  std::errc ec = std::errc::invalid_argument;
  if (!text.empty()) {
    const char* end = text.data() + text.size();
    const auto result = std::from_chars(text.data(), end, v);
    ec = result.ptr == end ? result.ec : std::errc::invalid_argument;
  }
  if (ec != std::errc() && ec != std::errc::result_out_of_range) {
    error(f, "expected an integer, got " + describe(f.value));
    return false;
  }
  if (ec == std::errc::result_out_of_range || v < lo || v > hi) {
    error(f,
          std::string(text) + " is out of range " + std::to_string(lo) + ".." + std::to_string(hi));
    return false;
  }
  *out = v;
  return true;
}

bool Reader::read_size(const Field& f, uint64_t lo, uint64_t hi, uint64_t* out) {
  const std::string_view text =
      f.value.IsDefined() && f.value.IsScalar() ? std::string_view(f.value.Scalar()) : "";
  uint64_t v = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  const std::string_view unit(ptr, static_cast<size_t>(end - ptr));
  uint64_t scale = unit.empty() ? 1 : unit == "KiB" ? 1024 : unit == "MiB" ? 1024 * 1024 : 0;
  if (text.empty() || ptr == text.data() || (ec != std::errc() && ec != std::errc::result_out_of_range) ||
      scale == 0) {
    error(f, "expected a size like 4096, 64KiB or 1MiB, got " + describe(f.value));
    return false;
  }
  if (ec == std::errc::result_out_of_range || v > hi / scale || v * scale < lo) {
    error(f, std::string(text) + " is out of range " + std::to_string(lo) + ".." +
                 std::to_string(hi) + " bytes");
    return false;
  }
  *out = v * scale;
  return true;
}

bool Reader::read_duration(const Field& f, Millis lo, Millis hi, Millis* out) {
  if (!f.value.IsDefined() || !f.value.IsScalar()) {
    error(f, "expected a duration like 500ms, 2s or 1m, got " + describe(f.value));
    return false;
  }
  const std::string& text = f.value.Scalar();
  Millis v = 0;
  std::string why;
  if (!base::parse_duration(text, &v, &why)) {
    error(f, "invalid duration '" + text + "': " + why);
    return false;
  }
  if (v < lo) {
    error(f, lo == 1 ? std::string("must be greater than 0")
                     : "must be at least " + base::format_duration(lo));
    return false;
  }
  if (v > hi) {
    error(f, "must be at most " + base::format_duration(hi));
    return false;
  }
  *out = v;
  return true;
}

bool Reader::read_host_port(const Field& f, net::PortZero zero, net::HostPort* out) {
  std::string text;
  if (!read_string(f, &text)) return false;
  std::string why;
  if (!net::parse_host_port(text, out, &why, zero)) {
    error(f, "invalid address '" + text + "': " + why);
    return false;
  }
  return true;
}

}  // namespace ringway::proxy::config_parse
