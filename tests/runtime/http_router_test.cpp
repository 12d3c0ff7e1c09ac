#define BOOST_TEST_MODULE runtime_http_router
#include "runtime/http_router.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "actors/text.hpp"
#include "runtime/http_message.hpp"

using namespace syncline::runtime;

namespace {

// Collects what a reply delivers, in place of a connection.
struct captured {
  std::vector<http_response> responses;
};

class capture_sink final : public http_reply::sink {
 public:
  explicit capture_sink(std::shared_ptr<captured> into) : into_(std::move(into)) {}
  void deliver(http_response response) noexcept override {
    into_->responses.push_back(std::move(response));
  }

 private:
  std::shared_ptr<captured> into_;
};

http_request make_request(std::string method, std::string path) {
  http_request r;
  r.method = std::move(method);
  r.path = path;
  r.target = std::move(path);
  return r;
}

// Dispatches and returns the one response delivered.
http_response dispatch(const http_router& router, http_request req) {
  auto out = std::make_shared<captured>();
  router.dispatch(std::move(req), http_reply{std::make_unique<capture_sink>(out)});
  BOOST_REQUIRE_EQUAL(out->responses.size(), 1u);
  return out->responses.front();
}

}  // namespace

BOOST_AUTO_TEST_CASE(routes_by_method_and_exact_path) {
  http_router router;
  router.add("GET", "/a",
             [](http_request, http_reply r) { r.send(http_response::json(200, "1")); });
  router.add("POST", "/a",
             [](http_request, http_reply r) { r.send(http_response::json(201, "2")); });
  router.add("GET", "/b",
             [](http_request, http_reply r) { r.send(http_response::json(200, "3")); });
  BOOST_CHECK_EQUAL(dispatch(router, make_request("GET", "/a")).body, "1");
  BOOST_CHECK_EQUAL(dispatch(router, make_request("POST", "/a")).status, 201u);
  BOOST_CHECK_EQUAL(dispatch(router, make_request("GET", "/b")).body, "3");
  // One trailing slash is tolerated; anything more is another path.
  BOOST_CHECK_EQUAL(dispatch(router, make_request("GET", "/a/")).body, "1");
  BOOST_CHECK_EQUAL(dispatch(router, make_request("GET", "/a//")).status, 404u);
  BOOST_CHECK_EQUAL(dispatch(router, make_request("GET", "/a/b")).status, 404u);
  // HEAD goes to GET.
  BOOST_CHECK_EQUAL(dispatch(router, make_request("HEAD", "/b")).body, "3");
}

namespace {

// A router whose handlers answer `route|name=value|...` with the captures.
http_router echo_router(std::initializer_list<std::pair<const char*, const char*>> routes) {
  http_router router;
  for (auto& [method, pattern] : routes)
    router.add(method, pattern, [p = std::string{pattern}](http_request req, http_reply r) {
      std::string body = p;
      for (auto& x : req.params) body += "|" + x.name + "=" + x.value;
      r.send(http_response::json(200, body));
    });
  return router;
}

}  // namespace

BOOST_AUTO_TEST_CASE(patterns_capture_decoded_segments_and_rests) {
  auto router = echo_router({{"GET", "/api/read/*ids"},
                             {"GET", "/api/graph/:depth/*ids"},
                             {"POST", "/api/version/*id"},
                             {"GET", "/api/:container/:account/workspaces/:ws/*rest"},
                             {"GET", "/api/verify"}});
  auto body = [&](const char* method, const char* path) {
    return dispatch(router, make_request(method, path)).body;
  };
  BOOST_CHECK_EQUAL(body("GET", "/api/read/a,b"), "/api/read/*ids|ids=a,b");
  BOOST_CHECK_EQUAL(body("GET", "/api/read/%2Fa%2Fb"), "/api/read/*ids|ids=/a/b");
  BOOST_CHECK_EQUAL(body("GET", "/api/read/"), "/api/read/*ids|ids=");
  BOOST_CHECK_EQUAL(body("GET", "/api/read"), "/api/read/*ids|ids=");
  BOOST_CHECK_EQUAL(body("GET", "/api/read//x/y/"), "/api/read/*ids|ids=/x/y/");
  BOOST_CHECK_EQUAL(body("GET", "/api/graph/2/a"), "/api/graph/:depth/*ids|depth=2|ids=a");
  BOOST_CHECK_EQUAL(body("POST", "/api/version//p/f.exr"), "/api/version/*id|id=/p/f.exr");
  // Literals beat captures: /api/verify is not a container named "verify".
  BOOST_CHECK_EQUAL(body("GET", "/api/verify"), "/api/verify");
  BOOST_CHECK_EQUAL(body("GET", "/api/c/a/workspaces/w/ds/@getAllChildren"),
                    "/api/:container/:account/workspaces/:ws/*rest|container=c|account=a|ws=w|"
                    "rest=ds/@getAllChildren");
  // A malformed escape in a capture is a 400; an empty one-segment capture does not match.
  BOOST_CHECK_EQUAL(dispatch(router, make_request("GET", "/api/read/%4")).status, 400u);
  BOOST_CHECK_EQUAL(dispatch(router, make_request("GET", "/api/graph//a")).status, 404u);
}

