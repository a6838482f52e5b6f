// Strict, incremental HTTP/1.1 parser on llhttp: stops at each event (head, body slice, message
// end), keeps fields as slices of the caller's bytes and rejects request-smuggling vectors.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_head.h"

namespace ringway::net {

struct HttpLimits {
  size_t max_header_bytes = 16384;  // request/status line + fields + CRLFs; trailers likewise
  size_t max_headers = 100;         // field lines in the head; trailers likewise
  uint64_t max_body_bytes = 0;      // decoded body bytes; 0 = unlimited
  // chunk-ext bytes on one chunk-size line (after the size, up to CR): extensions are parsed and
  // discarded, so without a cap a client could make us scan forever (CVE-2024-22019 class).
  size_t max_chunk_ext_bytes = 4096;
};

class HttpParser {
 public:
  // Header slices kept per parser between messages (16 bytes x 2 each): bounded per idle
  // connection, whatever the largest head it ever carried.
  static constexpr size_t kHeadersReserved = 8;
  static constexpr size_t kHeadersWatermark = 32;

  enum class Mode { kRequest, kResponse };
  enum class Event { kNeedMore, kHead, kBody, kMessageEnd, kError };
  struct Step {
    Event event;
    size_t consumed;
    std::string_view body;
  };

  HttpParser(Mode mode, HttpLimits limits);
  HttpParser(const HttpParser&) = delete;
  HttpParser& operator=(const HttpParser&) = delete;

  // Parses data[0..len) and stops at the FIRST event: kHead (head() is ready), kBody (one decoded
  // body slice in step.body; chunk framing removed), kMessageEnd, kError, or kNeedMore (all
  // consumed, nothing more to report). `consumed` = bytes used up to and including that event;
  // the caller passes the rest next.
  // Call again until kNeedMore or kError, even with len 0: an event already decided by consumed
  // bytes (kMessageEnd after a bodiless head or the last body byte) comes with the next call.
  // After kMessageEnd of a message with keep_alive == false, further bytes give kError.
  // REQUIRES: from the first byte of a message head until kHead is returned, the bytes passed in
  // successive calls are contiguous and stay at stable addresses (head slices point into them).
  Step parse(const char* data, size_t len);
  // The peer closed. Completes a kUntilClose body (returns kMessageEnd); returns kError if a
  // message was in progress otherwise; kNeedMore if idle between messages.
  Step finish();
  // Response mode: the request being answered was HEAD (response has no body whatever its
  // headers say, RFC 9110 §9.3.2). Applies to the next final (non-1xx) response; cleared after.
  void set_response_to_head(bool v) { response_to_head_ = v; }

  // Valid from kHead until parse() is called after that message's kMessageEnd.
  const HttpHead& head() const { return head_; }
  // Trailer fields of a chunked message, copied into parser-owned storage; valid until the
  // next message begins.
  const std::vector<HeaderField>& trailers() const { return trailers_; }
  // After kError: 400, 413 (Content-Length or chunked total over max_body_bytes), 431 (head or
  // trailers over max_header_bytes / max_headers), 505 (well-formed HTTP version other than 1.x:
  // 0.9 (a request line without a version), 2.0, the HTTP/2 preface; reported as soon as the
  // version is known, not at the end of the head; versions llhttp cannot parse, e.g. "1.2", 400).
  int error_status() const { return error_status_; }
  // After kError: short static text naming the rule (and RFC section) that failed.
  const char* error_reason() const { return error_reason_; }
  // True after kMessageEnd of a message that switched protocols (upgrade request incl. CONNECT /
  // 101 response): remaining bytes are tunnel data, parsing stops.
  bool upgraded() const { return state_ == State::kUpgraded; }
  // Chunks of the current message whose data and trailing CRLF were validated (RFC 9112 §7.1):
  // a proxy forwards a chunk's bytes only once this count moves past it.
  uint64_t chunks_completed() const { return chunks_done_; }
  // Decoded body bytes of the current message so far.
  uint64_t body_bytes() const { return body_total_; }
  void reset();  // forget all state (new connection)
  // Between two messages of a keep-alive stream (or fresh): the next bytes start a new
  // message exactly as they would after reset() (parse() begins every call afresh then).
  bool at_message_boundary() const { return state_ == State::kIdle; }
  const HttpLimits& limits() const { return limits_; }
  // The same under new limits (a reused parser after a reload); keeps the vectors' capacity.
  void reset(const HttpLimits& limits) {
    limits_ = limits;
    reset();
  }

