// The node's web page (docs/api.md, "The page") through a real node on loopback: served at `/`
// without a token and with its security headers, signIn's `token` cookie and the routes that
// accept it (the event stream among them); then the page itself in a real headless Chromium
// (Debian's `chromium`), driven over the DevTools protocol: it signs in through its form, shows a
// datasource turn `synced` as it happens, and its pause button pauses it in the API.
// With SYNCLINE_SCREENSHOT=<file.png> the browser test also writes a screenshot of the page
// (`bash tools/dev.sh screenshot` makes docs/page.png so).
#define BOOST_TEST_MODULE api_page
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "runtime/api_errors.hpp"
#include "storage/ulid.hpp"
#include "tests/api/api_client.hpp"
#include "tests/support/headless_chromium.hpp"
#include "tests/support/http_client.hpp"

using namespace syncline::test;
namespace fs = std::filesystem;

namespace {

const std::string ws = "/api/acme/main/workspaces/studio";

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A node's configuration with volume `vol` and folders `sources/photos` (`files` files) and
// `sources/docs` beside its data, from which the API may make datasources.
std::function<void(syncline::runtime::node_config&)> with_sources(fs::path& sources, int files) {
  return [&sources, files](syncline::runtime::node_config& cfg) {
    auto volume = cfg.node.data_dir.parent_path() / "vol";
    sources = cfg.node.data_dir.parent_path() / "sources";
    fs::create_directories(volume);
    fs::create_directories(sources / "photos");
    fs::create_directories(sources / "docs");
    for (int i = 0; i < files; ++i)
      std::ofstream{sources / "photos" / ("IMG_" + std::to_string(1000 + i) + ".jpg")} << pseudo_random(4096, i);
    std::ofstream{sources / "docs" / "plan.txt"} << "the plan";
    syncline::actors::volume_config v;
    v.id = "vol";
    v.path = volume.string();
    cfg.volumes.push_back(v);
    cfg.datasources_settings.allowed_roots = {sources.string()};
  };
}

std::string make_folder_datasource(api_client& c, const std::string& id, const fs::path& path,
                                   const std::string& extra = {}) {
  auto made = c.post(ws, R"({"id":")" + id + R"(","type":"folder","path":")" + path.string() +
                             R"(","volumes":["vol"],"sync_type":"auto")" + extra + "}");
  BOOST_REQUIRE_MESSAGE(made.status == 201, made.body);
  return ws + "/" + id;
}

std::string origin_of(const api_node& node) { return "http://127.0.0.1:" + std::to_string(node.port); }

}  // namespace

