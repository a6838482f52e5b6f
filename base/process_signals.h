// Control signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1) are blocked in every thread and awaited
// by the main thread, so handlers never run on an event loop. Also: the CPU count for workers: 0.
#pragma once

#include <cstddef>

namespace ringway::base {

// Blocks SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGUSR1 in the calling thread (call before starting
// threads so they inherit the mask) and ignores SIGPIPE.
void block_process_signals();
// Waits up to timeout_ms for one of the blocked signals. Returns: the signal, or 0.
int wait_for_signal(int timeout_ms);

// Returns: number of online CPUs (for workers: 0).
size_t cpu_count();

}  // namespace ringway::base
