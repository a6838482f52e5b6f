// Proxy e2e fixture: YAML generation, temp files, process start/stop/reload, metric scraping
// and RSS sampling, plus small raw-socket helpers shared by the proxy_*_test.cc files.
#include "tests/e2e/proxy_fixture.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

#include <yaml-cpp/yaml.h>

#include "net/http_writer.h"

namespace ringway::e2e {

namespace {

// A test's flow-map fragment ("max_body_bytes: 10") as a YAML map node.
YAML::Node fragment(const std::string& body) { return YAML::Load("{" + body + "}"); }

}  // namespace

std::string ProxyConfig::to_yaml() const {
  YAML::Node root;
  root["listen"].push_back("127.0.0.1:0");
  root["admin"]["listen"] = "127.0.0.1:0";
  root["workers"] = workers;
  if (!limits.empty()) root["limits"] = fragment(limits);
  if (!timeouts.empty()) root["timeouts"] = fragment(timeouts);
  if (!headers.empty()) root["headers"] = YAML::Load(headers);
  if (!top_level.empty()) {
    for (const auto& kv : YAML::Load(top_level)) root[kv.first.as<std::string>()] = kv.second;
  }
  YAML::Node ups(YAML::NodeType::Map);
  for (const UpstreamSpec& u : upstreams) {
    YAML::Node node = u.extra.empty() ? YAML::Node(YAML::NodeType::Map) : fragment(u.extra);
    for (const std::string& server : u.servers) node["servers"].push_back(server);
    node["health_check"] = YAML::Load(u.health_check);
    ups[u.name] = node;
  }
  root["upstreams"] = ups;
  YAML::Node rs(YAML::NodeType::Sequence);
  for (const RouteSpec& r : routes) {
    YAML::Node route;
    route["prefix"] = r.prefix;
    route["upstream"] = r.upstream;
    route["strip_prefix"] = r.strip_prefix;
    rs.push_back(route);
  }
  root["routes"] = rs;
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/ringway-e2e.XXXXXX";
  if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, std::string_view text) {
  if (path_.empty()) return {};
  const std::string file = path_ + "/" + name;
  // Write then rename: a reload never reads a half-written file.
  const std::string tmp = file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return {};
  }
  if (std::rename(tmp.c_str(), file.c_str()) != 0) return {};
  return file;
}

bool ProxyProcess::start(const ProxyConfig& config, const std::string& io, SpawnOptions::Env env,
                         std::vector<std::string> extra_args) {
  return start_yaml(config.to_yaml(), io, std::move(env), std::move(extra_args));
}

bool ProxyProcess::start_yaml(const std::string& yaml, const std::string& io, SpawnOptions::Env env,
                              std::vector<std::string> extra_args) {
  if (!write_config(yaml)) {
    error_ = "cannot write the config under " + dir_.path();
    return false;
  }
  proc_ = std::make_unique<ChildProcess>();
  SpawnOptions options;
  options.args = {"--config", config_path_, "--io", io};
  for (std::string& a : extra_args) options.args.push_back(std::move(a));
  options.env = std::move(env);
  if (!proc_->start(bin_path("ringway"), options)) {
    error_ = proc_->error();
    return false;
  }
  port_ = proc_->wait_for_listen_port(kStartTimeout, "", " (proxy)");
  admin_port_ = port_ > 0 ? proc_->wait_for_listen_port(kStartTimeout, "admin ") : 0;
  if (port_ <= 0 || admin_port_ <= 0) {
    error_ = "ringway did not log both listeners; config:\n" + yaml + "\nstderr:\n" + proc_->log();
    return false;
  }
  return true;
}

bool ProxyProcess::write_config(std::string_view yaml) {
  config_path_ = dir_.write("ringway.yaml", yaml);
  return !config_path_.empty();
}

bool ProxyProcess::reload() {
  if (!proc_) return false;
  const size_t from = proc_->log_size();
  if (!proc_->signal(SIGHUP)) return false;
  static const std::regex kVerdict("reloaded configuration|reload failed");
  std::optional<LogMatch> m = proc_->wait_for_log(kVerdict, kIoTimeout, from);
  return m && m->line.find("reloaded configuration") != std::string::npos;
}

std::optional<int> ProxyProcess::stop(base::Millis timeout) {
  if (!proc_ || !proc_->running()) return proc_ ? proc_->wait_exit(0) : std::nullopt;
  proc_->signal(SIGTERM);
  return proc_->wait_exit(timeout);
}

std::string ProxyProcess::scrape() {
  net::FetchResult r = http_get(admin_port_, "/metrics", {}, kIoTimeout);
  return r.status == 200 ? r.body : std::string();
}

double ProxyProcess::value(const std::string& text, std::string_view name, const Labels& labels) {
  return sample_value(text, name, labels).value_or(0);
}

