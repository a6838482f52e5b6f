// ChildProcess: fork/exec with pipes for stdin/stdout/stderr, a poll() reader thread that
// appends output under a mutex, and bounded waits on log lines and on exit.
#include "tests/e2e/process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>

extern char** environ;

#ifndef RINGWAY_BIN_DIR
#error "RINGWAY_BIN_DIR must be defined by the build (tests/CMakeLists.txt)"
#endif

namespace ringway::e2e {
namespace {

std::chrono::steady_clock::time_point deadline_after(base::Millis ms) {
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Finds "<prefix>listening on HOST:PORT<suffix>" in a line. Hand-written rather than a
// std::regex: GCC 12's <regex> trips -Wmaybe-uninitialized under ASan at -O2 (-Werror builds).
// Returns: PORT, or 0 if the line has no such text.
int parse_listen_line(std::string_view line, std::string_view prefix, std::string_view suffix) {
  const std::string needle = std::string(prefix) + "listening on ";
  for (size_t at = line.find(needle); at != std::string_view::npos;
       at = line.find(needle, at + 1)) {
    const size_t start = at + needle.size();
    size_t end = start;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
    // HOST:PORT[trailing text]: the port is the digits after the last ':' of the token.
    const size_t colon = line.substr(start, end - start).rfind(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    size_t digits = start + colon + 1;
    int port = 0;
    while (digits < line.size() && line[digits] >= '0' && line[digits] <= '9' && port < 65536) {
      port = port * 10 + (line[digits++] - '0');
    }
    if (digits == start + colon + 1 || port <= 0 || port > 65535) continue;
    if (line.substr(digits, suffix.size()) != suffix) continue;
    return port;
  }
  return 0;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string bin_path(std::string_view name) {
  // A run-time override lets the same test binary exercise another build's binaries.
  const char* dir = std::getenv("RINGWAY_BIN_DIR");
  std::string path = (dir && *dir) ? dir : RINGWAY_BIN_DIR;
  path += '/';
  path += name;
  return path;
}

bool is_executable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

ChildProcess::~ChildProcess() {
  kill();
  finish_reader(1000);
  if (writer_.joinable()) writer_.join();
  close_fd(stop_fd_);
}

bool ChildProcess::start(const std::string& path, SpawnOptions options) {
  if (pid_ != -1) {
    error_ = "already started";
    return false;
  }
  // Everything the child needs is prepared before fork(): after it, in a multithreaded
  // process, only async-signal-safe calls are allowed.
  std::vector<std::string> argv_store;
  argv_store.push_back(path);
  for (auto& a : options.args) argv_store.push_back(a);
  std::vector<char*> argv;
  for (auto& a : argv_store) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    std::string_view key = kv.substr(0, kv.find('='));
    bool overridden = false;
    for (auto& [k, v] : options.env) overridden |= (k == key);
    if (!overridden) env_store.emplace_back(kv);
  }
  for (auto& [k, v] : options.env) env_store.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);

  // All our ends are O_CLOEXEC so later children never inherit them (a leaked write end
  // would keep a pipe open after its child exits and hide the EOF).
  int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, exec_pipe[2] = {-1, -1},
      in_pipe[2] = {-1, -1};
  auto close_all = [&] {
    for (int* p : {out_pipe, err_pipe, exec_pipe, in_pipe}) {
      close_fd(p[0]);
      close_fd(p[1]);
    }
  };
  bool piped = ::pipe2(out_pipe, O_CLOEXEC) == 0 && ::pipe2(err_pipe, O_CLOEXEC) == 0 &&
               ::pipe2(exec_pipe, O_CLOEXEC) == 0;
  if (piped && options.stdin_data) {
    piped = ::pipe2(in_pipe, O_CLOEXEC) == 0;
  } else if (piped) {
    in_pipe[0] = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    piped = in_pipe[0] >= 0;
  }
  if (!piped) {
    error_ = std::string("pipe: ") + strerror(errno);
    close_all();
    return false;
  }
  const int stdin_fd = in_pipe[0];
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const pid_t parent = ::getpid();
  const char* dir = options.working_dir.empty() ? nullptr : options.working_dir.c_str();

  pid_t pid = ::fork();
  if (pid < 0) {
    error_ = std::string("fork: ") + strerror(errno);
    close_all();
    return false;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(127);  // the test died between fork and prctl
    sigset_t all;
    sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::dup2(stdin_fd, STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    if (dir && ::chdir(dir) != 0) {
      int e = errno;
      ssize_t w = ::write(exec_pipe[1], &e, sizeof e);
      (void)w;
      _exit(127);
    }
    ::execve(argv[0], argv.data(), envp.data());
    int e = errno;
    ssize_t w = ::write(exec_pipe[1], &e, sizeof e);
    (void)w;
    _exit(127);
  }
  pid_ = pid;
  close_fd(out_pipe[1]);
  close_fd(err_pipe[1]);
  close_fd(exec_pipe[1]);
  close_fd(in_pipe[0]);

  // exec_pipe closes on a successful exec (CLOEXEC) or carries errno from the child.
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(exec_pipe[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(exec_pipe[0]);

  reader_ = std::thread([this, o = out_pipe[0], e = err_pipe[0]] { read_loop(o, e); });
  if (options.stdin_data) {
    writer_ = std::thread([fd = in_pipe[1], data = std::move(*options.stdin_data)] {
      // A child that exits without reading must not kill the test with SIGPIPE: block it
      // on this thread so write() fails with EPIPE instead.
      sigset_t pipe_set;
      sigemptyset(&pipe_set);
      sigaddset(&pipe_set, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);
      size_t off = 0;
      while (off < data.size()) {
        ssize_t w = ::write(fd, data.data() + off, data.size() - off);
        if (w > 0) {
          off += static_cast<size_t>(w);
        } else if (w < 0 && errno == EINTR) {
          continue;
        } else {
          break;
        }
      }
      ::close(fd);
    });
  }
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    error_ = "start " + path + ": " + strerror(child_errno);
    wait_exit(2000);
    return false;
  }
  return true;
}

void ChildProcess::read_loop(int out_fd, int err_fd) {
  pollfd fds[3] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  char buf[8192];
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    int r = ::poll(fds, 3, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[2].revents) break;  // asked to stop: a grandchild may hold the pipes forever
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        std::lock_guard<std::mutex> lock(mu_);
        (i == 0 ? out_buf_ : err_buf_).append(buf, static_cast<size_t>(n));
        cv_.notify_all();
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;  // poll ignores negative fds
      }
    }
  }
  for (int i = 0; i < 2; ++i) {
    if (fds[i].fd >= 0) ::close(fds[i].fd);
  }
  std::lock_guard<std::mutex> lock(mu_);
  eof_ = true;
  cv_.notify_all();
}

void ChildProcess::finish_reader(base::Millis timeout) {
  if (!reader_.joinable()) return;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_until(lock, deadline_after(timeout), [this] { return eof_; });
  }
  if (stop_fd_ >= 0) {
    uint64_t one = 1;
    ssize_t w = ::write(stop_fd_, &one, sizeof one);
    (void)w;
  }
  reader_.join();
}

std::optional<LogMatch> ChildProcess::wait_for_line(
    const std::function<bool(const std::string&, LogMatch*)>& matches, base::Millis timeout,
    size_t from) {
  const auto deadline = deadline_after(timeout);
  size_t pos = from;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    // Only complete lines are matched so a port number is never read half-written; once the
    // child's stderr has closed, a last line without '\n' counts too.
    while (pos < err_buf_.size()) {
      size_t nl = err_buf_.find('\n', pos);
      if (nl == std::string::npos && !eof_) break;
      size_t end = nl == std::string::npos ? err_buf_.size() : nl;
      std::string line = err_buf_.substr(pos, end - pos);
      pos = nl == std::string::npos ? end : nl + 1;
      LogMatch m;
      if (matches(line, &m)) {
        m.line = std::move(line);
        m.end = pos;
        return m;
      }
    }
    if (eof_ || std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    cv_.wait_until(lock, deadline);
  }
}

std::optional<LogMatch> ChildProcess::wait_for_log(const std::regex& pattern, base::Millis timeout,
                                                   size_t from) {
  return wait_for_line(
      [&](const std::string& line, LogMatch* m) {
        std::smatch sm;
        if (!std::regex_search(line, sm, pattern)) return false;
        for (const auto& g : sm) m->groups.push_back(g.str());
        return true;
      },
      timeout, from);
}

std::optional<LogMatch> ChildProcess::wait_for_text(std::string_view substring, base::Millis timeout,
                                                    size_t from) {
  return wait_for_line(
      [&](const std::string& line, LogMatch* m) {
        if (line.find(substring) == std::string::npos) return false;
        m->groups.emplace_back(substring);
        return true;
      },
      timeout, from);
}

int ChildProcess::wait_for_listen_port(base::Millis timeout, std::string_view prefix,
                                       std::string_view suffix) {
  int port = 0;
  wait_for_line(
      [&](const std::string& line, LogMatch* m) {
        port = parse_listen_line(line, prefix, suffix);
        if (port == 0) return false;
        m->groups.push_back(std::to_string(port));
        return true;
      },
      timeout, 0);
  return port;
}

bool ChildProcess::running() {
  if (pid_ <= 0 || reaped_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    exit_code_ = decode_status(status);
    return false;
  }
  return true;
}

bool ChildProcess::signal(int signo) {
  if (!running()) return false;
  return ::kill(pid_, signo) == 0;
}

std::optional<int> ChildProcess::wait_exit(base::Millis timeout) {
  if (pid_ <= 0) return std::nullopt;
  const auto deadline = deadline_after(timeout);
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    ::usleep(2000);
  }
  finish_reader(1000);
  if (writer_.joinable()) writer_.join();
  return exit_code_;
}

void ChildProcess::kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  reaped_ = true;
  exit_code_ = r == pid_ ? decode_status(status) : -1;
}

std::string ChildProcess::log() const {
  std::lock_guard<std::mutex> lock(mu_);
  return err_buf_;
}

std::string ChildProcess::out() const {
  std::lock_guard<std::mutex> lock(mu_);
  return out_buf_;
}

size_t ChildProcess::log_size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return err_buf_.size();
}

RunResult run_command(const std::string& path, SpawnOptions options, base::Millis timeout) {
  RunResult r;
  ChildProcess c;
  if (!c.start(path, std::move(options))) {
    r.errors = c.error();
    return r;
  }
  r.exit_code = c.wait_exit(timeout);
  if (!r.exit_code) c.kill();
  r.output = c.out();
  r.errors = c.log();
  return r;
}

long ChildProcess::rss_kib() const {
  if (pid_ <= 0) return 0;
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

}  // namespace ringway::e2e
