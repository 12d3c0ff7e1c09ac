// tests/connectors/http_auth_test.cpp: an http datasource's credentials from a wallet, against
// a real JSON API and OAuth2 token endpoint on loopback (tests/connectors/json_service.hpp):
// bearer, basic and header kinds; an access token refreshed before it expires and once after a
// 401; a revoked refresh token refused with a clear error that holds no secret.
#define BOOST_TEST_MODULE connectors_http_auth
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include <rapidjson/document.h>

#include "connectors/error.hpp"
#include "connectors/http_auth.hpp"
#include "connectors/http_source.hpp"
#include "tests/connectors/connector_test_util.hpp"
#include "tests/connectors/json_service.hpp"

using namespace syncline::connectors;
using namespace syncline::test;

namespace {

// A wallet in memory, counting what is written to it.
class memory_wallet final : public credential_wallet {
 public:
  explicit memory_wallet(std::optional<std::string> v = std::nullopt) : value_(std::move(v)) {}
  caf::expected<std::optional<std::string>> load() override {
    std::lock_guard<std::mutex> g{mtx_};
    return value_;
  }
  caf::expected<bool> replace(const std::string& before, const std::string& now) override {
    std::lock_guard<std::mutex> g{mtx_};
    if (!value_ || *value_ != before) return false;
    value_ = now;
    ++writes_;
    return true;
  }
  void set(std::string v) {
    std::lock_guard<std::mutex> g{mtx_};
    value_ = std::move(v);
  }
  std::string value() {
    std::lock_guard<std::mutex> g{mtx_};
    return value_.value_or("");
  }
  int writes() {
    std::lock_guard<std::mutex> g{mtx_};
    return writes_;
  }

 private:
  std::mutex mtx_;
  std::optional<std::string> value_;
  int writes_ = 0;
};

http_source_options options_for(const json_service& s, http_auth kind, std::shared_ptr<memory_wallet> w) {
  http_source_options o;
  o.url = s.base() + "/page";
  o.paging = http_paging::page;
  o.limit_param = "limit";
  o.page_size = 4;
  o.size_pointer = "/size";
  o.hash_pointer = "/xxh3";
  o.content_pointer = "/url";
  o.auth = kind;
  o.token_url = s.base() + "/token";
  o.wallet = std::move(w);
  return o;
}

std::unique_ptr<http_source> make_source(http_source_options o) {
  auto s = http_source::make(std::move(o));
  BOOST_REQUIRE_MESSAGE(s, reason(s));
  return std::move(*s);
}

// Lists, then reads every file; the files read.
size_t fetch_all(http_source& src, const json_service& service) {
  size_t n = 0;
  for (auto& item : list_all(src)) {
    if (item.kind != item_kind::file) continue;
    auto r = src.open(item.reference, 0);
    BOOST_REQUIRE_MESSAGE(r, reason(r));
    BOOST_REQUIRE(read_all(**r) == service.files.at(item.reference));
    ++n;
  }
  return n;
}

int64_t member_int(const std::string& json, const char* key) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  BOOST_REQUIRE(d.IsObject() && d.HasMember(key) && d[key].IsInt64());
  return d[key].GetInt64();
}

std::string member_text(const std::string& json, const char* key) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  BOOST_REQUIRE(d.IsObject());
  auto it = d.FindMember(key);
  return it != d.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

