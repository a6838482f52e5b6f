// Proxy e2e: request smuggling. Every framing ambiguity (CL+TE, duplicate CL, obfuscated TE,
// bare LF, oversize chunk sizes) is a 400 that closes the connection, and the upstream gets
// nothing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/e2e/proxy_fixture.h"

namespace ringway::e2e {
namespace {

using ProxySmuggling = ProxyE2E;

struct Vector {
  const char* name;
  std::string bytes;
};

// A second request hidden behind each ambiguity: if any framing interpretation let it
// through, the upstream would see "/smuggled".
const std::string kHidden = "GET /up/smuggled HTTP/1.1\r\nHost: h\r\n\r\n";

std::vector<Vector> head_vectors() {
  const std::string post = "POST /up/x HTTP/1.1\r\nHost: h\r\n";
  return {
      {"CL+TE",
       post + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + kHidden},
      {"TE+CL",
       post + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n" + kHidden},
      {"CL+TE with OWS-prefixed chunked",
       post + "Content-Length: 4\r\nTransfer-Encoding:  chunked\r\n\r\n0\r\n\r\n" + kHidden},
      {"duplicate CL, different",
       post + "Content-Length: 4\r\nContent-Length: 40\r\n\r\nabcd" + kHidden},
      {"duplicate CL, same", post + "Content-Length: 4\r\nContent-Length: 4\r\n\r\nabcd" + kHidden},
      {"CL list", post + "Content-Length: 4, 4\r\n\r\nabcd" + kHidden},
      {"CL with sign", post + "Content-Length: +4\r\n\r\nabcd" + kHidden},
      {"CL hex", post + "Content-Length: 0x4\r\n\r\nabcd" + kHidden},
      {"TE chunked, x", post + "Transfer-Encoding: chunked, x\r\n\r\n0\r\n\r\n" + kHidden},
      {"TE xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + kHidden},
      {"TE chunkedx", post + "Transfer-Encoding: chunkedx\r\n\r\n0\r\n\r\n" + kHidden},
      {"TE chunked twice", post + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n" + kHidden},
      {"TE split over two fields chunked first",
       post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n" +
           kHidden},
      {"TE space before colon", post + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + kHidden},
      {"TE tab before colon", post + "Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n" + kHidden},
      {"TE leading tab and CL",
       post + "Transfer-Encoding:\tchunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n" + kHidden},
      {"TE vertical tab", post +
                              "Transfer-Encoding: \x0b"
                              "chunked\r\n\r\n0\r\n\r\n" +
                              kHidden},
      {"TE obs-fold", post + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + kHidden},
      {"TE obs-fold with tab",
       post + "X-A: 1\r\n\tTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + kHidden},
      {"TE in HTTP/1.0",
       "POST /up/x HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + kHidden},
      {"bare LF line ends", "GET /up/x HTTP/1.1\nHost: h\n\n" + kHidden},
      {"bare LF after a field", "GET /up/x HTTP/1.1\r\nHost: h\nX-A: 1\r\n\r\n" + kHidden},
      {"bare CR", "GET /up/x HTTP/1.1\r\nHost: h\rX-A: 1\r\n\r\n" + kHidden},
      {"two Hosts", "GET /up/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" + kHidden},
      {"NUL in a field value",
       std::string("GET /up/x HTTP/1.1\r\nHost: h\r\nX-A: a") + '\0' + "b\r\n\r\n" + kHidden},
  };
}

// Ambiguities inside a chunked body: found only after the head was accepted.
std::vector<Vector> body_vectors() {
  const std::string post = "POST /up/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  return {
      {"chunk size over 16 hex digits", post + "00000000000000001\r\na\r\n0\r\n\r\n" + kHidden},
      {"chunk size overflowing 64 bits", post + "FFFFFFFFFFFFFFFFF\r\n" + kHidden},
      {"chunk size with sign", post + "-1\r\na\r\n0\r\n\r\n" + kHidden},
      {"chunk size 0x prefix", post + "0x1\r\na\r\n0\r\n\r\n" + kHidden},
      {"chunk size then space", post + "1 \r\na\r\n0\r\n\r\n" + kHidden},
      {"bare LF after chunk size", post + "1\na\r\n0\r\n\r\n" + kHidden},
      {"bare LF after chunk data", post + "1\r\na\n0\r\n\r\n" + kHidden},
      {"chunk data longer than its size", post + "1\r\nabc\r\n0\r\n\r\n" + kHidden},
      {"bare LF ending the last chunk", post + "0\n\n" + kHidden},
  };
}

void expect_rejected(int port, const Vector& v) {
  SCOPED_TRACE(v.name);
  RawConnection conn;
  ASSERT_TRUE(conn.connect(port)) << conn.error();
  ASSERT_TRUE(conn.send(v.bytes)) << conn.error();
  auto r = conn.read_response(kIoTimeout);
  ASSERT_TRUE(r) << conn.error();
  ASSERT_NO_FATAL_FAILURE(expect_error_response(*r, 400));
  EXPECT_EQ(r->header("Connection"), "close");
  std::string rest;
  EXPECT_TRUE(conn.wait_closed(kIoTimeout, &rest)) << conn.error();
  EXPECT_EQ(rest, "");
}

TEST_P(ProxySmuggling, AmbiguousHeadsAre400AndNeverReachTheUpstream) {
  FakeUpstream& up = start_upstream(reply_always(http_response(200, "ok")));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  const double before = requests_now("none", 400);
  const std::vector<Vector> vectors = head_vectors();
  for (const Vector& v : vectors) ASSERT_NO_FATAL_FAILURE(expect_rejected(proxy_.port(), v));
  expect_requests_delta("none", 400, before, static_cast<double>(vectors.size()));
  EXPECT_EQ(up.connection_count(), 0u);
  EXPECT_EQ(up.bytes_received(), 0u);
}

TEST_P(ProxySmuggling, BadChunkFramingIs400AndNoBodyByteReachesTheUpstream) {
  FakeUpstream& up = start_upstream(reply_always(http_response(200, "ok")));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  const double before = requests_now("/up/", 400);
  const std::vector<Vector> vectors = body_vectors();
  for (const Vector& v : vectors) ASSERT_NO_FATAL_FAILURE(expect_rejected(proxy_.port(), v));
  expect_requests_delta("/up/", 400, before, static_cast<double>(vectors.size()));
  // The head was routed, so an upstream connection may have been opened; not one byte of
  // the ambiguous request may have been written to it.
  EXPECT_EQ(up.bytes_received(), 0u);
  EXPECT_EQ(up.request_count(), 0u);

  // With a pooled connection ready: these bodies fit limits.request_buffer, so not even the
  // head goes up (proxy_request_buffering_test.cc checks byte counts); never a complete
  // request, a body byte or the hidden request.
  for (const Vector& v : vectors) {
    SCOPED_TRACE(v.name);
    const size_t warm_before = up.request_count();
    auto warm = exchange("GET /up/warm HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_TRUE(warm && warm->status == 200);
    ASSERT_NO_FATAL_FAILURE(expect_rejected(proxy_.port(), v));
    EXPECT_EQ(up.request_count(), warm_before + 1);  // just the warm-up
  }
  const std::string seen = up.received_data();
  EXPECT_EQ(seen.find("smuggled"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("\r\n0\r\n"), std::string::npos) << seen;
  for (const ReceivedRequest& r : up.requests()) EXPECT_EQ(r.target, "/warm");
}

TEST_P(ProxySmuggling, WellFormedEdgeCasesAreNormalizedNotRejected) {
  FakeUpstream& up = start_upstream(
      serve([](const ReceivedRequest& r) { return http_response(200, r.target + ":" + r.body); }));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  // Spaces and tabs around a field value are OWS, not part of it (RFC 9110 §5.5, §5.6.3):
  // " \tchunked\t" is chunked, and the upstream gets a clean header. A request line inside a
  // body is just body bytes.
  ASSERT_TRUE(
      conn.send("POST /up/a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \tchunked\t \r\n\r\n"
                "5\r\nhello\r\n0\r\n\r\n"
                "POST /up/b HTTP/1.1\r\nHost: h\r\nContent-Length: " +
                std::to_string(kHidden.size()) + "\t\r\n\r\n" + kHidden));
  auto a = conn.read_response(kIoTimeout);
  ASSERT_TRUE(a) << conn.error();
  EXPECT_EQ(a->body, "/a:hello");
  auto b = conn.read_response(kIoTimeout);
  ASSERT_TRUE(b) << conn.error();
  EXPECT_EQ(b->body, "/b:" + kHidden);
  ASSERT_EQ(up.request_count(), 2u);
  const std::vector<ReceivedRequest> reqs = up.requests();
  EXPECT_NE(reqs[0].raw.find("\r\nTransfer-Encoding: chunked\r\n\r\n"), std::string::npos)
      << reqs[0].raw;
  EXPECT_EQ(reqs[1].target, "/b");
  EXPECT_EQ(reqs[1].body, kHidden);
}

RINGWAY_PROXY_BACKENDS(ProxySmuggling);

}  // namespace
}  // namespace ringway::e2e
