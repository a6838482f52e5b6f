// Server side of HTTP/1.1 connections: parse requests in place, hand complete requests to the
// handler, batch pipelined responses into one send, enforce limits and timeouts.
#include "net/http_server.h"

#include <unistd.h>

#include <algorithm>

#include "base/callback_scope.h"
#include "base/json_writer.h"
#include "net/head_writer.h"
#include "net/http_date.h"
#include "net/http_writer.h"
#include "net/input_buffer.h"
#include "net/lazy_deadline.h"
#include "net/socket.h"

namespace ringway::net {
namespace {

// Output queued past this pauses reading: a client pipelining requests without reading
// responses must not make us buffer without bound.
constexpr size_t kMaxPendingOutput = 256 * 1024;

void rebase(std::string_view& v, const char* lo, const char* hi, ptrdiff_t delta) {
  if (v.data() >= lo && v.data() < hi) v = std::string_view(v.data() + delta, v.size());
}

// Shifts the slices of our own copy of a head after the input buffer compacted.
void rebase_head(HttpHead& h, const char* lo, const char* hi, ptrdiff_t delta) {
  rebase(h.method, lo, hi, delta);
  rebase(h.target, lo, hi, delta);
  rebase(h.reason, lo, hi, delta);
  rebase(h.host, lo, hi, delta);
  for (HeaderField& f : h.headers) {
    rebase(f.name, lo, hi, delta);
    rebase(f.value, lo, hi, delta);
  }
}

}  // namespace

void ResponseWriter::respond(int status, std::string_view content_type, std::string_view body,
                             std::span<const HeaderField> extra) {
  if (responded_) return;
  responded_ = true;
  status_ = status;
  HeadWriter head(*out_);
  head.status_line(status);
  head.header("Date", http_date_now());
  if (!content_type.empty()) head.header("Content-Type", content_type);
  head.content_length(body.size());
  if (close_) head.header("Connection", "close");
  for (const HeaderField& f : extra) head.header(f.name, f.value);
  for (const auto& [name, value] : *common_) head.header(name, value);
  head.end_head();
  if (!head_request_) out_->append(body);
}

// What a connection holds only while it carries a request (see HttpServer::lease_exchange).
struct ServerExchange {
  explicit ServerExchange(const HttpLimits& limits) : parser(HttpParser::Mode::kRequest, limits) {}
  HttpParser parser;
  HttpHead head;
  std::string head_bytes;  // head slices point here once the head is complete
  std::string body;
  std::string out;
  std::string sending_buf;
};

class HttpServerConnection final : public SocketHandler, public base::PoolSlot {
 public:
  explicit HttpServerConnection(HttpServer& server)
      : server_(server),
        loop_(server.loop_),
        in_(server.options_.limits.max_header_bytes + server.options_.recv_chunk),
        deadline_([this] {
          Entered entered(*this);
          on_timer();
        }) {}
  ~HttpServerConnection() override {
    if (x_) server_.return_exchange(x_);
  }

  void open(int fd) {
    in_.clear();  // drop bytes a previous (rejected) client left unread
    in_.release();
    if (x_) {  // kept past a close with a send in flight: not this client's
      server_.return_exchange(x_);
      x_ = nullptr;
    }
    entered_ = 0;
    sending_ = closing_ = close_after_send_ = in_message_ = head_done_ = paused_ = false;
    head_started_ = false;
    sock_ = loop_.add(fd, this);
    loop_.start_recv(sock_);
    set_deadline(server_.options_.idle_timeout);
  }

  bool idle() const { return !in_message_ && !sending_ && (!x_ || x_->out.empty()); }
  bool open_now() const { return sock_ != nullptr && !closing_; }

  // The server is going away: close at once, whatever is in flight.
  void abort() {
    Entered entered(*this);
    close();
  }

  // Called by the server when draining: idle connections go now, busy ones after their
  // response.
  void drain() {
    Entered entered(*this);
    if (idle()) {
      close();
    } else if (!in_message_) {
      close_after_send_ = true;
    }
    // A request still arriving finishes; dispatch() marks its response Connection: close.
  }

  void on_data(const char* data, size_t len) override {
    Entered entered(*this);
    if (closing_) return;
    if (!in_message_) {
      in_message_ = true;
      set_deadline(server_.options_.header_timeout);
    }
    in_.append(data, len);
    process();
  }

  void on_recv_end(int) override {
    Entered entered(*this);
    if (closing_) return;
    if (sending_ || (x_ && !x_->out.empty())) {
      close_after_send_ = true;  // answer what we have, then go
      return;
    }
    close();
  }

