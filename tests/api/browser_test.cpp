// What a web page may make a browser do to a node: requests as browsers send them (a foreign
// Origin, a foreign Host after DNS rebinding, text/plain bodies, cookies, HEAD) against a
// real node on loopback, and the clients that send no Origin at all still served.
#define BOOST_TEST_MODULE browser
#include <boost/test/unit_test.hpp>

#include "tests/api/api_client.hpp"

using namespace syncline;
using namespace syncline::test;

namespace {

std::string own_origin(uint16_t port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

// Whether the element exists, asked with the admin's token.
int read_status(api_node& n, const std::string& token, const std::string& escaped_id) {
  api_client c{n.port, token};
  return c.get("/api/read/" + escaped_id).status;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_foreign_origin_changes_nothing_even_with_a_token) {
  api_node n;
  api_client anon{n.port};
  auto token = anon.sign_in("root", n.admin_password);
  BOOST_REQUIRE(!token.empty());
  api_client c{n.port, token};
  // A form post of a foreign page, as a browser sends it: text/plain, its Origin.
  auto r = c.call("POST", "/api/create/", R"({"_id":"/csrf/a"})",
                  {{"Origin", "https://evil.example"}}, "text/plain");
  BOOST_CHECK_EQUAL(r.status, 403);
  BOOST_CHECK(is_error_shape(r.body));
  BOOST_CHECK_MESSAGE(r.body.find("evil.example") != std::string::npos, r.body);
  BOOST_CHECK_EQUAL(read_status(n, token, "%2Fcsrf%2Fa"), 404);
  // "null" (a sandboxed frame, a file) is foreign too.
  r = c.call("POST", "/api/create/", R"({"_id":"/csrf/a"})", {{"Origin", "null"}});
  BOOST_CHECK_EQUAL(r.status, 403);
  // Reads are not state changes: a foreign page's read is answered (it cannot see it: no CORS).
  BOOST_CHECK_EQUAL(c.call("GET", "/api/verify", {}, {{"Origin", "https://evil.example"}}).status,
                    200);
  // The node's own pages may.
  r = c.call("POST", "/api/create/", R"({"_id":"/csrf/a"})", {{"Origin", own_origin(n.port)}});
  BOOST_CHECK_EQUAL(r.status, 201);
  // A foreign page may not sign in either; a client without Origin (curl, scripts) may.
  http_connection s{"127.0.0.1", n.port};
  r = s.request("POST", "/api/signIn", "username=root&password=" + n.admin_password,
                {{"Content-Type", "application/x-www-form-urlencoded"},
                 {"Origin", "https://evil.example"}});
  BOOST_CHECK_EQUAL(r.status, 403);
  BOOST_CHECK(!anon.sign_in("root", n.admin_password).empty());
}

BOOST_AUTO_TEST_CASE(allowed_origins_are_configured) {
  api_node n{{}, 1000, [](runtime::node_config& cfg) {
               cfg.http.allowed_origins = {"https://app.example.org"};
             }};
  api_client anon{n.port};
  auto token = anon.sign_in("root", n.admin_password);
  api_client c{n.port, token};
  auto r = c.call("POST", "/api/create/", R"({"_id":"/app/a"})",
                  {{"Origin", "https://app.example.org"}});
  BOOST_CHECK_EQUAL(r.status, 201);
  r = c.call("POST", "/api/create/", R"({"_id":"/app/b"})", {{"Origin", "http://app.example.org"}});
  BOOST_CHECK_EQUAL(r.status, 403);
}

BOOST_AUTO_TEST_CASE(a_foreign_host_is_refused_but_health_answers) {
  api_node n{{}, 1000, [](runtime::node_config& cfg) {
               cfg.http.allowed_hosts = {"sync.example.org"};
             }};
  api_client anon{n.port};
  auto token = anon.sign_in("root", n.admin_password);
  BOOST_REQUIRE(!token.empty());
  auto port = std::to_string(n.port);
  auto with_host = [&](const std::string& host, const std::string& method,
                       const std::string& target, const std::string& body = {}) {
    http_connection c{"127.0.0.1", n.port};
    c.set_host_header(host);
    return c.request(method, target, body,
                     {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
  };
  // DNS rebinding: a foreign name resolved to the node's address.
  auto r = with_host("evil.example:" + port, "GET", "/api/verify");
  BOOST_CHECK_EQUAL(r.status, 403);
  BOOST_CHECK_MESSAGE(r.body.find("allowed_hosts") != std::string::npos, r.body);
  r = with_host("evil.example:" + port, "POST", "/api/create/", R"({"_id":"/dns/a"})");
  BOOST_CHECK_EQUAL(r.status, 403);
  BOOST_CHECK_EQUAL(read_status(n, token, "%2Fdns%2Fa"), 404);
  BOOST_CHECK_EQUAL(with_host("evil.example:" + port, "GET", "/health").status, 200);
  // The address connected to, localhost on loopback, the configured names, and no Host.
  BOOST_CHECK_EQUAL(with_host("127.0.0.1:" + port, "GET", "/api/verify").status, 200);
  BOOST_CHECK_EQUAL(with_host("LocalHost:" + port, "GET", "/api/verify").status, 200);
  BOOST_CHECK_EQUAL(with_host("sync.example.org", "GET", "/api/verify").status, 200);
  BOOST_CHECK_EQUAL(with_host("", "GET", "/api/verify").status, 200);
  // The right name on another port is another site.
  BOOST_CHECK_EQUAL(with_host("127.0.0.1:1", "GET", "/api/verify").status, 403);
  BOOST_CHECK_EQUAL(with_host("127.0.0.1:" + port + "@evil", "GET", "/api/verify").status, 403);
}

BOOST_AUTO_TEST_CASE(head_never_changes_state) {
  api_node n;
  api_client anon{n.port};
  auto token = anon.sign_in("root", n.admin_password);
  BOOST_REQUIRE(!token.empty());
  api_client c{n.port, token};
  auto r = c.call("HEAD", "/api/signOut");
  BOOST_CHECK_EQUAL(r.status, 405);
  BOOST_CHECK_EQUAL(r.header("allow"), "POST, GET");
  BOOST_CHECK_EQUAL(c.get("/api/verify").status, 200);
  r = c.call("HEAD", "/api/ct/acc/workspaces/ws/nosuch/@sendToSpyder");
  BOOST_CHECK_EQUAL(r.status, 405);
  // GET keeps seed 000's action forms for a client that sends its token in a header: past the
  // browser rules, the datasource API answers (no such datasource).
  BOOST_CHECK_EQUAL(c.get("/api/ct/acc/workspaces/ws/nosuch/@sendToSpyder").status, 404);
  BOOST_CHECK_EQUAL(c.call("GET", "/api/ct/acc/workspaces/ws/nosuch/@sendToSpyder", {},
                           {{"Origin", "https://evil.example"}})
                        .status,
                    403);
  // HEAD of a read is a read.
  BOOST_CHECK_EQUAL(c.call("HEAD", "/api/verify").status, 200);
  BOOST_CHECK_EQUAL(c.get("/api/signOut").status, 200);
  BOOST_CHECK_EQUAL(c.get("/api/verify").status, 401);
}

BOOST_AUTO_TEST_CASE(a_change_by_cookie_needs_an_allowed_origin_or_referer) {
  api_node n;
  api_client anon{n.port};
  auto token = anon.sign_in("root", n.admin_password);
  BOOST_REQUIRE(!token.empty());
  api_client plain{n.port};
  headers cookie{{"Cookie", "token=" + token}};
  auto with = [&](headers extra) {
    for (auto& h : cookie) extra.push_back(h);
    return extra;
  };
  // The cookie reads without more.
  BOOST_CHECK_EQUAL(plain.call("GET", "/api/verify", {}, cookie).status, 200);
  // A change needs the page's origin: none, a foreign one, a foreign referer are refused.
  auto r = plain.call("POST", "/api/create/", R"({"_id":"/ck/a"})", cookie);
  BOOST_CHECK_EQUAL(r.status, 403);
  BOOST_CHECK_MESSAGE(r.body.find("Authorization: Bearer") != std::string::npos, r.body);
  BOOST_CHECK_EQUAL(plain.call("POST", "/api/create/", R"({"_id":"/ck/a"})",
                               with({{"Referer", "https://evil.example/" + own_origin(n.port)}}))
                        .status,
                    403);
  BOOST_CHECK_EQUAL(read_status(n, token, "%2Fck%2Fa"), 404);
  BOOST_CHECK_EQUAL(plain.call("POST", "/api/create/", R"({"_id":"/ck/a"})",
                               with({{"Origin", own_origin(n.port)}}))
                        .status,
                    201);
  BOOST_CHECK_EQUAL(plain.call("POST", "/api/create/", R"({"_id":"/ck/b"})",
                               with({{"Referer", own_origin(n.port) + "/status?x=1"}}))
                        .status,
                    201);
  // A datasource action by cookie, too.
  BOOST_CHECK_EQUAL(
      plain.call("POST", "/api/ct/acc/workspaces/ws/nosuch/@pause", {}, cookie).status, 403);
  BOOST_CHECK_EQUAL(plain.call("POST", "/api/ct/acc/workspaces/ws/nosuch/@pause", {},
                               with({{"Origin", own_origin(n.port)}}))
                        .status,
                    404);
  // Signing out by cookie, by GET, from nowhere: refused; the token still works.
  BOOST_CHECK_EQUAL(plain.call("GET", "/api/signOut", {}, cookie).status, 403);
  BOOST_CHECK_EQUAL(plain.call("GET", "/api/verify", {}, cookie).status, 200);
}

// damas-core's shell client: curl posting JSON under curl's default form content type, with
// its token header and no Origin.
BOOST_AUTO_TEST_CASE(clients_without_origin_keep_working) {
  api_node n;
  api_client anon{n.port};
  auto token = anon.sign_in("root", n.admin_password);
  api_client c{n.port, token};
  auto r = c.call("POST", "/api/create/", R"({"_id":"/sh/a"})", {},
                  "application/x-www-form-urlencoded");
  BOOST_CHECK_EQUAL(r.status, 201);
  BOOST_CHECK_EQUAL(c.call("PUT", "/api/update/", R"({"_id":"/sh/a","v":1})", {},
                           "application/x-www-form-urlencoded")
                        .status,
                    200);
  BOOST_CHECK_EQUAL(c.call("GET", "/api/signOut").status, 200);
}
