// Strict HTTP/1.1 parser on llhttp (see http_parser.h). llhttp does the grammar; this file stops it
// at every event (HPE_PAUSED), adds the byte checks llhttp 8.1 skips and derives framing itself.
#include "net/http_parser.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "net/http_writer.h"

namespace ringway::net {

const HeaderField* HttpHead::find(std::string_view name) const {
  for (const HeaderField& f : headers) {
    if (iequals(f.name, name)) return &f;
  }
  return nullptr;
}

void HttpHead::clear() {
  std::vector<HeaderField> keep = std::move(headers);
  keep.clear();
  *this = HttpHead{};
  headers = std::move(keep);
}

namespace {

const char kEmpty[1] = {0};
// Stand-in bytes for trailing OWS llhttp would refuse (see find_trailing_htab); value pieces
// that point here are whitespace the field value drops anyway.
constexpr size_t kSpacesLen = 64;
const char kSpaces[kSpacesLen + 1] = "                                                                ";
inline bool is_spaces(const char* at) { return at >= kSpaces && at < kSpaces + kSpacesLen; }

struct ByteTables {
  std::array<bool, 256> tchar{};  // token characters (RFC 9110 §5.6.2)
  std::array<bool, 256> plain{};  // allowed inside a head line: HTAB, SP, VCHAR, obs-text (§5.5)
  std::array<bool, 256> host{};   // uri-host [ ":" port ] characters (RFC 3986 §3.2.2)
  std::array<bool, 256> hex{};
};

constexpr ByteTables make_tables() {
  ByteTables t;
  for (int c = 0; c < 256; ++c) {
    bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    t.tchar[c] = alnum || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                              std::string_view::npos;
    t.plain[c] = c == '\t' || (c >= 0x20 && c != 0x7f);
    t.host[c] = alnum || std::string_view("-._~!$&'()*+,;=:%[]").find(static_cast<char>(c)) !=
                             std::string_view::npos;
    t.hex[c] = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }
  return t;
}
constexpr ByteTables kTables = make_tables();

// Returns: the first byte in [p, end) that is < 0x20 or 0x7f (CR, LF, HTAB, other CTLs), or end.
// SSE2 where available, else 8-byte SWAR ("hasless"/"haszero"; borrows only ever set spurious
// flags above a genuinely flagged byte, so the lowest flag is exact).
inline const unsigned char* skip_plain(const unsigned char* p, const unsigned char* end) {
#if defined(__SSE2__)
  const __m128i max_ctl = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f);
  while (end - p >= 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, max_ctl), v), _mm_cmpeq_epi8(v, del));
    if (int m = _mm_movemask_epi8(hit)) return p + std::countr_zero(static_cast<unsigned>(m));
    p += 16;
  }
#endif
  if constexpr (std::endian::native == std::endian::little) {
    constexpr uint64_t k01 = 0x0101010101010101ull, k80 = 0x8080808080808080ull;
    while (end - p >= 8) {
      uint64_t x;
      std::memcpy(&x, p, 8);
      uint64_t d = x ^ (k01 * 0x7f);
      if (uint64_t m = (((x - k01 * 0x20) & ~x) | ((d - k01) & ~d)) & k80)
        return p + std::countr_zero(m) / 8;
      p += 8;
    }
  }
  while (p < end && *p >= 0x20 && *p != 0x7f) ++p;
  return p;
}

// Appends a piece llhttp delivered separately. Pieces of one element are adjacent because head
// bytes stay contiguous until kHead (REQUIRES of parse()); a gap means a continuation line.
inline bool extend(std::string_view& view, const char* at, size_t len) {
  if (view.data() == nullptr) {
    view = {at, len};
    return true;
  }
  if (view.data() + view.size() != at) return false;
  view = {view.data(), view.size() + len};
  return true;
}

// What the head's fields say about framing and the connection, gathered in one pass.
struct FieldSummary {
  int host_count = 0, cl_count = 0, te_count = 0;
  bool chunked_final = false;  // the last transfer coding is chunked
  bool te_bad = false;         // chunked applied twice or not last (RFC 9112 §6.1)
  bool conn_close = false, conn_keep_alive = false, conn_upgrade = false;
  bool has_upgrade = false, expect_continue = false;
  std::string_view host;
};

void summarize(const std::vector<HeaderField>& headers, FieldSummary& s) {
  for (const HeaderField& f : headers) {
    switch (f.name.size()) {
      case 4:
        if (iequals(f.name, "Host")) s.host_count++, s.host = f.value;
        break;
      case 6:
        if (iequals(f.name, "Expect")) s.expect_continue |= iequals(f.value, "100-continue");
        break;
      case 7:
        if (iequals(f.name, "Upgrade")) s.has_upgrade = true;
        break;
      case 10:
        if (!iequals(f.name, "Connection")) break;
        for_each_token(f.value, [&](std::string_view t) {
          s.conn_close |= iequals(t, "close");
          s.conn_keep_alive |= iequals(t, "keep-alive");
          s.conn_upgrade |= iequals(t, "upgrade");
        });
        break;
      case 14:
        if (iequals(f.name, "Content-Length")) s.cl_count++;
        break;
      case 17:
        if (!iequals(f.name, "Transfer-Encoding")) break;
        s.te_count++;
        // Codings apply in order across all field lines; chunked must be last and only once.
        for_each_token(f.value, [&](std::string_view t) {
          if (s.chunked_final) s.te_bad = true;
          s.chunked_final = iequals(t, "chunked");
        });
        break;
      default:
        break;
    }
  }
}

