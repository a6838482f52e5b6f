// Micro-benchmarks for net/http_parser: one long-lived parser (as on a keep-alive connection)
// parsing a browser GET, a wrk-style minimal GET and a 2 KB response head, reported in bytes/s.
#include <benchmark/benchmark.h>

#include <string>

#include "net/http_parser.h"

namespace ringway::net {
namespace {

const std::string kBrowserGet =
    "GET /service1/api/v1/items?page=2&sort=name HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "Connection: keep-alive\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Cookie: session=4f1c2a9e8b7d6c5e; theme=dark\r\n"
    "\r\n";

const std::string kWrkGet = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

std::string make_response_head() {
  std::string h =
      "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 0\r\n";
  h += "Cache-Control: no-store\r\nX-Frame-Options: DENY\r\nX-Content-Type-Options: nosniff\r\n";
  h += "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n";
  for (int i = 0; h.size() < 2000; ++i) {
    h += "Set-Cookie: c" + std::to_string(i) + "=" + std::string(48, 'v') +
         "; Path=/; HttpOnly; Secure; SameSite=Lax\r\n";
  }
  return h + "\r\n";
}
const std::string kResponseHead = make_response_head();

// Parses `msg` once per iteration through head, message end and back to idle.
void parse_loop(benchmark::State& state, HttpParser::Mode mode, const std::string& msg) {
  HttpParser parser(mode, HttpLimits{});
  for (auto _ : state) {
    const char* p = msg.data();
    size_t left = msg.size();
    for (;;) {
      HttpParser::Step s = parser.parse(p, left);
      p += s.consumed;
      left -= s.consumed;
      if (s.event == HttpParser::Event::kNeedMore) break;
      if (s.event == HttpParser::Event::kError) {
        state.SkipWithError(parser.error_reason());
        return;
      }
      if (s.event == HttpParser::Event::kHead)
        benchmark::DoNotOptimize(parser.head().headers.data());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * msg.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["msg_bytes"] = static_cast<double>(msg.size());
}

void BM_ParseBrowserGet(benchmark::State& state) {
  parse_loop(state, HttpParser::Mode::kRequest, kBrowserGet);
}
BENCHMARK(BM_ParseBrowserGet);

void BM_ParseWrkGet(benchmark::State& state) {
  parse_loop(state, HttpParser::Mode::kRequest, kWrkGet);
}
BENCHMARK(BM_ParseWrkGet);

void BM_ParseResponseHead2K(benchmark::State& state) {
  parse_loop(state, HttpParser::Mode::kResponse, kResponseHead);
}
BENCHMARK(BM_ParseResponseHead2K);

// Ten pipelined browser GETs in one read: amortizes the per-call cost.
void BM_ParsePipelinedBrowserGets(benchmark::State& state) {
  std::string batch;
  for (int i = 0; i < 10; ++i) batch += kBrowserGet;
  parse_loop(state, HttpParser::Mode::kRequest, batch);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 10));
}
BENCHMARK(BM_ParsePipelinedBrowserGets);

}  // namespace
}  // namespace ringway::net