long ProxyProcess::rss_kib() const { return proc_ ? proc_->rss_kib() : 0; }

std::string backend_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param == "io_uring" ? "IoUring" : "Epoll";
}

void ProxyE2E::TearDown() {
  if (proxy_.error().empty() && proxy_.port() > 0) {
    std::optional<int> code = proxy_.stop();
    EXPECT_EQ(code, std::optional<int>(0)) << "ringway stderr:\n" << proxy_.log();
  }
  for (auto& up : upstreams_) up->stop();
  for (auto& svc : services_) {
    if (svc->signal(SIGTERM)) svc->wait_exit(kExitTimeout);
  }
}

void ProxyE2E::start_proxy(const ProxyConfig& config, SpawnOptions::Env env) {
  ASSERT_TRUE(proxy_.start(config, io(), std::move(env))) << proxy_.error();
}

void ProxyE2E::start_service(const std::string& name, std::string* addr) {
  auto svc = std::make_unique<ChildProcess>();
  SpawnOptions options;
  options.args = {"--listen", "127.0.0.1:0", "--workers", "1", "--io", io()};
  ASSERT_TRUE(svc->start(bin_path(name), options)) << svc->error();
  const int port = svc->wait_for_listen_port(kStartTimeout);
  ASSERT_GT(port, 0) << name << " stderr:\n" << svc->log();
  *addr = "127.0.0.1:" + std::to_string(port);
  services_.push_back(std::move(svc));
}

FakeUpstream& ProxyE2E::start_upstream(UpstreamScript script) {
  upstreams_.push_back(std::make_unique<FakeUpstream>());
  FakeUpstream& up = *upstreams_.back();
  EXPECT_TRUE(up.start(std::move(script))) << up.error();
  return up;
}

void ProxyE2E::expect_delta(std::string_view name, const Labels& labels, double before, double n) {
  const base::TimePoint deadline = base::Clock::now() + kIoTimeout;
  std::string text = scrape();
  // Waits for gauges falling too: a closed client is counted out a loop turn after its close.
  while (ProxyProcess::value(text, name, labels) != before + n && base::Clock::now() < deadline) {
    ::usleep(10000);
    text = scrape();
  }
  EXPECT_EQ(ProxyProcess::value(text, name, labels) - before, n)
      << name << ::testing::PrintToString(labels) << "\n"
      << text;
}

std::optional<RawResponse> ProxyE2E::exchange(std::string_view bytes, bool head_request) {
  RawConnection c;
  if (!c.connect(proxy_.port())) {
    ADD_FAILURE() << c.error();
    return std::nullopt;
  }
  if (!c.send(bytes)) {
    ADD_FAILURE() << c.error();
    return std::nullopt;
  }
  std::optional<RawResponse> r = c.read_response(kIoTimeout, head_request);
  if (!r) ADD_FAILURE() << c.error();
  return r;
}

ProxyConfig single_route(const std::string& server, const std::string& prefix,
                         const std::string& extra) {
  ProxyConfig c;
  c.upstreams.push_back(UpstreamSpec("up", {server}, extra));
  c.routes.push_back(RouteSpec{prefix, "up", true});
  return c;
}

namespace {

// Reads into acc until done(acc). Returns: whether done(acc) holds at the end.
template <typename Done>
bool recv_while_not(int fd, std::string& acc, base::Millis timeout, Done done) {
  const base::TimePoint deadline = base::Clock::now() + timeout;
  char buf[65536];
  while (!done(acc)) {
    const base::Millis left = deadline - base::Clock::now();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      acc.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      return done(acc);
    }
  }
  return true;
}

}  // namespace

bool recv_until(int fd, std::string& acc, std::string_view marker, base::Millis timeout) {
  return recv_while_not(fd, acc, timeout, [marker](const std::string& a) {
    return a.find(marker) != std::string::npos;
  });
}

bool recv_at_least(int fd, std::string& acc, size_t n, base::Millis timeout) {
  return recv_while_not(fd, acc, timeout, [n](const std::string& a) { return a.size() >= n; });
}

void expect_error_response(const RawResponse& r, int status) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  const std::string id = r.header("X-Request-Id");
  EXPECT_FALSE(id.empty());
  const std::string prefix = "{\"error\":\"" + std::string(net::reason_phrase(status)) +
                             "\",\"status\":" + std::to_string(status) + ",\"detail\":\"";
  const std::string suffix = "\",\"request_id\":\"" + id + "\"}\n";
  EXPECT_EQ(r.body.rfind(prefix, 0), 0u) << r.body;
  ASSERT_GE(r.body.size(), suffix.size()) << r.body;
  EXPECT_EQ(r.body.substr(r.body.size() - suffix.size()), suffix) << r.body;
  EXPECT_EQ(r.header("Content-Length"), std::to_string(r.body.size()));
}

}  // namespace ringway::e2e
