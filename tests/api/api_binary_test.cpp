// The API through the real `syncline` binary: the first admin from the environment, sign-in,
// writes and reads, server-side sign-out, tokens that survive a restart, and what the node says
// at start about admins and anonymous access.
#define BOOST_TEST_MODULE api_binary
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "tests/api/api_client.hpp"
#include "tests/support/child_process.hpp"

using namespace syncline::test;
using namespace std::chrono_literals;

namespace {

constexpr std::chrono::milliseconds bound = 60s;

std::string syncline_binary() {
  const char* dir = std::getenv("SYNCLINE_BUILD_DIR");
  BOOST_REQUIRE_MESSAGE(dir != nullptr && *dir != '\0',
                        "SYNCLINE_BUILD_DIR is not set (run the test through ctest)");
  return std::string{dir} + "/tools/syncline";
}

// `syncline node ...` with the environment variable set or unset as asked.
struct node_process {
  std::unique_ptr<child_process> proc;
  uint16_t port = 0;

  node_process(std::vector<std::string> args, std::optional<std::string> admin_password) {
    if (admin_password)
      ::setenv("SYNCLINE_ADMIN_PASSWORD", admin_password->c_str(), 1);
    else
      ::unsetenv("SYNCLINE_ADMIN_PASSWORD");
    args.insert(args.begin(), "node");
    proc = std::make_unique<child_process>(syncline_binary(), std::move(args));
    ::unsetenv("SYNCLINE_ADMIN_PASSWORD");
  }
  void wait_listening() {
    auto line = proc->wait_for_line("listening on http://", bound);
    BOOST_REQUIRE_MESSAGE(line, "the node never said where it listens:\n" << proc->output());
    auto colon = line->rfind(':');
    BOOST_REQUIRE(colon != std::string::npos);
    port = static_cast<uint16_t>(std::stoul(line->substr(colon + 1)));
  }
  int stop() {
    proc->send_signal(SIGTERM);
    auto st = proc->wait_exit(bound);
    BOOST_REQUIRE_MESSAGE(st, "the node did not stop:\n" << proc->output());
    return st->code;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(first_admin_sign_in_writes_sign_out_and_a_restart) {
  temp_dir dir{"api-bin"};
  auto data = (dir / "data").string();
  std::string kept_token;
  {
    // No admin and none configured: the node says how to make one, and the API is closed.
    node_process n{{"--data-dir", data, "--http", "127.0.0.1:0"}, std::nullopt};
    n.wait_listening();
    BOOST_CHECK(n.proc->output().find("SYNCLINE_ADMIN_PASSWORD") != std::string::npos);
    BOOST_CHECK_EQUAL(fetch(n.port, "GET", "/health").status, 200);
    BOOST_CHECK_EQUAL(fetch(n.port, "GET", "/api/read/x").status, 401);
    BOOST_CHECK_EQUAL(n.stop(), 0);
  }
  {
    // A name without a password: the node refuses to start, saying why.
    node_process n{{"--data-dir", data, "--http", "127.0.0.1:0", "--set", "auth.admin_user=root"},
                   std::nullopt};
    auto st = n.proc->wait_exit(bound);
    BOOST_REQUIRE(st);
    BOOST_CHECK_NE(st->code, 0);
    BOOST_CHECK(n.proc->output().find("SYNCLINE_ADMIN_PASSWORD") != std::string::npos);
  }
  {
    node_process n{{"--data-dir", data, "--http", "127.0.0.1:0", "--set", "auth.admin_user=root"},
                   std::string{"s3cret-from-env"}};
    n.wait_listening();
    BOOST_CHECK(n.proc->output().find("created admin @root") != std::string::npos);
    api_client c{n.port};
    auto token = c.sign_in("root", "s3cret-from-env");
    BOOST_REQUIRE(!token.empty());
    c.set_token(token);
    auto r = c.post("/api/create/", R"({"_id":"/bin/file.mov","origin":"siteA"})");
    BOOST_CHECK_EQUAL(r.status, 201);
    BOOST_CHECK_EQUAL(c.get("/api/read/%2Fbin%2Ffile.mov").status, 200);
    BOOST_CHECK_EQUAL(c.get("/api/search/origin:siteA").body, R"(["/bin/file.mov"])");
    // signOut revokes on the server.
    BOOST_CHECK_EQUAL(c.post("/api/signOut", "").status, 200);
    BOOST_CHECK_EQUAL(c.get("/api/verify").status, 401);
    kept_token = c.sign_in("root", "s3cret-from-env");
    BOOST_REQUIRE(!kept_token.empty());
    BOOST_CHECK_EQUAL(n.stop(), 0);
  }
  {
    // Restarted: the admin is not made again, the element and the token are still there.
    node_process n{{"--data-dir", data, "--http", "127.0.0.1:0", "--set", "auth.admin_user=root"},
                   std::string{"another-password"}};
    n.wait_listening();
    BOOST_CHECK(n.proc->output().find("an admin exists") != std::string::npos);
    api_client c{n.port, kept_token};
    BOOST_CHECK_EQUAL(c.get("/api/verify").status, 200);
    BOOST_CHECK_EQUAL(c.get("/api/read/%2Fbin%2Ffile.mov").status, 200);
    BOOST_CHECK(api_client{n.port}.sign_in("root", "another-password").empty());
    BOOST_CHECK_EQUAL(n.stop(), 0);
  }
}

BOOST_AUTO_TEST_CASE(anonymous_access_beyond_loopback_is_announced_loudly) {
  temp_dir dir{"api-bin-anon"};
  // Binding every address happens inside a network namespace of its own (`unshare -n`, as
  // root), which has nothing but a loopback that is down: nothing outside can reach the node.
  child_process probe{"/usr/bin/unshare", {"-n", "true"}};
  if (auto st = probe.wait_exit(bound); !st || st->code != 0) {
    BOOST_TEST_MESSAGE("unshare -n is not permitted here: case skipped");
    return;
  }
  ::unsetenv("SYNCLINE_ADMIN_PASSWORD");
  child_process n{"/usr/bin/unshare",
                  {"-n", syncline_binary(), "node", "--data-dir", (dir / "data").string(), "--http",
                   "0.0.0.0:0", "--set", "auth.anonymous_class=guest"}};
  BOOST_REQUIRE_MESSAGE(n.wait_for_line("listening on http://0.0.0.0:", bound),
                        "the node never said where it listens:\n" << n.output());
  BOOST_CHECK(n.output().find("ANONYMOUS REQUESTS ACT AS CLASS 'guest'") != std::string::npos);
  n.send_signal(SIGTERM);
  auto st = n.wait_exit(bound);
  BOOST_REQUIRE(st);
  BOOST_CHECK_EQUAL(st->code, 0);
}

BOOST_AUTO_TEST_CASE(anonymous_access_on_loopback_is_announced_once) {
  temp_dir dir{"api-bin-anon-lo"};
  node_process n{{"--data-dir", (dir / "data").string(), "--http", "127.0.0.1:0", "--set",
                  "auth.anonymous_class=guest"},
                 std::nullopt};
  n.wait_listening();
  BOOST_CHECK(n.proc->output().find("anonymous requests act as class 'guest'") != std::string::npos);
  BOOST_CHECK(n.proc->output().find("BEYOND LOOPBACK") == std::string::npos);
  api_client c{n.port};
  BOOST_CHECK_EQUAL(c.get("/api/read/x").status, 404);          // a guest may read
  BOOST_CHECK_EQUAL(c.post("/api/create/", "{}").status, 403);  // and no more
  BOOST_CHECK_EQUAL(n.stop(), 0);
}