bool valid_host(std::string_view host) {
  for (char c : host) {
    if (!kTables.host[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

// status-line = HTTP-version SP 3DIGIT SP [reason] (RFC 9112 §4). llhttp 8.1 also takes 2 and 4
// digits, so look at the bytes after the version (the head is contiguous and ends in CRLFCRLF).
bool valid_status_line(const char* after_version, int status) {
  const char* p = after_version;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  return p != nullptr && p[0] == ' ' && digit(p[1]) && digit(p[2]) && digit(p[3]) &&
         (p[4] == ' ' || p[4] == '\r') && status >= 100 && status <= 599;
}

}  // namespace

struct HttpParserCallbacks {
  using Field = HttpParser::Field;
  using Pending = HttpParser::Pending;
  static HttpParser& self(llhttp_t* p) { return *static_cast<HttpParser*>(p->data); }

  static int on_message_begin(llhttp_t* p) {
    self(p).begin_message();
    return 0;
  }
  static int on_url(llhttp_t* p, const char* at, size_t len) {
    HttpParser& s = self(p);
    // request-target has no whitespace, CTLs or raw non-ASCII (RFC 9112 §3.2, RFC 3986 §2).
    for (size_t i = 0; i < len; ++i) {
      unsigned char c = static_cast<unsigned char>(at[i]);
      if (c <= 0x20 || c >= 0x7f)
        return s.set_error(400, "invalid byte in request-target (RFC 9112 §3.2)");
    }
    if (len != 0 && !extend(s.head_.target, at, len))
      return s.set_error(400, "request-target not contiguous");
    // The target ends the line: HTTP/0.9 (RFC 9112 §2.3). Decided here, at that byte, so a fault
    // later in the input cannot come first in one read and second in another.
    if (at + len < s.seg_end_ && (at[len] == '\r' || at[len] == '\n'))
      return s.set_error(505, "HTTP/0.9 request line (RFC 9112 §2.3)");
    return 0;
  }
  static int on_status(llhttp_t* p, const char* at, size_t len) {
    HttpParser& s = self(p);
    if (len != 0 && !extend(s.head_.reason, at, len))
      return s.set_error(400, "status-line not contiguous");
    return 0;
  }
  static int on_version(llhttp_t* p, const char* at, size_t len) {
    self(p).version_end_ = at + len;
    return 0;
  }
  static int on_version_complete(llhttp_t* p) {
    HttpParser& s = self(p);
    // Refuse other versions at once, not at the end of a head that may never come (RFC 9112 §2.3).
    if (p->http_major != 1 || p->http_minor > 1)
      return s.set_error(505, "HTTP version not supported (RFC 9110 §15.6.6)");
    if (s.mode_ == HttpParser::Mode::kRequest) s.start_line_done_ = true;  // version ends it
    return 0;
  }
  static int on_status_complete(llhttp_t* p) {
    self(p).start_line_done_ = true;
    return 0;
  }
  static int on_header_field(llhttp_t* p, const char* at, size_t len) {
    HttpParser& s = self(p);
    if (len == 0) return 0;
    s.start_line_done_ = true;
    // field-name = token; whitespace before the colon must be rejected (RFC 9112 §5.1).
    for (size_t i = 0; i < len; ++i) {
      if (!kTables.tchar[static_cast<unsigned char>(at[i])]) {
        return s.set_error(400, "invalid field-name or whitespace before colon (RFC 9112 §5.1)");
      }
    }
    if (s.in_trailers_) {
      if (s.field_ != Field::kName) {
        s.trailer_spans_.push_back({static_cast<uint32_t>(s.trailer_bytes_.size()), 0, 0, 0});
        s.field_ = Field::kName;
      }
      s.trailer_bytes_.append(at, len);
      s.trailer_spans_.back().name_len += static_cast<uint32_t>(len);
      return 0;
    }
    if (s.field_ == Field::kName) {
      if (!extend(s.head_.headers.back().name, at, len))
        return s.set_error(400, "field-name not contiguous");
      return 0;
    }
    s.head_.headers.push_back({{at, len}, {}});
    s.field_ = Field::kName;
    return 0;
  }
  static int on_header_value(llhttp_t* p, const char* at, size_t len) {
    HttpParser& s = self(p);
    if (len == 0 || is_spaces(at)) return 0;  // substituted trailing OWS: trimmed anyway
    if (s.field_ == Field::kNone || s.field_ == Field::kDone) {
      return s.set_error(400, "empty field-name (RFC 9112 §5.1)");
    }
    if (s.in_trailers_) {
      HttpParser::TrailerSpan& t = s.trailer_spans_.back();
      if (s.field_ == Field::kName) t.value_off = static_cast<uint32_t>(s.trailer_bytes_.size());
      s.trailer_bytes_.append(at, len);
      t.value_len += static_cast<uint32_t>(len);
    } else if (s.field_ == Field::kName) {
      s.head_.headers.back().value = {at, len};
    } else if (!extend(s.head_.headers.back().value, at, len)) {
      // llhttp reports an obs-fold continuation as a second, detached value piece.
      return s.set_error(400, "obs-fold line folding (RFC 9112 §5.2)");
    }
    s.field_ = Field::kValue;
    return 0;
  }
  // The field count is checked once the name is whole (at its colon), not when its first piece
  // arrives: llhttp hands over a name cut by the end of a read but not one it finds invalid
  // before the colon, so a check on the first piece made the verdict (431 or 400) depend on
  // where reads happened to split the head. The list holds at most one field over the limit.
  static int on_header_field_complete(llhttp_t* p) {
    HttpParser& s = self(p);
    s.after_colon_ = true;
    if (s.in_trailers_) {
      if (s.trailer_spans_.size() > s.limits_.max_headers)
        return s.set_error(431, "too many trailer fields");
    } else if (s.head_.headers.size() > s.limits_.max_headers) {
      return s.set_error(431, "too many header fields");
    }
    return 0;
  }
  static int on_header_value_complete(llhttp_t* p) {
    HttpParser& s = self(p);
    s.after_colon_ = false;
    if (s.field_ == Field::kNone || s.field_ == Field::kDone) {
      return s.set_error(400, "empty field-name (RFC 9112 §5.1)");
    }
    // field-value excludes leading and trailing OWS (RFC 9112 §5.1); llhttp keeps trailing OWS.
    if (s.in_trailers_) {
      HttpParser::TrailerSpan& t = s.trailer_spans_.back();
      if (s.field_ == Field::kName) t.value_off = static_cast<uint32_t>(s.trailer_bytes_.size());
      while (t.value_len != 0 && is_ows(s.trailer_bytes_[t.value_off + t.value_len - 1]))
        t.value_len--;
    } else {
      HeaderField& f = s.head_.headers.back();
      f.value = trim_ows(f.value);
    }
    s.field_ = Field::kDone;
    return 0;
  }
  static int on_headers_complete(llhttp_t* p) {
    HttpParser& s = self(p);
    if (!s.finish_head()) return -1;
    s.pending_ = Pending::kHead;
    return HPE_PAUSED;
  }
  static int on_body(llhttp_t* p, const char* at, size_t len) {
    HttpParser& s = self(p);
    if (len == 0) return 0;
    s.body_total_ += len;
    // Content-Length and chunk sizes are checked before their data; this catches close-delimited.
    if (s.limits_.max_body_bytes != 0 && s.body_total_ > s.limits_.max_body_bytes) {
      return s.set_error(413, "body larger than max_body_bytes");
    }
    s.body_ = {at, len};
    s.pending_ = Pending::kBody;
    return HPE_PAUSED;
  }
  static int on_chunk_header(llhttp_t* p) {
    HttpParser& s = self(p);
    uint64_t size = p->content_length;
    if (s.limits_.max_body_bytes != 0 &&
        (size > s.limits_.max_body_bytes || s.body_total_ + size > s.limits_.max_body_bytes)) {
      return s.set_error(413, "chunked body larger than max_body_bytes");
    }
    if (size == 0) s.in_trailers_ = true;  // last-chunk: trailer fields follow (RFC 9112 §7.1.2)
    s.field_ = Field::kNone;
    s.pending_ = Pending::kChunkHeader;
    return HPE_PAUSED;
  }
  static int on_chunk_complete(llhttp_t* p) {
    self(p).pending_ = Pending::kChunkComplete;
    return HPE_PAUSED;
  }
  static int on_message_complete(llhttp_t* p) {
    self(p).pending_ = Pending::kMessageEnd;
    return HPE_PAUSED;
  }

  static const llhttp_settings_t* settings() {
    static const llhttp_settings_t kSettings = [] {
      llhttp_settings_t st;
      llhttp_settings_init(&st);  // zeroes the callbacks we do not use
      st.on_message_begin = on_message_begin;
      st.on_url = on_url;
      st.on_status = on_status;
      st.on_version = on_version;
      st.on_version_complete = on_version_complete;
      st.on_status_complete = on_status_complete;
      st.on_header_field = on_header_field;
      st.on_header_value = on_header_value;
      st.on_header_value_complete = on_header_value_complete;
      st.on_header_field_complete = on_header_field_complete;
      st.on_headers_complete = on_headers_complete;
      st.on_body = on_body;
      st.on_chunk_header = on_chunk_header;
      st.on_chunk_complete = on_chunk_complete;
      st.on_message_complete = on_message_complete;
      return st;
    }();
    return &kSettings;
  }
};

HttpParser::HttpParser(Mode mode, HttpLimits limits) : mode_(mode), limits_(limits) {
  // A typical head fits; more grow the vector (slices are views, so moving them is free).
  head_.headers.reserve(std::min<size_t>(limits_.max_headers, kHeadersReserved));
  reset();
}

void HttpParser::reset() {
  llhttp_init(&llhttp_, mode_ == Mode::kRequest ? HTTP_REQUEST : HTTP_RESPONSE,
              HttpParserCallbacks::settings());
  llhttp_.data = this;  // never any llhttp_set_lenient_*: strictness is the point
  state_ = State::kIdle;
  pending_ = Pending::kNone;
  response_to_head_ = false;
  error_status_ = 0;
  error_reason_ = "";
  begin_message();
  state_ = State::kIdle;
  scan_ = Scan::kLines;
  pending_cr_ = false;
  line_start_ = true;
  head_bytes_ = 0;
  // One head with many fields must not pin its vector for the connection's lifetime.
  if (head_.headers.capacity() > kHeadersWatermark) {
    std::vector<HeaderField>().swap(head_.headers);
    head_.headers.reserve(kHeadersReserved);
  }
}

int HttpParser::set_error(int status, const char* reason) {
  if (state_ != State::kError) {
    state_ = State::kError;
    error_status_ = status;
    error_reason_ = reason;
  }
  return -1;
}

HttpParser::Step HttpParser::fail(int status, const char* reason, size_t consumed) {
  set_error(status, reason);
  return {Event::kError, consumed, {}};
}

void HttpParser::begin_message() {
  state_ = State::kMessage;
  head_.clear();
  field_ = Field::kNone;
  version_end_ = nullptr;
  start_line_done_ = after_colon_ = false;
  ext_ = Ext::kNone;
  ext_bytes_ = 0;
  body_total_ = 0;
  chunks_done_ = 0;
  body_ = {};
  in_trailers_ = false;
  trailer_bytes_.clear();
  trailer_spans_.clear();
  trailers_.clear();
}

bool HttpParser::finish_head() {
  HttpHead& h = head_;
  h.version_major = llhttp_.http_major;
  h.version_minor = llhttp_.http_minor;
  // Only HTTP/1.0 and 1.1 are spoken here (RFC 9112 §2.3); 0.9 and 2.0 parse but are refused.
  if (h.version_major != 1 || h.version_minor > 1) {
    return set_error(505, "HTTP version not supported (RFC 9110 §15.6.6)"), false;
  }
  const bool request = mode_ == Mode::kRequest;
  const bool http11 = h.version_minor == 1;
  FieldSummary s;
  summarize(h.headers, s);
  bool connect = false, skip_body = false;
  if (request) {
    h.method_id = llhttp_.method;
    h.method = llhttp_method_name(static_cast<llhttp_method_t>(llhttp_.method));
    connect = h.method_id == HTTP_CONNECT;
    // Exactly one valid Host in HTTP/1.1; at most one in 1.0 (RFC 9112 §3.2).
    if (s.host_count > 1) return set_error(400, "more than one Host field (RFC 9112 §3.2)"), false;
    if (s.host_count == 0 && http11)
      return set_error(400, "missing Host field (RFC 9112 §3.2)"), false;
    if (!valid_host(s.host)) return set_error(400, "invalid Host value (RFC 9112 §3.2)"), false;
    h.host = s.host;
    // An expectation in an HTTP/1.0 request is ignored (RFC 9110 §10.1.1).
    h.expect_continue = http11 && s.expect_continue;
  } else {
    h.status = llhttp_.status_code;
    if (!valid_status_line(version_end_, h.status)) {
      return set_error(400, "invalid status-line (RFC 9112 §4)"), false;
    }
    // Responses to HEAD and 1xx/204/304 end with the head whatever they declare (RFC 9112 §6.3 r1).
    skip_body = response_to_head_ || h.status / 100 == 1 || h.status == 204 || h.status == 304;
  }
  // Smuggling guards (RFC 9112 §6.1, §6.3): llhttp rejects most of these too; check regardless of
  // how it was built, since our framing and llhttp's must never disagree.
  if (s.cl_count > 1) return set_error(400, "duplicate Content-Length (RFC 9112 §6.3)"), false;
  if (s.te_count != 0 && s.cl_count != 0) {
    return set_error(400, "both Transfer-Encoding and Content-Length (RFC 9112 §6.3)"), false;
  }
  if (s.te_bad) return set_error(400, "chunked not the final coding once (RFC 9112 §6.1)"), false;
  if (request && s.te_count != 0 && !http11) {
    return set_error(400, "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)"), false;
  }
  if (request && s.te_count != 0 && !s.chunked_final) {
    return set_error(400, "Transfer-Encoding without final chunked (RFC 9112 §6.3)"), false;
  }
  // Upgrade is honoured only in HTTP/1.1 with the "upgrade" connection option (RFC 9110 §7.8);
  // CONNECT turns the connection into a tunnel (RFC 9110 §9.3.6).
  h.upgrade = request ? connect || (http11 && s.conn_upgrade && s.has_upgrade) : h.status == 101;
  llhttp_.upgrade = h.upgrade ? 1 : 0;  // llhttp then stops after this message, as we do
  if (skip_body || connect) {
    h.framing = BodyFraming::kNone;
  } else if (s.te_count != 0) {
    h.framing = s.chunked_final ? BodyFraming::kChunked : BodyFraming::kUntilClose;
  } else if (s.cl_count != 0) {
    h.framing = BodyFraming::kContentLength;
    h.content_length = llhttp_.content_length;
  } else {
    h.framing = request ? BodyFraming::kNone : BodyFraming::kUntilClose;
  }
  if (!skip_body && !connect) {
    bool ll_chunked = (llhttp_.flags & F_CHUNKED) != 0;
    bool ll_length = (llhttp_.flags & F_CONTENT_LENGTH) != 0;
    if (ll_chunked != (h.framing == BodyFraming::kChunked) || ll_length != (s.cl_count != 0)) {
      return set_error(400, "ambiguous message framing (RFC 9112 §6.3)"), false;
    }
  }
  if (skip_body) llhttp_.flags |= F_SKIPBODY;
  if (h.framing == BodyFraming::kContentLength && limits_.max_body_bytes != 0 &&
      h.content_length > limits_.max_body_bytes) {
    return set_error(413, "Content-Length larger than max_body_bytes"), false;
  }
  // Persistence (RFC 9112 §9.3): 1.1 unless "close"; 1.0 only with "keep-alive"; never after a
  // close-delimited body or an HTTP/1.0 message with Transfer-Encoding (§6.1: faulty framing).
  bool keep = http11 ? !s.conn_close : s.conn_keep_alive && !s.conn_close;
  if (h.framing == BodyFraming::kUntilClose || (!http11 && s.te_count != 0)) keep = false;
  h.keep_alive = keep && llhttp_should_keep_alive(&llhttp_);
  return true;
}

void HttpParser::end_message() {
  for (const TrailerSpan& t : trailer_spans_) {
    trailers_.push_back({std::string_view(trailer_bytes_).substr(t.name_off, t.name_len),
                         std::string_view(trailer_bytes_).substr(t.value_off, t.value_len)});
  }
  const bool interim = mode_ == Mode::kResponse && head_.status / 100 == 1 && !head_.upgrade;
  if (head_.upgrade) {
    state_ = State::kUpgraded;
  } else if (!head_.keep_alive && !interim) {
    state_ = State::kClosed;
  } else {
    state_ = State::kIdle;
  }
  if (!interim) response_to_head_ = false;
  scan_ = Scan::kLines;
  pending_cr_ = false;
  line_start_ = true;
  head_bytes_ = 0;
  in_trailers_ = false;
  field_ = Field::kNone;
  start_line_done_ = after_colon_ = false;
  ext_ = Ext::kNone;
}

// Head and trailer lines: CRLF endings only (bare CR or LF rejected, RFC 9112 §2.2), no CTLs
// (field values and reason are HTAB/SP/VCHAR/obs-text, RFC 9110 §5.5), no line starting with
// whitespace (obs-fold, RFC 9112 §5.2, or whitespace after the start-line, §2.2).
bool HttpParser::scan_lines(const unsigned char* p, const unsigned char* end) {
  const unsigned char* line_begin = nullptr;  // where a line began in this call
  while (p < end) {
    if (pending_cr_ || line_start_) {  // slow path: a CRLF or a line start split across reads
      unsigned char c = *p;
      if (pending_cr_) {
        if (c != '\n') return set_error(400, "bare CR in head (RFC 9112 §2.2)"), false;
        pending_cr_ = false;
        line_start_ = true;
        ++p;
        continue;
      }
      line_start_ = false;
      line_begin = p;
      if (c == ' ' || c == '\t')
        return set_error(400, "line starts with whitespace: obs-fold (RFC 9112 §5.2)"), false;
    }
    p = skip_plain(p, end);
    if (p == end) break;
    unsigned char c = *p++;
    if (c == '\r') {
      // Common case inline: CR LF and the next line's first byte all in this segment.
      if (end - p >= 2 && p[0] == '\n' && p[1] != ' ' && p[1] != '\t') {
        ++p;
        line_begin = p;
      } else {
        pending_cr_ = true;
        cr_ended_empty_line_ = p - 1 == line_begin;
      }
    } else if (c == '\n') {
      return set_error(400, "bare LF in head (RFC 9112 §2.2)"), false;
    } else if (c != '\t') {
      return set_error(400, "control character in head (RFC 9110 §5.5)"), false;
    }
  }
  return true;
}

// Checks the bytes llhttp consumed between two stops that were not body data.
bool HttpParser::scan(const char* from, const char* to) {
  auto* p = reinterpret_cast<const unsigned char*>(from);
  auto* end = reinterpret_cast<const unsigned char*>(to);
  if (p == end || scan_ == Scan::kBody) return true;
  if (scan_ == Scan::kLines || scan_ == Scan::kTrailers) {
    head_bytes_ += static_cast<size_t>(end - p);
    if (head_bytes_ > limits_.max_header_bytes) {
      return set_error(431, scan_ == Scan::kLines ? "header section larger than max_header_bytes"
                                                  : "trailer section larger than max_header_bytes"),
             false;
    }
    return scan_lines(p, end);
  }
  // Chunk framing (RFC 9112 §7.1): chunk-size [chunk-ext] CRLF, data, CRLF. llhttp 8.1 accepts
  // leading zeros without bound and (unless built strict) anything as the CRLF after data.
  for (; p < end; ++p) {
    unsigned char c = *p;
    switch (scan_) {
      case Scan::kSize:
        if (kTables.hex[c]) {
          if (++size_digits_ > 16)
            return set_error(400, "chunk-size over 16 hex digits (RFC 9112 §7.1)"), false;
        } else if (size_digits_ != 0 && c == ';') {
          scan_ = Scan::kExt;
        } else if (size_digits_ != 0 && c == '\r') {
          scan_ = Scan::kSizeLf;
        } else {
          return set_error(400, c == '\n' ? "bare LF in chunk framing (RFC 9112 §2.2)"
                                          : "invalid chunk-size (RFC 9112 §7.1)"),
                 false;
        }
        break;
      case Scan::kExt:
        if (c == '\r') {
          scan_ = Scan::kSizeLf;
        } else if (c == '\n' || !kTables.plain[c]) {
          return set_error(400, "invalid byte in chunk-ext (RFC 9112 §7.1.1)"), false;
        }
        break;
      case Scan::kSizeLf:
      case Scan::kData:
      case Scan::kDataLf: {
        const bool lf = scan_ != Scan::kData;
        if (c != (lf ? '\n' : '\r'))
          return set_error(400, "chunk framing not CRLF (RFC 9112 §7.1)"), false;
        scan_ = scan_ == Scan::kSizeLf ? Scan::kSizeDone : lf ? Scan::kDataDone : Scan::kDataLf;
        break;
      }
      default:
        return set_error(400, "unexpected chunk framing bytes"), false;
    }
  }
  return true;
}

// Field lines may end in OWS, which includes HTAB (RFC 9110 §5.6.3, RFC 9112 §5.1), but llhttp 8.1
// refuses an HTAB after a Content-Length or Transfer-Encoding value. parse() feeds llhttp spaces
// for such a run instead (OWS is not part of the value, so nothing is lost).
// Returns: the first byte of the first trailing whitespace run holding an HTAB on a field line of
// the current head or trailer section in [p, end), with *run_end = the CR after it (end when the
// run reaches end); or end if there is none.
const char* HttpParser::find_trailing_htab(const char* p, const char* end,
                                           const char** run_end) const {
  // A read that ended in the start line's CR: a response's start line is done for llhttp only
  // at the LF (on_status_complete), but the lines after that LF are fields all the same.
  bool fields = scan_ == Scan::kTrailers || start_line_done_ || (pending_cr_ && !cr_ended_empty_line_);
  bool line_start = line_start_ && !pending_cr_;
  bool after_cr = pending_cr_;
  bool colon = after_colon_ && !line_start && !after_cr;  // only a field value has OWS to trim
  const char* ws = nullptr;
  bool tab = false;
  for (; p < end; ++p) {
    const char c = *p;
    if (after_cr) {
      if (c != '\n') return end;  // scan_lines refuses the bare CR
      after_cr = false;
      line_start = true;
      colon = false;
      continue;
    }
    if (c == '\r') {
      if (line_start && fields) return end;  // the empty line: the section ends here
      if (fields && tab && colon) {
        *run_end = p;
        return ws;
      }
      if (!line_start) fields = true;  // the start line ended
      after_cr = true;
      ws = nullptr;
      tab = false;
      continue;
    }
    line_start = false;
    colon |= c == ':';
    if (c == ' ' || c == '\t') {
      if (ws == nullptr) ws = p;
      tab |= c == '\t';
    } else {
      ws = nullptr;
      tab = false;
    }
  }
  if (fields && tab && colon) {
    *run_end = end;
    return ws;
  }
  return end;
}

// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ), chunk-ext-val =
// token / quoted-string (RFC 9112 §7.1.1, RFC 9110 §5.6.4). llhttp 8.1 refuses BWS and quoted-pair
// escapes, so these bytes are checked here and never handed to it; llhttp sees "SIZE CRLF".
// Returns: the CR ending the extensions, end if more are needed, nullptr after set_error.
const char* HttpParser::skip_chunk_ext(const char* p, const char* end) {
  for (; p < end; ++p) {
    const unsigned char c = static_cast<unsigned char>(*p);
    if (c == '\r') {
      // Whitespace before the CR is tolerated: extensions are discarded, framing is unchanged.
      if (ext_ == Ext::kName || ext_ == Ext::kNameBws || ext_ == Ext::kToken ||
          ext_ == Ext::kValBws) {
        ext_ = Ext::kNone;
        return p;
      }
      return set_error(400, "incomplete chunk-ext (RFC 9112 §7.1.1)"), nullptr;
    }
    if (++ext_bytes_ > limits_.max_chunk_ext_bytes)
      return set_error(400, "chunk-ext longer than max_chunk_ext_bytes"), nullptr;
    const bool ws = c == ' ' || c == '\t';
    const bool tchar = kTables.tchar[c];
    bool ok = true;
    switch (ext_) {
      case Ext::kNone:
      case Ext::kBws:  // BWS before ";"
        ok = ws || c == ';';
        if (c == ';') ext_ = Ext::kSemi;
        break;
      case Ext::kSemi:  // BWS before the name
        ok = ws || tchar;
        if (tchar) ext_ = Ext::kName;
        break;
      case Ext::kName:
      case Ext::kNameBws:
        ok = ws || c == '=' || c == ';' || (tchar && ext_ == Ext::kName);
        ext_ = c == '=' ? Ext::kEq : c == ';' ? Ext::kSemi : ws ? Ext::kNameBws : ext_;
        break;
      case Ext::kEq:  // BWS before the value
        ok = ws || tchar || c == '"';
        if (!ws) ext_ = c == '"' ? Ext::kQuoted : Ext::kToken;
        break;
      case Ext::kToken:
      case Ext::kValBws:
        ok = ws || c == ';' || (tchar && ext_ == Ext::kToken);
        ext_ = c == ';' ? Ext::kSemi : ws ? Ext::kValBws : ext_;
        break;
      case Ext::kQuoted:  // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
        ok = c == '\t' || (c >= 0x20 && c != 0x7f);
        if (c == '"') ext_ = Ext::kValBws;
        if (c == '\\') ext_ = Ext::kEscape;
        break;
      case Ext::kEscape:  // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
        ok = c == '\t' || (c >= 0x20 && c != 0x7f);
        ext_ = Ext::kQuoted;
        break;
    }
    if (!ok) return set_error(400, "invalid chunk-ext (RFC 9112 §7.1.1)"), nullptr;
  }
  return end;
}

HttpParser::Step HttpParser::parse(const char* data, size_t len) {
  switch (state_) {
    case State::kError:
      return {Event::kError, 0, {}};
    case State::kUpgraded:
      if (len == 0) return {Event::kNeedMore, 0, {}};
      return fail(400, "parse() after a protocol switch: bytes are tunnel data", 0);
    case State::kClosed:
      // The message said the connection ends after it (RFC 9112 §9.6); llhttp would drop or reject.
      if (len == 0) return {Event::kNeedMore, 0, {}};
      return fail(400, "data after a message that closes the connection (RFC 9112 §9.6)", 0);
    default:
      break;
  }
  if (data == nullptr) data = kEmpty;
  const char* cur = data;
  const char* const end = data + len;
  for (;;) {
    pending_ = Pending::kNone;
    // llhttp gets [cur, seg_end); then, if `run` is set, spaces in place of [run, run_end).
    const char* seg_end = end;
    const char* run = nullptr;
    const char* run_end = nullptr;
    if (scan_ == Scan::kLines || scan_ == Scan::kTrailers) {
      // Only a HTAB can make a run llhttp refuses; almost no head has one, and memchr looks
      // for it many bytes at a time where the scan below walks them one by one.
      if (std::memchr(cur, '\t', static_cast<size_t>(end - cur)) != nullptr) {
        const char* ws = find_trailing_htab(cur, end, &run_end);
        if (ws != end) seg_end = run = ws;
      }
    } else if (scan_ == Scan::kSize && ext_ != Ext::kNone) {
      const char* cr = skip_chunk_ext(cur, end);
      if (cr == nullptr) return {Event::kError, static_cast<size_t>(cur - data), {}};
      if (cr == end) return {Event::kNeedMore, len, {}};
      cur = cr;  // llhttp continues with the CR after the size digits
    } else if (scan_ == Scan::kSize) {
      const char* q = cur;
      while (q < end && kTables.hex[static_cast<unsigned char>(*q)]) ++q;
      // Before llhttp sees the digits: its chunk-size callback (413) must not win over this.
      if (size_digits_ + static_cast<size_t>(q - cur) > 16)
        return fail(400, "chunk-size over 16 hex digits (RFC 9112 §7.1)", static_cast<size_t>(cur - data));
      if (q < end && (*q == ';' || *q == ' ' || *q == '\t') && (q != cur || size_digits_ != 0)) {
        seg_end = q;
        ext_ = Ext::kBws;
        ext_bytes_ = 0;
      }
    }
    seg_end_ = seg_end;
    llhttp_errno_t err = llhttp_execute(&llhttp_, cur, static_cast<size_t>(seg_end - cur));
    // A request line without a version is HTTP/0.9; llhttp would wait for a head (RFC 9112 §2.3).
    // Checked after scan(): a bad byte before it must win however the input was split.
    const bool http09 =
        mode_ == Mode::kRequest && llhttp_.http_major == 0 && llhttp_.http_minor == 9;
    if (err == HPE_OK) {
      if (!scan(cur, seg_end)) return {Event::kError, len, {}};
      if (http09) return fail(505, "HTTP/0.9 request line (RFC 9112 §2.3)", len);
      if (run != nullptr) {
        if (run_end == end && head_bytes_ + static_cast<size_t>(end - run) < limits_.max_header_bytes) {
          // The run may yet end in CR: keep it for the next call (the caller passes it again).
          return {Event::kNeedMore, static_cast<size_t>(run - data), {}};
        }
        for (size_t n = static_cast<size_t>(run_end - run); n != 0;) {
          const size_t k = std::min(n, kSpacesLen);
          seg_end_ = kSpaces + k;
          if (llhttp_execute(&llhttp_, kSpaces, k) != HPE_OK || !scan(kSpaces, kSpaces + k)) {
            if (state_ == State::kError) return {Event::kError, static_cast<size_t>(run - data), {}};
            return fail(400, llhttp_get_error_reason(&llhttp_), static_cast<size_t>(run - data));
          }
          n -= k;
        }
        cur = run_end;
        continue;
      }
      if (seg_end != end) {
        cur = seg_end;  // chunk-ext starts here
        continue;
      }
      return {Event::kNeedMore, len, {}};
    }
    const char* stop = llhttp_get_error_pos(&llhttp_);
    size_t consumed =
        stop != nullptr && stop >= data && stop <= end ? static_cast<size_t>(stop - data) : 0;
    if (err != HPE_PAUSED) {
      // A byte-level fault in the bytes before the error point, or an HTTP/0.9 request line
      // already behind it, wins over the error: it is what an earlier read would have reported,
      // and the verdict must not depend on how the input was split (found by tests/fuzz).
      const bool ours = state_ == State::kError;  // our callback refused
      const int status = error_status_;
      const char* reason = error_reason_;
      state_ = State::kMessage;
      if (stop != nullptr && stop >= cur && stop <= seg_end && !scan(cur, stop))
        return {Event::kError, consumed, {}};
      if (http09) return fail(505, "HTTP/0.9 request line (RFC 9112 §2.3)", consumed);
      if (ours) {
        state_ = State::kError;
        error_status_ = status;
        error_reason_ = reason;
        return {Event::kError, consumed, {}};
      }
      if (err == HPE_PAUSED_H2_UPGRADE)
        return fail(505, "HTTP/2 connection preface (RFC 9113 §3.4)", consumed);
      return fail(400, llhttp_get_error_reason(&llhttp_), consumed);
    }
    llhttp_resume(&llhttp_);
    if (!scan(cur, pending_ == Pending::kBody ? body_.data() : stop))
      return {Event::kError, consumed, {}};
    if (http09) return fail(505, "HTTP/0.9 request line (RFC 9112 §2.3)", consumed);
    cur = stop;
    switch (pending_) {
      case Pending::kHead:
        scan_ = head_.framing == BodyFraming::kChunked ? Scan::kSize : Scan::kBody;
        size_digits_ = 0;
        return {Event::kHead, consumed, {}};
      case Pending::kBody:
        return {Event::kBody, consumed, body_};
      case Pending::kMessageEnd:
        end_message();
        return {Event::kMessageEnd, consumed, {}};
      case Pending::kChunkHeader:
        if (scan_ != Scan::kSizeDone) return fail(400, "chunk-size line mismatch", consumed);
        scan_ = in_trailers_ ? Scan::kTrailers : Scan::kData;
        if (in_trailers_) {
          pending_cr_ = false;
          line_start_ = true;
          head_bytes_ = 0;
        }
        continue;  // internal stop: keep going, even with no bytes left
      case Pending::kChunkComplete:
        if (scan_ == Scan::kDataDone) {
          ++chunks_done_;
          scan_ = Scan::kSize;
          size_digits_ = 0;
        } else if (scan_ != Scan::kTrailers || !line_start_ || pending_cr_) {
          return fail(400, "chunk data end mismatch", consumed);
        }
        continue;
      case Pending::kNone:
        return fail(400, "llhttp paused without an event", consumed);
    }
  }
}

HttpParser::Step HttpParser::finish() {
  if (state_ == State::kError) return {Event::kError, 0, {}};
  if (state_ != State::kMessage) return {Event::kNeedMore, 0, {}};
  // Report an event already decided by consumed bytes (e.g. the end of a bodiless message) first.
  Step step = parse(kEmpty, 0);
  if (step.event != Event::kNeedMore || state_ != State::kMessage) return step;
  if (scan_ == Scan::kBody && head_.framing == BodyFraming::kUntilClose) {
    end_message();  // the close delimits the body (RFC 9112 §6.3 rule 8)
    state_ = State::kClosed;
    return {Event::kMessageEnd, 0, {}};
  }
  return fail(400, "connection closed before the message was complete (RFC 9112 §8)", 0);
}

}  // namespace ringway::net
