// Sites (seed 003, docs/sites.md) between real `syncline node` processes on loopback, each with
// its own data directory: a tracker T and the sites B and C. A file made in B's volume is
// discovered, published with its origin and per-site keys, and reaches C byte for byte; a
// change at B reaches C again and then stays current; a removal at B removes C's copy; a file
// tracked with an origin that does not have it ends in syncError_C = 23 without a retry loop.
#define BOOST_TEST_MODULE tools_sites
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "tests/api/api_client.hpp"
#include "tests/support/child_process.hpp"
#include "tests/temp_dir.hpp"

using namespace syncline::test;
using namespace std::chrono_literals;

namespace {

constexpr auto bound = 90s;
const std::string admin_password = "root-secret-1";

std::string binary() {
  const char* dir = std::getenv("SYNCLINE_BUILD_DIR");
  BOOST_REQUIRE_MESSAGE(dir != nullptr && *dir != '\0', "SYNCLINE_BUILD_DIR is not set");
  return std::string{dir} + "/tools/syncline";
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in{p, std::ios::binary};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream{p, std::ios::binary | std::ios::trunc} << bytes;
}

int64_t int_of(const std::string& body, const char* key) {
  auto d = parse_json(body);
  if (!d->ok || !d->doc.IsObject() || !d->doc.HasMember(key) || !d->doc[key].IsInt64()) return -1;
  return d->doc[key].GetInt64();
}

// One `syncline node` with its own directory and configuration.
struct node_process {
  std::filesystem::path dir;
  std::unique_ptr<child_process> proc;
  uint16_t port = 0;

  node_process(std::filesystem::path d, const std::string& extra_toml) : dir(std::move(d)) {
    std::filesystem::create_directories(dir);
    {
      std::ofstream cfg{dir / "node.toml"};
      cfg << "[node]\ndata_dir = \"" << (dir / "data").string() << "\"\n" << extra_toml
          << "[http]\nlisten = \"127.0.0.1:0\"\n[auth]\nadmin_user = \"root\"\n";
    }
    ::setenv("SYNCLINE_ADMIN_PASSWORD", admin_password.c_str(), 1);
    proc = std::make_unique<child_process>(
        binary(), std::vector<std::string>{"node", "--config", (dir / "node.toml").string()});
    ::unsetenv("SYNCLINE_ADMIN_PASSWORD");
    auto line = proc->wait_for_line("listening on http://", bound);
    BOOST_REQUIRE_MESSAGE(line, "the node never said where it listens:\n" << proc->output());
    port = static_cast<uint16_t>(std::stoul(line->substr(line->rfind(':') + 1)));
  }
  ~node_process() {
    if (!proc) return;
    proc->send_signal(SIGTERM);
    auto st = proc->wait_exit(bound);
    BOOST_CHECK_MESSAGE(st && st->code == 0, "a node did not stop cleanly:\n" << proc->output());
  }
};

// The site section of a node named `name`, following the tracker at `tracker_port`.
std::string site_toml(const std::string& name, const std::filesystem::path& volume,
                      uint16_t tracker_port, const std::filesystem::path& token_file,
                      const std::string& more) {
  std::filesystem::create_directories(volume);
  return "name = \"" + name + "\"\n[site]\npath = \"" + volume.string() +
         "\"\ntracker = \"http://127.0.0.1:" + std::to_string(tracker_port) +
         "\"\ntoken_file = \"" + token_file.string() +
         "\"\nfeed_wait_s = 2\n" + (more.find("scan_interval_s") == std::string::npos ? "scan_interval_s = 1\n" : "") + more;
}

struct project {
  temp_dir root{"sites"};
  std::unique_ptr<node_process> tracker;
  std::unique_ptr<api_client> admin;
  std::filesystem::path token_file;

  project() {
    tracker = std::make_unique<node_process>(root / "T", "");
    admin = std::make_unique<api_client>(tracker->port);
    admin->set_token(admin->sign_in("root", admin_password));
    BOOST_REQUIRE(!admin->token().empty());
    // Seed 003: files found by a scan are published by `support`.
    auto made = admin->post("/api/create/",
                            R"({"_id":"@support","class":"editor","password":"pw-support"})");
    BOOST_REQUIRE_MESSAGE(made.status == 201, made.status << " " << made.body);
    auto token = api_client{tracker->port}.sign_in("support", "pw-support");
    BOOST_REQUIRE(!token.empty());
    token_file = root / "support.token";
    write_file(token_file, token + "\n");
    ::chmod(token_file.c_str(), 0600);
  }

