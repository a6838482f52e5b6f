// ringway: command line, --check-config, --healthcheck, and the signal loop (HUP reload,
// TERM/INT graceful drain, USR1 access log reopen) around ProxyServer.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "net/http_fetch.h"
#include "base/privileges.h"
#include "base/log.h"
#include "base/sd_notify.h"
#include "base/process_signals.h"
#include "base/version.h"
#include "net/worker_pool.h"
#include "proxy/config/config.h"
#include "proxy/proxy_server.h"

namespace {

using ringway::proxy::Config;
using ringway::proxy::ConfigError;

int check_config(const std::string& path) {
  std::vector<ConfigError> errors;
  if (ringway::proxy::load_config_file(path, &errors)) {
    std::printf("%s: ok\n", path.c_str());
    return 0;
  }
  for (const ConfigError& e : errors) std::printf("%s\n", e.to_string().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ringway: HTTP/1.1 reverse proxy on io_uring (epoll fallback)"};
  std::string config_path, check_path, io, healthcheck_url;
  int workers = -1;
  bool version = false;
  app.add_option("--config", config_path, "YAML configuration file");
  app.add_option("--check-config", check_path, "validate FILE, print 'FILE: ok' or its errors, exit");
  app.add_option("--io", io, "override io: auto | io_uring | epoll");
  app.add_option("--workers", workers, "override workers (0 = one per core)");
  app.add_option("--healthcheck", healthcheck_url,
                 "client mode: exit 0 if URL answers 200 within 2 s, else 1");
  app.add_flag("--version", version, "print the version and exit");
  CLI11_PARSE(app, argc, argv);

  if (version) {
    std::printf("ringway %s\n", ringway::base::kVersion);
    return 0;
  }
  if (!healthcheck_url.empty()) return ringway::net::run_healthcheck(healthcheck_url);
  if (!check_path.empty()) return check_config(check_path);
  if (config_path.empty()) {
    std::fprintf(stderr, "ringway: --config FILE is required (see --help)\n");
    return 2;
  }
  ringway::net::IoMode io_mode{};
  if (!io.empty() && !ringway::net::parse_io_mode(io, &io_mode)) {
    std::fprintf(stderr, "ringway: --io must be auto, io_uring or epoll (got '%s')\n", io.c_str());
    return 2;
  }
  if (workers < -1 || workers > 1024) {
    std::fprintf(stderr, "ringway: --workers must be 0..1024\n");
    return 2;
  }
  auto overrides = [io, io_mode, workers](Config& c) {
    if (!io.empty()) c.io = io_mode;
    if (workers >= 0) c.workers = workers;
  };

  std::vector<ConfigError> errors;
  std::shared_ptr<const Config> loaded = ringway::proxy::load_config_file(config_path, &errors);
  if (!loaded) {
    for (const ConfigError& e : errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    return 1;
  }
  auto config = std::make_shared<Config>(*loaded);
  overrides(*config);
  if (std::string w = ringway::base::config_permission_warning(config_path); !w.empty()) {
    ringway::base::log_warn("ringway: " + w);
  }

  ringway::base::block_process_signals();
  ringway::proxy::ProxyServer server(config_path, config, overrides);
  std::string error;
  if (!server.start(&error)) {
    ringway::base::log_error("ringway: " + error);
    return 1;
  }
  if (!config->user.empty()) {
    // After binding (so :80 works as root or with CAP_NET_BIND_SERVICE), before serving.
    if (!ringway::base::drop_privileges(config->user, &error)) {
      ringway::base::log_error("ringway: " + error);
      return 1;
    }
    ringway::base::log_info("ringway: running as user " + config->user);
  }
  ringway::base::sd_notify("READY=1\nSTATUS=serving");
  for (;;) {
    int sig = ringway::base::wait_for_signal(1000);
    if (sig == SIGHUP) {
      ringway::base::sd_notify_reloading();
      bool ok = server.reload();
      ringway::base::sd_notify(ok ? "READY=1\nSTATUS=serving (reloaded)"
                                 : "READY=1\nSTATUS=serving (last reload rejected, see log)");
    } else if (sig == SIGUSR1) {
      server.reopen_access_log();
    } else if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
      break;
    }
  }
  ringway::base::sd_notify("STOPPING=1");
  server.drain_and_stop();
  return 0;
}
