// End-to-end test support: run a real binary as a child process, watch its stderr, signal it
// and collect its exit status. Every wait is bounded; the child is killed when the object dies.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/clock.h"

namespace ringway::e2e {

using base::Millis;

// Returns: the path of a binary built by this project (RINGWAY_BIN_DIR/name), e.g.
// bin_path("service1"). The directory is the CMake runtime output dir of the build under test.
std::string bin_path(std::string_view name);

// Returns: true if `path` exists and is executable (use to GTEST_SKIP on optional tools).
bool is_executable(const std::string& path);

struct SpawnOptions {
  using Env = std::vector<std::pair<std::string, std::string>>;
  std::vector<std::string> args;  // argv[1..]; argv[0] is the binary path
  // Added to (or overriding) the test's own environment, e.g. {"RINGWAY_IO_URING_FAIL", "EPERM"}.
  Env env;
  // Written to the child's stdin, which is then closed. Without it stdin is /dev/null.
  std::optional<std::string> stdin_data;
  std::string working_dir;  // empty: inherit
};

// A stderr line that matched (wait_for_log, wait_for_text, wait_for_listen_port).
struct LogMatch {
  std::string line;                 // the whole line, without '\n'
  std::vector<std::string> groups;  // regex: [0] = matched text, then capture groups
  size_t end = 0;                   // byte offset in log() just past this line: pass as `from`
                                    // to look for a later line
};

// A child process whose stdout and stderr are captured by a reader thread.
//
//   ChildProcess svc;
//   ASSERT_TRUE(svc.start(bin_path("service1"), {.args = {"--listen", "127.0.0.1:0"}}))
//       << svc.error();
//   int port = svc.wait_for_listen_port(5000);  // "... listening on 127.0.0.1:PORT ..."
//   ASSERT_GT(port, 0) << svc.log();
//   ...
//   svc.signal(SIGTERM);
//   EXPECT_EQ(svc.wait_exit(5000), 0) << svc.log();
//
// For the proxy: wait_for_listen_port(t, "", " (proxy)") and wait_for_listen_port(t, "admin ").
//
// Threading: public methods may be called from the test thread while the reader thread appends
// output. Spawn from a thread that outlives the child (the test's main thread): the child gets
// PR_SET_PDEATHSIG(SIGKILL) so a crashed test run leaves no stray servers, and Linux delivers it
// when the spawning *thread* exits.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();  // SIGKILL if still running, reap, join the reader
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts `path` (no PATH search). Returns: false with error() set if the process could not
  // be created or exec failed (e.g. "start /x/service1: No such file or directory").
  // REQUIRES: not started before.
  bool start(const std::string& path, SpawnOptions options = {});

  // Waits until a complete stderr line at or after byte offset `from` matches `pattern`
  // (std::regex_search). Returns: the first such line, or nullopt if `timeout` passes or the
  // child's stderr closes (it exited) without one.
  std::optional<LogMatch> wait_for_log(const std::regex& pattern, base::Millis timeout, size_t from = 0);
  // Same for a plain substring.
  std::optional<LogMatch> wait_for_text(std::string_view substring, base::Millis timeout,
                                        size_t from = 0);
  // Waits for a line containing "<prefix>listening on HOST:PORT<suffix>" (HOST may be "[v6]").
  // `prefix` and `suffix` are plain text. With both empty, the first "listening on" line of any
  // kind matches; a binary that logs several listeners needs them to tell which, e.g. the proxy:
  // suffix " (proxy)" for "listening on ADDR:PORT (proxy)", prefix "admin " for "admin listening
  // on ADDR:PORT". Returns: PORT, or 0 on timeout or exit.
  int wait_for_listen_port(base::Millis timeout, std::string_view prefix = "",
                           std::string_view suffix = "");

  // Sends `signo` to the child. Returns: false if it has already been reaped.
  bool signal(int signo);
  // Waits for the child to exit, then (up to 1 s more) for its output pipes to close so log()
  // holds everything it wrote. Returns: its exit code, 128+N if killed by signal N, or nullopt
  // if it is still running after `timeout`.
  std::optional<int> wait_exit(base::Millis timeout);
  // Sends SIGKILL and reaps. Safe to call any number of times.
  void kill();

  bool running();  // started and not yet reaped
  pid_t pid() const { return pid_; }
  // Resident set size from /proc/PID/status (VmRSS), 0 when not running.
  long rss_kib() const;
  const std::string& error() const { return error_; }
  std::string log() const;  // everything read from stderr so far
  std::string out() const;  // everything read from stdout so far
  size_t log_size() const;  // current length of log(): a `from` for later waits

 private:
  void read_loop(int out_fd, int err_fd);
  void finish_reader(base::Millis timeout);
  std::optional<LogMatch> wait_for_line(const std::function<bool(const std::string&, LogMatch*)>& f,
                                        base::Millis timeout, size_t from);

  pid_t pid_ = -1;
  bool reaped_ = false;
  int exit_code_ = -1;
  std::string error_;
  std::thread reader_;
  std::thread writer_;  // feeds stdin_data
  int stop_fd_ = -1;    // eventfd: wakes the reader to give up on pipes a grandchild still holds

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string err_buf_;  // guarded by mu_
  std::string out_buf_;  // guarded by mu_
  bool eof_ = false;     // guarded by mu_: both pipes closed
};

// Runs a short-lived command to completion. Returns: exit code (128+N on signal N), or nullopt
// if it could not start or did not finish within `timeout` (it is then killed). `output`
// receives stdout, `errors` stderr.
struct RunResult {
  std::optional<int> exit_code;
  std::string output;
  std::string errors;
};
RunResult run_command(const std::string& path, SpawnOptions options, base::Millis timeout);

}  // namespace ringway::e2e
