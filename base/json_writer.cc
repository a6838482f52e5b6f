// JSON escaping with a UTF-8 check (so logs of hostile request bytes stay parseable) and
// number formatting without locale or exceptions.
#include "base/json_writer.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace ringway::base {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void append_u00(std::string& out, unsigned char c) {
  out += "\\u00";
  out += kHex[c >> 4];
  out += kHex[c & 15];
}

// Returns: the length of the valid UTF-8 sequence starting at s[i] (2..4), or 0 when the
// bytes there are not one (RFC 3629 §4: no overlongs, no surrogates, nothing past U+10FFFF).
size_t utf8_sequence(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  auto cont = [&](size_t k) {
    return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
  };
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    if (b0 == 0xE0 && b1 < 0xA0) return 0;  // overlong
    if (b0 == 0xED && b1 > 0x9F) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    if (b0 == 0xF0 && b1 < 0x90) return 0;  // overlong
    if (b0 == 0xF4 && b1 > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

// Bytes that go out as they are: printable ASCII but '"' and '\\'.
constexpr std::array<bool, 256> kPlainByte = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x7f; ++c) t[c] = c != '"' && c != '\\';
  return t;
}();

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    // Runs of plain bytes (nearly everything in a log line) are appended in one piece.
    size_t run = i;
    while (run < s.size() && kPlainByte[static_cast<unsigned char>(s[run])]) ++run;
    if (run != i) {
      out.append(s.data() + i, run - i);
      i = run;
      if (i == s.size()) break;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c >= 0x80) {
          if (size_t n = utf8_sequence(s, i)) {
            out.append(s.substr(i, n));
            i += n;
            continue;
          }
        }
        append_u00(out, c);
    }
    ++i;
  }
  out += '"';
}

void append_json_number(std::string& out, double v, int decimals) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
  if (r.ec != std::errc()) {
    out += "null";
    return;
  }
  out.append(buf, r.ptr);
}

JsonWriter& JsonWriter::key(std::string_view k) {
  comma();
  append_json_string(*out_, k);
  *out_ += ':';
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::plain_key(std::string_view k) {
  comma();
  // One append of "k": (the common case) instead of three.
  char buf[64];
  if (k.size() + 3 <= sizeof buf) {
    buf[0] = '"';
    std::memcpy(buf + 1, k.data(), k.size());
    buf[k.size() + 1] = '"';
    buf[k.size() + 2] = ':';
    out_->append(buf, k.size() + 3);
  } else {
    *out_ += '"';
    out_->append(k);
    *out_ += "\":";
  }
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view v) {
  comma();
  append_json_string(*out_, v);
  return *this;
}

JsonWriter& JsonWriter::value(bool v) {
  comma();
  *out_ += v ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::value(double v, int decimals) {
  comma();
  append_json_number(*out_, v, decimals);
  return *this;
}

namespace {
template <class Int>
void append_integer(std::string& out, Int v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}
}  // namespace

JsonWriter& JsonWriter::value(int64_t v) {
  comma();
  append_integer(*out_, v);
  return *this;
}

JsonWriter& JsonWriter::value(uint64_t v) {
  comma();
  append_integer(*out_, v);
  return *this;
}

JsonWriter& JsonWriter::null() {
  comma();
  *out_ += "null";
  return *this;
}

JsonWriter& JsonWriter::open(char c) {
  comma();
  *out_ += c;
  first_ = true;
  return *this;
}

JsonWriter& JsonWriter::close(char c) {
  *out_ += c;
  first_ = false;
  return *this;
}

void JsonWriter::comma() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_) *out_ += ',';
  first_ = false;
}

}  // namespace ringway::base