  std::unique_ptr<node_process> site(const std::string& name, const std::string& more = {}) {
    return std::make_unique<node_process>(
        root / name, site_toml(name, root / name / "volume", tracker->port, token_file, more));
  }

  std::string element(const std::string& id) {
    auto r = admin->get("/api/read/" + id);
    return r.status == 200 ? r.body : std::string{};
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_file_made_at_one_site_reaches_the_others) {
  project p;
  auto b = p.site("B");
  auto c = p.site("C");
  auto from = p.root / "B" / "volume";
  auto to = p.root / "C" / "volume";
  std::string bytes = pseudo_random(300 * 1024, 7);
  write_file(from / "docs" / "a.bin", bytes);

  // Discovered at B, published, and received by C with synced_C recorded.
  std::string e;
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          e = p.element("/docs/a.bin");
                          return int_of(e, "synced_C") > 0;
                        }, bound),
                        "never synced to C: " << e << "\nB:\n" << b->proc->output() << "\nC:\n"
                                              << c->proc->output());
  BOOST_CHECK_EQUAL(member(e, "origin"), "B");
  BOOST_CHECK_EQUAL(member(e, "author"), "support");
  BOOST_CHECK_EQUAL(member(e, "comment"), "scanned at B");
  BOOST_CHECK_EQUAL(int_of(e, "file_size"), static_cast<int64_t>(bytes.size()));
  BOOST_CHECK_EQUAL(int_of(e, "synced_B"), int_of(e, "time"));
  BOOST_CHECK_EQUAL(int_of(e, "synced_C"), int_of(e, "time"));
  BOOST_CHECK(read_file(to / "docs" / "a.bin") == bytes);
  // The copy has the origin's modification time (ms), so C's scan sees nothing new.
  struct stat sb {}, sc {};
  BOOST_REQUIRE_EQUAL(::stat((from / "docs" / "a.bin").c_str(), &sb), 0);
  BOOST_REQUIRE_EQUAL(::stat((to / "docs" / "a.bin").c_str(), &sc), 0);
  BOOST_CHECK_EQUAL(sb.st_mtim.tv_sec, sc.st_mtim.tv_sec);

  // Modified at B: C's copy is outdated, fetched again, and then stays current.
  auto first_time = int_of(e, "time");
  std::string changed = pseudo_random(200 * 1024, 8);
  write_file(from / "docs" / "a.bin", changed);
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          e = p.element("/docs/a.bin");
                          return int_of(e, "time") > first_time &&
                                 int_of(e, "synced_C") == int_of(e, "time");
                        }, bound),
                        "the change never reached C: " << e);
  BOOST_CHECK_EQUAL(member(e, "comment"), "modified at B");
  BOOST_CHECK_GT(int_of(e, "modified_B"), 0);
  BOOST_CHECK(read_file(to / "docs" / "a.bin") == changed);
  // No loop: after several more scans at both sites the element has not moved.
  auto settled = p.element("/docs/a.bin");
  write_file(from / "marker.txt", "m");
  BOOST_REQUIRE(eventually([&] { return int_of(p.element("/marker.txt"), "synced_C") > 0; }, bound));
  write_file(from / "marker2.txt", "m2");
  BOOST_REQUIRE(eventually([&] { return int_of(p.element("/marker2.txt"), "synced_C") > 0; }, bound));
  BOOST_CHECK_EQUAL(p.element("/docs/a.bin"), settled);

  // Removed at B: the element goes, and so does C's unchanged copy.
  std::filesystem::remove(from / "docs" / "a.bin");
  BOOST_REQUIRE_MESSAGE(eventually([&] { return !std::filesystem::exists(to / "docs" / "a.bin"); },
                                   bound),
                        "C kept its copy; element: " << p.element("/docs/a.bin"));
  BOOST_CHECK(p.element("/docs/a.bin").empty());
}

