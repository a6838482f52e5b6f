// One-line, timestamped log records on stderr (journald and docker logs pick them up).
// Level and message only: structured request logging belongs to the access log.
#pragma once

#include <string_view>

namespace ringway::base {

enum class LogLevel { kInfo, kWarn, kError };

// Thread-safe: each record is a single write(2).
void log(LogLevel level, std::string_view message);
inline void log_info(std::string_view m) { log(LogLevel::kInfo, m); }
inline void log_warn(std::string_view m) { log(LogLevel::kWarn, m); }
inline void log_error(std::string_view m) { log(LogLevel::kError, m); }

}  // namespace ringway::base
