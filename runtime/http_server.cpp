#include "runtime/http_server.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <unistd.h>

// GCC 12 reports Asio's scheduler internals as potential null dereferences once they are
// inlined here (a known false positive); the pragma covers the Boost headers only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#pragma GCC diagnostic pop
#include <spdlog/spdlog.h>

#include "runtime/error.hpp"
#include "runtime/http_tls.hpp"

namespace syncline::runtime {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

// After an answer with `Connection: close` the server half-closes and reads what the client
// still sends, for at most this long and this much, before closing. Closing at once with
// unread bytes makes the kernel send a reset, which can destroy the answer (a 413, typically)
// before the client reads it.
constexpr auto linger_time = 2s;
constexpr size_t linger_bytes = size_t{8} << 20;

// When accept fails (out of descriptors, say), wait this long before trying again rather than
// spinning on the same failure.
constexpr auto accept_retry_delay = 100ms;

class session_base;

// Shared by the server and every session. A session can outlive the `http_server` object (a
// reply handle held elsewhere may be locking it just then), and its socket needs the
// io_context until the session is gone, so the io_context lives here.
struct server_core : std::enable_shared_from_this<server_core> {
  server_core(http_server_options o, http_router r) : options(std::move(o)), router(std::move(r)) {}

  const http_server_options options;
  const http_router router;
  net::io_context ioc{static_cast<int>(std::max<size_t>(1, options.threads))};
  // The acceptor, its retry timer and the start of a stop run on this strand: with several
  // network threads, an accept completing and a stop beginning must not touch them at once.
  net::strand<net::io_context::executor_type> accept_strand{ioc.get_executor()};
  tcp::acceptor acceptor{ioc};
  net::steady_timer accept_retry{ioc};
  net::steady_timer grace_timer{ioc};  // guarded by `mu`
  // Set when the server speaks TLS (`tls_cert_file`): every connection then begins with a
  // handshake.
  std::optional<net::ssl::context> tls;

  std::mutex mu;
  // The owners of the open connections. While a request waits for its handler's answer, no
  // operation is pending on its connection, so this map is what keeps it alive. Answers and
  // stop notices reach a session through weak pointers, so a connection closed meanwhile is
  // simply gone.
  std::unordered_map<session_base*, std::shared_ptr<session_base>> sessions;
  bool stopping = false;
  // Sessions of `sessions` accepted past max_connections (one request each, then closed).
  size_t overflowing = 0;
  // Past max_connections since the last log line that said so; refused meanwhile.
  bool overloaded = false;
  uint64_t refused = 0;

  void forget(session_base* s);
};

std::string lower(beast::string_view s) {
  std::string out{s.data(), s.size()};
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string endpoint_text(const tcp::endpoint& ep) {
  auto addr = ep.address().to_string();
  if (ep.address().is_v6()) addr = "[" + addr + "]";
  return addr + ":" + std::to_string(ep.port());
}

const beast::error_category& http_errors() {
  return http::make_error_code(http::error::end_of_stream).category();
}

using request_parser = http::request_parser<http::string_body>;

// What every connection (and `read_http_request`) reads requests with.
void limit(request_parser& parser, const http_server_options& o) {
  parser.header_limit(static_cast<uint32_t>(o.max_header_bytes));
  parser.body_limit(o.max_body_bytes);
}

// The answer to a request that could not be read, or nullopt when there is none to give (the
// connection just closes).
std::optional<http_response> read_refusal(beast::error_code ec, const http_server_options& o) {
  if (ec == http::error::body_limit)
    return http_response::error(
        413, "payload_too_large",
        "request body exceeds " + std::to_string(o.max_body_bytes) + " bytes");
  if (ec == http::error::header_limit)
    return http_response::error(
        431, "header_too_large",
        "request headers exceed " + std::to_string(o.max_header_bytes) + " bytes");
  if (&ec.category() == &http_errors())
    return http_response::error(400, "bad_request", "malformed HTTP request: " + ec.message());
  return std::nullopt;
}

// The request a handler sees, from what the parser read (`remote` and `local` left empty).
http_request to_request(http::request<http::string_body>&& msg) {
  http_request req;
  req.method = std::string{msg.method_string()};
  req.target = std::string{msg.target()};
  auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) req.query = req.target.substr(q + 1);
  for (auto& field : msg) req.headers.emplace_back(lower(field.name_string()), field.value());
  req.body = std::move(msg.body());
  return req;
}

// What the server and the answers know of a connection, whatever its stream.
class session_base : public std::enable_shared_from_this<session_base> {
 public:
  session_base(std::shared_ptr<server_core> core, net::any_io_executor ex)
      : core_(std::move(core)), executor_(std::move(ex)) {}
  virtual ~session_base() = default;
  session_base(const session_base&) = delete;
  session_base& operator=(const session_base&) = delete;