// A file tracked with an origin that does not hold it: C records rsync's 23 and the time of the
// attempt, and does not try again by itself.
BOOST_AUTO_TEST_CASE(a_file_missing_at_its_origin_is_an_error_23) {
  project p;
  auto b = p.site("B");
  auto c = p.site("C");
  // B's volume element exists once B has started (C finds B's content route through it).
  BOOST_REQUIRE(eventually([&] { return !p.element("site/B").empty(); }, bound));
  auto made = p.admin->post("/api/create/", R"({"_id":"/ghost.bin","origin":"B","file_size":10})");
  BOOST_REQUIRE_EQUAL(made.status, 201);
  std::string e;
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          e = p.element("/ghost.bin");
                          return int_of(e, "syncError_C") == 23;
                        }, bound),
                        "no error 23: " << e << "\nC:\n" << c->proc->output());
  auto attempt = int_of(e, "syncLastAttempt_C");
  BOOST_CHECK_GT(attempt, 0);
  BOOST_CHECK(!std::filesystem::exists(p.root / "C" / "volume" / "ghost.bin"));
  // Other traffic goes on; the ghost is not attempted again.
  write_file(p.root / "B" / "volume" / "real.txt", "real");
  BOOST_REQUIRE(eventually([&] { return int_of(p.element("/real.txt"), "synced_C") > 0; }, bound));
  BOOST_CHECK_EQUAL(int_of(p.element("/ghost.bin"), "syncLastAttempt_C"), attempt);
}

// Bad settings are refused at start, naming what to fix.
BOOST_AUTO_TEST_CASE(a_site_without_a_name_or_token_does_not_start) {
  temp_dir root{"sites-bad"};
  std::filesystem::create_directories(root / "volume");
  for (auto [toml, words] : std::vector<std::pair<std::string, std::string>>{
           {"[site]\npath = \"" + (root / "volume").string() +
                "\"\ntracker = \"http://127.0.0.1:1\"\ntoken_file = \"/nonexistent\"\n",
            "[node] name"},
           {"name = \"X\"\n[site]\npath = \"" + (root / "volume").string() +
                "\"\ntracker = \"http://127.0.0.1:1\"\ntoken_file = \"/nonexistent\"\n",
            "token_file"},
           {"name = \"X\"\n[site]\npath = \"" + (root / "none").string() +
                "\"\ntracker = \"http://127.0.0.1:1\"\ntoken_file = \"/nonexistent\"\n",
            "not a directory"}}) {
    {
      std::ofstream cfg{root / "node.toml"};
      cfg << "[node]\ndata_dir = \"" << (root / "data").string() << "\"\n" << toml
          << "[http]\nlisten = \"127.0.0.1:0\"\n";
    }
    child_process n{binary(), {"node", "--config", (root / "node.toml").string()}};
    auto st = n.wait_exit(bound);
    BOOST_REQUIRE(st);
    BOOST_CHECK_NE(st->code, 0);
    BOOST_CHECK_MESSAGE(n.output().find(words) != std::string::npos, words << ":\n" << n.output());
  }
}

// One user store serves every site: B serves its files to a token the tracker issued (B's own
// users do not include it), and refuses one the tracker does not know.
BOOST_AUTO_TEST_CASE(a_site_serves_tokens_the_tracker_knows) {
  project p;
  auto b = p.site("B");
  write_file(p.root / "B" / "volume" / "x.txt", "xx");
  auto token = read_file(p.token_file);
  token.pop_back();  // the newline
  api_client known{b->port, token};
  auto r = known.get("/api/content/site/x.txt");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(r.body, "xx");
  api_client stranger{b->port, "not-a-token-of-anyone"};
  BOOST_CHECK_EQUAL(stranger.get("/api/content/site/x.txt").status, 401);
  // A token revoked at the tracker is refused once B's memory of it (30 s) has passed: not
  // waited for here; its refusal right after sign-out is the tracker's own (verify).
  api_client none{b->port};
  BOOST_CHECK_EQUAL(none.get("/api/content/site/x.txt").status, 401);
}

// SIGKILL of the receiving site in the middle of a large download: after its restart the copy
// resumes with Range from its temporary file (this incarnation receives less than the file's
// size) and verifies.
BOOST_AUTO_TEST_CASE(a_download_cut_by_sigkill_resumes_with_range) {
  project p;
  auto b = p.site("B");
  const size_t size = 12u << 20;
  std::string bytes = pseudo_random(size, 11);
  write_file(p.root / "B" / "volume" / "big.bin", bytes);
  BOOST_REQUIRE(eventually([&] { return int_of(p.element("/big.bin"), "synced_B") > 0; }, bound));
  // 2 MiB/s: the download takes about six seconds, long enough to be cut.
  const std::string slow = "max_bytes_per_s = 2097152\n";
  auto c = p.site("C", slow);
  auto volume = p.root / "C" / "volume";
  auto partial = [&]() -> uint64_t {
    for (auto& e : std::filesystem::directory_iterator{volume})
      if (e.path().filename().string().find(".syncline-part") != std::string::npos)
        return e.file_size();
    return 0;
  };
  BOOST_REQUIRE_MESSAGE(eventually([&] { return partial() >= (3u << 20); }, bound),
                        "no partial copy grew:\n" << c->proc->output());
  c->proc->send_signal(SIGKILL);
  BOOST_REQUIRE(c->proc->wait_exit(bound));
  c->proc.reset();
  auto kept = partial();
  BOOST_REQUIRE_GE(kept, 3u << 20);
  c = p.site("C", slow);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return int_of(p.element("/big.bin"), "synced_C") > 0; },
                                   bound),
                        "never finished:\n" << c->proc->output());
  BOOST_CHECK(read_file(volume / "big.bin") == bytes);
  BOOST_CHECK_EQUAL(partial(), 0u);
  // What this incarnation received: the rest only.
  api_client admin_c{c->port};
  admin_c.set_token(admin_c.sign_in("root", admin_password));
  auto actors = admin_c.get("/api/actors").body;
  auto at = actors.find("\"received_bytes\":");
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, actors);
  auto received = std::stoull(actors.substr(at + 17));
  BOOST_CHECK_MESSAGE(received < size && received + kept >= size,
                      "received " << received << " after keeping " << kept << " of " << size);
}

