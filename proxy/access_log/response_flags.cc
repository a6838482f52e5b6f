// Codes for ResponseFlag bits, in bit order (the order they appear in a log line).
#include "proxy/access_log/response_flags.h"

namespace ringway::proxy {

void append_response_flags(std::string& out, uint32_t flags) {
  static constexpr const char* kCodes[] = {"NR",  "UH", "UF",  "UT", "UR", "UC",
                                           "UPE", "UO", "DPE", "DT", "DC", "SD"};
  bool first = true;
  for (unsigned bit = 0; bit < sizeof kCodes / sizeof kCodes[0]; ++bit) {
    if ((flags & (1u << bit)) == 0) continue;
    if (!first) out += ',';
    out += kCodes[bit];
    first = false;
  }
}

}  // namespace ringway::proxy
