// Config durations ("500ms", "2s", "1m", "1h") to and from milliseconds.
// Used only at config load and for display, so clarity of errors beats speed.
#include "base/duration.h"

#include <cstdint>
#include <limits>

namespace ringway::base {
namespace {

struct Unit {
  std::string_view name;
  Millis ms;
};
// Largest first so format_duration picks the biggest exact unit.
constexpr Unit kUnits[] = {{"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
constexpr std::string_view kUnitHint = "(use ms, s, m or h)";

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

bool parse_duration(std::string_view text, Millis* out, std::string* error) {
  if (text.empty()) {
    *error = "empty duration";
    return false;
  }
  if (text[0] == '-') {
    *error = "negative duration";
    return false;
  }
  size_t i = 0;
  Millis value = 0;
  constexpr Millis kMax = std::numeric_limits<Millis>::max();
  while (i < text.size() && is_digit(text[i])) {
    const int digit = text[i] - '0';
    if (value > (kMax - digit) / 10) {
      *error = "duration too large";
      return false;
    }
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) {
    *error = "missing number before unit";
    return false;
  }
  const std::string_view unit = text.substr(i);
  if (unit.empty()) {
    *error = std::string("missing unit ") + std::string(kUnitHint);
    return false;
  }
  if (unit[0] == '.') {
    // Integers only keeps "1.5s" vs "1500ms" from meaning two spellings of one thing.
    *error = "fractions are not allowed; use a smaller unit (e.g. 1500ms)";
    return false;
  }
  for (const Unit& u : kUnits) {
    if (unit == u.name) {
      if (value > kMax / u.ms) {
        *error = "duration too large";
        return false;
      }
      *out = value * u.ms;
      return true;
    }
  }
  *error = "unknown unit '" + std::string(unit) + "' " + std::string(kUnitHint);
  return false;
}

std::string format_duration(Millis ms) {
  if (ms != 0) {
    for (const Unit& u : kUnits) {
      if (ms % u.ms == 0) return std::to_string(ms / u.ms) + std::string(u.name);
    }
  }
  return std::to_string(ms) + "ms";
}

}  // namespace ringway::base