// The same file changed at two sites: neither version is lost. C has local changes it has not
// published (its scan runs once an hour) when B's new versions arrive: the newer by
// modification time keeps the name, the other is kept beside it as a conflict copy.
BOOST_AUTO_TEST_CASE(a_file_changed_at_two_sites_keeps_both_versions) {
  project p;
  auto b = p.site("B");
  auto c = p.site("C", "scan_interval_s = 3600\n");
  auto at_b = p.root / "B" / "volume", at_c = p.root / "C" / "volume";
  write_file(at_b / "older.txt", "b1");
  write_file(at_b / "newer.txt", "b1");
  for (auto* id : {"/older.txt", "/newer.txt"})
    BOOST_REQUIRE(eventually([&] { return int_of(p.element(id), "synced_C") > 0; }, bound));
  auto set_mtime = [](const std::filesystem::path& f, int64_t s) {
    struct timespec t[2] = {{s, 0}, {s, 0}};
    BOOST_REQUIRE_EQUAL(::utimensat(AT_FDCWD, f.c_str(), t, 0), 0);
  };
  write_file(at_c / "older.txt", "c-local-older");
  set_mtime(at_c / "older.txt", 1000000000);  // 2001: older than what B writes now
  write_file(at_c / "newer.txt", "c-local-newer");
  set_mtime(at_c / "newer.txt", 4000000000);  // 2096: newer
  auto t_older = int_of(p.element("/older.txt"), "time");
  auto t_newer = int_of(p.element("/newer.txt"), "time");
  write_file(at_b / "older.txt", "b2");
  write_file(at_b / "newer.txt", "b2");
  std::string e1, e2;
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          e1 = p.element("/older.txt");
                          e2 = p.element("/newer.txt");
                          return int_of(e1, "time") > t_older && int_of(e2, "time") > t_newer &&
                                 int_of(e1, "synced_C") == int_of(e1, "time") &&
                                 int_of(e2, "synced_C") == int_of(e2, "time");
                        }, bound),
                        e1 << "\n" << e2 << "\nC:\n" << c->proc->output());
  // Older here: B's version takes the name, C's is kept as C's conflict copy.
  BOOST_CHECK_EQUAL(read_file(at_c / "older.txt"), "b2");
  auto kept = at_c / ("older.txt.sync-conflict-C-" + std::to_string(int_of(e1, "time")));
  BOOST_CHECK_MESSAGE(std::filesystem::exists(kept), kept);
  BOOST_CHECK_EQUAL(read_file(kept), "c-local-older");
  // Newer here: C's stays, B's arrives as B's conflict copy.
  BOOST_CHECK_EQUAL(read_file(at_c / "newer.txt"), "c-local-newer");
  auto theirs = at_c / ("newer.txt.sync-conflict-B-" + std::to_string(int_of(e2, "time")));
  BOOST_CHECK_MESSAGE(std::filesystem::exists(theirs), theirs);
  BOOST_CHECK_EQUAL(read_file(theirs), "b2");
}