  const net::any_io_executor& executor() const noexcept { return executor_; }

  // Accepted past max_connections: one request, `/health` only, then closed. Set before
  // `start`.
  void mark_overflow() noexcept { overflow_ = true; }
  bool overflow() const noexcept { return overflow_; }

  // These run on the session's strand.
  virtual void start() = 0;
  virtual void on_reply(uint64_t seq, http_response response) = 0;
  virtual void on_server_stop() = 0;
  virtual void close() = 0;

 protected:
  // The io_context lives in the core: the core must outlive the executor (and the stream of
  // the derived class), so it is the first member of the base and destroyed last.
  std::shared_ptr<server_core> core_;
  bool overflow_ = false;

 private:
  const net::any_io_executor executor_;
};

// One connection: plain TCP (`beast::tcp_stream`) or TLS over it.
template <class Stream>
class session final : public session_base {
  static constexpr bool tls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  session(std::shared_ptr<server_core> core, tcp::socket&& socket)
      : session_base(std::move(core), socket.get_executor()), stream_(make_stream(std::move(socket))) {
    beast::error_code ec;
    auto peer = tcp_socket().remote_endpoint(ec);
    remote_ = ec ? std::string{"?"} : endpoint_text(peer);
    auto here = tcp_socket().local_endpoint(ec);
    local_ = ec ? std::string{} : endpoint_text(here);
  }

  // Everything below runs on the session's strand.

  void start() override {
    if constexpr (tls) {
      phase_ = phase::reading;
      lowest().expires_after(std::min<std::chrono::seconds>(core_->options.read_timeout,
                                                            std::chrono::seconds{10}));
      stream_.async_handshake(net::ssl::stream_base::server,
                              [self = shared_this()](beast::error_code ec) {
                                if (self->phase_ == phase::closed) return;
                                if (ec) {
                                  spdlog::debug("http {}: TLS handshake failed: {}", self->remote_,
                                                ec.message());
                                  return self->close();
                                }
                                self->do_read();
                              });
    } else {
      do_read();
    }
  }

  void on_reply(uint64_t seq, http_response response) override {
    if (seq != seq_ || phase_ != phase::handling) return;
    log_access(response.status);
    if (core_->options.metrics)
      core_->options.metrics->observe(route_, response.status,
                                      std::chrono::steady_clock::now() - started_);
    write_response(std::move(response), keep_alive_ && !stopping_);
  }

  // Idle connections close now; a request being received, handled or answered gets until the
  // grace timer fires, and its connection closes after the answer.
  void on_server_stop() override {
    stopping_ = true;
    if (phase_ == phase::reading && !(parser_ && parser_->got_some())) close();
    if (body_stream_) close();  // an event stream ends with the server
  }

  void close() override {
    if (phase_ == phase::closed) return;
    phase_ = phase::closed;
    hold_.reset();
    if (body_stream_) body_stream_->cancel();
    body_stream_.reset();
    beast::error_code ec;
    tcp_socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
    core_->forget(this);
  }

