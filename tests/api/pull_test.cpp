// Pulling files from a node's content route with libcurl (connectors/http_fetch.hpp), as one
// site pulls from another: a real node on loopback serves its volume, the puller writes into a
// local volume. Whole files, resumes with Range, a file changed between attempts, refusals.
#define BOOST_TEST_MODULE api_pull
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <boost/test/unit_test.hpp>

#include "connectors/error.hpp"
#include "connectors/http_fetch.hpp"
#include "connectors/local_volume.hpp"
#include "tests/api/api_client.hpp"

using namespace syncline::test;
using namespace syncline::connectors;
namespace fs = std::filesystem;

namespace {

fetch_options options(std::string token) {
  fetch_options o;
  o.token = std::move(token);
  return o;
}

// The error's text, or "ok": Boost.Test evaluates a message even when the check passes.
template <class T>
std::string why(const caf::expected<T>& x) {
  return x ? std::string{"ok"} : render(x.error());
}

std::string read_file(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

struct fixture {
  fs::path origin_dir;
  api_node node{"", 1000, [this](syncline::runtime::node_config& cfg) {
                  origin_dir = cfg.node.data_dir.parent_path() / "origin";
                  fs::create_directories(origin_dir);
                  syncline::actors::volume_config v;
                  v.id = "origin";
                  v.path = origin_dir.string();
                  cfg.volumes.push_back(v);
                }};
  temp_dir here{"pull"};
  std::shared_ptr<volume> target;
  std::string token;
  std::string bytes = pseudo_random((5u << 20) + 77, 3);  // 5 MiB and a bit

  fixture() {
    {
      std::ofstream out{origin_dir / "big.bin", std::ios::binary};
      out << bytes;
    }
    api_client c{node.port};
    token = c.sign_in("root", node.admin_password);
    BOOST_REQUIRE(!token.empty());
    c.set_token(token);
    BOOST_REQUIRE(eventually([&] { return c.call("HEAD", "/api/content/origin/big.bin").status == 200; }));
    auto v = local_volume::make({(here / "copies").string()});
    BOOST_REQUIRE(v);
    target = std::move(*v);
    fs::create_directories(here / "copies");
  }
  std::string url(const std::string& name) {
    return "http://127.0.0.1:" + std::to_string(node.port) + "/api/content/origin/" + name;
  }
  item_info info(const std::string& reference) {
    item_info i;
    i.reference = reference;
    i.mode = 0644;
    i.mtime_ns = 1700000000000000000;
    return i;
  }
  // A temporary file holding the first `n` bytes, as an interrupted attempt leaves it.
  void leave_partial(const std::string& reference, size_t n) {
    auto w = target->open_writer(info(reference), 0);
    BOOST_REQUIRE(w);
    BOOST_REQUIRE(!(*w)->write(bytes.data(), n));
  }
  std::string etag() {
    http_fetcher probe{options(token)};
    auto r = probe.fetch(url("big.bin"), *target, info("probe.bin"), 0);
    BOOST_REQUIRE_MESSAGE(r, why(r));
    return probe.last_etag();
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_whole_file_arrives_verified_under_its_name, fixture) {
  http_fetcher f{options(token)};
  auto r = f.fetch(url("big.bin"), *target, info("in/big.bin"), 0);
  BOOST_REQUIRE_MESSAGE(r, why(r));
  BOOST_CHECK_EQUAL(r->size, bytes.size());
  BOOST_CHECK_EQUAL(r->received, bytes.size());
  BOOST_CHECK(!r->resumed);
  BOOST_CHECK(read_file(here / "copies" / "in" / "big.bin") == bytes);
  BOOST_CHECK(!f.last_etag().empty());
  // Again over the same connection: a second file.
  r = f.fetch(url("big.bin"), *target, info("in/again.bin"), 0);
  BOOST_REQUIRE_MESSAGE(r, why(r));
  BOOST_CHECK(read_file(here / "copies" / "in" / "again.bin") == bytes);
}

BOOST_FIXTURE_TEST_CASE(an_interrupted_download_resumes_with_range, fixture) {
  auto tag = etag();
  size_t half = bytes.size() / 2 + 3;
  leave_partial("big.bin", half);
  BOOST_CHECK(!fs::exists(here / "copies" / "big.bin"));
  http_fetcher f{options(token)};
  auto r = f.fetch(url("big.bin"), *target, info("big.bin"), half, tag);
  BOOST_REQUIRE_MESSAGE(r, why(r));
  BOOST_CHECK(r->resumed);
  BOOST_CHECK_EQUAL(r->received, bytes.size() - half);
  BOOST_CHECK(read_file(here / "copies" / "big.bin") == bytes);
}

BOOST_FIXTURE_TEST_CASE(a_file_changed_since_the_first_attempt_comes_whole, fixture) {
  // The partial file was begun from another version (its ETag no longer matches).
  size_t part = 1000;
  leave_partial("big.bin", part);
  http_fetcher f{options(token)};
  auto r = f.fetch(url("big.bin"), *target, info("big.bin"), part, "\"xxh3-0123456789abcdef\"");
  BOOST_REQUIRE_MESSAGE(r, why(r));
  BOOST_CHECK(!r->resumed);
  BOOST_CHECK_EQUAL(r->received, bytes.size());
  BOOST_CHECK(read_file(here / "copies" / "big.bin") == bytes);
}

BOOST_FIXTURE_TEST_CASE(refusals_are_classified_and_leave_nothing_under_the_name, fixture) {
  http_fetcher f{options(token)};
  auto r = f.fetch(url("missing.bin"), *target, info("missing.bin"), 0);
  BOOST_REQUIRE(!r);
  BOOST_CHECK(is(r.error(), connector_errc::not_found));
  BOOST_CHECK(!fs::exists(here / "copies" / "missing.bin"));
  http_fetcher stranger{options("not-a-token")};
  r = stranger.fetch(url("big.bin"), *target, info("x.bin"), 0);
  BOOST_REQUIRE(!r);
  BOOST_CHECK(is(r.error(), connector_errc::permission_denied));
  BOOST_CHECK(render(r.error()).find("not-a-token") == std::string::npos);
  BOOST_CHECK(!fs::exists(here / "copies" / "x.bin"));
  // A token never goes over plain http beyond loopback; nothing is sent.
  r = f.fetch("http://192.0.2.1/api/content/origin/big.bin", *target, info("y.bin"), 0);
  BOOST_REQUIRE(!r);
  BOOST_CHECK(is(r.error(), connector_errc::invalid_path));
  // Nobody listening: a network error.
  r = f.fetch("http://127.0.0.1:1/api/content/origin/big.bin", *target, info("z.bin"), 0);
  BOOST_REQUIRE(!r);
  BOOST_CHECK(is(r.error(), connector_errc::network));
}

BOOST_AUTO_TEST_CASE(which_urls_may_carry_a_token) {
  for (auto ok : {"https://example.org/x", "http://127.0.0.1:8460/x", "http://127.1.2.3/x",
                  "http://localhost:1/x", "http://[::1]:8460/x", "HTTPS://EXAMPLE.ORG"})
    BOOST_CHECK_MESSAGE(secure_enough(ok), ok);
  for (auto bad : {"http://example.org/x", "http://127.0.0.1.evil.com/x", "http://10.0.0.1/x",
                   "http://localhost.evil.com/x", "http://user@127.0.0.1/x", "ftp://127.0.0.1/x",
                   "http://[::2]/x", "127.0.0.1/x"})
    BOOST_CHECK_MESSAGE(!secure_enough(bad), bad);
}
