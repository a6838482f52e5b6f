// Health checker, probing: one GET per server per interval (with jitter) and the
// consecutive-result thresholds that flip a server between healthy and unhealthy.
#include "proxy/upstream/health_engine.h"

#include "base/log.h"

namespace ringway::proxy {

void HealthChecker::Engine::probe(Server& s) {
  const HealthCheckConfig& hc = s.owner->config->health_check;
  s.started = loop_.now();
  s.probe.start(s.address.addr, s.request, hc.timeout,
                [this, sp = &s](const ProbeOutcome& outcome) { on_probe_done(*sp, outcome); });
}

void HealthChecker::Engine::on_probe_done(Server& s, const ProbeOutcome& outcome) {
  const UpstreamConfig& uc = *s.owner->config;
  const HealthCheckConfig& hc = uc.health_check;
  s.results[static_cast<int>(outcome.result)].inc_shared();
  s.last_check = outcome.detail;
  bool flipped = false;
  if (outcome.result == ProbeResult::kSuccess) {
    s.failures = 0;
    ++s.successes;
    flipped = !s.healthy && s.successes >= hc.healthy_threshold;
  } else {
    s.successes = 0;
    ++s.failures;
    flipped = s.healthy && s.failures >= hc.unhealthy_threshold;
  }
  if (flipped) {
    s.healthy = !s.healthy;
    s.last_transition_unix_ms = base::Clock::unix_ms();
    s.gauge.set(s.healthy ? 1 : 0);
    const int streak = s.healthy ? s.successes : s.failures;
    const char* what = s.healthy ? (streak == 1 ? "success" : "successes")
                                 : (streak == 1 ? "failure" : "failures");
    const std::string text = "upstream " + uc.name + " server " + s.address.label + " is now " +
                             (s.healthy ? "healthy (" : "unhealthy (") + std::to_string(streak) +
                             " consecutive " + what + ": " + outcome.detail + ")";
    base::log(s.healthy ? base::LogLevel::kInfo : base::LogLevel::kWarn, text);
    publish();
  } else if (!status_timer_.armed()) {
    loop_.add_timer(&status_timer_, kStatusRefresh);
  }
  // `interval` is the period between probe starts, ±10% so probes of many servers spread out.
  const base::Millis period =
      random_in(hc.interval - hc.interval / 10, hc.interval + hc.interval / 10);
  loop_.add_timer(&s.timer, std::max<base::Millis>(0, period - (loop_.now() - s.started)));
}

}  // namespace ringway::proxy
