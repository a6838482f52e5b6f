// libFuzzer target: chunked request bodies (sizes, extensions, data CRLFs, trailers) after a
// fixed valid head, so every input exercises the chunk framing; one-shot vs split.
#include "tests/fuzz/fuzz_http_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return ringway::fuzz::check_split_invariant(
      data, size, ringway::net::HttpParser::Mode::kRequest,
      "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
}
