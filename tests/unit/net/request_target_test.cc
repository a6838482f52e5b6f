// Tests for net/request_target.*: splitting, dot-segment removal (RFC 3986 §5.2.4), what is
// rejected as 400, and the zero-copy fast path.
#include "net/request_target.h"

#include <gtest/gtest.h>

namespace ringway::net {
namespace {

struct Split {
  std::string path;
  std::string query;
};

Split normalize_ok(std::string_view target) {
  std::string scratch;
  std::string_view path, query;
  EXPECT_EQ(normalize_target(target, scratch, &path, &query), TargetStatus::kOk) << target;
  return {std::string(path), std::string(query)};
}

bool rejected(std::string_view target) {
  std::string scratch;
  std::string_view path, query;
  return normalize_target(target, scratch, &path, &query) == TargetStatus::kBadRequest;
}

TEST(NormalizeTarget, FastPathViewsTargetAndLeavesScratch) {
  const std::string target = "/service1/ping?x=1&y=%20";
  std::string scratch = "sentinel";
  std::string_view path, query;
  ASSERT_EQ(normalize_target(target, scratch, &path, &query), TargetStatus::kOk);
  EXPECT_EQ(path, "/service1/ping");
  EXPECT_EQ(query, "x=1&y=%20");
  EXPECT_EQ(path.data(), target.data());
  EXPECT_EQ(query.data(), target.data() + 15);
  EXPECT_EQ(scratch, "sentinel");
}

TEST(NormalizeTarget, SlowPathWritesScratchAndReusesIt) {
  std::string scratch;
  std::string_view path, query;
  ASSERT_EQ(normalize_target("/a/b/../c?q", scratch, &path, &query), TargetStatus::kOk);
  EXPECT_EQ(path, "/a/c");
  EXPECT_EQ(path.data(), scratch.data());
  EXPECT_EQ(query, "q");
  scratch.reserve(64);
  const char* buffer = scratch.data();
  ASSERT_EQ(normalize_target("/x/./y", scratch, &path, &query), TargetStatus::kOk);
  EXPECT_EQ(path, "/x/y");
  EXPECT_EQ(scratch.data(), buffer) << "scratch reallocated";
  EXPECT_TRUE(query.empty());
}

TEST(NormalizeTarget, RemovesDotSegments) {
  const std::pair<const char*, const char*> cases[] = {
      {"/", "/"},
      {"/a/b/c/./../../g", "/a/g"},       // RFC 3986 §5.2.4 example
      {"/mid/content=5/../6", "/mid/6"},  // RFC 3986 §5.2.4 example
      {"/a/.", "/a/"},
      {"/a/..", "/"},
      {"/a/b/..", "/a/"},
      {"/.", "/"},
      {"/..", "/"},
      {"/../../etc/passwd", "/etc/passwd"},
      {"/a/../../../b", "/b"},
      {"/service1/../service2/ping", "/service2/ping"},
      {"/a//..", "/a/"},
      {"/a/.../b", "/a/.../b"},  // three dots is a name
      {"/a/..b/.c", "/a/..b/.c"},
      {"/%2e%2e/x", "/x"},
      {"/a/%2E%2e/b", "/b"},
      {"/a/.%2e/b", "/b"},
      {"/a/%2e./b", "/b"},
      {"/a/%2e/b", "/a/b"},
      {"/a/%2e%2e%2e/b", "/a/%2e%2e%2e/b"},
      {"/a/%2f../b", "/a/%2f../b"},  // %2F is not a separator: one segment
      {"//double//slash/", "//double//slash/"},
      {"/A/B", "/A/B"},
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(normalize_ok(in).path, want) << in;
}

TEST(NormalizeTarget, QueryIsSplitOnFirstQuestionMark) {
  EXPECT_EQ(normalize_ok("/p?a=1?b=2").query, "a=1?b=2");
  EXPECT_EQ(normalize_ok("/p?a=/../x").path, "/p");
  EXPECT_EQ(normalize_ok("/p?a=/../x").query, "a=/../x");
  EXPECT_EQ(normalize_ok("/p?").query, "");
  EXPECT_EQ(normalize_ok("/../p?q").path, "/p");
}

TEST(NormalizeTarget, AbsoluteFormReducesToPath) {
  EXPECT_EQ(normalize_ok("http://example.com/a/b?x").path, "/a/b");
  EXPECT_EQ(normalize_ok("http://example.com/a/b?x").query, "x");
  EXPECT_EQ(normalize_ok("HTTP://example.com:8080/a/../b").path, "/b");
  EXPECT_EQ(normalize_ok("https://h").path, "/");
  EXPECT_EQ(normalize_ok("http://h?q=1").path, "/");
  EXPECT_EQ(normalize_ok("http://h?q=1").query, "q=1");
  EXPECT_EQ(normalize_ok("http://[::1]:80/x").path, "/x");
}

TEST(NormalizeTarget, RejectsUnsafeTargets) {
  const char* cases[] = {
      "",     "*",     "service1/ping", "ftp://h/x", "http://", "http:///x", "http:/x",
      "/a b", "/a\tb", "/a\r\nX: y",    "/a\x7f",    "/a#frag", "/a%00b",    "/a%",
      "/a%2", "/a%zz", "/a%g0",         "/a?x=%00",  "/a?x=%",  "/a?x y",    "http://h h/x",
  };
  for (const char* c : cases) EXPECT_TRUE(rejected(c)) << "accepted: " << c;
  EXPECT_TRUE(rejected(std::string_view("/a\0b", 4)));
}

}  // namespace
}  // namespace ringway::net
