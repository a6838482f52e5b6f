// splice(2) through a pipe: the pages a socket received are handed to the other socket by
// reference, so a body crosses the proxy without a copy into or out of user space.
#include "net/splice_pump.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "net/loop.h"

namespace ringway::net {

PumpWait pump_splice(SpliceOp* op, int from_fd, int to_fd, int* err, bool* sink_failed) {
  constexpr unsigned kFlags = SPLICE_F_NONBLOCK | SPLICE_F_MOVE;
  constexpr size_t kPerRead = PipePool::kPipeBytes;
  for (;;) {
    if (op->in_pipe > 0) {
      const ssize_t n = ::splice(op->pipe_r, nullptr, to_fd, nullptr, op->in_pipe, kFlags);
      if (n > 0) {
        op->in_pipe -= static_cast<size_t>(n);
        op->moved += static_cast<uint64_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return PumpWait::kWritable;
      *err = n < 0 ? -errno : -EPIPE;
      *sink_failed = true;
      return PumpWait::kDone;
    }
    if (op->to_read == 0) {
      *err = 0;
      *sink_failed = false;
      return PumpWait::kDone;
    }
    const size_t want = static_cast<size_t>(std::min<uint64_t>(op->to_read, kPerRead));
    const ssize_t n = ::splice(from_fd, nullptr, op->pipe_w, nullptr, want, kFlags);
    if (n > 0) {
      op->to_read -= static_cast<uint64_t>(n);
      op->in_pipe += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return PumpWait::kReadable;
    *err = n == 0 ? kSpliceSourceEnded : -errno;
    *sink_failed = false;
    return PumpWait::kDone;
  }
}

PipePool::~PipePool() {
  for (const Pipe& p : idle_) {
    ::close(p.r);
    ::close(p.w);
  }
}

bool PipePool::take(int* r, int* w, int* err) {
  if (!idle_.empty()) {
    *r = idle_.back().r;
    *w = idle_.back().w;
    idle_.pop_back();
    return true;
  }
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    *err = -errno;
    return false;
  }
  // Larger than the default 16 pages when allowed (fs.pipe-max-size, the user's pipe pages).
  // A user over fs.pipe-user-pages-soft gets 2-page pipes, which would move bodies in steps
  // smaller than a copy's reads: below the default size the body is copied instead.
  int size = ::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(kPipeBytes));
  if (size < 0) size = ::fcntl(fds[1], F_GETPIPE_SZ);
  if (size < static_cast<int>(kMinPipeBytes)) {
    ::close(fds[0]);
    ::close(fds[1]);
    *err = -ENOBUFS;
    return false;
  }
  *r = fds[0];
  *w = fds[1];
  return true;
}

void PipePool::give(int r, int w, bool empty) {
  if (empty && idle_.size() < kIdleMax) {
    idle_.push_back(Pipe{r, w});
    return;
  }
  ::close(r);
  ::close(w);
}

}  // namespace ringway::net
