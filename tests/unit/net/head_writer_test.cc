// Tests for net/head_writer: exact bytes of every line kind, and that the spare room a writer
// opens never shows: not after end_head, not after an unfinished head, not past a long line.
#include "net/head_writer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace ringway::net {
namespace {

TEST(HeadWriterTest, StatusLines) {
  std::string out;
  HeadWriter head(out);
  head.status_line(200);
  head.status_line(404);
  head.status_line(299);  // unregistered: empty reason, the SP stays (RFC 9112 §4)
  head.status_line(200, "Fine");
  head.end_head();
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nHTTP/1.1 404 Not Found\r\nHTTP/1.1 299 \r\n"
            "HTTP/1.1 200 Fine\r\n\r\n");
}

TEST(HeadWriterTest, AppendsAfterWhatTheStringHolds) {
  std::string out = "keep:";
  HeadWriter head(out);
  head.request_line("GET", "/ping?x=1");
  head.header("Host", "127.0.0.1:8001");
  head.header("X-Empty", {});
  head.content_length(0);
  head.append("Via: 1.1 a, ");
  head.append("1.1 ringway\r\n");
  head.end_head();
  EXPECT_EQ(out,
            "keep:GET /ping?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8001\r\nX-Empty: \r\n"
            "Content-Length: 0\r\nVia: 1.1 a, 1.1 ringway\r\n\r\n");
}

TEST(HeadWriterTest, ContentLengthValues) {
  std::string out;
  HeadWriter head(out);
  head.content_length(1234567890123ull);
  head.content_length(std::numeric_limits<uint64_t>::max());
  head.content_length(7);
  head.end_head();
  EXPECT_EQ(out,
            "Content-Length: 1234567890123\r\nContent-Length: 18446744073709551615\r\n"
            "Content-Length: 7\r\n\r\n");
}

TEST(HeadWriterTest, LinesLongerThanTheOpenedRoomGrowTheString) {
  std::string out;
  const std::string big(10000, 'v');
  std::string want;
  HeadWriter head(out);
  for (int i = 0; i < 5; ++i) {
    head.header("X-Big", big);
    want += "X-Big: " + big + "\r\n";
    head.header("X-Small", "s");
    want += "X-Small: s\r\n";
  }
  head.end_head();
  EXPECT_EQ(out, want + "\r\n");
}

TEST(HeadWriterTest, EndHeadLeavesNoSpareBytesAndABodyAppendedAfterItStays) {
  std::string out;
  out.reserve(1 << 16);  // a string that once held a large body
  {
    HeadWriter head(out);
    head.status_line(204);
    head.end_head();
    EXPECT_EQ(out, "HTTP/1.1 204 No Content\r\n\r\n");
    out += "body";
  }  // the writer's end must not trim what came after end_head
  EXPECT_EQ(out, "HTTP/1.1 204 No Content\r\n\r\nbody");
}

TEST(HeadWriterTest, AnUnfinishedHeadIsTrimmedWhenTheWriterEnds) {
  std::string out = "x";
  {
    HeadWriter head(out);
    head.header("A", "1");
    EXPECT_GT(out.size(), 8u);  // the spare room is open while writing
  }
  EXPECT_EQ(out, "xA: 1\r\n");
}

TEST(HeadWriterTest, ASectionThatFitsTheCapacityLeftDoesNotReallocate) {
  std::string out;
  out.reserve(1000);
  out.assign(out.capacity() - 10, 'b');  // a queued body, 10 bytes of capacity left
  const char* before = out.data();
  HeadWriter trailers(out);
  trailers.append("0\r\n");
  trailers.end_head();
  EXPECT_EQ(out.data(), before);
  EXPECT_EQ(out.substr(out.size() - 6), "b0\r\n\r\n");
}

}  // namespace
}  // namespace ringway::net
