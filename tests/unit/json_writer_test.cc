// Tests for proxy/json_writer.h: string escaping (RFC 8259 §7), value types, commas between
// members and elements, and nesting of objects and arrays (empty ones included).
#include "proxy/json_writer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace ringway::proxy {
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

TEST(JsonWriter, PassesDelSlashAndUtf8Through) {
  EXPECT_EQ(escaped("a/b\x7f"), "\"a/b\x7f\"");
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
      .value(1.5)
      .value(0.0004)
      .value(-2.25)
      .value("s")
      .end_array();
  EXPECT_EQ(w.out(),
            "[true,false,null,0,-42,-9007199254740993,18446744073709,1.500,0.000,-2.250,\"s\"]");
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

}  // namespace
}  // namespace ringway::proxy
