// `syncline console` and the operator's verbs against a real node on loopback: the verbs act
// through the API with the operator's token and exit with the documented codes; the console runs
// in a real terminal (tmux: keys sent with send-keys, the screen read with capture-pane) and a
// pause made with its keys shows in the node's API, while a change made elsewhere shows on its
// screen.
#define BOOST_TEST_MODULE tools_console
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tests/api/api_client.hpp"
#include "tests/tools/site_nodes.hpp"

using namespace syncline::test;
using namespace syncline::test::sites;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string ds_path = "/api/default/default/workspaces/default/photos";

// A node with a volume `backup` and a folder datasource `photos` of three files.
struct console_node {
  temp_dir tmp;
  std::unique_ptr<node_process> node;
  std::string url;
  fs::path token_file;
  std::unique_ptr<api_client> admin;

  console_node() {
    for (int i = 0; i < 3; ++i) write_file(tmp.path() / "src" / ("f" + std::to_string(i)), "data " + std::to_string(i));
    fs::create_directories(tmp.path() / "vol");
    node = std::make_unique<node_process>(
        tmp.path() / "node",
        "[[volume]]\nid = \"backup\"\npath = \"" + (tmp.path() / "vol").string() +
            "\"\n[[datasource]]\nid = \"photos\"\npath = \"" + (tmp.path() / "src").string() +
            "\"\nvolumes = [\"backup\"]\n");
    url = "http://127.0.0.1:" + std::to_string(node->port);
    admin = std::make_unique<api_client>(node->port);
    admin->set_token(admin->sign_in("root", admin_password));
    BOOST_REQUIRE(!admin->token().empty());
    token_file = tmp.path() / "root.token";
    BOOST_REQUIRE(wait_until([&] { return status() == "synced"; }));
  }

  std::string status() {
    auto r = admin->get(ds_path);
    auto d = parse_json(r.body);
    if (r.status != 200 || !d->ok || !d->doc.HasMember("status")) return {};
    return d->doc["status"].GetString();
  }

  // The state /api/actors reports for the actor `id` itself (the last entry of that id: the
  // supervisor's entry for it, a child of the supervisor, comes before it).
  std::string actor_state(const std::string& id) {
    auto body = admin->get("/api/actors").body;
    auto at = body.rfind("\"id\":\"" + id + "\"");
    if (at == std::string::npos) return {};
    auto s = body.find("\"state\":\"", at);
    auto e = body.find('"', s + 9);
    return body.substr(s + 9, e - s - 9);
  }