  void on_sent(ssize_t res) override {
    Entered entered(*this);
    sending_ = false;
    ex().sending_buf.clear();
    if (res < 0) {
      close();
      return;
    }
    if (!ex().out.empty()) {
      flush();
      return;
    }
    if (close_after_send_) {
      close();
      return;
    }
    if (paused_) {
      paused_ = false;
      loop_.start_recv(sock_);
    }
    process();
  }

 private:
  // The exchange, lent on first use.
  ServerExchange& ex() {
    if (x_ == nullptr) x_ = server_.lease_exchange();
    return *x_;
  }
  // Gives the exchange back between requests (nothing received, nothing to send) and after a
  // close whose last send is done (the kernel may read a send's buffer until it completes).
  void maybe_return_exchange() {
    const bool idle_now = !closing_ && !in_message_ && !sending_ && in_.empty() && x_->out.empty();
    if (idle_now || (closing_ && !sending_)) {
      server_.return_exchange(x_);
      x_ = nullptr;
    }
  }
  void on_outermost_return() {
    if (x_) maybe_return_exchange();
  }

  void set_deadline(base::Millis after) {
    deadline_.set(loop_, after);
  }

  void on_timer() {
    if (closing_) return;
    if (!deadline_.due(loop_)) return;
    if (in_message_ && !head_done_) {
      reject(408, "request header timeout");  // RFC 9110 §15.5.9
      return;
    }
    if (idle()) close();
    else set_deadline(server_.options_.idle_timeout);
  }

  void process() {
    while (!closing_ && !close_after_send_) {
      if (ex().out.size() > kMaxPendingOutput) {
        paused_ = true;
        loop_.pause_recv(sock_);
        break;
      }
      if (!head_started_) {
        // Nothing received yet: the buffer may not be leased, so there is no start to mark.
        if (in_.size() == 0 && !in_.has_stash()) break;
        head_started_ = true;
        msg_start_ = in_.data();
      }
      HttpParser::Step st = ex().parser.parse(in_.data(), in_.size());
      in_.consume(st.consumed);
      if (st.event == HttpParser::Event::kNeedMore) {
        if (in_.has_stash() || in_.full()) {
          if (!make_room()) {
            reject(431, "request head does not fit the input buffer");
            return;
          }
          if (in_.size() > 0) continue;
        }
        break;
      }
      if (st.event == HttpParser::Event::kError) {
        reject(ex().parser.error_status(), ex().parser.error_reason());
        return;
      }
      if (st.event == HttpParser::Event::kHead) {
        own_head();
        head_done_ = true;
        ex().body.clear();
        if (ex().head.expect_continue) ex().out.append("HTTP/1.1 100 Continue\r\n\r\n");
        continue;
      }
      if (st.event == HttpParser::Event::kBody) {
        ex().body.append(st.body);
        continue;
      }
      // kMessageEnd
      dispatch();
      head_done_ = false;
      head_started_ = false;
      in_message_ = in_.size() > 0;
      if (in_.size() == 0) {
        in_.compact();
        in_.release();  // idle between requests: the buffer goes back to the worker's pool
        set_deadline(server_.options_.idle_timeout);
      } else if (in_.capacity() - (in_.data() - in_.base()) - in_.size() <
                 server_.options_.limits.max_header_bytes) {
        in_.compact();  // no live slices between messages
      }
    }
    flush();
  }

  // Copies the head's bytes (message start .. end of head) into connection-owned storage and
  // points ex().head at them, so the input buffer may compact while the body arrives.
  void own_head() {
    ex().head = ex().parser.head();
    const char* lo = msg_start_;
    const char* hi = in_.data();
    ex().head_bytes.assign(lo, static_cast<size_t>(hi - lo));
    rebase_head(ex().head, lo, hi, ex().head_bytes.data() - lo);
  }

  // The buffer filled mid-body (or bytes wait in the stash): move live bytes down. Only
  // happens after own_head(), so no slice points into the buffer.
  // Returns: false when a half-parsed head fills the buffer (it cannot move: the parser holds
  // slices of it); the caller answers 431.
  bool make_room() {
    if (head_started_ && !head_done_ && in_.data() != msg_start_) return false;
    in_.compact();
    if (head_started_ && !head_done_) msg_start_ = in_.data();
    return true;
  }

  void dispatch() {
    std::string_view target = ex().head.target;
    size_t q = target.find('?');
    HttpRequest req{ex().head, target.substr(0, q),
                    q == std::string_view::npos ? std::string_view() : target.substr(q + 1), ex().body};
    ResponseWriter w;
    w.out_ = &ex().out;
    w.common_ = &server_.options_.response_headers;
    w.head_request_ = ex().head.method == "HEAD";
    w.close_ = !ex().head.keep_alive || server_.draining_;
    server_.handler_(req, w);
    if (!w.responded()) w.respond(500, "application/json", "{\"error\":\"no response\"}\n");
    if (w.close_) close_after_send_ = true;
  }

