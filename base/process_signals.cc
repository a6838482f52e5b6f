// Process-wide signal plumbing shared by the three binaries: workers inherit a mask that
// blocks the control signals, and the main thread waits for them synchronously.
#include "base/process_signals.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

namespace ringway::base {

namespace {
sigset_t process_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGQUIT);
  sigaddset(&set, SIGUSR1);  // ringway: reopen the access log; the services ignore it
  return set;
}
}  // namespace

void block_process_signals() {
  sigset_t set = process_signal_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int wait_for_signal(int timeout_ms) {
  sigset_t set = process_signal_set();
  timespec ts{timeout_ms / 1000, static_cast<long>(timeout_ms % 1000) * 1000000};
  int sig = sigtimedwait(&set, nullptr, &ts);
  return sig < 0 ? 0 : sig;
}

size_t cpu_count() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<size_t>(n) : 1;
}

}  // namespace ringway::base