 private:
  enum class phase : uint8_t { reading, handling, writing, lingering, closed };

  Stream make_stream(tcp::socket&& socket) {
    if constexpr (tls)
      return Stream{std::move(socket), *core_->tls};
    else
      return Stream{std::move(socket)};
  }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  tcp::socket& tcp_socket() { return lowest().socket(); }
  std::shared_ptr<session> shared_this() {
    return std::static_pointer_cast<session>(shared_from_this());
  }

  void on_request();

  void do_read() {
    phase_ = phase::reading;
    parser_.emplace();
    limit(*parser_, core_->options);
    lowest().expires_after(overflow_ ? std::min<std::chrono::seconds>(core_->options.read_timeout,
                                                                     std::chrono::seconds{5})
                                    : core_->options.read_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  // Completion handlers return at once when the connection was closed meanwhile (a forced close
  // at stop races with operations that had already completed).
  void on_header(beast::error_code ec) {
    if (phase_ == phase::closed) return;
    if (ec) return on_read_error(ec);
    if (parser_->is_done()) return on_request();
    auto& req = parser_->get();
    if (beast::iequals(req[http::field::expect], "100-continue") && req.version() >= 11) {
      interim_.emplace(http::status::continue_, req.version());
      lowest().expires_after(core_->options.read_timeout);
      http::async_write(stream_, *interim_,
                        [self = shared_this()](beast::error_code wec, size_t) {
                          if (wec || self->phase_ == phase::closed) return self->close();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    lowest().expires_after(core_->options.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_this()](beast::error_code ec, size_t) {
                       if (self->phase_ == phase::closed) return;
                       if (ec) return self->on_read_error(ec);
                       self->on_request();
                     });
  }

  void on_read_error(beast::error_code ec) {
    // A clean end between requests, a slow client (the stream has closed the socket already),
    // a reset or a stop: nothing to answer.
    if (stopping_ || ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted)
      return close();
    if (auto refusal = read_refusal(ec, core_->options))
      return answer_and_close(std::move(*refusal));
    close();
  }

  void answer_and_close(http_response response) {
    method_ = "-";
    target_ = "-";
    if (parser_ && parser_->is_header_done()) {
      method_ = std::string{parser_->get().method_string()};
      target_ = std::string{parser_->get().target()};
    }
    version_ = 11;
    head_ = false;
    started_ = std::chrono::steady_clock::now();
    log_access(response.status);
    if (core_->options.metrics)
      core_->options.metrics->observe(http_router::no_route, response.status,
                                      std::chrono::nanoseconds{0});
    write_response(std::move(response), false);
  }

  void write_response(http_response r, bool keep_alive) {
    phase_ = phase::writing;
    res_.emplace();
    res_->version(version_);
    res_->result(r.status >= 200 && r.status <= 599 ? r.status : 500u);
    res_->set(http::field::server, core_->options.server_name);
    res_->set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers) res_->insert(name, value);
    res_->keep_alive(keep_alive);
    hold_ = std::move(r.hold);
    if (r.stream) return write_stream_response(std::move(r.stream));
    if (r.file) return write_file_response(std::move(r.file));
    if (head_) {
      // The length GET would send, and no body.
      res_->content_length(r.body.size());
    } else {
      res_->body() = std::move(r.body);
      res_->prepare_payload();
    }
    lowest().expires_after(core_->options.read_timeout);
    http::async_write(stream_, *res_, [self = shared_this()](beast::error_code ec, size_t) {
      self->on_write(ec);
    });
  }

  // A file body: the header (the fields of `res_`, with the part's length), then the part in
  // blocks read as they go, so a large file never sits in memory.
  void write_file_response(std::shared_ptr<const http_file_part> part) {
    file_hdr_.emplace(std::move(res_->base()));
    file_hdr_->content_length(part->length);
    if (head_) part.reset();
    file_ = std::move(part);
    file_sent_ = 0;
    file_sr_.emplace(*file_hdr_);
    lowest().expires_after(core_->options.read_timeout);
    http::async_write_header(stream_, *file_sr_,
                             [self = shared_this()](beast::error_code ec, size_t) {
                               if (ec || self->phase_ == phase::closed) return self->close();
                               self->write_file_block();
                             });
  }

  void write_file_block() {
    if (!file_ || file_sent_ == file_->length) {
      bool again = file_hdr_->keep_alive() && !stopping_;
      file_.reset();
      file_sr_.reset();
      file_hdr_.reset();
      res_.reset();
      hold_.reset();
      if (again) return do_read();
      return linger();
    }
    if (!file_block_) file_block_ = std::make_unique<char[]>(file_block_bytes);
    auto want = std::min<uint64_t>(file_block_bytes, file_->length - file_sent_);
    auto got = ::pread(file_->fd, file_block_.get(), static_cast<size_t>(want),
                       static_cast<off_t>(file_->offset + file_sent_));
    if (got <= 0) {
      // Shorter than announced (truncated meanwhile) or unreadable: the client must not take
      // what it got for the whole, so the connection ends here.
      spdlog::warn("http: {} {}: the file ended or failed after {} of {} bytes; closing",
                   method_, target_, file_sent_, file_->length);
      return close();
    }
    file_sent_ += static_cast<uint64_t>(got);
    lowest().expires_after(core_->options.read_timeout);
    net::async_write(stream_, net::buffer(file_block_.get(), static_cast<size_t>(got)),
                     [self = shared_this()](beast::error_code ec, size_t) {
                       if (ec || self->phase_ == phase::closed) return self->close();
                       self->write_file_block();
                     });
  }

  // A streamed body: the head (no length; the connection closes after the body), then each
  // piece the stream gives, until it gives nothing or the connection is gone.
  void write_stream_response(std::shared_ptr<http_body_stream> stream) {
    file_hdr_.emplace(std::move(res_->base()));
    file_hdr_->keep_alive(false);
    file_hdr_->set(http::field::cache_control, "no-cache");
    body_stream_ = std::move(stream);
    file_sr_.emplace(*file_hdr_);
    lowest().expires_after(core_->options.read_timeout);
    http::async_write_header(stream_, *file_sr_, [self = shared_this()](beast::error_code ec, size_t) {
      if (ec || self->phase_ == phase::closed) return self->close();
      if (self->head_) {
        self->body_stream_->cancel();
        self->body_stream_.reset();
        return self->linger();
      }
      self->next_stream_piece();
    });
  }

  void next_stream_piece() {
    lowest().expires_never();
    body_stream_->next([w = std::weak_ptr<session>{shared_this()}](std::string bytes) {
      auto s = w.lock();
      if (!s) return;
      net::post(s->executor(), [s, bytes = std::move(bytes)]() mutable { s->write_stream_piece(std::move(bytes)); });
    });
  }

  void write_stream_piece(std::string bytes) {
    if (phase_ == phase::closed || !body_stream_) return;
    if (bytes.empty() || stopping_) {
      body_stream_->cancel();
      body_stream_.reset();
      return linger();
    }
    stream_piece_ = std::move(bytes);
    lowest().expires_after(core_->options.read_timeout);
    net::async_write(stream_, net::buffer(stream_piece_), [self = shared_this()](beast::error_code ec, size_t) {
      if (ec || self->phase_ == phase::closed) return self->close();
      self->next_stream_piece();
    });
  }

  void on_write(beast::error_code ec) {
    if (ec || phase_ == phase::closed) return close();
    bool again = res_->keep_alive() && !stopping_;
    res_.reset();
    hold_.reset();
    if (again) return do_read();
    linger();
  }

  void linger() {
    phase_ = phase::lingering;
    if constexpr (tls) {
      // TLS ends with close_notify; whatever the client still sends is read by the shutdown.
      lowest().expires_after(linger_time);
      stream_.async_shutdown([self = shared_this()](beast::error_code) { self->close(); });
      return;
    }
    beast::error_code ec;
    tcp_socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close();
    lowest().expires_after(linger_time);
    drain();
  }

  void drain() {
    stream_.async_read_some(net::buffer(drain_buf_),
                            [self = shared_this()](beast::error_code ec, size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > linger_bytes) return self->close();
                              self->drain();
                            });
  }

  void log_access(unsigned status) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started_);
    spdlog::debug("http {} {} {} -> {} ({} ms)", remote_, method_, target_, status, ms.count());
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<request_parser> parser_;
  std::optional<http::response<http::empty_body>> interim_;
  std::optional<http::response<http::string_body>> res_;
  // A file body being sent (write_file_response).
  static constexpr size_t file_block_bytes = 256 * 1024;
  std::optional<http::response<http::empty_body>> file_hdr_;
  std::optional<http::response_serializer<http::empty_body>> file_sr_;
  std::shared_ptr<const http_file_part> file_;
  std::shared_ptr<const void> hold_;  // the answer's `hold`, until it is written
  std::shared_ptr<http_body_stream> body_stream_;  // a streamed body being sent
  std::string stream_piece_;                       // the piece being written
  std::unique_ptr<char[]> file_block_;
  uint64_t file_sent_ = 0;
  std::array<char, 4096> drain_buf_{};
  size_t drained_ = 0;
  std::string remote_;
  std::string local_;
  phase phase_ = phase::reading;
  bool stopping_ = false;
  // The request being handled: answers carrying another sequence number are stale.
  uint64_t seq_ = 0;
  bool keep_alive_ = false;
  bool head_ = false;
  // The route that took the request being handled, for metrics.
  size_t route_ = http_router::no_route;
  unsigned version_ = 11;
  std::string method_;
  std::string target_;
  std::chrono::steady_clock::time_point started_;
};

// The server's side of `http_reply`: hands the answer to the connection's strand. Holds the
// session weakly so that a handle kept by a slow actor never keeps a closed connection alive.
class session_sink final : public http_reply::sink {
 public:
  session_sink(std::weak_ptr<session_base> s, uint64_t seq) : session_(std::move(s)), seq_(seq) {}

