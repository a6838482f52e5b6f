// Tests for net/http_writer: exact bytes of the body framing, number formatting, reason phrases
// and the field utilities (iequals, hop-by-hop, token lists); a written message round-trips the
// parser.
#include "net/http_writer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "net/head_writer.h"
#include "net/http_parser.h"

namespace ringway::net {
namespace {

TEST(HttpWriterTest, ChunkFraming) {
  std::string out;
  write_chunk_header(out, 255);
  out += "...";
  write_chunk_end(out);
  write_chunk_header(out, 1);
  out += "x";
  write_chunk_end(out);
  write_last_chunk(out);
  EXPECT_EQ(out, "ff\r\n...\r\n1\r\nx\r\n0\r\n\r\n");
  out.clear();
  std::vector<HeaderField> trailers = {{"X-Checksum", "abc"}, {"Expires", "0"}};
  write_last_chunk(out, trailers);
  EXPECT_EQ(out, "0\r\nX-Checksum: abc\r\nExpires: 0\r\n\r\n");
}

TEST(HttpWriterTest, AppendDecimal) {
  for (uint64_t n : {0ull, 7ull, 10ull, 99ull, 100ull, 101ull, 4096ull, 65535ull, 1000000ull}) {
    std::string out;
    append_decimal(out, n);
    EXPECT_EQ(out, std::to_string(n));
  }
  std::string out = "n=";
  append_decimal(out, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(out, "n=18446744073709551615");
}

TEST(HttpWriterTest, AppendHex) {
  std::string out;
  append_hex(out, 0);
  out += ' ';
  append_hex(out, 0xabc);
  out += ' ';
  append_hex(out, 16);
  out += ' ';
  append_hex(out, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(out, "0 abc 10 ffffffffffffffff");
}

TEST(HttpWriterTest, ReasonPhrases) {
  EXPECT_EQ(reason_phrase(100), "Continue");
  EXPECT_EQ(reason_phrase(101), "Switching Protocols");
  EXPECT_EQ(reason_phrase(204), "No Content");
  EXPECT_EQ(reason_phrase(304), "Not Modified");
  EXPECT_EQ(reason_phrase(400), "Bad Request");
  EXPECT_EQ(reason_phrase(408), "Request Timeout");
  EXPECT_EQ(reason_phrase(413), "Content Too Large");  // RFC 9110 name
  EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reason_phrase(502), "Bad Gateway");
  EXPECT_EQ(reason_phrase(504), "Gateway Timeout");
  EXPECT_EQ(reason_phrase(505), "HTTP Version Not Supported");
  EXPECT_EQ(reason_phrase(299), "");
  EXPECT_EQ(reason_phrase(-1), "");
}

TEST(HttpWriterTest, Iequals) {
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_TRUE(iequals("HOST", "host"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("Host", "Hosts"));
  EXPECT_FALSE(iequals("Host", "Hist"));
  EXPECT_FALSE(iequals("@", "`"));  // 0x40 vs 0x60: only letters fold
  EXPECT_FALSE(iequals("[", "{"));
}

TEST(HttpWriterTest, HopByHop) {
  for (const char* name :
       {"Connection", "keep-alive", "Proxy-Connection", "TE", "transfer-encoding", "UPGRADE",
        "Trailer", "Proxy-Authenticate", "Proxy-Authorization"}) {
    EXPECT_TRUE(is_hop_by_hop(name)) << name;
  }
  for (const char* name : {"Content-Length", "Host", "Trailers", "Upgrade-Insecure-Requests",
                           "Keep-Alive2", "T", "Authorization", ""}) {
    EXPECT_FALSE(is_hop_by_hop(name)) << name;
  }
}

TEST(HttpWriterTest, HeaderListContains) {
  EXPECT_TRUE(header_list_contains("close", "close"));
  EXPECT_TRUE(header_list_contains("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(header_list_contains(" ,\t upgrade\t, ", "Upgrade"));
  EXPECT_FALSE(header_list_contains("upgrade2, closed", "upgrade"));
  EXPECT_FALSE(header_list_contains("", "close"));
  EXPECT_FALSE(header_list_contains("a b, c", "b"));
}

TEST(HttpWriterTest, ForEachToken) {
  std::vector<std::string> seen;
  for_each_token(" gzip ,, chunked\t,", [&](std::string_view t) { seen.emplace_back(t); });
  EXPECT_EQ(seen, (std::vector<std::string>{"gzip", "chunked"}));
  seen.clear();
  for_each_token("a, b, c", [&](std::string_view t) {
    seen.emplace_back(t);
    return t != "b";  // returning false stops the walk
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b"}));
  seen.clear();
  for_each_token(" , ,", [&](std::string_view t) { seen.emplace_back(t); });
  EXPECT_TRUE(seen.empty());
}

TEST(HttpWriterTest, TrimOws) {
  EXPECT_EQ(trim_ows(" \t a b \t"), "a b");
  EXPECT_EQ(trim_ows("   "), "");
  EXPECT_EQ(trim_ows("x"), "x");
}

TEST(HttpWriterTest, WrittenMessagesRoundTripThroughTheParser) {
  std::string out;
  HeadWriter head(out);
  head.status_line(201);
  head.header("Location", "/items/7");
  head.header("Transfer-Encoding", "chunked");
  head.end_head();
  write_chunk_header(out, 5);
  out += "hello";
  write_chunk_end(out);
  std::vector<HeaderField> trailers = {{"X-Done", "yes"}};
  write_last_chunk(out, trailers);

  HttpParser p(HttpParser::Mode::kResponse, {});
  HttpParser::Step s = p.parse(out.data(), out.size());
  ASSERT_EQ(s.event, HttpParser::Event::kHead);
  EXPECT_EQ(p.head().status, 201);
  EXPECT_EQ(p.head().reason, "Created");
  EXPECT_EQ(p.head().find("location")->value, "/items/7");
  size_t pos = s.consumed;
  s = p.parse(out.data() + pos, out.size() - pos);
  ASSERT_EQ(s.event, HttpParser::Event::kBody);
  EXPECT_EQ(s.body, "hello");
  pos += s.consumed;
  s = p.parse(out.data() + pos, out.size() - pos);
  ASSERT_EQ(s.event, HttpParser::Event::kMessageEnd);
  EXPECT_EQ(pos + s.consumed, out.size());
  ASSERT_EQ(p.trailers().size(), 1u);
  EXPECT_EQ(p.trailers()[0].name, "X-Done");
  EXPECT_EQ(p.trailers()[0].value, "yes");
}

}  // namespace
}  // namespace ringway::net
