// Tests for proxy/access_log/access_line.* and response_flags.*: every field present with its
// type, RFC 3339 times, and valid JSON whatever bytes the request carried.
#include "proxy/access_log/access_line.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "proxy/access_log/response_flags.h"

namespace ringway::proxy {
namespace {

AccessEntry sample() {
  AccessEntry e;
  e.start_unix_ms = 1796587586123;  // 2026-12-06T20:06:26.123Z
  e.request_id = "abc";
  e.client_ip = "127.0.0.1";
  e.client_port = 40000;
  e.method = "GET";
  e.path = "/service1/ping?x=1";
  e.route = "/service1/";
  e.upstream = "service1";
  e.server = "127.0.0.1:8001";
  e.status = 200;
  e.bytes_in = 40;
  e.bytes_out = 300;
  e.duration_ns = 1234567;
  e.upstream_duration_ns = 1000000;
  e.attempts = 1;
  return e;
}

TEST(AccessLine, AllFieldsInOrderAndOneLine) {
  std::string out;
  TimeFormatter t;
  append_access_line(out, sample(), t);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1);
  EXPECT_EQ(
      out,
      "{\"time\":\"2026-12-06T20:06:26.123Z\",\"request_id\":\"abc\",\"client\":\"127.0.0.1:"
      "40000\","
      "\"method\":\"GET\",\"path\":\"/service1/ping?x=1\",\"route\":\"/service1/\","
      "\"upstream\":\"service1\",\"server\":\"127.0.0.1:8001\",\"status\":200,\"bytes_in\":40,"
      "\"bytes_out\":300,\"duration\":0.001235,\"upstream_duration\":0.001000,"
      "\"queue_wait\":0.000000,\"attempts\":1,\"flags\":\"\"}\n");
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j.size(), 16u);
}

std::string time_of(TimeFormatter& t, int64_t unix_ms) {
  char buf[TimeFormatter::kBytes];
  return std::string(buf, t.write(buf, unix_ms));
}

TEST(AccessLine, TimeCacheFollowsTheSecondAndMilliseconds) {
  TimeFormatter t;
  EXPECT_EQ(time_of(t, 1796587586005), "2026-12-06T20:06:26.005Z");
  EXPECT_EQ(time_of(t, 1796587586999), "2026-12-06T20:06:26.999Z");
  EXPECT_EQ(time_of(t, 1796587587000), "2026-12-06T20:06:27.000Z");
  EXPECT_EQ(time_of(t, 0), "1970-01-01T00:00:00.000Z");
}

TEST(AccessLine, SecondsRoundToTheNearestMicrosecond) {
  TimeFormatter t;
  auto field = [&](int64_t ns) {
    AccessEntry e = sample();
    e.duration_ns = ns;
    std::string out;
    append_access_line(out, e, t);
    const size_t at = out.find("\"duration\":") + 11;
    return out.substr(at, out.find(',', at) - at);
  };
  EXPECT_EQ(field(0), "0.000000");
  EXPECT_EQ(field(499), "0.000000");
  EXPECT_EQ(field(500), "0.000001");
  EXPECT_EQ(field(1999999500), "2.000000");
  EXPECT_EQ(field(86400123456789), "86400.123457");
  EXPECT_EQ(field(-5), "0.000000") << "a clock step never prints a negative duration";
}

TEST(AccessLine, LinesLongerThanTheStackBufferAreWhole) {
  // A target near the head limit, all bytes escaping to six: built in the string's tail.
  AccessEntry e = sample();
  const std::string path(8000, '\x01');
  e.path = path;
  std::string out = "previous line\n";
  TimeFormatter t;
  append_access_line(out, e, t);
  ASSERT_EQ(out.rfind("previous line\n", 0), 0u);
  const std::string line = out.substr(14);
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(line));
  EXPECT_EQ(j["path"], path);
  EXPECT_EQ(j["attempts"], 1);
}

TEST(AccessLine, Ipv6ClientInBrackets) {
  AccessEntry e = sample();
  e.client_ip = "::1";
  std::string out;
  TimeFormatter t;
  append_access_line(out, e, t);
  EXPECT_EQ(nlohmann::json::parse(out)["client"], "[::1]:40000");
}

TEST(AccessLine, HostileBytesStayValidJson) {
  std::string path = "/a\"b\\c\x01\x1f\x7f\r\n";
  for (int c = 0x80; c < 0x100; ++c) path += static_cast<char>(c);
  path += "\xe2\x82\xac";  // valid UTF-8 passes through
  AccessEntry e = sample();
  e.path = path;
  e.request_id = "\"}{\"x\":";
  std::string out;
  TimeFormatter t;
  append_access_line(out, e, t);
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "a raw newline would split the line";
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(out)) << out;
  EXPECT_EQ(j["request_id"], "\"}{\"x\":");
  const std::string got = j["path"];
  EXPECT_EQ(got.substr(0, 10), "/a\"b\\c\x01\x1f\x7f\r");
  EXPECT_EQ(got.substr(got.size() - 3), "\xe2\x82\xac");
}

std::string flags_of(uint32_t flags) {
  char buf[kResponseFlagsBound];
  return std::string(buf, write_response_flags(buf, flags));
}

TEST(ResponseFlags, CodesJoinedInBitOrder) {
  EXPECT_EQ(flags_of(0), "");
  EXPECT_EQ(flags_of(kFlagUpstreamTimeout | kFlagUpstreamConnectFailure), "UF,UT");
  const std::string s = flags_of(
      kFlagNoRoute | kFlagNoHealthyUpstream | kFlagUpstreamReset | kFlagUpstreamClosed |
             kFlagUpstreamProtocolError | kFlagUpstreamOverflow | kFlagDownstreamProtocolError |
             kFlagDownstreamHeaderTimeout | kFlagDownstreamClosed | kFlagShutdownCut |
             kFlagDownstreamStalled);
  EXPECT_EQ(s, "NR,UH,UR,UC,UPE,UO,DPE,DT,DC,SD,DS");
  // Every known bit at once fits kResponseFlagsBound; unknown bits are ignored.
  EXPECT_EQ(flags_of(0xffffffff), "NR,UH,UF,UT,UR,UC,UPE,UO,DPE,DT,DC,SD,DS");
}

}  // namespace
}  // namespace ringway::proxy