  void deliver(http_response response) noexcept override {
    auto s = session_.lock();
    if (!s) return;
    try {
      net::post(s->executor(), [w = session_, seq = seq_, r = std::move(response)]() mutable {
        if (auto live = w.lock()) live->on_reply(seq, std::move(r));
      });
    } catch (const std::exception& e) {
      spdlog::error("http: cannot queue an answer: {}", e.what());
    }
  }

 private:
  std::weak_ptr<session_base> session_;
  uint64_t seq_;
};

template <class Stream>
void session<Stream>::on_request() {
  auto msg = parser_->release();
  parser_.reset();
  if (overflow_ && msg.target() != "/health") {
    auto r = http_response::error(
        503, "unavailable",
        "the node serves at most " + std::to_string(core_->options.max_connections) +
            " connections at once ([http] max_connections) and all are open; retry later");
    r.headers.emplace_back("Retry-After", "1");
    return answer_and_close(std::move(r));
  }
  keep_alive_ = msg.keep_alive() && !overflow_;
  version_ = msg.version();
  head_ = msg.method() == http::verb::head;
  http_request req = to_request(std::move(msg));
  req.remote = remote_;
  req.local = local_;
  route_ = http_router::no_route;
  method_ = req.method;
  target_ = req.target;
  started_ = std::chrono::steady_clock::now();
  phase_ = phase::handling;
  http_reply reply{std::make_unique<session_sink>(weak_from_this(), ++seq_)};
  // No exception of a handler may take the network thread down.
  try {
    if (core_->options.admit) {
      if (auto refused = core_->options.admit(req)) {
        reply.send(std::move(*refused));
        return;
      }
    }
    route_ = core_->router.dispatch(std::move(req), reply);
  } catch (const std::exception& e) {
    spdlog::error("http: handler of {} {} threw: {}", method_, target_, e.what());
    reply.send(http_response::error(500, "internal_error", "the request handler failed"));
  } catch (...) {
    spdlog::error("http: handler of {} {} threw", method_, target_);
    reply.send(http_response::error(500, "internal_error", "the request handler failed"));
  }
}

void server_core::forget(session_base* s) {
  std::shared_ptr<session_base> last;
  std::lock_guard<std::mutex> lock{mu};
  auto i = sessions.find(s);
  if (i == sessions.end()) return;
  // The caller holds its own reference, so the session is not destroyed under the lock.
  last = std::move(i->second);
  sessions.erase(i);
  if (s->overflow()) --overflowing;
  if (overloaded && !stopping && sessions.size() - overflowing < options.max_connections) {
    overloaded = false;
    spdlog::info("http: connections below [http] max_connections again; {} refused meanwhile",
                 refused);
    refused = 0;
  }
  if (stopping && sessions.empty()) grace_timer.cancel();
}

void accept_next(server_core* core) {
  core->acceptor.async_accept(
      net::make_strand(core->ioc),
      net::bind_executor(core->accept_strand, [core](beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || !core->acceptor.is_open()) return;
        if (ec) {
          spdlog::warn("http: accept failed: {}", ec.message());
          core->accept_retry.expires_after(accept_retry_delay);
          core->accept_retry.async_wait(
              net::bind_executor(core->accept_strand, [core](beast::error_code wec) {
                if (!wec) accept_next(core);
              }));
          return;
        }
        // Answers go out in several writes (a header, then a file's blocks): without this,
        // Nagle's algorithm holds a small write until the peer's delayed ACK, 40 ms a request.
        beast::error_code nodelay_ec;
        socket.set_option(tcp::no_delay(true), nodelay_ec);
        std::shared_ptr<session_base> s;
        if (core->tls)
          s = std::make_shared<session<beast::ssl_stream<beast::tcp_stream>>>(
              core->shared_from_this(), std::move(socket));
        else
          s = std::make_shared<session<beast::tcp_stream>>(core->shared_from_this(),
                                                           std::move(socket));
        bool keep = true;
        {
          std::lock_guard<std::mutex> lock{core->mu};
          if (core->stopping) return;
          auto max = core->options.max_connections;
          auto regular = core->sessions.size() - core->overflowing;
          if (regular >= max) {
            if (!core->overloaded) {
              core->overloaded = true;
              spdlog::warn("http: {} connections open, [http] max_connections; new ones get 503 "
                           "(except /health) until some close",
                           regular);
            }
            ++core->refused;
            keep = core->overflowing < std::max<size_t>(16, max / 4);
            if (keep) {
              s->mark_overflow();
              ++core->overflowing;
            }
          }
          if (keep) core->sessions.emplace(s.get(), s);
        }
        // Not kept: closed here, as the last reference goes.
        if (keep) net::dispatch(s->executor(), [s] { s->start(); });
        accept_next(core);
      }));
}

void begin_stop(server_core* core) {
  beast::error_code ec;
  core->acceptor.close(ec);
  core->accept_retry.cancel();
  std::vector<std::shared_ptr<session_base>> open;
  std::lock_guard<std::mutex> held{core->mu};
  core->stopping = true;
  for (auto& entry : core->sessions) open.push_back(entry.second);
  if (open.empty()) return;
  core->grace_timer.expires_after(core->options.stop_grace);
  core->grace_timer.async_wait([core](beast::error_code wec) {
    if (wec) return;
    std::vector<std::weak_ptr<session_base>> left;
    {
      std::lock_guard<std::mutex> lock{core->mu};
      for (auto& entry : core->sessions) left.push_back(entry.second);
    }
    if (!left.empty()) spdlog::warn("http: closing {} connection(s) still busy", left.size());
    for (auto& w : left)
      if (auto s = w.lock()) net::dispatch(s->executor(), [s] { s->close(); });
  });
  // Posted, not dispatched: a session's own handlers take `mu` (forget), which this holds.
  for (auto& s : open) net::post(s->executor(), [s] { s->on_server_stop(); });
}

caf::error listen_error(const listen_address& where, const beast::error_code& ec) {
  return make_error(runtime_errc::listen_failed,
                    "cannot listen on " + where.to_string() + ": " + ec.message());
}

}  // namespace

