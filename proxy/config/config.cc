// Config entry points: reading the file, the YAML syntax check, the top-level keys and
// the checks that span sections (listener overlap). Sections live in config_parse_*.cc.
#include "proxy/config/config.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "net/http_writer.h"
#include "proxy/config/parse.h"

namespace ringway::proxy {

using config_parse::Field;
using config_parse::KeyHandler;
using config_parse::read_headers;
using config_parse::read_limits;
using config_parse::read_routes;
using config_parse::read_timeouts;
using config_parse::read_upstreams;
using config_parse::Reader;

namespace {

// Two listeners collide when they share a port and one address covers the other.
bool overlaps(const net::HostPort& a, const net::HostPort& b) {
  if (a.port != b.port || a.port == 0) return false;
  return a.host == b.host || net::is_wildcard_host(a.host) || net::is_wildcard_host(b.host);
}

void read_listen(Reader& r, const Field& f, std::vector<net::HostPort>* out) {
  std::vector<Field> items;
  if (!r.scalar_or_items(f, &items)) return;
  if (items.empty()) {
    r.error(f, "must list at least one address");
    return;
  }
  out->clear();
  for (const Field& item : items) {
    net::HostPort hp;
    if (!r.read_host_port(item, net::PortZero::kAllow, &hp)) continue;
    auto clash = std::find_if(out->begin(), out->end(),
                              [&](const net::HostPort& other) { return overlaps(hp, other); });
    if (clash != out->end()) {
      r.error(item, hp.to_string() + " overlaps " + clash->to_string());
      continue;
    }
    out->push_back(std::move(hp));
  }
}

void read_admin(Reader& r, const Field& f, Config* config, Field* listen_field) {
  const KeyHandler keys[] = {
      {"listen",
       [&](const Field& x) {
         if (r.read_host_port(x, net::PortZero::kAllow, &config->admin_listen)) *listen_field = x;
       }},
  };
  r.read_map(f, keys);
}

void read_io(Reader& r, const Field& f, net::IoMode* out) {
  std::string text;
  if (r.read_string(f, &text) && !net::parse_io_mode(text, out)) {
    r.error(f, "unknown io mode '" + text + "' (use auto, io_uring or epoll)");
  }
}

void read_top_level(Reader& r, const Field& root, Config* c) {
  Field upstreams;
  Field routes;
  Field admin_listen;
  const KeyHandler keys[] = {
      {"listen", [&](const Field& x) { read_listen(r, x, &c->listen); }},
      {"admin", [&](const Field& x) { read_admin(r, x, c, &admin_listen); }},
      {"workers", [&](const Field& x) { r.read_int(x, 0, 1024, &c->workers); }},
      {"io", [&](const Field& x) { read_io(r, x, &c->io); }},
      {"user", [&](const Field& x) { r.read_string(x, &c->user); }},
      {"limits", [&](const Field& x) { read_limits(r, x, &c->limits); }},
      {"timeouts", [&](const Field& x) { read_timeouts(r, x, &c->timeouts); }},
      {"headers",
       [&](const Field& x) { read_headers(r, x, &c->request_headers, &c->response_headers); }},
      {"upstreams", [&](const Field& x) { upstreams = x; }},
      {"routes", [&](const Field& x) { routes = x; }},
      {"access_log", [&](const Field& x) { read_access_log(r, x, &c->access_log); }},
  };
  r.read_map(root, keys);
  c->request_headers.index_names();
  c->response_headers.index_names();
  // Upstreams first, whatever the key order in the file: routes refer to them by name.
  if (!upstreams.path.empty()) read_upstreams(r, upstreams, &c->upstreams);
  if (!routes.path.empty()) read_routes(r, routes, c->upstreams, &c->routes);
  if (!admin_listen.path.empty()) {
    for (const net::HostPort& hp : c->listen) {
      if (overlaps(hp, c->admin_listen)) {
        r.error(admin_listen,
                c->admin_listen.to_string() + " overlaps listen address " + hp.to_string());
      }
    }
  }
}

// Records where each document starts; every other event is ignored.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// yaml-cpp 0.7 neither rejects nor skips a stray top-level ',' (or similar token): it
// yields an empty document at the same position forever (YAML::LoadAll then exhausts
// memory, YAML::Load silently returns null). So documents are counted first, by events,
// with a cap. Returns: false when the text is unusable (error recorded).
bool check_documents(Reader& r, const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts docs;
  constexpr size_t kMaxDocuments = 16;  // One is allowed; the rest only find the stuck case.
  while (docs.starts.size() < kMaxDocuments && parser.HandleNextDocument(docs)) {
    const size_t n = docs.starts.size();
    if (n >= 2 && docs.starts[n - 1].pos == docs.starts[n - 2].pos) {
      const YAML::Mark& at = docs.starts[n - 1];
      const size_t pos = static_cast<size_t>(at.pos);
      std::string message = "YAML syntax error: unexpected ";
      if (pos < text.size()) {
        message.append(1, '\'').append(1, text[pos]).append(1, '\'');
      } else {
        message.append("end of file");
      }
      r.error_at_mark(at, std::move(message));
      return false;
    }
  }
  if (docs.starts.size() > 1) {
    r.error_at_mark(docs.starts[1], "only one YAML document is allowed per config file");
  }
  return true;
}

}  // namespace

const char* balance_policy_name(BalancePolicy policy) {
  switch (policy) {
    case BalancePolicy::kP2C:
      return "p2c";
    case BalancePolicy::kLeastRequest:
      return "least_request";
    case BalancePolicy::kRoundRobin:
      return "round_robin";
  }
  return "unknown";
}

bool parse_balance_policy(std::string_view text, BalancePolicy* out) {
  for (BalancePolicy p :
       {BalancePolicy::kP2C, BalancePolicy::kLeastRequest, BalancePolicy::kRoundRobin}) {
    if (text == balance_policy_name(p)) {
      *out = p;
      return true;
    }
  }
  return false;
}

void HeaderRules::index_names() {
  owned_names.clear();
  for (const auto& [name, value] : set) owned_names.push_back(name);
  for (const std::string& name : remove) owned_names.push_back(name);
  for (std::string& name : owned_names) {
    for (char& ch : name) ch = net::ascii_lower(ch);
  }
  // By length, then bytes: the lookup (header_rules.cc) settles most comparisons on size.
  std::sort(owned_names.begin(), owned_names.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  owned_names.erase(std::unique(owned_names.begin(), owned_names.end()), owned_names.end());
}

std::vector<std::pair<std::string, std::string>> default_response_headers() {
  return {{"X-Frame-Options", "DENY"},
          {"X-Content-Type-Options", "nosniff"},
          {"Referrer-Policy", "no-referrer"},
          {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"}};
}

int Config::find_upstream(std::string_view name) const {
  for (size_t i = 0; i < upstreams.size(); ++i) {
    if (upstreams[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::string ConfigError::to_string() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

std::shared_ptr<const Config> parse_config(std::string_view yaml_text, const std::string& file_name,
                                           std::vector<ConfigError>* errors) {
  Reader r(file_name);
  auto config = std::make_shared<Config>();
  config->source = file_name;
  // yaml-cpp reports through exceptions; they stop here, so nothing past config loading
  // ever sees one.
  try {
    const std::string text(yaml_text);
    if (check_documents(r, text)) {
      Field root;
      root.value = YAML::Load(text);  // the first document only
      read_top_level(r, root, config.get());
    }
  } catch (const YAML::Exception& e) {
    r.error_at_mark(e.mark, "YAML syntax error: " + e.msg);
  } catch (const std::exception& e) {
    r.error_at_mark(YAML::Mark::null_mark(), std::string("cannot parse: ") + e.what());
  }
  std::vector<ConfigError>& found = r.errors();
  if (found.empty()) return config;
  std::stable_sort(found.begin(), found.end(), [](const ConfigError& a, const ConfigError& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  errors->insert(errors->end(), found.begin(), found.end());
  return nullptr;
}

std::shared_ptr<const Config> load_config_file(const std::string& path,
                                               std::vector<ConfigError>* errors) {
  // Real configs are a few KiB; the cap stops "--config /dev/zero" from eating memory.
  constexpr size_t kMaxConfigBytes = 4 << 20;
  auto fail = [&](int err) {
    errors->push_back(ConfigError{path, 1, 1, std::string("cannot read: ") + strerror(err)});
    return nullptr;
  };
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(errno);
  std::string text;
  char buf[16384];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      return fail(err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxConfigBytes) {
      close(fd);
      errors->push_back(ConfigError{path, 1, 1, "cannot read: larger than 4 MiB"});
      return nullptr;
    }
  }
  close(fd);
  return parse_config(text, path, errors);
}

}  // namespace ringway::proxy
