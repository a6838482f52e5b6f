// Tests metrics/process_collector.*: /proc parsing on crafted input and plausibility of the live
// values for this test process.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <map>

#include "metrics/process_collector.h"
#include "metrics/registry.h"

namespace ringway::metrics {
namespace {

TEST(MetricsProcess, ParsesProcStatWithHostileCommandName) {
  // Field 2 holds ") (" and spaces; fields 14/15 utime/stime, 22 starttime, 23 vsize, 24 rss.
  const std::string text =
      "4242 (we) ird (name) S 1 4242 4242 0 -1 4194560 100 0 0 0 "
      "250 50 0 0 20 0 3 0 123456 987654321 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 "
      "3 0 0 0 0 0\n";
  const auto st = parse_proc_stat(text);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->utime_ticks, 250u);
  EXPECT_EQ(st->stime_ticks, 50u);
  EXPECT_EQ(st->starttime_ticks, 123456u);
  EXPECT_EQ(st->vsize_bytes, 987654321u);
  EXPECT_EQ(st->rss_pages, 2048);
}

TEST(MetricsProcess, RejectsMalformedProcStat) {
  EXPECT_FALSE(parse_proc_stat("").has_value());
  EXPECT_FALSE(parse_proc_stat("1 (x S 1 2 3").has_value());
  EXPECT_FALSE(parse_proc_stat("1 (x) S 1 2 3").has_value());
  EXPECT_FALSE(parse_proc_stat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 u s 0 0 20 0 1 0 1 1 1").has_value());
}

TEST(MetricsProcess, ParsesBootTime) {
  EXPECT_EQ(parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n"), 1700000000u);
  EXPECT_FALSE(parse_boot_time("cpu 1\nprocesses 9\n").has_value());
  EXPECT_FALSE(parse_boot_time("btime x\n").has_value());
}

TEST(MetricsProcess, LiveValuesArePlausible) {
  // Spin until the kernel has charged at least a few clock ticks of CPU to this process.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  volatile uint64_t sink = 0;
  ProcessStats s = read_process_stats();
  while (s.cpu_seconds.value_or(0) < 0.05 && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 1'000'000; ++i) sink = sink + static_cast<uint64_t>(i);
    s = read_process_stats();
  }
  ASSERT_TRUE(s.cpu_seconds && s.resident_bytes && s.virtual_bytes && s.open_fds && s.max_fds &&
              s.start_time_seconds);
  EXPECT_GT(*s.cpu_seconds, 0);
  EXPECT_GT(*s.resident_bytes, 1024 * 1024);  // any C++ test binary maps over a megabyte
  EXPECT_GE(*s.virtual_bytes, *s.resident_bytes);
  EXPECT_GE(*s.open_fds, 3);  // stdin, stdout, stderr
  EXPECT_GE(*s.max_fds, *s.open_fds);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LE(*s.start_time_seconds, now + 1);
  EXPECT_GT(*s.start_time_seconds, now - 3600);
}

TEST(MetricsProcess, OpenFdsTracksDescriptors) {
  const double before = *read_process_stats().open_fds;
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const double during = *read_process_stats().open_fds;
  ::close(fd);
  EXPECT_EQ(during, before + 1);
}

TEST(MetricsProcess, OpenFdsMatchesAnIndependentCount) {
  // Probe descriptors directly; descriptors are allocated lowest-first, so 64k covers this process.
  double probed = 0;
  for (int fd = 0; fd < 65536; ++fd) probed += ::fcntl(fd, F_GETFD) != -1;
  EXPECT_EQ(*read_process_stats().open_fds, probed);
}

TEST(MetricsProcess, RegistryExportsAllSixFamilies) {
  Registry reg(1);
  reg.enable_process_metrics();
  std::map<std::string, prometheus::MetricType> got;
  for (const auto& f : reg.Collect()) got[f.name] = f.type;
  EXPECT_EQ(got.size(), 6u);
  EXPECT_EQ(got.at("process_cpu_seconds_total"), prometheus::MetricType::Counter);
  for (const char* g : {"process_resident_memory_bytes", "process_virtual_memory_bytes",
                        "process_open_fds", "process_max_fds", "process_start_time_seconds"}) {
    EXPECT_EQ(got.at(g), prometheus::MetricType::Gauge) << g;
  }
  const std::string om = reg.render(Format::kOpenMetrics);
  EXPECT_NE(om.find("# TYPE process_cpu_seconds counter\nprocess_cpu_seconds_total "),
            std::string::npos);
}

}  // namespace
}  // namespace ringway::metrics
