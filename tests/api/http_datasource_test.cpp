// An http datasource (docs/http-datasources.md) through the real path: created through the API
// on a node, it lists a JSON API on loopback page by page, copies every file into a volume, follows
// additions and removals, and a malformed page fails the run without removing anything.
#define BOOST_TEST_MODULE api_http_datasource
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "tests/api/api_client.hpp"
#include "tests/connectors/json_service.hpp"

using namespace syncline::test;
namespace fs = std::filesystem;

namespace {

const std::string ws = "/api/acme/main/workspaces/ws1";

std::string read_file(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

// A node's configuration with volume `id` in a new folder beside its data; `where` gets its path.
std::function<void(syncline::runtime::node_config&)> with_volume(const std::string& id, fs::path& where) {
  return [id, &where](syncline::runtime::node_config& cfg) {
    where = cfg.node.data_dir.parent_path() / id;
    fs::create_directories(where);
    syncline::actors::volume_config v;
    v.id = id;
    v.path = where.string();
    cfg.volumes.push_back(v);
  };
}

bool ended(api_client& c, const std::string& id, uint64_t number) {
  auto s = run_status(c, ws + "/" + id, number);
  return s == "success" || s == "failed";
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_http_datasource_copies_what_a_json_api_lists) {
  json_service service;
  for (int i = 0; i < 300; ++i)
    service.files["dir" + std::to_string(i % 4) + "/file" + std::to_string(i) + ".txt"] =
        "content of " + std::to_string(i);
  service.files["big/blob.bin"] = std::string(3u << 20, 'z');
  fs::path volume;
  api_node node{"", 1000, with_volume("vol", volume)};
  api_client root{node.port};
  root.set_token(root.sign_in("root", node.admin_password));

  // A bad setting is refused, naming it, and makes nothing.
  auto refused = root.post(ws, R"({"id":"api","type":"http","volumes":["vol"],"http":{"url":")" +
                                   service.base() + R"(/cursor","paging":"cursor"}})");
  BOOST_CHECK_EQUAL(refused.status, 400);
  BOOST_CHECK_MESSAGE(refused.body.find("next_pointer") != std::string::npos, refused.body);
  refused = root.post(ws, R"({"id":"api","type":"http","volumes":["vol"],"http":{"uri":"x"}})");
  BOOST_CHECK_EQUAL(refused.status, 400);
  BOOST_CHECK_MESSAGE(refused.body.find("unknown key 'uri'") != std::string::npos, refused.body);

  auto made = root.post(ws, R"({"id":"api","type":"http","volumes":["vol"],"sync_type":"auto",)"
                            R"("http":{"url":")" + service.base() + R"(/cursor?limit=50",)"
                            R"("paging":"cursor","items":"/data/files","next":"/cursor",)"
                            R"("reference":"/path","size":"/size","mtime":"/mtime_ms",)"
                            R"("mtime_unit":"ms","hash":"/xxh3","content":"/url"}})");
  BOOST_REQUIRE_MESSAGE(made.status == 201, made.body);
  BOOST_CHECK_MESSAGE(made.body.find(R"("paging":"cursor")") != std::string::npos, made.body);
  BOOST_REQUIRE(eventually([&] { return ended(root, "api", 1); }));
  BOOST_REQUIRE_EQUAL(run_status(root, ws + "/api", 1), "success");
  for (auto& [path, bytes] : service.files)
    BOOST_REQUIRE_MESSAGE(read_file(volume / "api" / path) == bytes, path);

  // Changes at the service: one file gone, one new, one changed; the next run follows.
  service.files.erase("dir1/file1.txt");
  service.files["dir9/new.txt"] = "new";
  service.files["dir2/file2.txt"] = "changed";
  BOOST_REQUIRE_EQUAL(root.post(ws + "/api/@sendToSpyder", "{}").status, 202);
  BOOST_REQUIRE(eventually([&] { return ended(root, "api", 2); }));
  BOOST_REQUIRE_EQUAL(run_status(root, ws + "/api", 2), "success");
  BOOST_CHECK(!fs::exists(volume / "api" / "dir1/file1.txt"));
  BOOST_CHECK_EQUAL(read_file(volume / "api" / "dir9/new.txt"), "new");
  BOOST_CHECK_EQUAL(read_file(volume / "api" / "dir2/file2.txt"), "changed");

  // A malformed page: the run fails, says why, and removes nothing.
  service.malformed_page = 3;
  service.files.erase("dir3/file3.txt");
  BOOST_REQUIRE_EQUAL(root.post(ws + "/api/@sendToSpyder", "{}").status, 202);
  BOOST_REQUIRE(eventually([&] { return ended(root, "api", 3); }));
  BOOST_CHECK_EQUAL(run_status(root, ws + "/api", 3), "failed");
  auto view = root.get(ws + "/api");
  BOOST_CHECK_MESSAGE(member(view.body, "last_error").find("page 3 is not JSON") != std::string::npos,
                      view.body);
  BOOST_CHECK(fs::exists(volume / "api" / "dir3/file3.txt"));
  BOOST_CHECK(fs::exists(volume / "api" / "dir0/file0.txt"));
}

