// Internal: the kernel-side byte mover both loop backends use for Loop::splice(): socket ->
// pipe -> socket with splice(2), non-blocking, so no byte is copied to user space. Not part
// of the public API; only loop_*.cc include it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ringway::net {

struct Socket;

// One splice in progress: `from` and `to` point at it (Socket::splice).
struct SpliceOp {
  Socket* from = nullptr;
  Socket* to = nullptr;
  int pipe_r = -1, pipe_w = -1;
  uint64_t to_read = 0;  // bytes still to take from `from`
  uint64_t moved = 0;    // bytes written to `to`
  size_t in_pipe = 0;    // read from `from`, not yet written to `to`
  SpliceOp* next_free = nullptr;
};

// What a pump stopped for.
enum class PumpWait { kReadable, kWritable, kDone };

// Moves bytes until both sides would block or the op is complete. On kDone, *err is 0 (all
// moved), kSpliceSourceEnded (EOF first) or -errno, and *sink_failed says whether `to` failed.
PumpWait pump_splice(SpliceOp* op, int from_fd, int to_fd, int* err, bool* sink_failed);

// Pipes lent to splices. A pipe comes back only empty (a splice cut short may leave bytes in
// it: that one is closed), and at most kIdleMax wait idle (two fds and a little kernel memory
// each; the pages in a pipe belong to the bytes in flight, never to the idle pipe).
class PipePool {
 public:
  static constexpr size_t kIdleMax = 16;
  static constexpr size_t kPipeBytes = 256 * 1024;
  static constexpr size_t kMinPipeBytes = 64 * 1024;  // the kernel's default pipe
  ~PipePool();
  // Returns: false (and -errno in *err) when no pipe of at least kMinPipeBytes could be made
  // (EMFILE, or the user's pipe-page quota spent).
  bool take(int* r, int* w, int* err);
  void give(int r, int w, bool empty);

 private:
  struct Pipe { int r, w; };
  std::vector<Pipe> idle_;
};

}  // namespace ringway::net
