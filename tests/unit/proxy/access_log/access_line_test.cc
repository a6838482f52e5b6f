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
  e.duration_s = 0.0012345;
  e.upstream_duration_s = 0.001;
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
      "\"bytes_out\":300,\"duration\":0.001234,\"upstream_duration\":0.001000,"
      "\"queue_wait\":0.000000,\"attempts\":1,\"flags\":\"\"}\n");
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j.size(), 16u);
}

TEST(AccessLine, TimeCacheFollowsTheSecondAndMilliseconds) {
  TimeFormatter t;
  std::string a, b, c;
  t.append(a, 1796587586005);
  t.append(b, 1796587586999);
  t.append(c, 1796587587000);
  EXPECT_EQ(a, "2026-12-06T20:06:26.005Z");
  EXPECT_EQ(b, "2026-12-06T20:06:26.999Z");
  EXPECT_EQ(c, "2026-12-06T20:06:27.000Z");
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

TEST(ResponseFlags, CodesJoinedInBitOrder) {
  std::string s;
  append_response_flags(s, 0);
  EXPECT_EQ(s, "");
  append_response_flags(s, kFlagUpstreamTimeout | kFlagUpstreamConnectFailure);
  EXPECT_EQ(s, "UF,UT");
  s.clear();
  append_response_flags(
      s, kFlagNoRoute | kFlagNoHealthyUpstream | kFlagUpstreamReset | kFlagUpstreamClosed |
             kFlagUpstreamProtocolError | kFlagUpstreamOverflow | kFlagDownstreamProtocolError |
             kFlagDownstreamHeaderTimeout | kFlagDownstreamClosed | kFlagShutdownCut);
  EXPECT_EQ(s, "NR,UH,UR,UC,UPE,UO,DPE,DT,DC,SD");
}

}  // namespace
}  // namespace ringway::proxy
