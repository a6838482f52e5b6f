// Shared by runtime tests: every test that touches a loop runs on both backends.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "net/loop.h"

namespace ringway::net {

inline std::string backend_test_name(const ::testing::TestParamInfo<IoMode>& p) {
  return p.param == IoMode::kIoUring ? "IoUring" : "Epoll";
}

#define RINGWAY_INSTANTIATE_FOR_BACKENDS(Suite)                                            \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite,                                                \
                           ::testing::Values(::ringway::net::IoMode::kIoUring,             \
                                             ::ringway::net::IoMode::kEpoll),              \
                           ::ringway::net::backend_test_name)

}  // namespace ringway::net
