// The one small JSON writer for hot paths (error bodies, access log lines): appends to a
// caller-owned string, never allocates per value. Admin pages use nlohmann::json instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringway::base {

// Appends `s` as a JSON string literal, quotes included (RFC 8259 §7). Any byte sequence
// yields valid JSON: '"', '\', control bytes and DEL are escaped, valid UTF-8 passes
// through, and each byte of an invalid UTF-8 sequence becomes \u00XX (its Latin-1 reading).
void append_json_string(std::string& out, std::string_view s);

// The same escaping into a caller's buffer, for formatters that build a whole record in one
// pass (the access log). write_json_chars writes no quotes. Returns: the end of what was
// written, at most json_string_bound(s.size()) bytes (write_json_chars: 2 fewer).
char* write_json_chars(char* out, std::string_view s);
char* write_json_string(char* out, std::string_view s);
// Every byte escapes to at most 6 ("\u00XX"), plus the two quotes.
constexpr size_t json_string_bound(size_t bytes) { return 6 * bytes + 2; }

// Appends a number with `decimals` digits after the point; NaN and infinities (which JSON
// cannot represent) become null.
void append_json_number(std::string& out, double v, int decimals);

// Builder for objects and arrays with automatic commas. Misnesting is the caller's bug.
class JsonWriter {
 public:
  JsonWriter() = default;
  // Appends to `out` instead of an internal string (hot paths reuse one buffer).
  explicit JsonWriter(std::string* out) : out_(out) {}
  // out_ may point at own_: a copy would write into the original.
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  std::string& out() { return *out_; }
  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }
  JsonWriter& key(std::string_view k);
  // A key known to need no escaping (a literal of printable ASCII without '"' or '\\'):
  // copied as it is. Hot paths with fixed field names (the access log) use it.
  JsonWriter& plain_key(std::string_view k);
  JsonWriter& value(std::string_view v);
  JsonWriter& value(const char* v) { return value(std::string_view(v)); }
  JsonWriter& value(bool v);
  JsonWriter& value(double v, int decimals = 3);
  JsonWriter& value(int64_t v);
  JsonWriter& value(uint64_t v);
  JsonWriter& value(int v) { return value(static_cast<int64_t>(v)); }
  JsonWriter& value(unsigned v) { return value(static_cast<uint64_t>(v)); }
  JsonWriter& null();

 private:
  JsonWriter& open(char c);
  JsonWriter& close(char c);
  void comma();

  std::string own_;
  std::string* out_ = &own_;
  bool first_ = true;
  bool after_key_ = false;
};

}  // namespace ringway::base