BOOST_AUTO_TEST_CASE(queries_forms_and_cookies) {
  http_request r;
  r.query = "a=1&b=x%20y+z&c&bad=%zz";
  BOOST_CHECK(!r.query_param("a"));  // the whole query string is malformed
  r.query = "a=1&b=x%20y+z&c";
  BOOST_CHECK_EQUAL(r.query_param("a").value_or("?"), "1");
  BOOST_CHECK_EQUAL(r.query_param("b").value_or("?"), "x y z");
  BOOST_CHECK_EQUAL(r.query_param("c").value_or("?"), "");
  BOOST_CHECK(!r.query_param("d"));
  auto form = parse_form("username=bob&password=p%26w%3D");
  BOOST_REQUIRE(form);
  BOOST_REQUIRE_EQUAL(form->size(), 2u);
  BOOST_CHECK_EQUAL((*form)[1].second, "p&w=");
  r.headers = {{"cookie", "a=1; token=\"abc\"; b=2"}, {"cookie", "z=9"}};
  BOOST_CHECK_EQUAL(r.cookie("token").value_or("?"), "abc");
  BOOST_CHECK_EQUAL(r.cookie("z").value_or("?"), "9");
  BOOST_CHECK(!r.cookie("tok"));
  BOOST_CHECK(!percent_decode("%"));
  BOOST_CHECK_EQUAL(percent_decode("a%00b").value_or("?"), std::string("a\0b", 3));
  BOOST_CHECK(syncline::actors::is_valid_utf8("caf\xC3\xA9"));
  BOOST_CHECK(!syncline::actors::is_valid_utf8("\xC0\xAF"));
}

BOOST_AUTO_TEST_CASE(adding_again_replaces_the_handler) {
  http_router router;
  router.add("GET", "/a",
             [](http_request, http_reply r) { r.send(http_response::json(200, "old")); });
  router.add("GET", "/a",
             [](http_request, http_reply r) { r.send(http_response::json(200, "new")); });
  BOOST_CHECK_EQUAL(dispatch(router, make_request("GET", "/a")).body, "new");
}

BOOST_AUTO_TEST_CASE(unknown_path_is_404_json) {
  http_router router;
  auto res = dispatch(router, make_request("GET", "/nowhere"));
  BOOST_CHECK_EQUAL(res.status, 404u);
  BOOST_CHECK_EQUAL(res.content_type, "application/json");
  BOOST_CHECK_EQUAL(res.body, R"({"error":"not_found","message":"no route for GET /nowhere"})");
}

BOOST_AUTO_TEST_CASE(known_path_with_other_method_is_405_with_allow) {
  http_router router;
  router.add("GET", "/a", [](http_request, http_reply r) { r.send({}); });
  router.add("PUT", "/a", [](http_request, http_reply r) { r.send({}); });
  auto res = dispatch(router, make_request("DELETE", "/a"));
  BOOST_CHECK_EQUAL(res.status, 405u);
  BOOST_REQUIRE_EQUAL(res.headers.size(), 1u);
  BOOST_CHECK_EQUAL(res.headers[0].first, "Allow");
  BOOST_CHECK_EQUAL(res.headers[0].second, "GET, HEAD, PUT");
  BOOST_CHECK(res.body.find("\"error\":\"method_not_allowed\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(first_send_wins_across_copies) {
  auto out = std::make_shared<captured>();
  {
    http_reply a{std::make_unique<capture_sink>(out)};
    http_reply b = a;
    BOOST_CHECK(!b.sent());
    a.send(http_response::json(200, "first"));
    BOOST_CHECK(b.sent());
    b.send(http_response::json(500, "second"));
  }
  BOOST_REQUIRE_EQUAL(out->responses.size(), 1u);
  BOOST_CHECK_EQUAL(out->responses[0].body, "first");
}

BOOST_AUTO_TEST_CASE(dropping_every_copy_unanswered_answers_500) {
  auto out = std::make_shared<captured>();
  {
    http_reply a{std::make_unique<capture_sink>(out)};
    http_reply b = a;
  }
  BOOST_REQUIRE_EQUAL(out->responses.size(), 1u);
  BOOST_CHECK_EQUAL(out->responses[0].status, 500u);
  BOOST_CHECK(out->responses[0].body.find("no_reply") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(error_bodies_are_escaped_valid_json) {
  auto res = http_response::error(400, "bad", "quote \" backslash \\ newline \n tab \t");
  BOOST_CHECK_EQUAL(res.body,
                    R"({"error":"bad","message":"quote \" backslash \\ newline \n tab \t"})");
  // Invalid UTF-8 (a lone continuation byte, a truncated sequence, an overlong form) becomes
  // U+FFFD; valid multi-byte characters pass.
  res = http_response::error(404, "not_found", "/caf\xC3\xA9/\x80/\xE2\x82/\xC0\xAF");
  BOOST_CHECK_EQUAL(res.body,
                    "{\"error\":\"not_found\",\"message\":\"/caf\xC3\xA9/\xEF\xBF\xBD/"
                    "\xEF\xBF\xBD\xEF\xBF\xBD/\xEF\xBF\xBD\xEF\xBF\xBD\"}");
}

BOOST_AUTO_TEST_CASE(header_lookup_ignores_case) {
  http_request r;
  r.headers = {{"content-type", "text/plain"}, {"x-token", "a"}, {"x-token", "b"}};
  BOOST_REQUIRE(r.header("Content-Type"));
  BOOST_CHECK_EQUAL(*r.header("Content-Type"), "text/plain");
  BOOST_CHECK_EQUAL(*r.header("X-TOKEN"), "a");
  BOOST_CHECK(r.header("authorization") == nullptr);
}
