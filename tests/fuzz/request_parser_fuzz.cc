// libFuzzer target: the request parser on arbitrary bytes, one-shot vs split in two reads.
// Input: byte 0 = split point / flags, the rest = what a client sends.
#include "tests/fuzz/fuzz_http_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return ringway::fuzz::check_split_invariant(data, size, ringway::net::HttpParser::Mode::kRequest, "");
}
