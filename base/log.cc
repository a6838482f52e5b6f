// stderr logging: "2026-11-25T17:12:39.123Z info message".
// Each record is formatted in a local buffer and written with one write(2), so lines never mix.
#include "base/log.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace ringway::base {

void log(LogLevel level, std::string_view message) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm parts;
  gmtime_r(&ts.tv_sec, &parts);
  char stamp[40];
  size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &parts);
  std::snprintf(stamp + n, sizeof stamp - n, ".%03ldZ", ts.tv_nsec / 1000000);
  const char* name = level == LogLevel::kInfo ? "info" : level == LogLevel::kWarn ? "warn" : "error";
  std::string line;
  line.reserve(message.size() + 48);
  line += stamp;
  line += ' ';
  line += name;
  line += ' ';
  line += message;
  line += '\n';
  ssize_t w = ::write(STDERR_FILENO, line.data(), line.size());
  (void)w;
}

}  // namespace ringway::base
