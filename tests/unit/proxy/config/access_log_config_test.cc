// Tests for proxy/config/parse_access_log.cc: defaults, sizes with units, and the
// FILE:LINE:COL messages for each kind of mistake.
#include <gtest/gtest.h>

#include "proxy/config/config.h"

namespace ringway::proxy {
namespace {

std::vector<std::string> errors_of(std::string_view yaml) {
  std::vector<ConfigError> errors;
  EXPECT_EQ(parse_config(yaml, "t.yaml", &errors), nullptr);
  std::vector<std::string> text;
  for (const ConfigError& e : errors) text.push_back(e.to_string());
  return text;
}

std::shared_ptr<const Config> parse_ok(std::string_view yaml) {
  std::vector<ConfigError> errors;
  auto c = parse_config(yaml, "t.yaml", &errors);
  for (const ConfigError& e : errors) ADD_FAILURE() << e.to_string();
  return c;
}

TEST(AccessLogConfig, AbsentIsOff) {
  auto c = parse_ok("workers: 1\n");
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->access_log.enabled);
}

TEST(AccessLogConfig, ContractExample) {
  auto c =
      parse_ok("access_log: { path: /var/log/ringway/access.log, buffer: 64KiB, flush: 1s }\n");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->access_log.enabled);
  EXPECT_EQ(c->access_log.path, "/var/log/ringway/access.log");
  EXPECT_EQ(c->access_log.buffer_bytes, 65536u);
  EXPECT_EQ(c->access_log.flush, 1000);
}

TEST(AccessLogConfig, StdoutAndDefaults) {
  auto c = parse_ok("access_log: {path: stdout}\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->access_log.path, "stdout");
  EXPECT_EQ(c->access_log.buffer_bytes, 65536u);
  EXPECT_EQ(c->access_log.flush, 1000);
  auto d = parse_ok("access_log: {path: ./a.log, buffer: 1MiB, flush: 250ms}\n");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->access_log.buffer_bytes, 1048576u);
  EXPECT_EQ(d->access_log.flush, 250);
  auto e = parse_ok("access_log: {path: /x, buffer: 8192}\n");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->access_log.buffer_bytes, 8192u);
}

TEST(AccessLogConfig, EveryMistakeHasItsPosition) {
  EXPECT_EQ(errors_of("access_log: {buffer: 64KiB}\n"),
            (std::vector<std::string>{"t.yaml:1:13: access_log: path is required (a file path, or "
                                      "stdout); remove access_log to turn it off"}));
  EXPECT_EQ(
      errors_of("access_log:\n  path: stdot\n"),
      (std::vector<std::string>{"t.yaml:2:9: access_log.path: 'stdot' is neither stdout nor "
                                "a path (write ./stdot for a file in the working directory)"}));
  EXPECT_EQ(errors_of("access_log:\n  path: /x\n  buffer: 64KB\n"),
            (std::vector<std::string>{"t.yaml:3:11: access_log.buffer: invalid size '64KB': "
                                      "unknown unit 'KB' (use B, KiB or MiB)"}));
  EXPECT_EQ(
      errors_of("access_log:\n  path: /x\n  buffer: 1KiB\n"),
      (std::vector<std::string>{"t.yaml:3:11: access_log.buffer: must be between 4KiB and 16MiB"}));
  // 2^44 + 1 MiB would wrap to exactly 1 MiB if shifted blindly.
  EXPECT_EQ(errors_of("access_log:\n  path: /x\n  buffer: 17592186044417MiB\n"),
            (std::vector<std::string>{
                "t.yaml:3:11: access_log.buffer: invalid size '17592186044417MiB': too large"}));
  EXPECT_EQ(errors_of("access_log:\n  path: /x\n  flush: 0s\n"),
            (std::vector<std::string>{"t.yaml:3:10: access_log.flush: must be at least 10ms"}));
  EXPECT_EQ(errors_of("access_log:\n  path: /x\n  flsh: 1s\n"),
            (std::vector<std::string>{
                "t.yaml:3:3: unknown key 'flsh' in access_log (did you mean 'flush'?)"}));
  EXPECT_EQ(errors_of("access_log: stdout\n").size(), 2u);  // not a mapping, and no path
}

}  // namespace
}  // namespace ringway::proxy
