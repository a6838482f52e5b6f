// Codes for ResponseFlag bits, in bit order (the order they appear in a log line).
#include "proxy/access_log/response_flags.h"

#include <bit>
#include <cstring>
#include <iterator>
#include <string_view>

namespace ringway::proxy {

char* write_response_flags(char* out, uint32_t flags) {
  static constexpr std::string_view kCodes[] = {"NR",  "UH", "UF",  "UT", "UR", "UC",
                                                "UPE", "UO", "DPE", "DT", "DC", "SD", "DS"};
  static_assert(std::size(kCodes) * 4 <= kResponseFlagsBound);
  constexpr uint32_t kKnown = (1u << std::size(kCodes)) - 1;
  char* const begin = out;
  for (uint32_t rest = flags & kKnown; rest != 0; rest &= rest - 1) {  // lowest bit first
    const std::string_view code = kCodes[std::countr_zero(rest)];
    if (out != begin) *out++ = ',';
    std::memcpy(out, code.data(), code.size());
    out += code.size();
  }
  return out;
}

}  // namespace ringway::proxy
