// Config durations ("500ms", "2s", "1m", "1h") to and from milliseconds.
// Integers with exactly one unit: the text stays unambiguous and greppable.
#pragma once

#include <string>
#include <string_view>

#include "base/clock.h"

namespace ringway::base {

// Accepts "<digits><unit>" with unit ms, s, m or h; no sign, spaces or fractions.
// Returns: false and sets *error (e.g. "missing unit (use ms, s, m or h)") on bad input or
// overflow.
bool parse_duration(std::string_view text, Millis* out, std::string* error);

// The largest unit that represents `ms` exactly: 2000 -> "2s", 1500 -> "1500ms",
// 3600000 -> "1h", 0 -> "0ms". Round-trips through parse_duration.
std::string format_duration(Millis ms);

}  // namespace ringway::base