  static bool wait_until(const std::function<bool()>& ok) {
    for (auto end = std::chrono::steady_clock::now() + bound; std::chrono::steady_clock::now() < end;) {
      if (ok()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return ok();
  }
};

struct ran {
  int code = -1;
  std::string output;
};

// `syncline args...`, to its end.
ran run_syncline(std::vector<std::string> args) {
  child_process p{binary(), std::move(args)};
  auto st = p.wait_exit(bound);
  BOOST_REQUIRE_MESSAGE(st, "syncline did not end:\n" << p.output());
  return {st->code, p.output()};
}

// The verbs' common options for `n` with `token_file`.
std::vector<std::string> with(const console_node& n, std::vector<std::string> args,
                              const fs::path& token_file) {
  args.insert(args.end(), {"--url", n.url, "--token-file", token_file.string()});
  return args;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_verbs_act_through_the_api_with_meaningful_exit_codes) {
  console_node n;
  write_file(n.tmp.path() / "root.pw", admin_password + "\n");
  auto r = run_syncline(with(n, {"login", "--user", "root", "--password-file",
                             (n.tmp.path() / "root.pw").string()}, n.token_file));
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.output);
  struct stat st{};
  BOOST_REQUIRE(::stat(n.token_file.c_str(), &st) == 0);
  BOOST_CHECK_EQUAL(st.st_mode & 0777, 0600u);
  r = run_syncline(with(n, {"login", "--user", "root", "--password-file",
                        (n.tmp.path() / "src" / "f0").string()}, n.tmp.path() / "bad.token"));
  BOOST_CHECK_MESSAGE(r.code == 4, r.output);  // a wrong password
  BOOST_CHECK(!fs::exists(n.tmp.path() / "bad.token"));

  r = run_syncline(with(n, {"status"}, n.token_file));
  BOOST_CHECK_EQUAL(r.code, 0);
  BOOST_CHECK_MESSAGE(has(r.output, "photos") && has(r.output, "synced") && has(r.output, "backup"),
                      r.output);
  r = run_syncline(with(n, {"status", "--json"}, n.token_file));
  BOOST_CHECK_EQUAL(r.code, 0);
  auto doc = parse_json(r.output);
  BOOST_REQUIRE_MESSAGE(doc->ok && doc->doc.IsObject(), r.output);
  for (auto* key : {"health", "datasources", "actors", "queue"})
    BOOST_CHECK_MESSAGE(doc->doc.HasMember(key), key);
  r = run_syncline(with(n, {"console", "--once"}, n.token_file));
  BOOST_CHECK_EQUAL(r.code, 0);
  BOOST_CHECK_MESSAGE(has(r.output, "DATASOURCE") && has(r.output, "photos"), r.output);

  // Pause and resume a datasource, a volume, the node.
  r = run_syncline(with(n, {"pause", "datasource", "photos"}, n.token_file));
  BOOST_CHECK_MESSAGE(r.code == 0, r.output);
  BOOST_CHECK_EQUAL(n.status(), "paused");
  r = run_syncline(with(n, {"sync", "datasource", "photos"}, n.token_file));
  BOOST_CHECK_MESSAGE(r.code == 6 && has(r.output, "paused"), r.output);
  r = run_syncline(with(n, {"resume", "datasource", "photos", "--json"}, n.token_file));
  BOOST_CHECK_MESSAGE(r.code == 0 && has(r.output, "\"photos\""), r.output);
  BOOST_CHECK_NE(n.status(), "paused");
  r = run_syncline(with(n, {"pause", "volume", "backup"}, n.token_file));
  BOOST_CHECK_MESSAGE(r.code == 0, r.output);
  BOOST_CHECK_EQUAL(n.actor_state("volume/backup"), "paused");
  r = run_syncline(with(n, {"resume", "volume", "backup"}, n.token_file));
  BOOST_CHECK_MESSAGE(r.code == 0, r.output);
  BOOST_CHECK_NE(n.actor_state("volume/backup"), "paused");
  r = run_syncline(with(n, {"pause", "node"}, n.token_file));
  BOOST_CHECK_MESSAGE(r.code == 0, r.output);
  BOOST_CHECK(n.wait_until([&] { return n.status() == "paused"; }));
  r = run_syncline(with(n, {"resume", "node"}, n.token_file));
  BOOST_CHECK_MESSAGE(r.code == 0, r.output);
  BOOST_CHECK(n.wait_until([&] { return n.status() != "paused"; }));

  // Sync now: a datasource, every datasource of a volume, the node.
  auto runs_before = n.admin->get(ds_path + "/@runs").body;
  r = run_syncline(with(n, {"sync", "volume", "backup", "--json"}, n.token_file));
  BOOST_CHECK_MESSAGE(r.code == 0 && has(r.output, "\"run\""), r.output);
  BOOST_CHECK(n.wait_until([&] { return n.status() == "synced"; }));
  BOOST_CHECK_NE(n.admin->get(ds_path + "/@runs").body, runs_before);
  r = run_syncline(with(n, {"sync", "node"}, n.token_file));
  BOOST_CHECK_MESSAGE(r.code == 0 && has(r.output, "1 datasource"), r.output);

  // What cannot be done, and why.
  r = run_syncline(with(n, {"pause", "datasource", "nope"}, n.token_file));
  BOOST_CHECK_MESSAGE(r.code == 5 && has(r.output, "nope"), r.output);
  r = run_syncline(with(n, {"resume", "transfer", "backup"}, n.token_file));
  BOOST_CHECK_MESSAGE(r.code == 2 && has(r.output, "VOLUME/N"), r.output);
  r = run_syncline(with(n, {"pause", "transfer", "backup/99999"}, n.token_file));
  BOOST_CHECK_MESSAGE(r.code == 5, r.output);
  r = run_syncline(with(n, {"pause", "node"}, n.tmp.path() / "missing.token"));
  BOOST_CHECK_MESSAGE(r.code == 4 && has(r.output, "missing.token"), r.output);
  r = run_syncline({"status", "--url", "http://127.0.0.1:1", "--token-file", n.token_file.string()});
  BOOST_CHECK_MESSAGE(r.code == 3, r.output);
  r = run_syncline({"status", "--url", "http://192.0.2.1:8460", "--token-file", n.token_file.string()});
  BOOST_CHECK_MESSAGE(r.code != 0, r.output);  // a token never goes over plain http beyond loopback

  // Users and tokens.
  write_file(n.tmp.path() / "alice.pw", "alice-secret-1\n");
  r = run_syncline(with(n, {"users", "add", "alice", "--class", "guest", "--password-file",
                        (n.tmp.path() / "alice.pw").string()}, n.token_file));
  BOOST_CHECK_MESSAGE(r.code == 0, r.output);
  auto alice_token = n.tmp.path() / "alice.token";
  r = run_syncline(with(n, {"login", "--user", "alice", "--password-file",
                        (n.tmp.path() / "alice.pw").string()}, alice_token));
  BOOST_CHECK_MESSAGE(r.code == 0, r.output);
  r = run_syncline(with(n, {"pause", "node"}, alice_token));
  BOOST_CHECK_MESSAGE(r.code == 4, r.output);  // a guest may not
  r = run_syncline(with(n, {"status"}, alice_token));
  BOOST_CHECK_MESSAGE(r.code == 0, r.output);
  write_file(n.tmp.path() / "alice2.pw", "alice-secret-2\n");
  r = run_syncline(with(n, {"users", "passwd", "alice", "--password-file",
                        (n.tmp.path() / "alice2.pw").string()}, n.token_file));
  BOOST_CHECK_MESSAGE(r.code == 0, r.output);
  r = run_syncline(with(n, {"status"}, alice_token));
  BOOST_CHECK_MESSAGE(r.code == 4, r.output);  // her tokens were revoked
  BOOST_CHECK(!api_client{n.node->port}.sign_in("alice", "alice-secret-2").empty());
  r = run_syncline(with(n, {"users", "del", "alice"}, n.token_file));
  BOOST_CHECK_MESSAGE(r.code == 0, r.output);
  BOOST_CHECK(api_client{n.node->port}.sign_in("alice", "alice-secret-2").empty());
  r = run_syncline(with(n, {"users", "del", "alice"}, n.token_file));
  BOOST_CHECK_MESSAGE(r.code == 5, r.output);

  r = run_syncline(with(n, {"tokens", "create", "--expires", "1h"}, n.token_file));
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.output);
  auto token = r.output.substr(0, r.output.find('\n'));
  BOOST_CHECK_EQUAL(api_client(n.node->port, token).get("/api/verify").status, 200);
}

