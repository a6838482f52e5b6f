// End-to-end test support: read samples out of a Prometheus text / OpenMetrics exposition and
// run `promtool check metrics` on one, so tests assert on exact metric values and on format.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringway::e2e {

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;  // full sample name, e.g. "service1_http_request_duration_seconds_count"
  Labels labels;     // label values unescaped (\\, \", \n)
  double value = 0;
};

// Parses every sample line (comments and blank lines skipped). Returns: false with *error
// naming the first line it could not read.
bool parse_exposition(std::string_view text, std::vector<Sample>* out, std::string* error);

// Returns: the value of the sample with exactly this name and exactly this label set, or
// nullopt if absent or the text does not parse.
//   sample_value(text, "service1_http_requests_total",
//                {{"method", "GET"}, {"path", "/ping"}, {"code", "200"}})
std::optional<double> sample_value(std::string_view text, std::string_view name,
                                   const Labels& labels = {});

inline constexpr const char* kPromtool = "/usr/bin/promtool";

struct PromtoolResult {
  std::optional<int> exit_code;  // nullopt: could not run or timed out
  std::string output;            // promtool's stdout + stderr
};

// Pipes `exposition` into `promtool check metrics` (text format parser + lint).
PromtoolResult promtool_check_metrics(const std::string& exposition);

}  // namespace ringway::e2e