// Credentials from the wallet through the real path: a datasource with auth = oauth2 has none at
// first (`error`, saying what to do); @refreshServiceCredentials stores them (encrypted) and gives
// it a run; an access token that ends mid-run is refreshed once and the run completes; the
// rotated refresh token is kept for the next run; a revoked one puts the datasource in `error`
// with a clear last_error and no secret anywhere; new credentials repair it.
BOOST_AUTO_TEST_CASE(an_oauth2_datasource_refreshes_its_token_and_is_repaired_by_new_credentials) {
  json_service service;
  for (int i = 0; i < 200; ++i) service.files["d" + std::to_string(i % 5) + "/f" + std::to_string(i)] = std::to_string(i);
  {
    std::lock_guard<std::mutex> g{service.mtx};
    service.oauth.on = true;
    service.oauth.refresh_tokens = {"first-refresh"};
  }
  fs::path volume;
  api_node node{"", 1000, with_volume("vol", volume)};
  api_client root{node.port};
  root.set_token(root.sign_in("root", node.admin_password));
  auto made = root.post(ws, R"({"id":"svc","type":"http","volumes":["vol"],"sync_type":"auto",)"
                            R"("http":{"url":")" + service.base() + R"(/next?limit=40",)"
                            R"("paging":"next_url","items":"/items","next":"/next",)"
                            R"("size":"/size","hash":"/xxh3","content":"/url",)"
                            R"("auth":"oauth2","token_url":")" + service.base() + R"(/token"}})");
  BOOST_REQUIRE_MESSAGE(made.status == 201, made.body);
  BOOST_REQUIRE(eventually([&] { return ended(root, "svc", 1); }));
  auto view = root.get(ws + "/svc");
  BOOST_CHECK_EQUAL(member(view.body, "status"), "error");
  BOOST_CHECK_MESSAGE(member(view.body, "last_error").find("@refreshServiceCredentials") != std::string::npos,
                      view.body);

  // Credentials lacking what oauth2 needs are refused, naming the key.
  auto bad = root.post(ws + "/svc/@refreshServiceCredentials", R"({"client_id":"syncline"})");
  BOOST_CHECK_EQUAL(bad.status, 400);
  BOOST_CHECK_MESSAGE(bad.body.find("refresh_token") != std::string::npos, bad.body);

  // Stored: a run starts with them; its token ends after 60 files and is refreshed once.
  service.expire_at_content = 60;
  auto stored = root.post(ws + "/svc/@refreshServiceCredentials",
                          R"({"client_id":"syncline","client_secret":"s3cr3t-client","refresh_token":"first-refresh"})");
  BOOST_REQUIRE_MESSAGE(stored.status == 200, stored.body);
  BOOST_CHECK_MESSAGE(stored.body.find(R"("run":2)") != std::string::npos, stored.body);
  BOOST_REQUIRE(eventually([&] { return ended(root, "svc", 2); }));
  BOOST_REQUIRE_EQUAL(run_status(root, ws + "/svc", 2), "success");
  for (auto& [path, bytes] : service.files)
    BOOST_REQUIRE_MESSAGE(read_file(volume / "svc" / path) == bytes, path);
  BOOST_CHECK_EQUAL(service.refreshes.load(), 2u);  // the first access token, then after the 401s
  BOOST_CHECK_GE(service.unauthorized.load(), 1u);

  // The next run: the access token is gone at the service; the rotated refresh token, kept in
  // the wallet, gets a new one.
  service.expire_access_tokens();
  service.files["d9/new"] = "new";
  BOOST_REQUIRE_EQUAL(root.post(ws + "/svc/@sendToSpyder", "{}").status, 202);
  BOOST_REQUIRE(eventually([&] { return ended(root, "svc", 3); }));
  BOOST_REQUIRE_EQUAL(run_status(root, ws + "/svc", 3), "success");
  BOOST_CHECK_EQUAL(read_file(volume / "svc" / "d9/new"), "new");
  BOOST_CHECK_EQUAL(service.refreshes.load(), 3u);

  // Revoked at the service: `error`, saying so, with no secret in sight; nothing removed.
  {
    std::lock_guard<std::mutex> g{service.mtx};
    service.oauth.refresh_tokens.clear();
    service.oauth.access.clear();
  }
  BOOST_REQUIRE_EQUAL(root.post(ws + "/svc/@sendToSpyder", "{}").status, 202);
  BOOST_REQUIRE(eventually([&] { return ended(root, "svc", 4); }));
  view = root.get(ws + "/svc");
  BOOST_CHECK_EQUAL(member(view.body, "status"), "error");
  auto why = member(view.body, "last_error");
  BOOST_CHECK_MESSAGE(why.find("refused the refresh token") != std::string::npos, view.body);
  BOOST_CHECK_MESSAGE(why.find("invalid_grant") != std::string::npos, view.body);
  for (auto* secret : {"s3cr3t-client", "refresh-", "access-"})
    BOOST_CHECK_MESSAGE(view.body.find(secret) == std::string::npos, view.body);
  BOOST_CHECK(fs::exists(volume / "svc" / "d0/f0"));

  // Repaired by new credentials: another run, and it succeeds.
  {
    std::lock_guard<std::mutex> g{service.mtx};
    service.oauth.refresh_tokens = {"second-refresh"};
  }
  stored = root.post(ws + "/svc/@refreshServiceCredentials",
                     R"({"client_id":"syncline","client_secret":"s3cr3t-client","refresh_token":"second-refresh"})");
  BOOST_REQUIRE_MESSAGE(stored.status == 200, stored.body);
  BOOST_REQUIRE(eventually([&] { return ended(root, "svc", 5); }));
  BOOST_CHECK_EQUAL(run_status(root, ws + "/svc", 5), "success");
  BOOST_CHECK(eventually([&] { return member(root.get(ws + "/svc").body, "status") == "synced"; }));
}

