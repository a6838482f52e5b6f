// Tests for base/privileges: unknown users are refused with a message, the current user is a
// no-op, and a world-writable config file is reported.
#include "base/privileges.h"

#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace ringway::base {
namespace {

TEST(Privileges, UnknownUserIsAnError) {
  std::string error;
  EXPECT_FALSE(drop_privileges("no-such-user-ringway-test", &error));
  EXPECT_EQ(error, "user 'no-such-user-ringway-test': no such user");
}

TEST(Privileges, CurrentUserIsANoOp) {
  passwd* me = getpwuid(getuid());
  ASSERT_NE(me, nullptr);
  std::string error;
  EXPECT_TRUE(drop_privileges(me->pw_name, &error)) << error;
  EXPECT_EQ(getuid(), me->pw_uid);
}

TEST(Privileges, WorldWritableConfigIsWarnedAbout) {
  char path[] = "/tmp/ringway-perm-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  ASSERT_EQ(chmod(path, 0644), 0);
  EXPECT_EQ(config_permission_warning(path), "");
  ASSERT_EQ(chmod(path, 0666), 0);
  EXPECT_NE(config_permission_warning(path).find("world-writable"), std::string::npos);
  std::remove(path);
}

}  // namespace
}  // namespace ringway::base
