// Reads /proc/self/stat, /proc/stat, /proc/self/fd and RLIMIT_NOFILE on every scrape. Plain
// POSIX reads: the files are small and a scrape is once every few seconds.
#include "metrics/process_collector.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <string>

namespace ringway::metrics {
namespace {

std::optional<std::string> read_small_file(const char* path) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

template <typename T>
bool parse_number(std::string_view s, T& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

std::optional<double> count_open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  const std::string own = std::to_string(::dirfd(dir));
  double n = 0;
  while (const dirent* e = ::readdir(dir)) {
    // Skip ".", ".." and the descriptor opendir() itself holds: it exists only while we count.
    if (e->d_name[0] == '.' || own == e->d_name) continue;
    ++n;
  }
  ::closedir(dir);
  return n;
}

prometheus::MetricFamily single(const char* name, const char* help, prometheus::MetricType type,
                                double v) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = v;
  } else {
    m.gauge.value = v;
  }
  f.metric.push_back(std::move(m));
  return f;
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  const size_t paren = text.rfind(')');
  if (paren == std::string_view::npos) return std::nullopt;
  text.remove_prefix(paren + 1);
  // fields[0] is field 3 (state) of proc(5); field k is fields[k - 3].
  std::vector<std::string_view> fields;
  while (!text.empty()) {
    const size_t start = text.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    text.remove_prefix(start);
    const size_t end = text.find_first_of(" \n");
    fields.push_back(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end);
  }
  if (fields.size() < 22) return std::nullopt;
  ProcStat s;
  if (!parse_number(fields[14 - 3], s.utime_ticks) ||
      !parse_number(fields[15 - 3], s.stime_ticks) ||
      !parse_number(fields[22 - 3], s.starttime_ticks) ||
      !parse_number(fields[23 - 3], s.vsize_bytes) || !parse_number(fields[24 - 3], s.rss_pages)) {
    return std::nullopt;
  }
  return s;
}

std::optional<unsigned long long> parse_boot_time(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    if (line.substr(0, 6) == "btime ") {
      line.remove_prefix(6);
      unsigned long long v = 0;
      if (parse_number(line.substr(0, line.find_first_of(" \r")), v)) return v;
      return std::nullopt;
    }
    pos = eol + 1;
  }
  return std::nullopt;
}

ProcessStats read_process_stats() {
  ProcessStats out;
  const long ticks = ::sysconf(_SC_CLK_TCK);
  const long page = ::sysconf(_SC_PAGESIZE);
  if (const auto text = read_small_file("/proc/self/stat")) {
    if (const auto st = parse_proc_stat(*text)) {
      if (ticks > 0) {
        out.cpu_seconds = static_cast<double>(st->utime_ticks + st->stime_ticks) / ticks;
        if (const auto proc_stat = read_small_file("/proc/stat")) {
          if (const auto btime = parse_boot_time(*proc_stat)) {
            out.start_time_seconds =
                static_cast<double>(*btime) + static_cast<double>(st->starttime_ticks) / ticks;
          }
        }
      }
      if (page > 0) out.resident_bytes = static_cast<double>(st->rss_pages) * page;
      out.virtual_bytes = static_cast<double>(st->vsize_bytes);
    }
  }
  out.open_fds = count_open_fds();
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) out.max_fds = static_cast<double>(rl.rlim_cur);
  return out;
}

std::vector<prometheus::MetricFamily> collect_process_metrics() {
  using prometheus::MetricType;
  const ProcessStats s = read_process_stats();
  std::vector<prometheus::MetricFamily> out;
  if (s.cpu_seconds) {
    out.push_back(single("process_cpu_seconds_total",
                         "Total user and system CPU time spent in seconds.", MetricType::Counter,
                         *s.cpu_seconds));
  }
  if (s.resident_bytes) {
    out.push_back(single("process_resident_memory_bytes", "Resident memory size in bytes.",
                         MetricType::Gauge, *s.resident_bytes));
  }
  if (s.virtual_bytes) {
    out.push_back(single("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                         MetricType::Gauge, *s.virtual_bytes));
  }
  if (s.open_fds) {
    out.push_back(single("process_open_fds", "Number of open file descriptors.", MetricType::Gauge,
                         *s.open_fds));
  }
  if (s.max_fds) {
    out.push_back(single("process_max_fds", "Maximum number of open file descriptors.",
                         MetricType::Gauge, *s.max_fds));
  }
  if (s.start_time_seconds) {
    out.push_back(single("process_start_time_seconds",
                         "Start time of the process since unix epoch in seconds.",
                         MetricType::Gauge, *s.start_time_seconds));
  }
  return out;
}

const std::vector<std::string_view>& process_metric_names() {
  static const std::vector<std::string_view> kNames = {"process_cpu_seconds_total",
                                                       "process_resident_memory_bytes",
                                                       "process_virtual_memory_bytes",
                                                       "process_open_fds",
                                                       "process_max_fds",
                                                       "process_start_time_seconds"};
  return kNames;
}

}  // namespace ringway::metrics
