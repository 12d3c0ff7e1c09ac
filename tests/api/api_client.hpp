// tests/api/api_client.hpp: what the API suites share: a node in this process on a free loopback
// port and a temporary data directory, an HTTP client that speaks JSON with a token, and JSON
// checks.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <rapidjson/document.h>
#include <sys/stat.h>

#include "runtime/node_config.hpp"
#include "runtime/node.hpp"
#include "storage/error.hpp"
#include "tests/support/http_client.hpp"
#include "tests/temp_dir.hpp"

namespace syncline::test {

using headers = std::vector<std::pair<std::string, std::string>>;

/// A parsed JSON answer; `ok` is false when the body is not JSON.
struct json_doc {
  rapidjson::Document doc;
  bool ok = false;
  const rapidjson::Value& operator*() const { return doc; }
  const rapidjson::Value* operator->() const { return &doc; }
};

inline std::unique_ptr<json_doc> parse_json(const std::string& body) {
  auto d = std::make_unique<json_doc>();
  d->doc.Parse(body.c_str(), body.size());
  d->ok = !d->doc.HasParseError();
  return d;
}

/// The string member `key` of the object `body`, or "" (also when absent or not a string).
inline std::string member(const std::string& body, const char* key) {
  auto d = parse_json(body);
  if (!d->ok || !d->doc.IsObject() || !d->doc.HasMember(key) || !d->doc[key].IsString()) return {};
  return {d->doc[key].GetString(), d->doc[key].GetStringLength()};
}

inline bool has_member(const std::string& body, const char* key) {
  auto d = parse_json(body);
  return d->ok && d->doc.IsObject() && d->doc.HasMember(key);
}

/// Elements of a JSON array answer (-1 when the answer is not an array).
inline int array_size(const std::string& body) {
  auto d = parse_json(body);
  if (!d->ok || !d->doc.IsArray()) return -1;
  return static_cast<int>(d->doc.Size());
}

/// Whether the answer has the API's error shape `{error, message}` with both strings.
inline bool is_error_shape(const std::string& body) {
  auto d = parse_json(body);
  return d->ok && d->doc.IsObject() && d->doc.HasMember("error") && d->doc["error"].IsString() &&
         d->doc.HasMember("message") && d->doc["message"].IsString();
}

/// Polls `done` until it holds or `bound` passes; returns whether it held. The bound only
/// limits how long a broken test hangs and never decides an outcome.
/// `n` bytes that do not compress and differ by `seed`: content whose every byte matters.
inline std::string pseudo_random(size_t n, uint32_t seed) {
  std::string b(n, '\0');
  for (auto& c : b) c = static_cast<char>((seed = seed * 1103515245u + 12345u) >> 24);
  return b;
}

inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds bound = std::chrono::seconds{120}) {
  auto until = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return done();
}

/// A node of this process, with an admin `root` made on first start from a password file.
struct api_node {
  temp_dir dir{"api"};
  std::unique_ptr<runtime::node> node;
  uint16_t port = 0;
  std::string admin_password = "root-secret-1";

  /// `tweak` changes the configuration before the start.
  explicit api_node(std::string anonymous_class = {}, uint64_t token_cache_ms = 1000,
                    const std::function<void(runtime::node_config&)>& tweak = {}) {
    auto pw = dir / "admin.pw";
    {
      std::ofstream out{pw};
      out << admin_password << "\n";
    }
    ::chmod(pw.c_str(), 0600);
    runtime::node_config cfg;
    cfg.node.data_dir = dir / "data";
    cfg.http.listen = {"127.0.0.1", 0};
    cfg.http.max_body_bytes = 4u << 20;
    cfg.auth.admin_user = "root";
    cfg.auth.admin_password_file = pw;
    cfg.auth.anonymous_class = std::move(anonymous_class);
    cfg.auth.token_cache_ms = token_cache_ms;
    if (tweak) tweak(cfg);
    auto n = runtime::node::start(cfg);
    BOOST_REQUIRE_MESSAGE(n, (n ? std::string{"ok"} : storage::render(n.error())));
    node = std::move(*n);
    port = node->http_address().port;
  }
  ~api_node() {
    if (node) node->stop();
  }
};