BOOST_AUTO_TEST_CASE(the_page_needs_no_token_and_signIn_sets_a_cookie_the_api_accepts) {
  fs::path sources;
  api_node node{"", 1000, with_sources(sources, 2)};

  // The page and its files: no token, the security headers, HEAD too.
  for (auto [path, type] : std::vector<std::pair<std::string, std::string>>{
           {"/", "text/html"}, {"/page.js", "text/javascript"}, {"/page.css", "text/css"},
           {"/icon.svg", "image/svg+xml"}}) {
    for (auto* method : {"GET", "HEAD"}) {
      auto r = fetch(node.port, method, path);
      BOOST_TEST_CONTEXT(method << " " << path) {
        BOOST_CHECK_EQUAL(r.status, 200);
        BOOST_CHECK_MESSAGE(has(r.header("content-type"), type), r.header("content-type"));
        BOOST_CHECK_MESSAGE(has(r.header("content-security-policy"), "default-src 'self'"),
                            r.header("content-security-policy"));
        BOOST_CHECK_MESSAGE(has(r.header("content-security-policy"), "frame-ancestors 'none'"),
                            r.header("content-security-policy"));
        BOOST_CHECK_EQUAL(r.header("x-content-type-options"), "nosniff");
        BOOST_CHECK_EQUAL(r.header("x-frame-options"), "DENY");
        BOOST_CHECK_EQUAL(r.header("cache-control"), "no-cache");
        if (std::string{method} == "HEAD") BOOST_CHECK(r.body.empty());
        else BOOST_CHECK(!r.body.empty());
        // Nothing comes from elsewhere (the SVG's namespace is a name, not a load).
        if (path != "/icon.svg") {
          BOOST_CHECK(!has(r.body, "http://"));
          BOOST_CHECK(!has(r.body, "https://"));
        }
      }
    }
  }
  auto html = fetch(node.port, "GET", "/").body;
  BOOST_CHECK(has(html, R"(<script src="/page.js")"));
  BOOST_CHECK_MESSAGE(!has(html, "<script>"), "no inline script: the policy would block it");
  BOOST_CHECK(has(html, "signin-form"));
  // What the API answers (names, errors, paths) goes into the page as text only.
  auto js = fetch(node.port, "GET", "/page.js").body;
  for (auto* sink : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("})
    BOOST_CHECK_MESSAGE(!has(js, sink), sink);
  // A foreign Host (DNS rebinding) is refused here as everywhere.
  {
    http_connection foreign{"127.0.0.1", node.port};
    foreign.set_host_header("evil.example");
    BOOST_CHECK_EQUAL(foreign.request("GET", "/").status, 403);
  }

  // signIn: the JSON answer as before, and the cookie, for the token's lifetime.
  http_connection c{"127.0.0.1", node.port};
  auto in = c.request("POST", "/api/signIn", "username=root&password=" + node.admin_password + "&expiresIn=2h",
                      {{"Content-Type", "application/x-www-form-urlencoded"}});
  BOOST_REQUIRE_EQUAL(in.status, 200);
  auto token = member(in.body, "token");
  BOOST_REQUIRE(!token.empty());
  auto cookie = in.header("set-cookie");
  BOOST_TEST_MESSAGE("Set-Cookie: " << cookie.substr(cookie.find(';')));
  BOOST_CHECK(cookie.rfind("token=" + token + ";", 0) == 0);
  for (auto* attribute : {"; HttpOnly", "; SameSite=Strict", "; Path=/", "; Max-Age=7200"})
    BOOST_CHECK_MESSAGE(has(cookie, attribute), attribute);
  BOOST_CHECK_MESSAGE(!has(cookie, "Secure"), "plain HTTP: a Secure cookie would never come back");
  {
    // Under HTTPS it is Secure (the answer as the HTTP layer writes it for a TLS node).
    syncline::actors::api_answer a;
    a.json = "{}";
    a.issued_token = "t0k";
    a.issued_token_ttl_s = 60;
    auto tls = syncline::runtime::to_http(std::move(a), true);
    BOOST_REQUIRE_EQUAL(tls.headers.size(), 1u);
    BOOST_CHECK_EQUAL(tls.headers[0].second, "token=t0k; Max-Age=60; Path=/; HttpOnly; SameSite=Strict; Secure");
  }
  std::vector<std::pair<std::string, std::string>> with_cookie{{"Cookie", "token=" + token}};

  // Reads with the cookie: verify, every datasource of every workspace, the event stream.
  api_client root{node.port, token};
  make_folder_datasource(root, "photos", sources / "photos");
  BOOST_CHECK_EQUAL(fetch(node.port, "GET", "/api/verify", {}, with_cookie).status, 200);
  BOOST_CHECK_EQUAL(fetch(node.port, "GET", "/api/verify").status, 401);
  auto all = fetch(node.port, "GET", "/api/datasources", {}, with_cookie);
  BOOST_CHECK_EQUAL(all.status, 200);
  BOOST_CHECK_MESSAGE(has(all.body, R"("id":"photos")") && has(all.body, R"("workspace":"studio")"), all.body);
  BOOST_CHECK_EQUAL(fetch(node.port, "GET", "/api/datasources").status, 401);
  {
    http_connection events{"127.0.0.1", node.port};
    auto h = with_cookie;
    h.emplace_back("Accept", "text/event-stream");
    events.send_request("GET", "/api/events", {}, h);
    auto head = events.read_until("\r\n\r\n");
    BOOST_REQUIRE(head);
    BOOST_CHECK_MESSAGE(has(*head, "HTTP/1.1 200") && has(*head, "text/event-stream"), *head);
  }

  // A change with the cookie needs the page's own Origin (a foreign page's request has none or
  // another).
  auto pause = [&](std::vector<std::pair<std::string, std::string>> extra) {
    for (auto& h : with_cookie) extra.push_back(h);
    return fetch(node.port, "POST", ws + "/photos/@pause", {}, extra).status;
  };
  BOOST_CHECK_EQUAL(pause({}), 403);
  BOOST_CHECK_EQUAL(pause({{"Origin", "http://evil.example"}}), 403);
  BOOST_CHECK_EQUAL(pause({{"Origin", origin_of(node)}}), 200);
  BOOST_CHECK_EQUAL(member(root.get(ws + "/photos").body, "status"), "paused");

  // signOut with the cookie clears it, and the token is dead.
  auto out = fetch(node.port, "POST", "/api/signOut", {},
                   {{"Cookie", "token=" + token}, {"Origin", origin_of(node)}});
  BOOST_CHECK_EQUAL(out.status, 200);
  BOOST_CHECK(out.header("set-cookie").rfind("token=; Max-Age=0;", 0) == 0);
  BOOST_CHECK_EQUAL(fetch(node.port, "GET", "/api/verify", {}, with_cookie).status, 401);
}

BOOST_AUTO_TEST_CASE(in_chromium_the_page_signs_in_shows_synced_and_pauses) {
  auto chromium = headless_chromium::find();
  BOOST_REQUIRE_MESSAGE(chromium, "Chromium is not installed (Debian's package `chromium`; "
                                  "`bash tools/dev.sh test` installs it, or set SYNCLINE_CHROMIUM)");
  fs::path sources;
  api_node node{"", 1000, with_sources(sources, 20)};
  api_client root{node.port};
  root.set_token(root.sign_in("root", node.admin_password));
  BOOST_REQUIRE(!root.token().empty());

  // Elements with copies at sites, in each of seed 003's states (for the per-site table).
  auto made = root.post("/api/create/",
                        R"([{"_id":"/shots/010/comp_v003.exr"},{"_id":"/shots/010/plate.mov"},
                            {"_id":"/shots/020/layout.blend"},{"_id":"/docs/brief.pdf"}])");
  BOOST_REQUIRE_MESSAGE(made.status == 201, made.body);
  auto later = std::to_string(syncline::storage::epoch_ms() + 60000);
  auto state = root.put("/api/syncState/",
                        R"([{"_id":"/shots/010/comp_v003.exr","synced_paris":)" + later + R"(,"synced_tokyo":)" + later + R"(},
                            {"_id":"/shots/010/plate.mov","synced_paris":)" + later + R"(,"syncing_tokyo":)" + later + R"(},
                            {"_id":"/shots/020/layout.blend","synced_paris":)" + later + R"(,"synced_tokyo":1000},
                            {"_id":"/docs/brief.pdf","synced_paris":)" + later + R"(,"syncError_tokyo":23,"syncLastAttempt_tokyo":)" + later + "}]");
  BOOST_REQUIRE_MESSAGE(state.status == 200, state.body);

  temp_dir profile{"chromium"};
  headless_chromium browser{*chromium, profile.path()};
  auto page = browser.open_page(1280, 800);
  browser.call("Page.navigate", "{\"url\":" + json_quote(origin_of(node) + "/") + "}", page);

  // Not signed in: the form.
  BOOST_REQUIRE_MESSAGE(browser.wait_until(page, "document.readyState === 'complete' && "
                                                 "!document.querySelector('#signin').hidden",
                                           std::chrono::seconds{30}),
                        "no sign-in form; the browser printed:\n" + browser.output());
  browser.evaluate(page, "document.querySelector('#username').value = 'root';"
                         "document.querySelector('#password').value = " + json_quote(node.admin_password) + ";"
                         "document.querySelector('#signin-form button[type=submit]').click(); true");
  BOOST_REQUIRE_MESSAGE(browser.wait_until(page, "!document.querySelector('#state').hidden && "
                                                 "document.querySelector('#live').dataset.state === 'on'",
                                           std::chrono::seconds{30}),
                        "not signed in, or no live events: " +
                            browser.evaluate(page, "document.querySelector('#message').textContent"));

  // Datasources made now show up and change live.
  make_folder_datasource(root, "photos", sources / "photos");
  make_folder_datasource(root, "docs", sources / "docs", R"(,"status":"paused")");
  const std::string photos_status = "document.querySelector('tr[data-datasource=\"photos\"] .state .status')";
  BOOST_CHECK_MESSAGE(browser.wait_until(page, photos_status + "?.textContent === 'synced'", std::chrono::seconds{60}),
                      "the page shows " + browser.evaluate(page, photos_status + "?.textContent") +
                          "; the API says " + root.get(ws + "/photos").body);
  BOOST_CHECK(browser.wait_until(
      page, "document.querySelector('tr[data-datasource=\"docs\"] .state .status')?.textContent === 'paused'",
      std::chrono::seconds{30}));
  // The other panels: runs, the volume, the files per site in their colours.
  auto shown = [&] { return browser.evaluate(page, "document.body.innerText"); };
  BOOST_CHECK_MESSAGE(browser.wait_until(page, "document.querySelectorAll('#runs tbody tr').length > 0 && "
                                               "document.querySelector('#volumes tr[data-volume=\"vol\"]') !== null",
                                         std::chrono::seconds{30}),
                      "the page shows " + shown());
  BOOST_CHECK_MESSAGE(browser.wait_until(page, "['synced','outdated','syncing','error'].every(s => "
                                               "document.querySelector('#files td.site .cell.' + s))",
                                         std::chrono::seconds{30}),
                      "the page shows " + shown());

  if (const char* shot = std::getenv("SYNCLINE_SCREENSHOT"); shot != nullptr && *shot != '\0') {
    // The shot shows the page settled: the run's end read back, the queue drained (not a
    // check: the shot is taken anyway), and without the sign-in's message (it fades).
    browser.wait_until(page, "document.querySelector('#runs tbody tr .status')?.textContent === 'success' && "
                             "!document.querySelector('#queue-empty').hidden", std::chrono::seconds{30});
    browser.evaluate(page, "document.querySelector('#message').hidden = true; true");
    auto png = browser.screenshot(page);
    BOOST_REQUIRE(png.size() > 8 && png.substr(1, 3) == "PNG");
    std::ofstream{shot, std::ios::binary} << png;
    BOOST_TEST_MESSAGE("screenshot written to " << shot);
  }

  // The datasource's pause button: the API reports it paused, and the page says so.
  BOOST_REQUIRE_EQUAL(browser.evaluate(page, "(() => { const b = document.querySelector("
                                             "'tr[data-datasource=\"photos\"] button[data-action=\"pause\"]');"
                                             " if (!b) return false; b.click(); return true; })()"),
                      "true");
  BOOST_CHECK(eventually([&] { return member(root.get(ws + "/photos").body, "status") == "paused"; },
                         std::chrono::seconds{30}));
  BOOST_CHECK(browser.wait_until(page, photos_status + "?.textContent === 'paused'", std::chrono::seconds{30}));
  // And it shows the API's answer.
  BOOST_CHECK_MESSAGE(browser.wait_until(page, "document.querySelector('#message').textContent.startsWith('Pause photos: ')",
                                         std::chrono::seconds{30}),
                      browser.evaluate(page, "document.querySelector('#message').textContent"));
}
