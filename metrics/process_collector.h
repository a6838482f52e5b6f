// process_* metrics with the names and meaning of the Go and Python clients, read from /proc at
// scrape time (prometheus-cpp has no process collector).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "prometheus/metric_family.h"

namespace ringway::metrics {

// Each field is absent when its source could not be read (no /proc in a sandbox): the family is
// then left out rather than exported as a misleading 0.
struct ProcessStats {
  std::optional<double> cpu_seconds;         // utime + stime
  std::optional<double> resident_bytes;      // rss pages * page size
  std::optional<double> virtual_bytes;       // vsize
  std::optional<double> open_fds;            // entries of /proc/self/fd
  std::optional<double> max_fds;             // RLIMIT_NOFILE soft limit
  std::optional<double> start_time_seconds;  // Unix time the process started
};

// Fields of /proc/[pid]/stat that we use, in their raw units (proc(5)).
struct ProcStat {
  unsigned long long utime_ticks = 0;
  unsigned long long stime_ticks = 0;
  unsigned long long starttime_ticks = 0;  // since boot
  unsigned long long vsize_bytes = 0;
  long long rss_pages = 0;
};

// Parses the contents of /proc/[pid]/stat. The command name (field 2) may contain spaces and ')',
// so fields are counted from the last ')'. Returns nullopt on malformed input.
std::optional<ProcStat> parse_proc_stat(std::string_view text);

// Parses the "btime" line (boot time, Unix seconds) out of the contents of /proc/stat.
std::optional<unsigned long long> parse_boot_time(std::string_view text);

ProcessStats read_process_stats();

// The six process_* families (only those whose source was readable).
std::vector<prometheus::MetricFamily> collect_process_metrics();

// Names collect_process_metrics() may emit, so the registry can refuse clashing user families.
const std::vector<std::string_view>& process_metric_names();

}  // namespace ringway::metrics
