// An http datasource (docs/http-datasources.md) through the real path: created through the API
// on a node, it lists a JSON API on loopback page by page, copies every file into a volume, follows
// additions and removals, and a malformed page fails the run without removing anything.
#define BOOST_TEST_MODULE api_http_datasource
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
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
  api_node node{"", 1000, [&](syncline::runtime::node_config& cfg) {
                  volume = cfg.node.data_dir.parent_path() / "vol";
                  fs::create_directories(volume);
                  syncline::actors::volume_config v;
                  v.id = "vol";
                  v.path = volume.string();
                  cfg.volumes.push_back(v);
                }};
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