BOOST_AUTO_TEST_CASE(bearer_basic_and_header_credentials_come_from_the_wallet) {
  json_service service;
  for (int i = 0; i < 10; ++i) service.files["d/f" + std::to_string(i)] = std::string(50 + i, 'a' + i);

  // Nothing stored: refused before anything is asked, saying what to do.
  auto empty = std::make_shared<memory_wallet>();
  auto l = make_source(options_for(service, http_auth::bearer, empty))->list();
  BOOST_REQUIRE(!l);
  BOOST_CHECK(is(l.error(), connector_errc::permission_denied));
  BOOST_CHECK_MESSAGE(render(l.error()).find("@refreshServiceCredentials") != std::string::npos, render(l.error()));
  BOOST_CHECK_EQUAL(service.listing_requests.load(), 0u);

  service.bearer = "tok-123";
  auto wallet = std::make_shared<memory_wallet>(R"({"token":"wrong"})");
  auto src = make_source(options_for(service, http_auth::bearer, wallet));
  CHECK_ERRC(src->list(), connector_errc::permission_denied);
  // New credentials stored: the next listing reads them.
  wallet->set(R"({"token":"tok-123"})");
  BOOST_CHECK_EQUAL(fetch_all(*src, service), 10u);
  service.bearer.clear();

  service.header = {"authorization", "Basic dXNlcjpwQHNz"};  // user:p@ss
  BOOST_CHECK_EQUAL(fetch_all(*make_source(options_for(
                        service, http_auth::basic,
                        std::make_shared<memory_wallet>(R"({"user":"user","password":"p@ss"})"))),
                    service),
                    10u);
  service.header = {"x-api-key", "k-9"};
  BOOST_CHECK_EQUAL(fetch_all(*make_source(options_for(service, http_auth::header,
                                                       std::make_shared<memory_wallet>(R"({"X-Api-Key":"k-9"})"))),
                              service),
                    10u);

  // What each kind needs, named by key and never by value.
  BOOST_CHECK(credentials_problem(http_auth::bearer, R"({"token":"x"})").empty());
  BOOST_CHECK_NE(credentials_problem(http_auth::bearer, R"({"tok":"x"})").find("\"token\""), std::string::npos);
  BOOST_CHECK_NE(credentials_problem(http_auth::basic, R"({"user":"a:b","password":"hunter2"})").find("':'"),
                 std::string::npos);
  BOOST_CHECK_EQUAL(credentials_problem(http_auth::basic, R"({"user":"a","password":"hunter2"})").find("hunter2"),
                    std::string::npos);
  BOOST_CHECK(!credentials_problem(http_auth::header, R"({"X Bad":"v"})").empty());
  BOOST_CHECK(!credentials_problem(http_auth::header, "{\"X-Ok\":\"a\\r\\nInjected: 1\"}").empty());
  BOOST_CHECK(!credentials_problem(http_auth::oauth2, R"({"client_id":"c"})").empty());
  BOOST_CHECK(credentials_problem(http_auth::oauth2, R"({"client_id":"c","refresh_token":"r"})").empty());
  BOOST_CHECK(!credentials_problem(http_auth::bearer, "[1]").empty());

  // Settings: oauth2 needs its endpoint; credentials never go over plain http beyond loopback.
  auto bad = options_for(service, http_auth::oauth2, wallet);
  bad.token_url.clear();
  CHECK_ERRC(http_source::make(bad), connector_errc::bad_config);
  bad = options_for(service, http_auth::bearer, wallet);
  bad.url = "http://192.0.2.1/list";
  CHECK_ERRC(http_source::make(bad), connector_errc::bad_config);
  bad = options_for(service, http_auth::oauth2, wallet);
  bad.token_url = "http://192.0.2.1/token";
  CHECK_ERRC(http_source::make(bad), connector_errc::bad_config);
}

