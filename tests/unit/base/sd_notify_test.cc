// sd_notify: the datagram reaches $NOTIFY_SOCKET (path and abstract names); no socket, no send.
#include "base/sd_notify.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace ringway::base {
namespace {

class SdNotifyTest : public ::testing::Test {
 protected:
  void TearDown() override {
    unsetenv("NOTIFY_SOCKET");
    if (fd_ >= 0) close(fd_);
    if (!path_.empty()) unlink(path_.c_str());
  }
  // Binds a datagram socket at `name` ('@' prefix = abstract) and points NOTIFY_SOCKET at it.
  void listen_at(const std::string& name) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    memcpy(a.sun_path, name.data(), name.size());
    if (name[0] == '@') a.sun_path[0] = '\0';
    else path_ = name;
    ASSERT_EQ(0, bind(fd_, reinterpret_cast<sockaddr*>(&a),
                      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size())));
    timeval tv{2, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setenv("NOTIFY_SOCKET", name.c_str(), 1);
  }
  std::string receive() {
    char buf[256];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }
  int fd_ = -1;
  std::string path_;
};

TEST_F(SdNotifyTest, SendsStateToAPathSocket) {
  listen_at("/tmp/ringway-sd-notify-" + std::to_string(getpid()));
  EXPECT_TRUE(sd_notify("READY=1"));
  EXPECT_EQ("READY=1", receive());
}

TEST_F(SdNotifyTest, SendsToAnAbstractSocketAndReloadingCarriesTheClock) {
  listen_at("@ringway-sd-notify-" + std::to_string(getpid()));
  EXPECT_TRUE(sd_notify_reloading());
  std::string got = receive();
  EXPECT_EQ(0u, got.rfind("RELOADING=1\nMONOTONIC_USEC=", 0)) << got;
  EXPECT_GT(got.size(), std::string("RELOADING=1\nMONOTONIC_USEC=").size());
}

TEST_F(SdNotifyTest, WithoutNotifySocketNothingIsSent) {
  unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(sd_notify("READY=1"));
}

}  // namespace
}  // namespace ringway::base
