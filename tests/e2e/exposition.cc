// Exposition reading for e2e tests: a small line parser for `name{label="v",...} value [ts]`
// and a promtool runner built on ChildProcess.
#include "tests/e2e/exposition.h"

#include <cstdlib>

#include "tests/e2e/process.h"

namespace ringway::e2e {
namespace {

bool is_name_char(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
         (!first && c >= '0' && c <= '9');
}

// Parses `{k="v",...}` starting at line[*pos] == '{'. Returns: false on malformed input.
bool parse_labels(std::string_view line, size_t* pos, Labels* labels) {
  size_t i = *pos + 1;
  for (;;) {
    if (i < line.size() && line[i] == '}') break;
    size_t start = i;
    while (i < line.size() && is_name_char(line[i], i == start)) ++i;
    if (i == start || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') return false;
    std::string key(line.substr(start, i - start));
    i += 2;
    std::string value;
    for (;;) {
      if (i >= line.size()) return false;
      char c = line[i++];
      if (c == '"') break;
      if (c == '\\') {
        if (i >= line.size()) return false;
        char e = line[i++];
        value += e == 'n' ? '\n' : e;
      } else {
        value += c;
      }
    }
    if (!labels->emplace(std::move(key), std::move(value)).second) return false;  // duplicate
    if (i < line.size() && line[i] == ',')
      ++i;
    else if (i < line.size() && line[i] == '}')
      break;
    else
      return false;
  }
  *pos = i + 1;
  return true;
}

}  // namespace

bool parse_exposition(std::string_view text, std::vector<Sample>* out, std::string* error) {
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    size_t i = 0;
    while (i < line.size() && is_name_char(line[i], i == 0)) ++i;
    s.name = std::string(line.substr(0, i));
    bool ok = !s.name.empty();
    if (ok && i < line.size() && line[i] == '{') ok = parse_labels(line, &i, &s.labels);
    ok = ok && i < line.size() && line[i] == ' ';
    if (ok) {
      std::string rest(line.substr(i + 1));
      size_t sp = rest.find(' ');  // an optional timestamp follows
      std::string number = rest.substr(0, sp);
      char* end = nullptr;
      s.value = std::strtod(number.c_str(), &end);
      ok = !number.empty() && end == number.c_str() + number.size();
    }
    if (!ok) {
      if (error) *error = "line " + std::to_string(line_no) + ": " + std::string(line);
      return false;
    }
    out->push_back(std::move(s));
  }
  return true;
}

std::optional<double> sample_value(std::string_view text, std::string_view name,
                                   const Labels& labels) {
  std::vector<Sample> samples;
  if (!parse_exposition(text, &samples, nullptr)) return std::nullopt;
  for (const Sample& s : samples) {
    if (s.name == name && s.labels == labels) return s.value;
  }
  return std::nullopt;
}

PromtoolResult promtool_check_metrics(const std::string& exposition) {
  SpawnOptions options;
  options.args = {"check", "metrics"};
  options.stdin_data = exposition;
  RunResult r = run_command(kPromtool, std::move(options), 20000);
  return PromtoolResult{r.exit_code, r.output + r.errors};
}

}  // namespace ringway::e2e
