// The content route (`GET /api/content/{volume}/{path}`, docs/api.md "Content") on a real node
// with a directory volume: whole files and ranges with their hash, If-Range, HEAD, every way a
// path could leave the volume, folders, batches, and the limit of answers at once.
#define BOOST_TEST_MODULE api_content
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <boost/test/unit_test.hpp>
#include <xxhash.h>

#include "actors/node_context.hpp"
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

// A site's syncAmountEmission: a volume gives at most so many answers at once; an answer holds
// its place until it is written (a client that does not read keeps it), others meanwhile get
// 503 with Retry-After, and the place is free again once the answer is out.
BOOST_FIXTURE_TEST_CASE(a_volume_sends_as_many_answers_at_once_as_its_limit, fixture) {
  // Larger than loopback's socket buffers hold, so that its answer waits for the reader.
  std::string big = pseudo_random(32u << 20, 9);
  std::ofstream{volume_dir / "a" / "big.bin", std::ios::binary} << big;
  auto& ctx = node.node->context();
  ctx.set_emission_limit("v1", 1);
  // The origin's modification time travels with the file.
  auto one = root.get("/api/content/v1/a/b.bin");
  BOOST_REQUIRE_EQUAL(one.status, 200);
  struct stat st{};
  BOOST_REQUIRE_EQUAL(::stat((volume_dir / "a" / "b.bin").c_str(), &st), 0);
  BOOST_CHECK_EQUAL(one.header("x-content-mtime-ns"),
                    std::to_string(int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec));

  // A reader with a small receive buffer that reads nothing for now: its answer cannot be
  // written to the end, so it keeps its place.
  int slow = ::socket(AF_INET, SOCK_STREAM, 0);
  BOOST_REQUIRE_GE(slow, 0);
  int small = 16 * 1024;
  ::setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(node.port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE_EQUAL(::connect(slow, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  std::string ask = "GET /api/content/v1/a/big.bin HTTP/1.1\r\nHost: 127.0.0.1:" +
                    std::to_string(node.port) + "\r\nAuthorization: Bearer " + root.token() +
                    "\r\nConnection: close\r\n\r\n";
  BOOST_REQUIRE_EQUAL(::send(slow, ask.data(), ask.size(), MSG_NOSIGNAL), static_cast<ssize_t>(ask.size()));
  // Its answer has begun (so it holds the place) once its status line arrives.
  std::string whole;
  char buf[1 << 16];
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds{60};
  while (whole.size() < 12 && std::chrono::steady_clock::now() < until) {
    pollfd pfd{slow, POLLIN, 0};
    if (::poll(&pfd, 1, 1000) <= 0) continue;
    auto n = ::recv(slow, buf, 12 - whole.size(), 0);
    if (n <= 0) break;
    whole.append(buf, static_cast<size_t>(n));
  }
  BOOST_REQUIRE_EQUAL(whole, "HTTP/1.1 200");
  auto refused = root.call("HEAD", "/api/content/v1/a/b.bin");
  BOOST_CHECK_EQUAL(refused.status, 503);
  BOOST_CHECK_EQUAL(refused.header("retry-after"), "1");
  auto batch = root.post("/api/content_batch/v1", R"(["a/b.bin"])");
  BOOST_CHECK_EQUAL(batch.status, 503);
  BOOST_CHECK_MESSAGE(batch.body.find("syncAmountEmission") != std::string::npos, batch.body);
  BOOST_CHECK_EQUAL(root.get("/api/content/v1/a/").status, 200);  // a listing takes no place

  // Read to the end (the server closes after it): the place is free again.
  until = std::chrono::steady_clock::now() + std::chrono::seconds{60};
  while (std::chrono::steady_clock::now() < until) {
    pollfd pfd{slow, POLLIN, 0};
    if (::poll(&pfd, 1, 1000) <= 0) continue;
    auto n = ::recv(slow, buf, sizeof buf, 0);
    if (n <= 0) break;
    whole.append(buf, static_cast<size_t>(n));
  }
  ::close(slow);
  BOOST_CHECK_EQUAL(whole.substr(0, 12), "HTTP/1.1 200");
  BOOST_CHECK(whole.size() > big.size() && whole.compare(whole.size() - big.size(), big.size(), big) == 0);
  BOOST_CHECK(eventually([&] { return root.call("HEAD", "/api/content/v1/a/b.bin").status == 200; }));
  BOOST_CHECK_EQUAL(ctx.emission_peak("v1"), 1u);
  // No limit: answers at once as many as asked.
  ctx.set_emission_limit("v1", 0);
  BOOST_CHECK_EQUAL(root.post("/api/content_batch/v1", R"(["a/b.bin"])").status, 200);
}