/// One keep-alive connection that sends JSON with a bearer token.
class api_client {
 public:
  explicit api_client(uint16_t port, std::string token = {})
      : port_(port), token_(std::move(token)), conn_(std::make_unique<http_connection>("127.0.0.1", port)) {}

  void set_token(std::string token) { token_ = std::move(token); }
  const std::string& token() const { return token_; }

  /// Sends `body` as `application/json` (or what `content_type` says) with the token.
  http_result call(std::string_view method, std::string_view target, std::string_view body = {},
                   headers extra = {}, std::string content_type = "application/json") {
    if (!token_.empty()) extra.emplace_back("Authorization", "Bearer " + token_);
    if (!body.empty() && !content_type.empty()) extra.emplace_back("Content-Type", content_type);
    try {
      return conn_->request(method, target, body, extra);
    } catch (const std::exception&) {
      // The server closed this connection (after a 413, say): a fresh one for the next call.
      conn_ = std::make_unique<http_connection>("127.0.0.1", port_);
      return conn_->request(method, target, body, extra);
    }
  }
  http_result get(std::string_view target) { return call("GET", target); }
  http_result post(std::string_view target, std::string_view body) {
    return call("POST", target, body);
  }
  http_result put(std::string_view target, std::string_view body) {
    return call("PUT", target, body);
  }
  http_result del(std::string_view target, std::string_view body) {
    return call("DELETE", target, body);
  }

  /// Signs in with a form as damas-core's clients do; returns the token ("" on failure).
  std::string sign_in(const std::string& user, const std::string& password,
                      const std::string& expires_in = {}) {
    std::string form = "username=" + user + "&password=" + password;
    if (!expires_in.empty()) form += "&expiresIn=" + expires_in;
    http_connection c{"127.0.0.1", port_};
    auto r = c.request("POST", "/api/signIn", form,
                       {{"Content-Type", "application/x-www-form-urlencoded"}});
    if (r.status != 200) return {};
    return member(r.body, "token");
  }

 private:
  uint16_t port_;
  std::string token_;
  std::unique_ptr<http_connection> conn_;
};

/// Tokens of `root` and of a user of each class, made by `root` on the node at `port`:
/// `@gina` (guest), `@ursula` (user), `@ed` (editor), `@ada` (admin), passwords `pw-<class>`.
struct class_tokens {
  std::string root, guest, user, editor, admin;
};

inline class_tokens make_class_users(uint16_t port, const std::string& root_password) {
  class_tokens t;
  api_client c{port};
  t.root = c.sign_in("root", root_password);
  BOOST_REQUIRE(!t.root.empty());
  c.set_token(t.root);
  auto made = c.post("/api/create/",
                     R"([{"_id":"@gina","class":"guest","password":"pw-guest","email":"gina@example.com"},
                         {"_id":"@ursula","class":"user","password":"pw-user"},
                         {"_id":"@ed","class":"editor","password":"pw-editor"},
                         {"_id":"@ada","class":"admin","password":"pw-admin"}])");
  BOOST_REQUIRE_EQUAL(made.status, 201);
  BOOST_REQUIRE(made.body.find("pw-") == std::string::npos);
  t.guest = c.sign_in("gina", "pw-guest");
  t.user = c.sign_in("ursula", "pw-user");
  t.editor = c.sign_in("ed", "pw-editor");
  t.admin = c.sign_in("ada", "pw-admin");
  BOOST_REQUIRE(!t.guest.empty() && !t.user.empty() && !t.editor.empty() && !t.admin.empty());
  return t;
}

/// The status of run `number` of the datasource at `datasource` (its API path), as its `@runs`
/// says ("" when it is not listed).
inline std::string run_status(api_client& c, const std::string& datasource, uint64_t number) {
  auto r = c.get(datasource + "/@runs");
  if (r.status != 200) return {};
  auto d = parse_json(r.body);
  if (!d->ok || !d->doc.HasMember("runs")) return {};
  for (auto& run : d->doc["runs"].GetArray())
    if (run["number"].GetUint64() == number) return run["status"].GetString();
  return {};
}

}  // namespace syncline::test
