// Tests for base/json_writer.h: string escaping (RFC 8259 §7) checked against nlohmann::json
// as the reference parser, value types, commas, and nesting of objects and arrays.
#include "base/json_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace ringway::base {
namespace {

std::string escaped(std::string_view s) {
  JsonWriter w;
  w.value(s);
  return w.out();
}

TEST(JsonWriter, EscapesQuotesBackslashAndWhitespaceControls) {
  EXPECT_EQ(escaped("plain"), "\"plain\"");
  EXPECT_EQ(escaped(""), "\"\"");
  EXPECT_EQ(escaped("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(escaped("l1\nl2\r\tx"), "\"l1\\nl2\\r\\tx\"");
}

TEST(JsonWriter, EscapesOtherControlCharactersAsUnicode) {
  EXPECT_EQ(escaped(std::string_view("\x00", 1)), "\"\\u0000\"");
  EXPECT_EQ(escaped("\x01\x08\x0c\x1f"), "\"\\u0001\\u0008\\u000c\\u001f\"");
}

TEST(JsonWriter, PassesSlashAndUtf8ThroughAndEscapesDel) {
  EXPECT_EQ(escaped("a/b\x7f"), "\"a/b\\u007f\"");
  EXPECT_EQ(escaped("caf\xc3\xa9 \xe2\x9c\x93"), "\"caf\xc3\xa9 \xe2\x9c\x93\"");
}

TEST(JsonWriter, ScalarValues) {
  JsonWriter w;
  w.begin_array()
      .value(true)
      .value(false)
      .null()
      .value(0)
      .value(-42)
      .value(int64_t{-9007199254740993})
      .value(uint64_t{18446744073709})
      .value(uint64_t{18446744073709551615u})
      .value(1.5)
      .value(0.0004)
      .value(-2.25)
      .value("s")
      .end_array();
  EXPECT_EQ(w.out(),
            "[true,false,null,0,-42,-9007199254740993,18446744073709,18446744073709551615,1.500,0.000,"
            "-2.250,\"s\"]");
}

TEST(JsonWriter, ObjectMembersAreCommaSeparated) {
  JsonWriter w;
  w.begin_object().key("a").value(1).key("b").value("x").key("c").null().end_object();
  EXPECT_EQ(w.out(), "{\"a\":1,\"b\":\"x\",\"c\":null}");
}

TEST(JsonWriter, EmptyContainers) {
  JsonWriter w;
  w.begin_object()
      .key("o")
      .begin_object()
      .end_object()
      .key("a")
      .begin_array()
      .end_array()
      .end_object();
  EXPECT_EQ(w.out(), "{\"o\":{},\"a\":[]}");
  JsonWriter top;
  top.begin_array().end_array();
  EXPECT_EQ(top.out(), "[]");
}

TEST(JsonWriter, NestedObjectsAndArrays) {
  JsonWriter w;
  w.begin_object();
  w.key("upstreams").begin_array();
  for (int i = 0; i < 2; ++i) {
    w.begin_object();
    w.key("name").value(i == 0 ? "service1" : "service2");
    w.key("servers").begin_array();
    w.begin_object().key("healthy").value(true).key("in_flight").value(i).end_object();
    w.begin_object().key("healthy").value(false).end_object();
    w.end_array();
    w.key("tags").begin_array().value("a").begin_array().value(1).value(2).end_array().end_array();
    w.end_object();
  }
  w.end_array();
  w.key("ok").value(true);
  w.end_object();
  EXPECT_EQ(w.out(),
            "{\"upstreams\":["
            "{\"name\":\"service1\",\"servers\":[{\"healthy\":true,\"in_flight\":0},"
            "{\"healthy\":false}],\"tags\":[\"a\",[1,2]]},"
            "{\"name\":\"service2\",\"servers\":[{\"healthy\":true,\"in_flight\":1},"
            "{\"healthy\":false}],\"tags\":[\"a\",[1,2]]}"
            "],\"ok\":true}");
}

TEST(JsonWriter, PlainKeysAreCopiedAndSeparatedLikeKeys) {
  JsonWriter w;
  w.begin_object().plain_key("a").value(1).plain_key("b_c").value("x").end_object();
  EXPECT_EQ(w.out(), "{\"a\":1,\"b_c\":\"x\"}");
}

TEST(JsonWriter, KeysAreEscaped) {
  JsonWriter w;
  w.begin_object().key("we\"ird\n").value(1).end_object();
  EXPECT_EQ(w.out(), "{\"we\\\"ird\\n\":1}");
}

TEST(JsonWriter, ArraysOfEmptyObjects) {
  JsonWriter w;
  w.begin_array().begin_object().end_object().begin_object().end_object().end_array();
  EXPECT_EQ(w.out(), "[{},{}]");
}

TEST(JsonWriter, NonFiniteNumbersBecomeNull) {
  JsonWriter w;
  w.begin_array()
      .value(std::numeric_limits<double>::quiet_NaN())
      .value(std::numeric_limits<double>::infinity())
      .value(-std::numeric_limits<double>::infinity())
      .value(0.25, 6)
      .end_array();
  EXPECT_EQ(w.out(), "[null,null,null,0.250000]");
  EXPECT_TRUE(nlohmann::json::accept(w.out()));
}

TEST(JsonWriter, AppendsToACallerBuffer) {
  std::string line = "prefix ";
  JsonWriter w(&line);
  w.begin_object().key("a").value(1).end_object();
  EXPECT_EQ(line, "prefix {\"a\":1}");
}

// Every byte string must come out as JSON that nlohmann parses back to the same text when
// the input is valid UTF-8, and to the Latin-1 reading of each bad byte otherwise.
std::string latin1_to_utf8(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

TEST(JsonWriter, ValidUtf8RoundTripsThroughNlohmann) {
  for (std::string_view s : {std::string_view("plain"), std::string_view("caf\xc3\xa9"),
                             std::string_view("\xe2\x9c\x93 \xf0\x9f\x98\x80"),
                             std::string_view("ctl\x01\x1f\x7f\"\\/\n", 11)}) {
    std::string out;
    append_json_string(out, s);
    nlohmann::json parsed = nlohmann::json::parse(out);
    EXPECT_EQ(parsed.get<std::string>(), std::string(s)) << out;
  }
}

TEST(JsonWriter, InvalidUtf8StillYieldsValidJson) {
  // Lone continuation, truncated sequences, overlongs, a surrogate, above U+10FFFF, 0xFF.
  for (std::string_view s : {std::string_view("\x80"), std::string_view("a\xc3"),
                             std::string_view("\xe2\x9c"), std::string_view("\xc0\xaf"),
                             std::string_view("\xe0\x80\xaf"), std::string_view("\xed\xa0\x80"),
                             std::string_view("\xf4\x90\x80\x80"), std::string_view("\xff\xfe")}) {
    std::string out;
    append_json_string(out, s);
    nlohmann::json parsed;
    ASSERT_NO_THROW(parsed = nlohmann::json::parse(out)) << out;
    EXPECT_EQ(parsed.get<std::string>(), latin1_to_utf8(s)) << out;
  }
}

TEST(JsonWriter, EveryByteValueParses) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  std::string out;
  append_json_string(out, all);
  EXPECT_TRUE(nlohmann::json::accept(out));
}

TEST(JsonWriter, EveryByteAtEveryPositionOfAWordEscapesAsAlone) {
  // The escaper copies eight plain bytes at a time; one odd byte anywhere in a 24-byte run of
  // plain ones must come out exactly as it does on its own, with the plain bytes around it.
  for (int c = 0; c < 256; ++c) {
    std::string alone;
    append_json_string(alone, std::string_view(reinterpret_cast<const char*>(&c), 1));
    alone = alone.substr(1, alone.size() - 2);
    for (size_t at = 0; at < 24; ++at) {
      std::string s(24, 'a');
      s[at] = static_cast<char>(c);
      std::string out;
      append_json_string(out, s);
      EXPECT_EQ(out, "\"" + std::string(at, 'a') + alone + std::string(23 - at, 'a') + "\"")
          << "byte " << c << " at " << at;
    }
  }
}

}  // namespace
}  // namespace ringway::base
