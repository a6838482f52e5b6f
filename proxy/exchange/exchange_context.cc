// Per-worker state a proxy connection reads: request ids from a per-worker PRNG, status code
// counters created on first use (label sets are bounded by routes x status codes) and the
// spare exchanges lent to connections while they carry a request.
#include "proxy/exchange/exchange_context.h"

#include <sys/random.h>

namespace ringway::proxy {

ExchangeContext::ExchangeContext(size_t index, net::Loop& loop, ProxyMetrics& metrics)
    : index_(index), loop_(loop), metrics_(metrics) {
  if (getrandom(rng_, sizeof rng_, 0) != sizeof rng_) {
    rng_[0] = 0x243f6a8885a308d3ull ^ index;
    rng_[1] = 0x13198a2e03707344ull;
  }
}

ExchangeContext::~ExchangeContext() {
  while (spare_ != nullptr) {
    ExchangeState* x = spare_;
    spare_ = x->next_spare;
    delete x;
  }
}

ExchangeState* ExchangeContext::lease_exchange(const net::HttpLimits& limits) {
  ++lent_;
  if (spare_ == nullptr) return new ExchangeState(limits, loop_.recv_buffer_size());
  ExchangeState* x = spare_;
  spare_ = x->next_spare;
  --spares_;
  x->next_spare = nullptr;
  x->renew(limits);
  return x;
}

void ExchangeContext::return_exchange(ExchangeState* x, size_t watermark) {
  --lent_;
  if (spares_ >= kMaxSpareExchanges) {
    delete x;
    return;
  }
  x->release(watermark);
  x->next_spare = spare_;
  spare_ = x;
  ++spares_;
}

void ExchangeContext::new_request_id(char out[32]) {
  // xorshift128+: two 64-bit words per id, no syscall, unique enough for tracing.
  static constexpr char kHex[] = "0123456789abcdef";
  for (int half = 0; half < 2; ++half) {
    uint64_t s1 = rng_[0];
    const uint64_t s0 = rng_[1];
    rng_[0] = s0;
    s1 ^= s1 << 23;
    rng_[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    uint64_t v = rng_[1] + s0;
    for (int i = 0; i < 16; ++i) {
      out[half * 16 + i] = kHex[v & 0xf];
      v >>= 4;
    }
  }
}

metrics::Counter& ExchangeContext::route_code(RouteRuntime& route, int status) {
  if (route.codes.empty()) route.codes.resize(600);
  size_t i = (status >= 100 && status < 600) ? static_cast<size_t>(status) : 0;
  metrics::Counter& c = route.codes[i];
  if (!c) {
    const std::string label = route.config ? route.config->prefix : std::string("none");
    c = metrics_.http_requests.with({label, std::to_string(status)});
  }
  return c;
}

metrics::Counter& ExchangeContext::server_code(const std::string& upstream, ServerRuntime& server, int status) {
  if (server.code_counters.empty()) server.code_counters.resize(600);
  size_t i = (status >= 100 && status < 600) ? static_cast<size_t>(status) : 0;
  metrics::Counter& c = server.code_counters[i];
  if (!c) c = metrics_.upstream_requests.with({upstream, server.address.label, std::to_string(status)});
  return c;
}

}  // namespace ringway::proxy
