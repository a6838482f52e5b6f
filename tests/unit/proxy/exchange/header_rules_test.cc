// Tests for proxy/exchange/header_rules.*: the exact bytes of the upstream request head and the client
// response head built from heads parsed out of real bytes by net::HttpParser, and which
// incoming X-Request-Id values are safe to echo.
#include "proxy/exchange/header_rules.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "net/http_parser.h"

namespace ringway::proxy {
namespace {

using net::HttpParser;

// Parses `bytes` up to the end of the head; the bytes live as long as this object because the
// head's fields are slices of them.
class Parsed {
 public:
  Parsed(HttpParser::Mode mode, std::string bytes, bool response_to_head = false)
      : bytes_(std::move(bytes)), parser_(mode, net::HttpLimits{}) {
    parser_.set_response_to_head(response_to_head);
    size_t off = 0;
    for (int guard = 0; guard < 100; ++guard) {
      HttpParser::Step st = parser_.parse(bytes_.data() + off, bytes_.size() - off);
      off += st.consumed;
      if (st.event == HttpParser::Event::kHead) {
        ok_ = true;
        return;
      }
      if (st.event == HttpParser::Event::kError || st.event == HttpParser::Event::kNeedMore) {
        error_ = std::to_string(parser_.error_status()) + " " + parser_.error_reason();
        return;
      }
    }
  }
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  const net::HttpHead& head() const { return parser_.head(); }

