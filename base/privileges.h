// Process security at start-up: dropping root after the listeners are bound, and checking that
// the config file is not writable by everyone.
#pragma once

#include <string>

namespace ringway::base {

// Switches the whole process (all threads) to `user`: its primary group, its supplementary
// groups, then its uid, in that order (the uid must go last or the others are not allowed).
// Returns: false with *error when the user is unknown or a step fails; true (and nothing done)
// when already running as that user.
bool drop_privileges(const std::string& user, std::string* error);

// Returns: a warning to log when `path` is writable by every local user (anyone could change
// what the next SIGHUP loads), else "".
std::string config_permission_warning(const std::string& path);

}  // namespace ringway::base