struct http_server::impl {
  std::shared_ptr<server_core> core;
  listen_address local;
  std::vector<std::thread> threads;
};

std::variant<std::monostate, http_request, http_response> read_http_request(
    std::string_view wire, const http_server_options& options) {
  request_parser parser;
  limit(parser, options);
  parser.eager(true);
  net::const_buffer rest{wire.data(), wire.size()};
  while (!parser.is_done()) {
    beast::error_code ec;
    auto used = parser.put(rest, ec);
    rest += used;
    if (ec == http::error::need_more) return std::monostate{};
    if (ec) {
      if (auto refusal = read_refusal(ec, options)) return std::move(*refusal);
      return http_response::error(400, "bad_request", "malformed HTTP request: " + ec.message());
    }
    if (used == 0) return std::monostate{};
  }
  return to_request(parser.release());
}

http_server::http_server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

http_server::~http_server() {
  stop();
}

const listen_address& http_server::local_address() const noexcept {
  return impl_->local;
}

caf::expected<std::unique_ptr<http_server>> http_server::start(http_server_options options,
                                                               http_router router) {
  auto tls = detail::tls_context(options);
  if (!tls) return std::move(tls.error());
  if (options.metrics) options.metrics->bind(router.labels());
  auto p = std::make_unique<impl>();
  p->core = std::make_shared<server_core>(std::move(options), std::move(router));
  auto& core = *p->core;
  core.tls = std::move(*tls);
  const auto& where = core.options.listen;
  beast::error_code ec;
  auto addr = net::ip::make_address(where.host, ec);
  if (ec) return listen_error(where, ec);
  tcp::endpoint ep{addr, where.port};
  core.acceptor.open(ep.protocol(), ec);
  if (!ec) core.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) core.acceptor.bind(ep, ec);
  if (!ec) core.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return listen_error(where, ec);
  auto bound = core.acceptor.local_endpoint(ec);
  if (ec) return listen_error(where, ec);
  p->local = where;
  p->local.port = bound.port();
  net::dispatch(core.accept_strand, [c = &core] { accept_next(c); });
  try {
    for (size_t i = 0; i < std::max<size_t>(1, core.options.threads); ++i)
      p->threads.emplace_back([core = p->core] {
        // A throwing completion handler must not end a network thread; log and carry on.
        for (;;) {
          try {
            core->ioc.run();
            return;
          } catch (const std::exception& e) {
            spdlog::error("http: network thread: {}", e.what());
          }
        }
      });
  } catch (const std::system_error& e) {
    core.ioc.stop();
    for (auto& t : p->threads) t.join();
    core.acceptor.close(ec);
    return make_error(runtime_errc::listen_failed,
                      std::string{"cannot start the HTTP network threads: "} + e.what());
  }
  return std::unique_ptr<http_server>(new http_server(std::move(p)));
}

void http_server::stop() noexcept {
  if (!impl_ || impl_->threads.empty()) return;
  auto* core = impl_->core.get();
  try {
    net::post(core->accept_strand, [core] { begin_stop(core); });
  } catch (const std::exception& e) {
    spdlog::error("http: cannot stop the server: {}", e.what());
    core->ioc.stop();
  }
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  // Sessions left here (normally none) die while the io_context is still alive.
  std::unordered_map<session_base*, std::shared_ptr<session_base>> left;
  {
    std::lock_guard<std::mutex> lock{core->mu};
    left.swap(core->sessions);
  }
}

}  // namespace syncline::runtime
