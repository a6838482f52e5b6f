// `user:` end to end: started as root, ringway binds its listeners, then runs as the named
// user (every uid and gid of the process), and still proxies. Skipped when not root.
#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/e2e/proxy_fixture.h"

namespace ringway::e2e {
namespace {

class ProxyPrivileges : public ProxyE2E {};

// The "Uid:" or "Gid:" line of /proc/PID/status: real, effective, saved and filesystem ids.
std::string ids_line(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return line;
  }
  return "";
}

TEST_P(ProxyPrivileges, DropsToTheConfiguredUserAfterBindingAndKeepsServing) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to drop privileges";
  const passwd* nobody = getpwnam("nobody");
  if (nobody == nullptr) GTEST_SKIP() << "no user 'nobody' on this machine";
  std::string s1;
  ASSERT_NO_FATAL_FAILURE(start_service("service1", &s1));
  ProxyConfig c;
  c.upstreams = {UpstreamSpec{"service1", {s1}}};
  c.routes = {RouteSpec{"/service1/", "service1"}};
  c.top_level = "user: nobody";
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));

  const pid_t pid = proxy_.process().pid();
  const std::string uid = std::to_string(nobody->pw_uid), gid = std::to_string(nobody->pw_gid);
  // The drop follows the listeners' start (which start_proxy waited for) by a moment.
  for (int i = 0; i < 500 && proxy_.log().find("running as user nobody") == std::string::npos; ++i) {
    usleep(10000);
  }
  ASSERT_NE(proxy_.log().find("running as user nobody"), std::string::npos) << proxy_.log();
  EXPECT_EQ(ids_line(pid, "Uid"), "Uid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid);
  EXPECT_EQ(ids_line(pid, "Gid"), "Gid:\t" + gid + "\t" + gid + "\t" + gid + "\t" + gid);
  // Every thread (workers, admin, health checker) dropped too, not only the main one.
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::ifstream st(entry.path() / "status");
    std::string line;
    while (std::getline(st, line)) {
      if (line.rfind("Uid:", 0) == 0) {
        EXPECT_EQ(line, "Uid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid) << entry.path();
      }
    }
  }
  net::FetchResult r = http_get(proxy_.port(), "/service1/ping");
  EXPECT_EQ(r.status, 200) << r.error << r.body;
}

RINGWAY_PROXY_BACKENDS(ProxyPrivileges);

}  // namespace
}  // namespace ringway::e2e
