// Tests for net/address.*: host:port parsing and its error messages, IP literals,
// sockaddr conversion and resolution (literals and /etc/hosts only: no network needed).
#include "net/address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <algorithm>

namespace ringway::net {
namespace {

HostPort parse_ok(std::string_view text) {
  HostPort hp;
  std::string error;
  EXPECT_TRUE(parse_host_port(text, &hp, &error)) << text << ": " << error;
  return hp;
}

std::string parse_error(std::string_view text, PortZero zero = PortZero::kReject) {
  HostPort hp{"untouched", 1};
  std::string error;
  EXPECT_FALSE(parse_host_port(text, &hp, &error, zero)) << text;
  EXPECT_EQ(hp, (HostPort{"untouched", 1})) << "output changed on failure for " << text;
  return error;
}

TEST(ParseHostPort, AcceptsNamesAndLiterals) {
  EXPECT_EQ(parse_ok("localhost:8001"), (HostPort{"localhost", 8001}));
  EXPECT_EQ(parse_ok("1.2.3.4:80"), (HostPort{"1.2.3.4", 80}));
  EXPECT_EQ(parse_ok("[::1]:8080"), (HostPort{"::1", 8080}));
  EXPECT_EQ(parse_ok("[2001:db8::2]:65535"), (HostPort{"2001:db8::2", 65535}));
  EXPECT_EQ(parse_ok("service_1.internal-net.example.:1"),
            (HostPort{"service_1.internal-net.example.", 1}));
  EXPECT_EQ(parse_ok("0.0.0.0:8080"), (HostPort{"0.0.0.0", 8080}));
}

TEST(ParseHostPort, RejectsWithClearMessages) {
  EXPECT_EQ(parse_error(""), "empty address");
  EXPECT_EQ(parse_error("localhost"), "missing port");
  EXPECT_EQ(parse_error("localhost:"), "missing port");
  EXPECT_EQ(parse_error(":8080"), "missing host");
  EXPECT_EQ(parse_error("host:http"), "invalid port 'http'");
  EXPECT_EQ(parse_error("host:-1"), "invalid port '-1'");
  EXPECT_EQ(parse_error("host:+80"), "invalid port '+80'");
  EXPECT_EQ(parse_error("host:65536"), "port out of range (1-65535)");
  EXPECT_EQ(parse_error("host:99999999999999999999"), "port out of range (1-65535)");
  EXPECT_EQ(parse_error("host:0"), "port out of range (1-65535)");
  EXPECT_EQ(parse_error("host:65536", PortZero::kAllow), "port out of range (0-65535)");
  EXPECT_EQ(parse_error("::1:80"), "IPv6 address must be in brackets, e.g. [::1]:8080");
  EXPECT_EQ(parse_error("[::1"), "missing ']' after IPv6 address");
  EXPECT_EQ(parse_error("[::1]"), "missing port");
  EXPECT_EQ(parse_error("[::1]80"), "expected ':' after ']'");
  EXPECT_EQ(parse_error("[nope]:80"), "invalid IPv6 address 'nope'");
  EXPECT_EQ(parse_error("[1.2.3.4]:80"), "invalid IPv6 address '1.2.3.4'");
  EXPECT_EQ(parse_error("bad host:80"), "invalid character in host 'bad host'");
  EXPECT_EQ(parse_error("http://x:80"), "expected host:port, not a URL (drop the scheme)");
  EXPECT_EQ(parse_error("x/y:80"), "invalid character in host 'x/y'");
  EXPECT_EQ(parse_error("-x:80"), "invalid host '-x'");
  EXPECT_EQ(parse_error("1.2.3.256:80"), "invalid IPv4 address '1.2.3.256'");
  EXPECT_EQ(parse_error("10.1:80"), "invalid IPv4 address '10.1'");
  EXPECT_EQ(parse_error(std::string(254, 'a') + ":80"), "host name too long");
}

TEST(ParseHostPort, PortZeroOnlyWhenAllowed) {
  HostPort hp;
  std::string error;
  ASSERT_TRUE(parse_host_port("127.0.0.1:0", &hp, &error, PortZero::kAllow)) << error;
  EXPECT_EQ(hp, (HostPort{"127.0.0.1", 0}));
}

TEST(HostPort, ToStringBracketsIpv6) {
  EXPECT_EQ((HostPort{"::1", 80}).to_string(), "[::1]:80");
  EXPECT_EQ((HostPort{"127.0.0.1", 8001}).to_string(), "127.0.0.1:8001");
  EXPECT_EQ((HostPort{"localhost", 8001}).to_string(), "localhost:8001");
  EXPECT_EQ(parse_ok(parse_ok("[fe80::1]:9").to_string()), (HostPort{"fe80::1", 9}));
}

TEST(IpLiteral, Classifies) {
  EXPECT_TRUE(is_ip_literal("127.0.0.1"));
  EXPECT_TRUE(is_ip_literal("::1"));
  EXPECT_TRUE(is_ip_literal("[::1]"));
  EXPECT_FALSE(is_ip_literal("localhost"));
  EXPECT_FALSE(is_ip_literal("10.1"));
  EXPECT_FALSE(is_ip_literal(""));
  EXPECT_TRUE(is_wildcard_host("0.0.0.0"));
  EXPECT_TRUE(is_wildcard_host("::"));
  EXPECT_FALSE(is_wildcard_host("127.0.0.1"));
  EXPECT_FALSE(is_wildcard_host("localhost"));
}

TEST(ToSockaddr, Ipv4AndIpv6) {
  ResolvedAddress ra;
  ASSERT_TRUE(to_sockaddr(HostPort{"127.0.0.1", 8001}, &ra));
  EXPECT_EQ(ra.family(), AF_INET);
  EXPECT_EQ(ra.len, sizeof(sockaddr_in));
  const auto* in = reinterpret_cast<const sockaddr_in*>(&ra.addr);
  EXPECT_EQ(ntohs(in->sin_port), 8001);
  EXPECT_EQ(ntohl(in->sin_addr.s_addr), 0x7f000001u);
  EXPECT_EQ(ra.to_string(), "127.0.0.1:8001");

  ASSERT_TRUE(to_sockaddr(HostPort{"::1", 443}, &ra));
  EXPECT_EQ(ra.family(), AF_INET6);
  EXPECT_EQ(ra.len, sizeof(sockaddr_in6));
  EXPECT_EQ(ra.to_string(), "[::1]:443");

  EXPECT_FALSE(to_sockaddr(HostPort{"localhost", 80}, &ra));
}

TEST(ResolvedAddress, EqualityAndOrder) {
  ResolvedAddress a, b, c;
  ASSERT_TRUE(to_sockaddr(HostPort{"10.0.0.2", 80}, &a));
  ASSERT_TRUE(to_sockaddr(HostPort{"10.0.0.10", 80}, &b));
  ASSERT_TRUE(to_sockaddr(HostPort{"::1", 80}, &c));
  EXPECT_TRUE(a < b);  // by address bytes, not text
  EXPECT_TRUE(b < c);  // IPv4 before IPv6
  EXPECT_FALSE(a == b);
  ResolvedAddress a2;
  ASSERT_TRUE(to_sockaddr(HostPort{"10.0.0.2", 80}, &a2));
  EXPECT_TRUE(a == a2);
  ASSERT_TRUE(to_sockaddr(HostPort{"10.0.0.2", 81}, &a2));
  EXPECT_FALSE(a == a2);
}

TEST(Resolve, LiteralSkipsDns) {
  std::vector<ResolvedAddress> out;
  std::string error;
  ASSERT_TRUE(resolve(HostPort{"127.0.0.1", 8001}, &out, &error)) << error;
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to_string(), "127.0.0.1:8001");
}

TEST(Resolve, LocalhostIsDeduplicatedAndSorted) {
  std::vector<ResolvedAddress> out;
  std::string error;
  ASSERT_TRUE(resolve(HostPort{"localhost", 8001}, &out, &error)) << error;
  ASSERT_FALSE(out.empty());
  std::vector<std::string> text;
  for (const ResolvedAddress& ra : out) text.push_back(ra.to_string());
  EXPECT_NE(std::find(text.begin(), text.end(), "127.0.0.1:8001"), text.end());
  EXPECT_TRUE(std::is_sorted(out.begin(), out.end()));
  EXPECT_EQ(std::adjacent_find(out.begin(), out.end()), out.end()) << "duplicates";
  // Called twice, the answer is identical (stable order for change detection).
  std::vector<ResolvedAddress> again;
  ASSERT_TRUE(resolve(HostPort{"localhost", 8001}, &again, &error)) << error;
  EXPECT_EQ(out, again);
}

}  // namespace
}  // namespace ringway::net
