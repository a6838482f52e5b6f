// Shared driver for the HTTP parser fuzz targets: feeds one input in two reads split where the
// input's first byte says, and checks the verdict matches a one-shot parse (split invariance).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "net/http_parser.h"

namespace ringway::fuzz {

struct Outcome {
  int error_status = 0;
  size_t messages = 0;
  std::string bodies;  // every decoded body byte, messages concatenated
};

// Parses `in` revealing [0, cut) first, then the rest; calls finish() at the end if `eof`.
inline Outcome parse_all(std::string_view in, size_t cut, net::HttpParser::Mode mode, bool to_head,
                         bool eof) {
  net::HttpLimits limits{.max_header_bytes = 4096, .max_headers = 32, .max_body_bytes = 1 << 16,
                         .max_chunk_ext_bytes = 64};
  net::HttpParser p(mode, limits);
  p.set_response_to_head(to_head);
  Outcome o;
  size_t pos = 0, limit = cut;
  for (size_t guard = 0; guard < 8 * in.size() + 64; ++guard) {
    net::HttpParser::Step s = p.parse(in.data() + pos, limit - pos);
    if (s.consumed > limit - pos) std::abort();  // consumed more than it was given
    pos += s.consumed;
    using E = net::HttpParser::Event;
    if (s.event == E::kHead) {
      ++o.messages;
      p.set_response_to_head(to_head);
    } else if (s.event == E::kBody) {
      o.bodies.append(s.body);
    } else if (s.event == E::kMessageEnd) {
      if (p.upgraded()) break;
    } else if (s.event == E::kError) {
      o.error_status = p.error_status();
      if (o.error_status == 0) std::abort();  // every error carries its status
      break;
    } else if (limit < in.size()) {
      limit = in.size();
    } else {
      if (eof) {
        net::HttpParser::Step f = p.finish();
        if (f.event == E::kError) o.error_status = p.error_status();
      }
      break;
    }
  }
  return o;
}

// Returns: 0; aborts if a split changes the outcome.
inline int check_split_invariant(const uint8_t* data, size_t size, net::HttpParser::Mode mode,
                                 std::string_view prefix) {
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  std::string in(prefix);
  in.append(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t cut = in.empty() ? 0 : (static_cast<size_t>(flags) * 7919u) % (in.size() + 1);
  const bool to_head = (flags & 1) != 0, eof = (flags & 2) != 0;
  Outcome whole = parse_all(in, in.size(), mode, to_head, eof);
  Outcome split = parse_all(in, cut, mode, to_head, eof);
  if (whole.error_status != split.error_status || whole.messages != split.messages ||
      whole.bodies != split.bodies) {
    std::abort();
  }
  return 0;
}

}  // namespace ringway::fuzz
