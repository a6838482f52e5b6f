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

char* put_u00(char* d, unsigned char c) {
  std::memcpy(d, "\\u00", 4);
  d[4] = kHex[c >> 4];
  d[5] = kHex[c & 15];
  return d + 6;
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

// A backslash and one character: "\\n", "\\\"".
char* put2(char* d, char c) {
  d[0] = '\\';
  d[1] = c;
  return d + 2;
}

constexpr uint64_t kOnes = 0x0101010101010101ull;
constexpr uint64_t kHighBits = 0x8080808080808080ull;

// Whether some byte of `w` is zero (exact as a yes/no; borrows only ever follow a zero byte).
constexpr bool has_zero_byte(uint64_t w) { return ((w - kOnes) & ~w & kHighBits) != 0; }

// Whether all eight bytes of `w` are printable ASCII other than '"' and '\\' (kPlainByte).
constexpr bool all_plain(uint64_t w) {
  const bool control = ((w - kOnes * 0x20) & ~w & kHighBits) != 0;  // some byte < 0x20
  const bool high = ((w + kOnes) | w) & kHighBits;                  // some byte >= 0x7f
  return !control && !high && !has_zero_byte(w ^ (kOnes * '"')) &&
         !has_zero_byte(w ^ (kOnes * '\\'));
}

}  // namespace

// Bytes that go out as they are: printable ASCII but '"' and '\\'.
constexpr std::array<bool, 256> kPlainByte = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x7f; ++c) t[c] = c != '"' && c != '\\';
  return t;
}();

char* write_json_chars(char* d, std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    // Plain bytes are nearly everything in a log line: eight at a time while a word has none
    // of the others, then one table test per byte.
    while (end - p >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      if (!all_plain(w)) break;
      std::memcpy(d, &w, 8);
      d += 8;
      p += 8;
    }
    if (p == end) break;
    const unsigned char c = *p;
    if (kPlainByte[c]) {
      *d++ = static_cast<char>(c);
      ++p;
      continue;
    }
    switch (c) {
      case '"': d = put2(d, '"'); break;
      case '\\': d = put2(d, '\\'); break;
      case '\n': d = put2(d, 'n'); break;
      case '\r': d = put2(d, 'r'); break;
      case '\t': d = put2(d, 't'); break;
      default:
        if (c >= 0x80) {
          const size_t i = static_cast<size_t>(p - reinterpret_cast<const unsigned char*>(s.data()));
          if (size_t n = utf8_sequence(s, i)) {
            std::memcpy(d, p, n);
            d += n;
            p += n;
            continue;
          }
        }
        d = put_u00(d, c);
    }
    ++p;
  }
  return d;
}

char* write_json_string(char* d, std::string_view s) {
  *d++ = '"';
  d = write_json_chars(d, s);
  *d++ = '"';
  return d;
}

void append_json_string(std::string& out, std::string_view s) {
  const size_t old = out.size();
  out.resize(old + json_string_bound(s.size()));
  char* end = write_json_string(out.data() + old, s);
  out.resize(static_cast<size_t>(end - out.data()));
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
