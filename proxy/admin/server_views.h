// Per-server live numbers summed over every worker, as /status, /explain, /stats and the
// pages show them: one aggregation for all of them (and the process facts they share).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "proxy/admin/admin_source.h"

namespace ringway::proxy {

// Live numbers of one server summed over workers: ServerStatus's fields (proxy/worker.h)
// with sums instead of one worker's values, plus how many workers had a latency sample.
struct ServerView {
  uint32_t in_flight = 0;
  double ewma_ms = 0;
  int ewma_samples = 0;
  bool ejected = false;
  int64_t ejected_for_ms = 0;
  int ejections = 0;
  size_t idle = 0;
  uint32_t limit = 0;
  double warmth = 1;
  std::string last_error;
};

using ViewMap = std::map<std::pair<std::string, std::string>, ServerView>;

// Returns: every worker's ServerStatus summed per (upstream, server); ewma_ms is the mean over
// the workers that have a sample, limit and ejected_for_ms the largest, warmth the smallest.
ViewMap collect_server_views(AdminSource& proxy);

// The process facts /status and /stats both open with, in this order: version, io,
// io_fallback_reason, workers, ready, draining.
nlohmann::ordered_json process_facts(AdminSource& proxy);

}  // namespace ringway::proxy