 private:
  std::string bytes_;
  HttpParser parser_;
  bool ok_ = false;
  std::string error_ = "no head";
};

Parsed request(std::string bytes) {
  return Parsed(HttpParser::Mode::kRequest, std::move(bytes));
}
Parsed response(std::string bytes, bool to_head = false) {
  return Parsed(HttpParser::Mode::kResponse, std::move(bytes), to_head);
}

const ClientFacts kClient{"192.0.2.7", "http", "rid-1"};
constexpr std::string_view kDefaultHost = "upstream.internal:8001";

// The fields every upstream request ends with (before rules and framing).
std::string forwarded(std::string_view xff = "192.0.2.7", std::string_view via = "1.1 ringway") {
  std::string s = "X-Forwarded-For: ";
  s.append(xff).append(
      "\r\nX-Real-IP: 192.0.2.7\r\nX-Forwarded-Proto: http\r\nX-Request-Id: rid-1\r\nVia: ");
  s.append(via).append("\r\n");
  return s;
}

struct Built {
  OutFraming framing;
  std::string out;
};

Built upstream_request(const Parsed& p, std::string_view target, const HeaderRules& rules = {},
                       const ClientFacts& client = kClient) {
  EXPECT_TRUE(p.ok()) << p.error();
  Built b;
  b.framing = build_upstream_request(p.head(), target, client, rules, kDefaultHost, b.out);
  return b;
}

HeaderRules security_rules() {
  return HeaderRules{default_response_headers(), {}, {}};
}

constexpr std::string_view kSecurity =
    "X-Frame-Options: DENY\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n";

Built client_response(const Parsed& p, ResponseFacts facts,
                      const HeaderRules& rules = security_rules()) {
  EXPECT_TRUE(p.ok()) << p.error();
  if (facts.request_id.empty()) facts.request_id = "rid-1";
  Built b;
  b.framing = build_client_response(p.head(), facts, rules, b.out);
  return b;
}

// ---- upstream request ------------------------------------------------------------------------

TEST(UpstreamRequest, DropsHopByHopAndConnectionNamedFields) {
  Parsed p = request(
      "GET /service1/ping?x=1 HTTP/1.1\r\n"
      "Host: example.com\r\n"
      "User-Agent: curl/8.0\r\n"
      "Connection: keep-alive, X-Secret\r\n"
      "Keep-Alive: timeout=5\r\n"
      "X-Secret: hunter2\r\n"
      "TE: trailers\r\n"
      "Proxy-Authorization: Basic Zm9vOmJhcg==\r\n"
      "Proxy-Connection: keep-alive\r\n"
      "Accept: */*\r\n"
      "\r\n");
  Built b = upstream_request(p, "/ping?x=1");
  EXPECT_EQ(b.out,
            "GET /ping?x=1 HTTP/1.1\r\n"
            "Host: example.com\r\n"
            "User-Agent: curl/8.0\r\n"
            "Accept: */*\r\n" +
                forwarded() + "\r\n");
  EXPECT_EQ(b.framing, OutFraming::kNone);
}

TEST(UpstreamRequest, AppendsClientToSingleForwardedForChain) {
  Parsed p =
      request("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.1, 198.51.100.2\r\n\r\n");
  Built b = upstream_request(p, "/");
  EXPECT_EQ(b.out, "GET / HTTP/1.1\r\nHost: h\r\n" +
                       forwarded("203.0.113.1, 198.51.100.2, 192.0.2.7") + "\r\n");
}

TEST(UpstreamRequest, JoinsMultipleForwardedForFieldsInOrder) {
  Parsed p = request(
      "GET / HTTP/1.1\r\n"
      "X-Forwarded-For: 203.0.113.1\r\n"
      "Host: h\r\n"
      "x-forwarded-for: 198.51.100.2, 198.51.100.3\r\n"
      "\r\n");
  Built b = upstream_request(p, "/");
  EXPECT_EQ(b.out, "GET / HTTP/1.1\r\nHost: h\r\n" +
                       forwarded("203.0.113.1, 198.51.100.2, 198.51.100.3, 192.0.2.7") + "\r\n");
}

TEST(UpstreamRequest, ReplacesClientSuppliedForwardingFields) {
  Parsed p = request(
      "GET / HTTP/1.1\r\n"
      "Host: h\r\n"
      "X-Real-IP: 10.9.9.9\r\n"
      "X-Forwarded-Proto: https\r\n"
      "X-Request-Id: spoofed\r\n"
      "Via: 1.0 fred\r\n"
      "\r\n");
  Built b = upstream_request(p, "/");
  EXPECT_EQ(b.out, "GET / HTTP/1.1\r\nHost: h\r\n" +
                       forwarded("192.0.2.7", "1.0 fred, 1.1 ringway") + "\r\n");
}

TEST(UpstreamRequest, KeepsEveryViaFieldInTheChain) {
  // Via is a list (RFC 9110 §7.6.3): two field lines are one chain, and each intermediary
  // appends to the end of it.
  Parsed p = request("GET / HTTP/1.1\r\nHost: h\r\nVia: 1.0 fred\r\nVia: 1.1 nowhere.com\r\n\r\n");
  Built b = upstream_request(p, "/");
  EXPECT_EQ(b.out, "GET / HTTP/1.1\r\nHost: h\r\n" +
                       forwarded("192.0.2.7", "1.0 fred, 1.1 nowhere.com, 1.1 ringway") + "\r\n");
}

TEST(UpstreamRequest, AppliesSetAndRemoveRules) {
  Parsed p = request(
      "GET /a HTTP/1.1\r\n"
      "Host: h\r\n"
      "User-Agent: Mozilla/5.0\r\n"
      "Cookie: session=1\r\n"
      "Accept: text/html\r\n"
      "\r\n");
  HeaderRules rules{{{"X-Env", "prod"}, {"user-agent", "ringway-test"}}, {"COOKIE"}, {}};
  Built b = upstream_request(p, "/a", rules);
  EXPECT_EQ(b.out, "GET /a HTTP/1.1\r\nHost: h\r\nAccept: text/html\r\n" + forwarded() +
                       "X-Env: prod\r\nuser-agent: ringway-test\r\n\r\n");
}

// The loader indexes rule names once per snapshot (HeaderRules::index_names); the indexed
// lookup must give exactly the bytes of the plain scan, whatever the case on either side.
TEST(UpstreamRequest, IndexedRuleNamesForwardTheSameBytesAsTheScan) {
  Parsed p = request(
      "GET /a HTTP/1.1\r\n"
      "Host: h\r\n"
      "USER-agent: Mozilla/5.0\r\n"
      "cookie: session=1\r\n"
      "Accept: text/html\r\n"
      "x-env: client\r\n"
      "\r\n");
  HeaderRules plain{{{"X-Env", "prod"}, {"user-agent", "ringway-test"}}, {"COOKIE", "Accept"}, {}};
  HeaderRules indexed = plain;
  indexed.index_names();
  ASSERT_EQ(indexed.owned_names, (std::vector<std::string>{"x-env", "accept", "cookie", "user-agent"}));
  Built a = upstream_request(p, "/a", plain);
  Built b = upstream_request(p, "/a", indexed);
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(b.out, "GET /a HTTP/1.1\r\nHost: h\r\n" + forwarded() +
                       "X-Env: prod\r\nuser-agent: ringway-test\r\n\r\n");
}

TEST(UpstreamRequest, SetHostRuleReplacesHostInsteadOfAddingASecondOne) {
  // headers.request.set may name Host (only removing it is refused by the config parser).
  // RFC 9112 §3.2: a request with two Host fields must be rejected by the upstream.
  Parsed p = request("GET / HTTP/1.1\r\nHost: public.example\r\n\r\n");
  HeaderRules rules{{{"Host", "backend.internal"}}, {}, {}};
  Built b = upstream_request(p, "/", rules);
  EXPECT_EQ(b.out, "GET / HTTP/1.1\r\n" + forwarded() + "Host: backend.internal\r\n\r\n");
}

TEST(UpstreamRequest, AddsDefaultHostForHttp10WithoutHost) {
  Parsed p = request("GET /x HTTP/1.0\r\nAccept: */*\r\n\r\n");
  Built b = upstream_request(p, "/x");
  EXPECT_EQ(b.out, "GET /x HTTP/1.1\r\nAccept: */*\r\nHost: upstream.internal:8001\r\n" +
                       forwarded() + "\r\n");
}

TEST(UpstreamRequest, KeepsHostOfHttp10Request) {
  Parsed p = request("GET /x HTTP/1.0\r\nHost: old.example\r\n\r\n");
  Built b = upstream_request(p, "/x");
  EXPECT_EQ(b.out, "GET /x HTTP/1.1\r\nHost: old.example\r\n" + forwarded() + "\r\n");
}

TEST(UpstreamRequest, KeepsContentLengthAndDropsExpect) {
  Parsed p = request(
      "POST /up HTTP/1.1\r\n"
      "Host: h\r\n"
      "Content-Length: 5\r\n"
      "Expect: 100-continue\r\n"
      "Content-Type: text/plain\r\n"
      "\r\n"
      "hello");
  Built b = upstream_request(p, "/up");
  EXPECT_EQ(b.out, "POST /up HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\n" + forwarded() +
                       "Content-Length: 5\r\n\r\n");
  EXPECT_EQ(b.framing, OutFraming::kContentLength);
}

TEST(UpstreamRequest, ZeroContentLengthIsRestated) {
  Parsed p = request("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
  Built b = upstream_request(p, "/up");
  EXPECT_EQ(b.out, "POST /up HTTP/1.1\r\nHost: h\r\n" + forwarded() + "Content-Length: 0\r\n\r\n");
  EXPECT_EQ(b.framing, OutFraming::kContentLength);
}

TEST(UpstreamRequest, RestatesChunkedFraming) {
  Parsed p = request(
      "POST /up HTTP/1.1\r\n"
      "Host: h\r\n"
      "Transfer-Encoding: chunked\r\n"
      "Content-Type: text/plain\r\n"
      "\r\n"
      "5\r\nhello\r\n0\r\n\r\n");
  Built b = upstream_request(p, "/up");
  EXPECT_EQ(b.out, "POST /up HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\n" + forwarded() +
                       "Transfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(b.framing, OutFraming::kChunked);
}

TEST(UpstreamRequest, RestatesUpgradeForWebSocket) {
  Parsed p = request(
      "GET /ws HTTP/1.1\r\n"
      "Host: h\r\n"
      "Connection: Upgrade\r\n"
      "Upgrade: websocket\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n"
      "\r\n");
  ASSERT_TRUE(p.head().upgrade);
  Built b = upstream_request(p, "/ws");
  EXPECT_EQ(b.out,
            "GET /ws HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n" +
                forwarded() + "Upgrade: websocket\r\nConnection: upgrade\r\n\r\n");
  EXPECT_EQ(b.framing, OutFraming::kNone);
}

TEST(UpstreamRequest, UpgradeWithoutConnectionOptionIsNotForwarded) {
  // Upgrade without "Connection: upgrade" is no upgrade (RFC 9110 §7.8): dropped as hop-by-hop.
  Parsed p = request("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n");
  ASSERT_FALSE(p.head().upgrade);
  Built b = upstream_request(p, "/ws");
  EXPECT_EQ(b.out, "GET /ws HTTP/1.1\r\nHost: h\r\n" + forwarded() + "\r\n");
}

TEST(UpstreamRequest, UsesGivenTargetAndMethod) {
  Parsed p = request("DELETE /service2/items/7 HTTP/1.1\r\nHost: h\r\n\r\n");
  Built b = upstream_request(p, "/items/7");
  EXPECT_EQ(b.out.substr(0, b.out.find("\r\n")), "DELETE /items/7 HTTP/1.1");
}

// ---- client response -------------------------------------------------------------------------

TEST(ClientResponse, SetsSecurityHeadersAndRequestIdAndDropsHopByHop) {
  Parsed p = response(
      "HTTP/1.1 200 OK\r\n"
      "Content-Type: application/json\r\n"
      "Content-Length: 2\r\n"
      "Connection: keep-alive, X-Internal\r\n"
      "Keep-Alive: timeout=5\r\n"
      "X-Internal: debug\r\n"
      "X-Request-Id: upstream-chose-this\r\n"
      "Server: svc\r\n"
      "X-Frame-Options: SAMEORIGIN\r\n"
      "Proxy-Authenticate: Basic\r\n"
      "Trailer: X-Checksum\r\n"
      "\r\n"
      "{}");
  Built b = client_response(p, ResponseFacts{});
  EXPECT_EQ(b.out,
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: application/json\r\n"
            "Server: svc\r\n"
            "X-Request-Id: rid-1\r\n"
            "Via: 1.1 ringway\r\n" +
                std::string(kSecurity) + "Content-Length: 2\r\n\r\n");
  EXPECT_EQ(b.framing, OutFraming::kContentLength);
}

TEST(ClientResponse, KeepsUpstreamReasonPhraseAndAppendsVia) {
  Parsed p = response("HTTP/1.1 404 Nope\r\nVia: 1.1 cache\r\nContent-Length: 0\r\n\r\n");
  Built b = client_response(p, ResponseFacts{}, HeaderRules{});
  EXPECT_EQ(b.out,
            "HTTP/1.1 404 Nope\r\nX-Request-Id: rid-1\r\nVia: 1.1 cache, 1.1 ringway\r\n"
            "Content-Length: 0\r\n\r\n");
}

TEST(ClientResponse, EmptyReasonGetsTheRegisteredPhrase) {
  Parsed p = response("HTTP/1.1 503 \r\nContent-Length: 0\r\n\r\n");
  Built b = client_response(p, ResponseFacts{}, HeaderRules{});
  EXPECT_EQ(b.out.substr(0, b.out.find("\r\n")), "HTTP/1.1 503 Service Unavailable");
}

TEST(ClientResponse, RemoveRuleDropsField) {
  Parsed p = response(
      "HTTP/1.1 200 OK\r\nServer: nginx/1.2\r\nX-Powered-By: php\r\nContent-Length: 0\r\n\r\n");
  Built b = client_response(p, ResponseFacts{}, HeaderRules{{}, {"server", "X-Powered-By"}, {}});
  EXPECT_EQ(
      b.out,
      "HTTP/1.1 200 OK\r\nX-Request-Id: rid-1\r\nVia: 1.1 ringway\r\nContent-Length: 0\r\n\r\n");
}

TEST(ClientResponse, CloseDelimitedBodyIsChunkedForHttp11Client) {
  Parsed p = response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nstream...");
  ASSERT_EQ(p.head().framing, net::BodyFraming::kUntilClose);
  Built b = client_response(p, ResponseFacts{});
  EXPECT_EQ(
      b.out,
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Request-Id: rid-1\r\nVia: 1.1 ringway\r\n" +
          std::string(kSecurity) + "Transfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(b.framing, OutFraming::kChunked);
}

TEST(ClientResponse, ChunkedUpstreamStaysChunked) {
  Parsed p = response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  Built b = client_response(p, ResponseFacts{}, HeaderRules{});
  EXPECT_EQ(b.out,
            "HTTP/1.1 200 OK\r\nX-Request-Id: rid-1\r\nVia: 1.1 ringway\r\nTransfer-Encoding: "
            "chunked\r\n\r\n");
  EXPECT_EQ(b.framing, OutFraming::kChunked);
}

TEST(ClientResponse, KeepsTransferCodingsOtherThanChunked) {
  // The proxy removes and re-applies only the chunked coding; a gzip transfer coding stays on
  // the bytes it relays, so the client must still be told about it (RFC 9112 §6.1).
  Parsed p = response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
  Built b = client_response(p, ResponseFacts{}, HeaderRules{});
  EXPECT_EQ(b.out,
            "HTTP/1.1 200 OK\r\nX-Request-Id: rid-1\r\nVia: 1.1 ringway\r\n"
            "Transfer-Encoding: gzip, chunked\r\n\r\n");
}

TEST(ClientResponse, Http10ClientGetsCloseDelimitedBodyAndConnectionClose) {
  Parsed p = response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  ResponseFacts f;
  f.client_http10 = true;
  Built b = client_response(p, f, HeaderRules{});
  EXPECT_EQ(
      b.out,
      "HTTP/1.1 200 OK\r\nX-Request-Id: rid-1\r\nVia: 1.1 ringway\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(b.framing, OutFraming::kUntilClose);
}

TEST(ClientResponse, Http10ClientWithLengthKeepsConnectionAlive) {
  Parsed p = response("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
  ResponseFacts f;
  f.client_http10 = true;
  Built b = client_response(p, f, HeaderRules{});
  EXPECT_EQ(b.out,
            "HTTP/1.1 200 OK\r\nX-Request-Id: rid-1\r\nVia: 1.1 ringway\r\nContent-Length: 3\r\n"
            "Connection: keep-alive\r\n\r\n");
  EXPECT_EQ(b.framing, OutFraming::kContentLength);
}

TEST(ClientResponse, CloseFactAddsConnectionClose) {
  Parsed p = response("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
  ResponseFacts f;
  f.close = true;
  Built b = client_response(p, f, HeaderRules{});
  EXPECT_EQ(b.out,
            "HTTP/1.1 200 OK\r\nX-Request-Id: rid-1\r\nVia: 1.1 ringway\r\nContent-Length: 3\r\n"
            "Connection: close\r\n\r\n");
}

TEST(ClientResponse, HeadResponseKeepsContentLengthWithoutBodyFraming) {
  // The head alone, as the response parser reports it when it was not told about HEAD.
  Parsed p = response("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1234\r\n\r\n");
  ResponseFacts f;
  f.head_request = true;
  Built b = client_response(p, f, HeaderRules{});
  EXPECT_EQ(
      b.out,
      "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Request-Id: rid-1\r\nVia: 1.1 ringway\r\n"
      "Content-Length: 1234\r\n\r\n");
  EXPECT_EQ(b.framing, OutFraming::kNone);
}

TEST(ClientResponse, HeadResponseParsedAsHeadKeepsContentLength) {
  // The proxy parses upstream responses with set_response_to_head(true) for HEAD requests, so
  // the head says framing kNone; the Content-Length still describes the representation and
  // build_client_response's own comment says it is kept (RFC 9110 §9.3.2, §8.6).
  Parsed p = response("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1234\r\n\r\n",
                      /*to_head=*/true);
  ResponseFacts f;
  f.head_request = true;
  Built b = client_response(p, f, HeaderRules{});
  EXPECT_EQ(
      b.out,
      "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Request-Id: rid-1\r\nVia: 1.1 ringway\r\n"
      "Content-Length: 1234\r\n\r\n");
  EXPECT_EQ(b.framing, OutFraming::kNone);
}

TEST(ClientResponse, HeadResponseWithoutLengthGetsNoFraming) {
  Parsed p = response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", /*to_head=*/true);
  ResponseFacts f;
  f.head_request = true;
  Built b = client_response(p, f, HeaderRules{});
  EXPECT_EQ(b.out, "HTTP/1.1 200 OK\r\nX-Request-Id: rid-1\r\nVia: 1.1 ringway\r\n\r\n");
  EXPECT_EQ(b.framing, OutFraming::kNone);
}

TEST(ClientResponse, NoContentHasNoFramingFields) {
  // RFC 9110 §8.6: no Content-Length in a 204, even if the upstream sent one.
  Parsed p = response("HTTP/1.1 204 No Content\r\nX-A: 1\r\nContent-Length: 0\r\n\r\n");
  Built b = client_response(p, ResponseFacts{}, HeaderRules{});
  EXPECT_EQ(b.out,
            "HTTP/1.1 204 No Content\r\nX-A: 1\r\nX-Request-Id: rid-1\r\nVia: 1.1 ringway\r\n\r\n");
  EXPECT_EQ(b.framing, OutFraming::kNone);
}

TEST(ClientResponse, NotModifiedHasNoBodyFraming) {
  Parsed p = response("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n");
  Built b = client_response(p, ResponseFacts{}, HeaderRules{});
  EXPECT_EQ(b.out,
            "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nX-Request-Id: rid-1\r\nVia: 1.1 "
            "ringway\r\n\r\n");
  EXPECT_EQ(b.framing, OutFraming::kNone);
}

TEST(ClientResponse, SwitchingProtocolsKeepsUpgrade) {
  Parsed p = response(
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Connection: Upgrade\r\n"
      "Upgrade: websocket\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
      "\r\n");
  ResponseFacts f;
  f.close = true;  // ignored: the connection becomes a tunnel
  Built b = client_response(p, f);
  EXPECT_EQ(b.out,
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "X-Request-Id: rid-1\r\n"
            "Via: 1.1 ringway\r\n" +
                std::string(kSecurity) + "Upgrade: websocket\r\nConnection: upgrade\r\n\r\n");
  EXPECT_EQ(b.framing, OutFraming::kNone);
}

// ---- usable_request_id -------------------------------------------------------------------------

std::string_view id_of(const Parsed& p) {
  EXPECT_TRUE(p.ok()) << p.error();
  return usable_request_id(p.head());
}

TEST(UsableRequestId, AcceptsVisibleAsciiUpTo128) {
  Parsed a = request("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: a\r\n\r\n");
  EXPECT_EQ(id_of(a), "a");
  const std::string visible = "!\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~";
  Parsed v = request("GET / HTTP/1.1\r\nHost: h\r\nx-request-id: " + visible + "\r\n\r\n");
  EXPECT_EQ(id_of(v), visible);
  const std::string max(128, 'f');
  Parsed m = request("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: " + max + "\r\n\r\n");
  EXPECT_EQ(id_of(m), max);
}

TEST(UsableRequestId, RejectsMissingEmptyTooLongSpaceAndControl) {
  EXPECT_EQ(id_of(request("GET / HTTP/1.1\r\nHost: h\r\n\r\n")), "");
  EXPECT_EQ(id_of(request("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id:\r\n\r\n")), "");
  EXPECT_EQ(id_of(request("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: " + std::string(129, 'f') +
                          "\r\n\r\n")),
            "");
  EXPECT_EQ(id_of(request("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: a b\r\n\r\n")), "");
  EXPECT_EQ(id_of(request("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: a\tb\r\n\r\n")), "");
  // Bytes the parser already refuses (other CTLs) or passes (obs-text) are checked directly.
  for (std::string_view bad :
       {std::string_view("a\x01z"), std::string_view("a\x7fz"), std::string_view("caf\xc3\xa9")}) {
    net::HttpHead h;
    h.headers.push_back({"X-Request-Id", bad});
    EXPECT_EQ(usable_request_id(h), "") << bad;
  }
}

TEST(UsableRequestId, UsesTheFirstField) {
  Parsed p =
      request("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: first\r\nX-Request-Id: second\r\n\r\n");
  EXPECT_EQ(id_of(p), "first");
}

// RFC 9110 §6.5.1: framing, routing, request modifiers, authentication, response control data,
// content processing and Connection-named fields are dropped from trailers (and counted); the
// message is forwarded with the rest.
TEST(HeaderRulesTest, TrailersKeepOnlyFieldsAllowedInTrailers) {
  Parsed req = request("POST / HTTP/1.1\r\nHost: h\r\nConnection: X-Hop\r\nTransfer-Encoding: chunked\r\n\r\n");
  ASSERT_TRUE(req.ok()) << req.error();
  const std::vector<net::HeaderField> trailers = {
      {"X-Checksum", "abc"}, {"Content-Length", "5"},  {"transfer-encoding", "chunked"},
      {"Host", "evil"},      {"Authorization", "x"},   {"Cache-Control", "no-store"},
      {"Content-Type", "x"}, {"If-Match", "*"},        {"X-Hop", "1"},
      {"Set-Cookie", "a=b"}, {"Server-Timing", "db;dur=5"}, {"X-Request-Id", "forged"},
  };
  HeaderRules rules;
  rules.remove = {"X-Secret"};
  std::vector<net::HeaderField> with_rule = trailers;
  with_rule.push_back({"x-secret", "1"});
  std::string out;
  EXPECT_EQ(write_forwarded_trailers(with_rule, ConnectionTokens(req.head()), rules, out), 11u);
  EXPECT_EQ(out, "0\r\nX-Checksum: abc\r\nServer-Timing: db;dur=5\r\n\r\n");
  EXPECT_TRUE(allowed_in_trailers("ETag"));
  EXPECT_FALSE(allowed_in_trailers("content-encoding"));
}

TEST(HeaderRulesTest, ConnectionTokensFromEveryConnectionField) {
  Parsed req = request("GET / HTTP/1.1\r\nHost: h\r\nConnection: close, X-B\r\nX-A: 1\r\n"
                       "connection: x-a ,  Keep-Alive\r\n\r\n");
  ASSERT_TRUE(req.ok()) << req.error();
  ConnectionTokens t(req.head());
  for (const char* name : {"X-A", "x-b", "CLOSE", "keep-alive"}) EXPECT_TRUE(t.contains(name)) << name;
  for (const char* name : {"X", "X-C", "", "Host"}) EXPECT_FALSE(t.contains(name)) << name;
  Parsed none = request("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_FALSE(ConnectionTokens(none.head()).contains("Host"));
}

}  // namespace
}  // namespace ringway::proxy