 private:
  friend struct HttpParserCallbacks;
  enum class State : uint8_t { kIdle, kMessage, kUpgraded, kClosed, kError };
  enum class Pending : uint8_t { kNone, kHead, kBody, kMessageEnd, kChunkHeader, kChunkComplete };
  enum class Field : uint8_t { kNone, kName, kValue, kDone };
  // What the bytes llhttp consumes between two stops are, for our own byte-level checks.
  enum class Scan : uint8_t {
    kLines,     // head (or trailer) lines: CRLF only, no CTLs, no obs-fold
    kBody,      // body data only (Content-Length / until-close)
    kSize,      // chunk-size digits
    kExt,       // rest of a chunk-size line (chunk-ext)
    kSizeLf,    // CR seen at the end of the chunk-size line
    kSizeDone,  // chunk-size line complete, llhttp stops at on_chunk_header next
    kData,      // chunk data (body slices) then its CR
    kDataLf,    // CR after chunk data seen
    kDataDone,  // CRLF after chunk data complete, llhttp stops at on_chunk_complete next
    kTrailers,  // trailer section lines (kLines rules)
  };

  // chunk-ext grammar states (RFC 9112 §7.1.1); llhttp 8.1 never sees extension bytes.
  enum class Ext : uint8_t { kNone, kBws, kSemi, kName, kNameBws, kEq, kToken, kQuoted, kEscape, kValBws };

  Step fail(int status, const char* reason, size_t consumed);
  const char* find_trailing_htab(const char* p, const char* end, const char** run_end) const;
  const char* skip_chunk_ext(const char* p, const char* end);
  bool scan(const char* p, const char* end);
  bool scan_lines(const unsigned char* p, const unsigned char* end);
  bool finish_head();
  void begin_message();
  void end_message();
  int set_error(int status, const char* reason);

  llhttp_t llhttp_;
  Mode mode_;
  HttpLimits limits_;
  State state_ = State::kIdle;
  Pending pending_ = Pending::kNone;
  Field field_ = Field::kNone;
  Scan scan_ = Scan::kLines;
  bool pending_cr_ = false;   // kLines/kTrailers: last byte was CR
  bool cr_ended_empty_line_ = false;  // ... and it was the only byte of its line
  bool line_start_ = true;    // kLines/kTrailers: next byte starts a line
  bool in_trailers_ = false;  // llhttp's field callbacks now deliver trailers
  bool response_to_head_ = false;
  bool start_line_done_ = false;  // kLines: the start line is behind us, lines are fields
  bool after_colon_ = false;      // llhttp is past a field's colon (its value may follow)
  const char* seg_end_ = nullptr; // end of the bytes llhttp is executing now
  Ext ext_ = Ext::kNone;
  size_t ext_bytes_ = 0;
  uint8_t size_digits_ = 0;
  int error_status_ = 0;
  const char* error_reason_ = "";
  const char* version_end_ = nullptr;  // end of the version in the start line (status-line check)
  size_t head_bytes_ = 0;              // head (or trailer) bytes consumed so far
  uint64_t body_total_ = 0;
  uint64_t chunks_done_ = 0;
  std::string_view body_;
  HttpHead head_;
  // Trailers: bytes copied into trailer_bytes_, located by offsets until the message ends.
  struct TrailerSpan {
    uint32_t name_off, name_len, value_off, value_len;
  };
  std::string trailer_bytes_;
  std::vector<TrailerSpan> trailer_spans_;
  std::vector<HeaderField> trailers_;
};

}  // namespace ringway::net