  void reject(int status, const char* reason) {
    if (server_.error_hook_) server_.error_hook_(status);
    base::JsonWriter j;
    j.begin_object().key("error").value(reason_phrase(status)).key("detail").value(reason).end_object();
    std::string body = std::move(j.out());
    body += '\n';
    ResponseWriter w;
    w.out_ = &ex().out;
    w.common_ = &server_.options_.response_headers;
    w.close_ = true;
    w.respond(status, "application/json", body);
    close_after_send_ = true;
    loop_.pause_recv(sock_);
    flush();
  }

  void flush() {
    if (sending_ || closing_) return;
    if (ex().out.empty()) {
      if (close_after_send_) close();
      return;
    }
    ex().sending_buf.swap(ex().out);
    ex().out.clear();
    sending_ = true;
    iovec iov{ex().sending_buf.data(), ex().sending_buf.size()};
    loop_.send(sock_, &iov, 1);
  }

  void close() {
    if (closing_) return;
    closing_ = true;
    deadline_.cancel(loop_);
    loop_.close(sock_);
    sock_ = nullptr;
    server_.release(this);
  }

  HttpServer& server_;
  Loop& loop_;
  Socket* sock_ = nullptr;
  InputBuffer in_;
  const char* msg_start_ = nullptr;  // first byte of the message being parsed
  bool head_started_ = false;
  // Lent while a request is in progress; nullptr on an idle keep-alive connection.
  ServerExchange* x_ = nullptr;
  int entered_ = 0;  // nested entry points; the exchange goes back when the outermost returns
  LazyDeadline deadline_;
  bool sending_ = false;
  bool closing_ = false;
  bool close_after_send_ = false;
  bool in_message_ = false;
  bool head_done_ = false;
  bool paused_ = false;

  // The first line of every entry point.
  using Entered = base::CallbackScope<HttpServerConnection, &HttpServerConnection::entered_,
                                      &HttpServerConnection::on_outermost_return>;
};

HttpServer::HttpServer(Loop& loop, HttpServerOptions options, HttpHandler handler)
    : loop_(loop), options_(std::move(options)), handler_(std::move(handler)) {}

HttpServer::~HttpServer() {
  if (listener_) loop_.close(listener_);
  // Busy connections cannot finish once their server is gone: their sockets and timers
  // would call into freed memory.
  for (HttpServerConnection* c : pool_.live_objects()) {
    if (c->open_now()) c->abort();
  }
}

bool HttpServer::listen(const sockaddr* addr, socklen_t len, bool reuse_port, std::string* error) {
  int fd = listen_tcp(addr, len, reuse_port, 4096, error);
  if (fd < 0) return false;
  port_ = local_port(fd);
  listener_ = loop_.add(fd, this);
  loop_.start_accept(listener_);
  return true;
}

void HttpServer::on_accept(int fd) {
  if (fd < 0) return;
  if (draining_ || pool_.live() >= options_.max_connections) {
    ::close(fd);  // over the limit: refuse fast rather than queue unbounded state
    return;
  }
  ++accepted_;
  HttpServerConnection* c =
      pool_.acquire([this] { return std::make_unique<HttpServerConnection>(*this); });
  c->open(fd);
}

void HttpServer::release(HttpServerConnection* c) { pool_.release(c); }

ServerExchange* HttpServer::lease_exchange() {
  if (spare_exchanges_.empty()) return new ServerExchange(options_.limits);
  ServerExchange* x = spare_exchanges_.back().release();
  spare_exchanges_.pop_back();
  // A parser that ended a keep-alive message cleanly is as good as new; anything else
  // (an error, a close, half a message) starts over.
  if (!x->parser.at_message_boundary()) x->parser.reset();
  return x;
}

void HttpServer::return_exchange(ServerExchange* x) {
  constexpr size_t kMaxSpares = 256;        // a burst's exchanges do not stay with the server
  constexpr size_t kStringWatermark = 4096;  // nor one huge response's buffer
  if (spare_exchanges_.size() >= kMaxSpares) {
    delete x;
    return;
  }
  for (std::string* s : {&x->head_bytes, &x->body, &x->out, &x->sending_buf}) {
    if (s->capacity() > kStringWatermark) {
      std::string().swap(*s);
    } else {
      s->clear();
    }
  }
  spare_exchanges_.emplace_back(x);
}

void HttpServer::begin_drain() {
  if (draining_) return;
  draining_ = true;
  if (listener_) {
    loop_.close(listener_);
    listener_ = nullptr;
  }
  // A snapshot: drain() may release connections while we walk it.
  for (HttpServerConnection* c : pool_.live_objects()) c->drain();
}

}  // namespace ringway::net