// What the volume element and the global parameters say takes effect without a restart:
// enableReception holds a site's deliveries (queued, not fetched) until it is on again;
// enableScans off publishes nothing new until it is on again. The element's status keys are
// kept current as bookkeeping.
BOOST_AUTO_TEST_CASE(elements_steer_sites_without_a_restart) {
  project p;
  auto b = p.site("B");
  auto c = p.site("C");
  api_client admin_b{b->port}, admin_c{c->port};
  admin_b.set_token(admin_b.sign_in("root", admin_password));
  admin_c.set_token(admin_c.sign_in("root", admin_password));
  auto counter = [](api_client& a, const char* name) -> int64_t {
    auto body = a.get("/api/actors").body;
    auto site = body.find("\"kind\":\"site\"");
    if (site == std::string::npos) return -1;
    auto at = body.find(std::string{"\""} + name + "\":", site);
    if (at == std::string::npos) return -1;
    return std::stoll(body.substr(at + std::strlen(name) + 3));
  };
  // The elements as the sites made them, seeded from their settings.
  std::string vc;
  BOOST_REQUIRE(eventually([&] {
    vc = p.element("site/C");
    return member(vc, "agentStatus") == "on";
  }, bound));
  auto d = parse_json(vc);
  BOOST_CHECK(d->doc["enableReception"].IsTrue());
  BOOST_CHECK_EQUAL(d->doc["syncAmountReception"].GetInt(), 4);
  BOOST_CHECK(member(vc, "url").find("/api/content/site") != std::string::npos);

  // Reception off at C: a new file from B is queued there, not fetched.
  BOOST_REQUIRE_EQUAL(p.admin->put("/api/update/", R"({"_id":"site/C","enableReception":false})").status, 200);
  BOOST_REQUIRE(eventually([&] { return counter(admin_c, "reception_on") == 0; }, bound));
  write_file(p.root / "B" / "volume" / "held.txt", "held");
  BOOST_REQUIRE(eventually([&] { return counter(admin_c, "queued") >= 1; }, bound));
  BOOST_CHECK(!std::filesystem::exists(p.root / "C" / "volume" / "held.txt"));
  BOOST_CHECK_LT(int_of(p.element("/held.txt"), "synced_C"), 0);
  // On again: it arrives.
  BOOST_REQUIRE_EQUAL(p.admin->put("/api/update/", R"({"_id":"site/C","enableReception":true})").status, 200);
  BOOST_REQUIRE(eventually([&] { return int_of(p.element("/held.txt"), "synced_C") > 0; }, bound));
  BOOST_CHECK_EQUAL(read_file(p.root / "C" / "volume" / "held.txt"), "held");
  BOOST_CHECK_GT(int_of(p.element("site/C"), "last_reception"), 0);

  // Emission off at B: C fetches nothing from B (the item waits, retried) until it is on again.
  BOOST_REQUIRE_EQUAL(p.admin->put("/api/update/", R"({"_id":"site/B","enableEmission":false})").status, 200);
  write_file(p.root / "B" / "volume" / "muted.txt", "muted");
  BOOST_REQUIRE(eventually([&] {
    return admin_c.get("/api/actors").body.find("does not emit") != std::string::npos;
  }, bound));
  BOOST_CHECK(!std::filesystem::exists(p.root / "C" / "volume" / "muted.txt"));
  BOOST_REQUIRE_EQUAL(p.admin->put("/api/update/", R"({"_id":"site/B","enableEmission":true})").status, 200);
  BOOST_REQUIRE(eventually([&] { return int_of(p.element("/muted.txt"), "synced_C") > 0; }, bound));

  // Scans off everywhere: B publishes nothing new while its scans are skipped.
  BOOST_REQUIRE_EQUAL(p.admin->post("/api/create/", R"({"_id":"rsyncGlobalParameters","enableScans":false})").status, 201);
  BOOST_REQUIRE(eventually([&] { return counter(admin_b, "scans_on") == 0; }, bound));
  // A scan that began before is over once one has been skipped (scans run one at a time).
  auto before = counter(admin_b, "scans_skipped");
  BOOST_REQUIRE(eventually([&] { return counter(admin_b, "scans_skipped") > before; }, bound));
  write_file(p.root / "B" / "volume" / "unscanned.txt", "u");
  auto skipped = counter(admin_b, "scans_skipped");
  BOOST_REQUIRE(eventually([&] { return counter(admin_b, "scans_skipped") >= skipped + 2; }, bound));
  BOOST_CHECK(p.element("/unscanned.txt").empty());
  BOOST_REQUIRE_EQUAL(p.admin->put("/api/update/", R"({"_id":"rsyncGlobalParameters","enableScans":true})").status, 200);
  BOOST_REQUIRE(eventually([&] { return int_of(p.element("/unscanned.txt"), "synced_C") > 0; }, bound));
  BOOST_CHECK_GT(int_of(p.element("site/B"), "last_scan"), 0);
}