// docs/http-datasources.md's second example through the real path: node A reads a datasource of
// node B (its @getAllChildren, page by page with `scroll`, and its content route), with a token
// of one of B's users from A's wallet; what B copied arrives in A's volume, verified by hash.
BOOST_AUTO_TEST_CASE(a_second_syncline_node_is_the_service) {
  fs::path b_volume, photos;
  auto b_main = with_volume("main", b_volume);
  api_node b{"", 1000, [&](syncline::runtime::node_config& cfg) {
               b_main(cfg);
               photos = cfg.node.data_dir.parent_path() / "photos";
               cfg.datasources_settings.allowed_roots = {photos.string()};
             }};
  std::map<std::string, std::string> files;
  for (int i = 0; i < 45; ++i)
    files["album" + std::to_string(i % 3) + "/img" + std::to_string(i) + ".jpg"] = std::string(100 + i, 'p');
  files["raw/large.bin"] = std::string(2u << 20, 'L');
  for (auto& [path, bytes] : files) {
    fs::create_directories((photos / path).parent_path());
    std::ofstream{photos / path, std::ios::binary} << bytes;
  }
  api_client at_b{b.port};
  auto token = at_b.sign_in("root", b.admin_password);
  at_b.set_token(token);
  auto made_b = at_b.post(ws, R"({"id":"photos","type":"folder","path":")" + photos.string() +
                                  R"(","volumes":["main"],"sync_type":"auto"})");
  BOOST_REQUIRE_MESSAGE(made_b.status == 201, made_b.body);
  BOOST_REQUIRE(eventually([&] { return run_status(at_b, ws + "/photos", 1) == "success"; }));

  fs::path volume;
  api_node a{"", 1000, with_volume("vol", volume)};
  api_client at_a{a.port};
  at_a.set_token(at_a.sign_in("root", a.admin_password));
  auto base = "http://127.0.0.1:" + std::to_string(b.port);
  auto made = at_a.post(ws, R"({"id":"from-b","type":"http","volumes":["vol"],"status":"paused",)"
                            R"("http":{"url":")" + base + "/api/acme/main/workspaces/ws1/photos/@getAllChildren?page_size=10" +
                            R"(","paging":"cursor","items":"/items","next":"/cursor","cursor_param":"scroll",)"
                            R"("reference":"/_id","size":"/size","mtime":"/mtime_ns","mtime_unit":"ns",)"
                            R"("hash":"/hash","content_url":")" + base + R"(/api/content/main/photos/{/_id}",)"
                            R"("auth":"bearer"}})");
  BOOST_REQUIRE_MESSAGE(made.status == 201, made.body);
  auto stored = at_a.post(ws + "/from-b/@refreshServiceCredentials", R"({"token":")" + token + R"("})");
  BOOST_REQUIRE_MESSAGE(stored.status == 200, stored.body);
  BOOST_REQUIRE_EQUAL(at_a.post(ws + "/from-b/@resume", "{}").status, 200);
  BOOST_REQUIRE(eventually([&] { return ended(at_a, "from-b", 1); }));
  BOOST_REQUIRE_EQUAL(run_status(at_a, ws + "/from-b", 1), "success");
  for (auto& [path, bytes] : files)
    BOOST_REQUIRE_MESSAGE(read_file(volume / "from-b" / path) == bytes, path);
  // B's modification times came along.
  auto b_time = fs::last_write_time(b_volume / "photos" / "raw/large.bin");
  BOOST_CHECK(fs::last_write_time(volume / "from-b" / "raw/large.bin") == b_time);
}
