// libFuzzer target: the response parser (what an upstream sends), one-shot vs split; flag bit 0
// says the request was HEAD, bit 1 that the peer closes at the end (close-delimited bodies).
#include "tests/fuzz/fuzz_http_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return ringway::fuzz::check_split_invariant(data, size, ringway::net::HttpParser::Mode::kResponse, "");
}
