// The content route (`GET /api/content/{volume}/{path}`, docs/api.md "Content") on a real node
// with a directory volume: whole files and ranges with their hash, If-Range, HEAD, and every
// way a path could leave the volume.
#define BOOST_TEST_MODULE api_content
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <boost/test/unit_test.hpp>
#include <xxhash.h>

#include "tests/api/api_client.hpp"

using namespace syncline::test;
namespace fs = std::filesystem;

namespace {

std::string hex_hash(const std::string& bytes) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016" PRIx64, XXH3_64bits(bytes.data(), bytes.size()));
  return hex;
}

struct fixture {
  fs::path volume_dir;
  api_node node{"", 1000, [this](syncline::runtime::node_config& cfg) {
                  volume_dir = cfg.node.data_dir.parent_path() / "v1";
                  fs::create_directories(volume_dir / "a");
                  syncline::actors::volume_config v;
                  v.id = "v1";
                  v.path = volume_dir.string();
                  cfg.volumes.push_back(v);
                }};
  api_client root{node.port};
  std::string bytes = pseudo_random((3u << 19) + 17, 7);  // 1.5 MiB and a bit

  fixture() {
    {
      std::ofstream out{volume_dir / "a" / "b.bin", std::ios::binary};
      out << bytes;
    }
    root.set_token(root.sign_in("root", node.admin_password));
    BOOST_REQUIRE(!root.token().empty());
    // The volume's connector is known once its actor runs.
    BOOST_REQUIRE(eventually([&] { return root.get("/api/content/v1/a/b.bin").status == 200; }));
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_whole_file_with_its_hash_and_etag, fixture) {
  auto r = root.get("/api/content/v1/a/b.bin");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(r.body.size(), bytes.size());
  BOOST_CHECK(r.body == bytes);
  BOOST_CHECK_EQUAL(r.header("x-content-xxh3"), hex_hash(bytes));
  BOOST_CHECK_EQUAL(r.header("etag"), "\"xxh3-" + hex_hash(bytes) + "\"");
  BOOST_CHECK_EQUAL(r.header("accept-ranges"), "bytes");
  BOOST_CHECK_EQUAL(r.header("content-type"), "application/octet-stream");
  auto h = root.call("HEAD", "/api/content/v1/a/b.bin");
  BOOST_CHECK_EQUAL(h.status, 200);
  BOOST_CHECK_EQUAL(h.header("content-length"), std::to_string(bytes.size()));
  BOOST_CHECK(h.body.empty());
}

BOOST_FIXTURE_TEST_CASE(ranges_and_if_range, fixture) {
  auto size = std::to_string(bytes.size());
  auto r = root.call("GET", "/api/content/v1/a/b.bin", {}, {{"Range", "bytes=100-199"}});
  BOOST_CHECK_EQUAL(r.status, 206);
  BOOST_CHECK(r.body == bytes.substr(100, 100));
  BOOST_CHECK_EQUAL(r.header("content-range"), "bytes 100-199/" + size);
  // The hash is the whole file's, whatever part is sent.
  BOOST_CHECK_EQUAL(r.header("x-content-xxh3"), hex_hash(bytes));
  r = root.call("GET", "/api/content/v1/a/b.bin", {}, {{"Range", "bytes=1000000-"}});
  BOOST_CHECK_EQUAL(r.status, 206);
  BOOST_CHECK(r.body == bytes.substr(1000000));
  r = root.call("GET", "/api/content/v1/a/b.bin", {}, {{"Range", "bytes=-10"}});
  BOOST_CHECK_EQUAL(r.status, 206);
  BOOST_CHECK(r.body == bytes.substr(bytes.size() - 10));
  r = root.call("GET", "/api/content/v1/a/b.bin", {}, {{"Range", "bytes=" + size + "-"}});
  BOOST_CHECK_EQUAL(r.status, 416);
  BOOST_CHECK_EQUAL(r.header("content-range"), "bytes */" + size);
  // A malformed range, or several: the whole file.
  r = root.call("GET", "/api/content/v1/a/b.bin", {}, {{"Range", "bytes=0-1,5-6"}});
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(r.body.size(), bytes.size());
  // If-Range: the ETag of what the client has; another one means the file changed: all of it.
  auto etag = "\"xxh3-" + hex_hash(bytes) + "\"";
  r = root.call("GET", "/api/content/v1/a/b.bin", {}, {{"Range", "bytes=10-"}, {"If-Range", etag}});
  BOOST_CHECK_EQUAL(r.status, 206);
  BOOST_CHECK(r.body == bytes.substr(10));
  r = root.call("GET", "/api/content/v1/a/b.bin", {},
                {{"Range", "bytes=10-"}, {"If-Range", "\"xxh3-0000000000000000\""}});
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK(r.body == bytes);
}

BOOST_FIXTURE_TEST_CASE(no_path_leaves_the_volume_and_strangers_get_nothing, fixture) {
  fs::create_symlink("/etc/passwd", volume_dir / "link");
  fs::create_directory_symlink("/etc", volume_dir / "etc");
  for (auto target : {"/api/content/v1/a/../../../etc/passwd", "/api/content/v1/%2e%2e/secret",
                      "/api/content/v1/a/%2E%2E/%2E%2E/x", "/api/content/v1//etc/passwd",
                      "/api/content/v1/link", "/api/content/v1/etc/passwd"}) {
    auto r = root.get(target);
    BOOST_CHECK_MESSAGE(r.status == 400 || r.status == 404, target << ": " << r.status);
    BOOST_CHECK(r.body.find("root:") == std::string::npos);
  }
  BOOST_CHECK_EQUAL(root.get("/api/content/v1/a/missing.bin").status, 404);
  BOOST_CHECK_EQUAL(root.get("/api/content/v1/a").status, 404);
  BOOST_CHECK_EQUAL(root.get("/api/content/nowhere/a/b.bin").status, 404);
  api_client stranger{node.port};
  auto r = stranger.get("/api/content/v1/a/b.bin");
  BOOST_CHECK_EQUAL(r.status, 401);
  BOOST_CHECK(r.body.size() < 1000);
}

// A folder (a package) is listed; several small files travel in one batch answer, each framed
// by a header with its size and hash, and what cannot be sent is named in place of its bytes.
BOOST_FIXTURE_TEST_CASE(folders_are_listed_and_small_files_travel_in_batches, fixture) {
  {
    std::ofstream{volume_dir / "a" / "s1.txt", std::ios::binary} << "one";
    std::ofstream{volume_dir / "a" / "s2.txt", std::ios::binary} << "";
  }
  auto list = root.get("/api/content/v1/a/");
  BOOST_REQUIRE_EQUAL(list.status, 200);
  BOOST_CHECK_EQUAL(list.header("content-type"), "application/json");
  BOOST_CHECK_EQUAL(array_size(list.body), 3);
  BOOST_CHECK_MESSAGE(list.body.find(R"("path":"s1.txt","size":3)") != std::string::npos, list.body);
  BOOST_CHECK_EQUAL(root.get("/api/content/v1/none/").status, 404);
  BOOST_CHECK_EQUAL(root.get("/api/content/v1/a/s1.txt/").status, 404);  // a file, not a folder

  auto r = root.post("/api/content_batch/v1", R"(["a/s1.txt","a/missing.txt","a/s2.txt","a/b.bin","../x"])");
  BOOST_REQUIRE_EQUAL(r.status, 200);
  std::string_view rest{r.body};
  auto next_header = [&]() {
    auto nl = rest.find('\n');
    BOOST_REQUIRE(nl != std::string_view::npos);
    std::string line{rest.substr(0, nl)};
    rest.remove_prefix(nl + 1);
    return line;
  };
  auto h1 = next_header();
  BOOST_CHECK_EQUAL(member(h1, "path"), "a/s1.txt");
  BOOST_CHECK_EQUAL(member(h1, "xxh3"), hex_hash("one"));
  BOOST_CHECK_EQUAL(rest.substr(0, 3), "one");
  rest.remove_prefix(3);
  BOOST_CHECK_EQUAL(member(next_header(), "error"), "not_found");
  auto h3 = next_header();
  BOOST_CHECK_EQUAL(member(h3, "path"), "a/s2.txt");
  BOOST_CHECK_EQUAL(member(h3, "xxh3"), hex_hash(""));
  auto h4 = next_header();  // 1.5 MiB: over the batch's limit for one file
  BOOST_CHECK_EQUAL(member(h4, "error"), "too_large");
  BOOST_CHECK_EQUAL(member(next_header(), "error"), "bad_request");
  BOOST_CHECK(rest.empty());
  BOOST_CHECK_EQUAL(root.post("/api/content_batch/v1", "{}").status, 400);
  BOOST_CHECK_EQUAL(api_client{node.port}.post("/api/content_batch/v1", R"(["a/s1.txt"])").status, 401);
}
