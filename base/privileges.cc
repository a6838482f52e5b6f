// Privilege drop and config-file permission check (see privileges.h).
#include "base/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace ringway::base {

bool drop_privileges(const std::string& user, std::string* error) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  const int rc = getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0 || found == nullptr) {
    *error = "user '" + user + "': " + (rc != 0 ? std::strerror(rc) : "no such user");
    return false;
  }
  if (getuid() == pw.pw_uid && geteuid() == pw.pw_uid) return true;
  // Supplementary groups first (initgroups needs CAP_SETGID), then gid, then uid.
  if (initgroups(pw.pw_name, pw.pw_gid) != 0 || setgid(pw.pw_gid) != 0 || setuid(pw.pw_uid) != 0) {
    *error = "cannot switch to user '" + user + "': " + std::strerror(errno);
    return false;
  }
  if (setuid(0) == 0 && pw.pw_uid != 0) {  // root must be gone for good
    *error = "privileges for user '" + user + "' could be regained";
    return false;
  }
  return true;
}

std::string config_permission_warning(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "";
  if ((st.st_mode & S_IWOTH) == 0) return "";
  return "config file " + path + " is world-writable: any local user can change what the next "
         "reload (SIGHUP) applies; chmod o-w it";
}

}  // namespace ringway::base