namespace {

// A tmux server of the test's own, and the console in an 80x24 window of it.
struct tmux_console {
  std::string tmux = "/usr/bin/tmux";
  std::string socket = "syncline-console-test-" + std::to_string(::getpid());

  ran run(std::vector<std::string> args) {
    args.insert(args.begin(), {"-L", socket, "-f", "/dev/null"});
    child_process p{tmux, std::move(args)};
    auto st = p.wait_exit(bound);
    BOOST_REQUIRE_MESSAGE(st, "tmux did not end:\n" << p.output());
    return {st->code, p.output()};
  }

  tmux_console(const console_node& n) {
    BOOST_REQUIRE_MESSAGE(fs::exists(tmux),
                          "tmux is not installed (`bash tools/dev.sh test` installs it)");
    auto r = run({"new-session", "-d", "-x", "80", "-y", "24", "-s", "c", binary() + " console --url " +
                  n.url + " --token-file " + n.token_file.string()});
    BOOST_REQUIRE_MESSAGE(r.code == 0, r.output);
  }
  ~tmux_console() { run({"kill-server"}); }

  std::string screen() { return run({"capture-pane", "-p", "-t", "c"}).output; }
  void keys(const std::string& k) { run({"send-keys", "-t", "c", k}); }

  // Waits until the screen holds a line with every one of `parts`.
  bool shows(const std::vector<std::string>& parts) {
    return console_node::wait_until([&] {
      auto s = screen();
      size_t at = 0;
      while (at < s.size()) {
        auto end = s.find('\n', at);
        auto line = s.substr(at, end == std::string::npos ? end : end - at);
        at = end == std::string::npos ? s.size() : end + 1;
        bool all = true;
        for (auto& p : parts) all = all && has(line, p);
        if (all) return true;
      }
      return false;
    });
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(the_console_in_a_terminal_acts_and_follows_the_node) {
  console_node n;
  write_file(n.token_file, n.admin->token() + "\n");
  tmux_console t{n};
  BOOST_REQUIRE_MESSAGE(t.shows({"photos", "synced", "healthy"}), t.screen());
  BOOST_CHECK_MESSAGE(t.shows({"j/k select", "q quit"}), t.screen());
  // The first line selectable is the node's; the next one the datasource.
  t.keys("j");
  BOOST_REQUIRE_MESSAGE(t.shows({"-- datasource photos"}), t.screen());
  t.keys("p");
  BOOST_CHECK_MESSAGE(n.wait_until([&] { return n.status() == "paused"; }), n.status());
  BOOST_CHECK_MESSAGE(t.shows({"photos", "paused", "healthy"}), t.screen());
  t.keys("r");
  BOOST_CHECK_MESSAGE(n.wait_until([&] { return n.status() != "paused"; }), n.status());
  BOOST_CHECK_MESSAGE(t.shows({"photos", "synced"}), t.screen());
  // A change made elsewhere reaches the screen.
  BOOST_REQUIRE_EQUAL(n.admin->post("/api/volumes/backup/@pause", "{}").status, 200);
  BOOST_CHECK_MESSAGE(t.shows({"backup", "paused"}), t.screen());
  BOOST_REQUIRE_EQUAL(n.admin->post("/api/volumes/backup/@resume", "{}").status, 200);
  // A run started from the console: a new file arrives in the volume.
  write_file(n.tmp.path() / "src" / "new.txt", "new");
  t.keys("s");
  BOOST_CHECK(n.wait_until([&] { return fs::exists(n.tmp.path() / "vol" / "photos" / "new.txt"); }));
  t.keys("q");
  BOOST_CHECK(n.wait_until([&] { return t.run({"has-session", "-t", "c"}).code != 0; }));
}
