// Internal: factories of the two loop backends, used only by Loop::create().
// Each returns nullptr with *error when its backend cannot start here.
#pragma once

#include <memory>
#include <string>

#include "net/loop.h"

namespace ringway::net {

// Returns: nullptr with *error set (e.g. "EPERM from io_uring_setup (seccomp?)") when the
// kernel refuses io_uring or lacks an operation the backend needs.
// Each backend file ends with the same few lines of factory (construct, init, return): kept
// there rather than shared so that a backend stays one self-contained file, as in Redis's ae.
std::unique_ptr<Loop> make_uring_loop(const LoopOptions& options, std::string* error);
std::unique_ptr<Loop> make_epoll_loop(const LoopOptions& options, std::string* error);

}  // namespace ringway::net