// OAuth2: an access token about to expire is refreshed before it is used; one the service stops
// taking mid-listing is refreshed once after the 401 and the request asked again; the new tokens
// are written to the wallet beside the client's.
BOOST_AUTO_TEST_CASE(an_oauth2_access_token_is_refreshed_before_expiry_and_once_after_a_401) {
  json_service service;
  for (int i = 0; i < 12; ++i) service.files["f" + std::to_string(i)] = std::string(10, 'a' + i);
  {
    std::lock_guard<std::mutex> g{service.mtx};
    service.oauth.on = true;
    service.oauth.refresh_tokens = {"refresh-0"};
  }
  auto wallet = std::make_shared<memory_wallet>(
      R"({"client_id":"syncline","client_secret":"s3cr3t-client","refresh_token":"refresh-0",)"
      R"("access_token":"stale","expires_at":)" + std::to_string(now_s() + 10) + R"(,"note":"kept"})");
  auto src = make_source(options_for(service, http_auth::oauth2, wallet));
  auto items = list_all(*src);
  BOOST_CHECK_EQUAL(items.size(), 12u);
  // Ten seconds left is within the margin: refreshed first, never refused.
  BOOST_CHECK_EQUAL(service.refreshes.load(), 1u);
  BOOST_CHECK_EQUAL(service.unauthorized.load(), 0u);
  auto stored = wallet->value();
  BOOST_CHECK_EQUAL(member_text(stored, "access_token"), "access-1");
  BOOST_CHECK_EQUAL(member_text(stored, "refresh_token"), "refresh-1");  // rotated
  BOOST_CHECK_EQUAL(member_text(stored, "client_secret"), "s3cr3t-client");
  BOOST_CHECK_EQUAL(member_text(stored, "note"), "kept");
  BOOST_CHECK_GE(member_int(stored, "expires_at"), now_s() + 3500);
  BOOST_CHECK_EQUAL(wallet->writes(), 1);

  // The service stops taking the token mid-way (after the listing): the first fetch is
  // refused, the token refreshed once, and every file arrives.
  service.expire_access_tokens();
  BOOST_CHECK_EQUAL(fetch_all(*src, service), 12u);
  BOOST_CHECK_EQUAL(service.refreshes.load(), 2u);
  BOOST_CHECK_EQUAL(service.unauthorized.load(), 1u);
  BOOST_CHECK_EQUAL(member_text(wallet->value(), "access_token"), "access-2");

  // Tokens good for three requests each: each refusal costs one refresh, never two.
  {
    std::lock_guard<std::mutex> g{service.mtx};
    service.oauth.token_uses = 3;
  }
  service.expire_access_tokens();
  auto refreshes = service.refreshes.load();
  auto refused = service.unauthorized.load();
  BOOST_CHECK_EQUAL(fetch_all(*src, service), 12u);
  BOOST_CHECK_EQUAL(service.refreshes.load() - refreshes, service.unauthorized.load() - refused);
}

// A refresh token the endpoint no longer takes: `permission_denied`, naming the endpoint and its
// reason, holding no secret; new credentials in the wallet repair it.
BOOST_AUTO_TEST_CASE(a_revoked_refresh_token_is_a_clear_error_without_secrets) {
  json_service service;
  service.files["only.txt"] = "x";
  {
    std::lock_guard<std::mutex> g{service.mtx};
    service.oauth.on = true;
    service.oauth.refresh_tokens = {"refresh-good"};
  }
  auto wallet = std::make_shared<memory_wallet>(
      R"({"client_id":"syncline","client_secret":"s3cr3t-client","refresh_token":"revoked-r7"})");
  auto src = make_source(options_for(service, http_auth::oauth2, wallet));
  auto l = src->list();
  BOOST_REQUIRE(!l);
  BOOST_CHECK(is(l.error(), connector_errc::permission_denied));
  auto text = render(l.error());
  BOOST_CHECK_MESSAGE(text.find("refused the refresh token") != std::string::npos, text);
  BOOST_CHECK_MESSAGE(text.find("invalid_grant") != std::string::npos, text);
  BOOST_CHECK_MESSAGE(text.find("/token") != std::string::npos, text);
  for (auto* secret : {"revoked-r7", "s3cr3t-client"})
    BOOST_CHECK_MESSAGE(text.find(secret) == std::string::npos, text);
  BOOST_CHECK_EQUAL(service.listing_requests.load(), 0u);
  BOOST_CHECK_EQUAL(wallet->writes(), 0);
  // A wrong client secret is refused alike.
  wallet->set(R"({"client_id":"syncline","client_secret":"nope","refresh_token":"refresh-good"})");
  CHECK_ERRC(src->list(), connector_errc::permission_denied);
  // Repaired by new credentials.
  wallet->set(R"({"client_id":"syncline","client_secret":"s3cr3t-client","refresh_token":"refresh-good"})");
  auto items = list_all(*src);
  BOOST_CHECK_EQUAL(items.size(), 1u);
  // The endpoint unreachable: `network` (retried later), not a refusal.
  auto o = options_for(service, http_auth::oauth2, std::make_shared<memory_wallet>(
                                                       R"({"client_id":"c","refresh_token":"r"})"));
  o.token_url = "http://127.0.0.1:1/token";
  CHECK_ERRC(make_source(o)->list(), connector_errc::network);
}
