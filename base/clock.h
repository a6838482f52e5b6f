// Monotonic millisecond clock shared by loops, timers and timeouts.
// Integer milliseconds so deadlines compare and store cheaply; nanoseconds for latency.
#pragma once

#include <time.h>

#include <cstdint>

namespace ringway::base {

using Millis = int64_t;

// Milliseconds on CLOCK_MONOTONIC; plain integer so deadlines compare and store cheaply.
struct TimePoint {
  Millis ms = 0;
  friend bool operator<(TimePoint a, TimePoint b) { return a.ms < b.ms; }
  friend bool operator<=(TimePoint a, TimePoint b) { return a.ms <= b.ms; }
  friend TimePoint operator+(TimePoint a, Millis d) { return TimePoint{a.ms + d}; }
  friend Millis operator-(TimePoint a, TimePoint b) { return a.ms - b.ms; }
};

struct Clock {
  static TimePoint now() {
    timespec ts;
    // COARSE is enough for timeouts and costs no syscall (vDSO, jiffy resolution).
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return TimePoint{static_cast<Millis>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000};
  }
  // Precise nanoseconds for latency histograms.
  static int64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  }
  // Wall-clock milliseconds since the Unix epoch, for timestamps people read.
  static int64_t unix_ms() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
  }
};

}  // namespace ringway::base
