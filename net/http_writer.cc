// HTTP/1.1 body framing, number formatting and field utilities (see http_writer.h). Everything
// appends to the caller's buffer; nothing allocates beyond that buffer's growth.
#include "net/http_writer.h"

#include <cstring>

#include "net/head_writer.h"

namespace ringway::net {

bool is_hop_by_hop(std::string_view name) {
  switch (name.size()) {
    case 2:
      return iequals(name, "TE");
    case 7:
      return iequals(name, "Upgrade") || iequals(name, "Trailer");
    case 10:
      return iequals(name, "Connection") || iequals(name, "Keep-Alive");
    case 16:
      return iequals(name, "Proxy-Connection");
    case 17:
      return iequals(name, "Transfer-Encoding");
    case 18:
      return iequals(name, "Proxy-Authenticate");
    case 19:
      return iequals(name, "Proxy-Authorization");
    default:
      return false;
  }
}

bool header_list_contains(std::string_view value, std::string_view token) {
  bool found = false;
  for_each_token(value, [&](std::string_view element) {
    found = iequals(element, token);
    return !found;
  });
  return found;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 103:
      return "Early Hints";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 205:
      return "Reset Content";
    case 206:
      return "Partial Content";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 451:
      return "Unavailable For Legal Reasons";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    case 511:
      return "Network Authentication Required";
    default:
      return {};
  }
}

namespace {
constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";
}  // namespace

char* decimal_digits(uint64_t n, char* end) {
  char* p = end;
  while (n >= 100) {
    unsigned pair = static_cast<unsigned>(n % 100) * 2;
    n /= 100;
    p -= 2;
    std::memcpy(p, kDigitPairs + pair, 2);
  }
  if (n >= 10) {
    p -= 2;
    std::memcpy(p, kDigitPairs + n * 2, 2);
  } else {
    *--p = static_cast<char>('0' + n);
  }
  return p;
}

void append_decimal(std::string& out, uint64_t n) {
  char buf[kMaxDecimalDigits];
  char* end = buf + sizeof(buf);
  const char* p = decimal_digits(n, end);
  out.append(p, static_cast<size_t>(end - p));
}

void append_hex(std::string& out, uint64_t n) {
  char buf[16];
  char* end = buf + sizeof(buf);
  char* p = end;
  do {
    *--p = "0123456789abcdef"[n & 0xf];
    n >>= 4;
  } while (n != 0);
  out.append(p, static_cast<size_t>(end - p));
}

void write_chunk_header(std::string& out, uint64_t len) {
  append_hex(out, len);
  out.append("\r\n", 2);
}

void write_last_chunk(std::string& out, std::span<const HeaderField> trailers) {
  HeadWriter w(out);
  w.append("0\r\n");
  for (const HeaderField& f : trailers) w.header(f.name, f.value);
  w.end_head();
}

}  // namespace ringway::net
