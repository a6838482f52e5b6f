// HeadWriter's start lines and numbers (see head_writer.h); field lines are inline.
#include "net/head_writer.h"

#include <algorithm>

#include "net/http_writer.h"

namespace ringway::net {

void HeadWriter::open(size_t n) {
  // A resize fills the spare bytes, so open at most kOpen past the need, not the whole
  // capacity (a string that once held a large body keeps it). When the capacity left already
  // holds n, open only that: a trailer section after a queued body must not reallocate it.
  const size_t spare = out_.capacity() - used_;
  out_.resize(used_ + (spare >= n && spare < kOpen ? spare : std::max(n, kOpen)));
}

void HeadWriter::status_line(int status) {
  status_line(status, reason_phrase(status));
}

void HeadWriter::status_line(int status, std::string_view reason) {
  // status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4): the second SP
  // stays even when the reason is empty. status-code is 3DIGIT; callers pass 100..999.
  const unsigned code = static_cast<unsigned>(status) % 1000;
  char* p = room(13 + reason.size() + 2);
  std::memcpy(p, "HTTP/1.1 ", 9);
  p[9] = static_cast<char>('0' + code / 100);
  p[10] = static_cast<char>('0' + code / 10 % 10);
  p[11] = static_cast<char>('0' + code % 10);
  p[12] = ' ';
  p = put(p + 13, reason);
  p[0] = '\r';
  p[1] = '\n';
}

void HeadWriter::request_line(std::string_view method, std::string_view target) {
  char* p = room(method.size() + 1 + target.size() + 11);
  p = put(p, method);
  *p++ = ' ';
  p = put(p, target);
  std::memcpy(p, " HTTP/1.1\r\n", 11);
}

void HeadWriter::content_length(uint64_t n) {
  char digits[kMaxDecimalDigits];
  char* end = digits + sizeof(digits);
  const char* first = decimal_digits(n, end);
  const size_t len = static_cast<size_t>(end - first);
  char* p = room(16 + len + 2);
  std::memcpy(p, "Content-Length: ", 16);
  std::memcpy(p + 16, first, len);
  p[16 + len] = '\r';
  p[17 + len] = '\n';
}

}  // namespace ringway::net
