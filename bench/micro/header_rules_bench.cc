// Micro-benchmarks for the header phases of a proxied exchange: build_upstream_request and
// build_client_response on a typical browser request and its response (heads parsed once,
// outside the timed loop), and both together as one request's header work.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>
#include <utility>

#include "net/http_parser.h"
#include "proxy/exchange/header_rules.h"

namespace ringway::proxy {
namespace {

using net::HttpParser;

// A Chrome-like navigation request as seen by the proxy.
constexpr std::string_view kBrowserRequest =
    "GET /service1/api/v1/users/12345?expand=orders&limit=20 HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "Connection: keep-alive\r\n"
    "sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n"
    "sec-ch-ua-mobile: ?0\r\n"
    "sec-ch-ua-platform: \"Linux\"\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "*/*;q=0.8\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-User: ?1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Referer: https://shop.example.com/service1/\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Cookie: session=6f1c0d2e9a7b4c3d8e5f; theme=dark; _ga=GA1.1.123456789.1700000000\r\n"
    "\r\n";

constexpr std::string_view kUpstreamResponse =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: application/json; charset=utf-8\r\n"
    "Content-Length: 1432\r\n"
    "Connection: keep-alive\r\n"
    "Keep-Alive: timeout=5\r\n"
    "Cache-Control: private, max-age=0\r\n"
    "ETag: W/\"598-2e8c1f0a\"\r\n"
    "Vary: Accept-Encoding\r\n"
    "Server: service1\r\n"
    "Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
    "\r\n";

// Owns the bytes and the parser whose head slices point into them.
class ParsedHead {
 public:
  ParsedHead(HttpParser::Mode mode, std::string_view bytes)
      : bytes_(bytes), parser_(mode, net::HttpLimits{}) {
    HttpParser::Step st = parser_.parse(bytes_.data(), bytes_.size());
    if (st.event != HttpParser::Event::kHead) std::abort();  // the fixtures above are valid
  }
  const net::HttpHead& head() const { return parser_.head(); }

 private:
  std::string bytes_;
  HttpParser parser_;
};

const ClientFacts kClient{"198.51.100.23", "http", "0f3c9a1e-7d42-4b8e-9c61-2a5b7e0d4f18"};

void BM_BuildUpstreamRequest(benchmark::State& state) {
  ParsedHead req(HttpParser::Mode::kRequest, kBrowserRequest);
  const HeaderRules rules;  // the default: no request rules
  std::string out;
  out.reserve(2048);
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(build_upstream_request(req.head(),
                                                    "/api/v1/users/12345?expand=orders&limit=20",
                                                    kClient, rules, "127.0.0.1:8001", out));
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(out.size()));
}
BENCHMARK(BM_BuildUpstreamRequest);

void BM_BuildClientResponse(benchmark::State& state) {
  ParsedHead resp(HttpParser::Mode::kResponse, kUpstreamResponse);
  const HeaderRules rules{default_response_headers(), {}};
  const ResponseFacts facts{false, false, false, kClient.request_id};
  std::string out;
  out.reserve(2048);
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(build_client_response(resp.head(), facts, rules, out));
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(out.size()));
}
BENCHMARK(BM_BuildClientResponse);

// A head of N fields plus a Connection field naming many of them (max_headers allows 10,000):
// the request filter must stay linear-ish (ConnectionTokens, O(n log n)), not O(n^2).
void BM_BuildUpstreamRequestManyFieldsWithConnection(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::string bytes = "GET /x HTTP/1.1\r\nHost: h\r\nConnection: keep-alive";
  for (int i = 0; i < n; i += 10) bytes += ", X-F" + std::to_string(i);
  bytes += "\r\n";
  for (int i = 0; i < n; ++i) bytes += "X-F" + std::to_string(i) + ": v\r\n";
  bytes += "\r\n";
  net::HttpParser parser(HttpParser::Mode::kRequest,
                         net::HttpLimits{bytes.size() + 1, static_cast<size_t>(n) + 4, 0});
  if (parser.parse(bytes.data(), bytes.size()).event != HttpParser::Event::kHead) std::abort();
  const HeaderRules rules;
  std::string out;
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(
        build_upstream_request(parser.head(), "/x", kClient, rules, "127.0.0.1:8001", out));
  }
  state.SetComplexityN(n);
}
BENCHMARK(BM_BuildUpstreamRequestManyFieldsWithConnection)->RangeMultiplier(10)->Range(100, 10000)->Complexity();

// One proxied request's header work: both directions, plus the request id check.
void BM_HeaderRulesRoundTrip(benchmark::State& state) {
  ParsedHead req(HttpParser::Mode::kRequest, kBrowserRequest);
  ParsedHead resp(HttpParser::Mode::kResponse, kUpstreamResponse);
  const HeaderRules request_rules;
  const HeaderRules response_rules{default_response_headers(), {}};
  const ResponseFacts facts{false, false, false, kClient.request_id};
  std::string up, down;
  up.reserve(2048);
  down.reserve(2048);
  for (auto _ : state) {
    up.clear();
    down.clear();
    benchmark::DoNotOptimize(usable_request_id(req.head()));
    build_upstream_request(req.head(), "/api/v1/users/12345?expand=orders&limit=20", kClient,
                           request_rules, "127.0.0.1:8001", up);
    build_client_response(resp.head(), facts, response_rules, down);
    benchmark::DoNotOptimize(up.data());
    benchmark::DoNotOptimize(down.data());
  }
}
BENCHMARK(BM_HeaderRulesRoundTrip);

}  // namespace
}  // namespace ringway::proxy
