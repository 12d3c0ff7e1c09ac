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
#include <vector>

#include "tests/api/api_client.hpp"
#include "tests/support/child_process.hpp"
#include "tests/temp_dir.hpp"
#include "tests/tools/site_nodes.hpp"

using namespace syncline::test;
using namespace std::chrono_literals;

using namespace syncline::test::sites;

namespace {

// A counter of the site actor, as the node's /api/actors shows it (-1: not there).
int64_t counter(api_client& a, const char* name) {
  auto body = a.get("/api/actors").body;
  auto site = body.find("\"kind\":\"site\"");
  if (site == std::string::npos) return -1;
  auto at = body.find(std::string{"\""} + name + "\":", site);
  if (at == std::string::npos) return -1;
  return std::stoll(body.substr(at + std::strlen(name) + 3));
}

// When the file last changed status (its rename into place, for a copy), in nanoseconds.
int64_t ctime_ns(const std::filesystem::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
}

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

// syncAmountEmission in the origin's volume element bounds what it sends at once, without a
// restart; the receiver takes "busy" as a reason to ask again, not as a failed copy.
BOOST_AUTO_TEST_CASE(the_origin_sends_no_more_at_once_than_its_emission_amount) {
  project p;
  auto b = p.site("B");
  auto c = p.site("C", "max_bytes_per_s = 4194304\nreception = 4\n");
  api_client admin_b{b->port}, admin_c{c->port};
  admin_b.set_token(admin_b.sign_in("root", admin_password));
  admin_c.set_token(admin_c.sign_in("root", admin_password));
  BOOST_REQUIRE(eventually([&] { return member(p.element("site/B"), "agentStatus") == "on"; }, bound));
  BOOST_REQUIRE_EQUAL(
      p.admin->put("/api/update/", R"({"_id":"site/B","syncAmountEmission":1})").status, 200);
  BOOST_REQUIRE(eventually([&] { return counter(admin_b, "emission_amount") == 1; }, bound));
  // Files too large for a batch, each about a quarter of a second at C's pace: C asks for
  // four at once, B sends one at a time.
  std::vector<std::string> names, contents;
  for (int i = 0; i < 6; ++i) {
    names.push_back("e" + std::to_string(i) + ".bin");
    contents.push_back(pseudo_random(1u << 20, 20 + i));
    write_file(p.root / "B" / "volume" / names.back(), contents.back());
  }
  for (auto& n : names)
    BOOST_REQUIRE_MESSAGE(eventually([&] { return int_of(p.element("/" + n), "synced_C") > 0; }, bound),
                          n << " never arrived:\n" << c->proc->output());
  for (size_t i = 0; i < names.size(); ++i) {
    BOOST_CHECK(read_file(p.root / "C" / "volume" / names[i]) == contents[i]);
    BOOST_CHECK_MESSAGE(p.element("/" + names[i]).find("syncError_C") == std::string::npos,
                        p.element("/" + names[i]));
  }
  BOOST_CHECK_EQUAL(counter(admin_b, "emission_peak"), 1);
  BOOST_TEST_MESSAGE("C was told busy " << counter(admin_c, "origin_busy") << " time(s)");
  BOOST_CHECK_EQUAL(counter(admin_c, "failed"), 0);
  BOOST_CHECK_EQUAL(counter(admin_c, "reception_error"), 0);
  // Raised again through the element.
  BOOST_REQUIRE_EQUAL(
      p.admin->put("/api/update/", R"({"_id":"site/B","syncAmountEmission":3})").status, 200);
  BOOST_CHECK(eventually([&] { return counter(admin_b, "emission_amount") == 3; }, bound));
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
  // B served it: its element says when it last emitted (within seconds).
  BOOST_REQUIRE(eventually([&] { return int_of(p.element("site/B"), "last_emission") > 0; }, bound));

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

  // Scan rules: what they exclude is not published; what they let through is.
  BOOST_REQUIRE_EQUAL(p.admin->put("/api/update/", R"({"_id":"rsyncGlobalParameters",
      "excludePatternRules":"*.tmp","excludedFiles":"/private/"})").status, 200);
  BOOST_REQUIRE(eventually([&] {
    return b->proc->output().find("scan rules changed") != std::string::npos;
  }, bound));
  write_file(p.root / "B" / "volume" / "scratch.tmp", "t");
  write_file(p.root / "B" / "volume" / "private" / "diary.txt", "d");
  write_file(p.root / "B" / "volume" / "public.txt", "p");
  BOOST_REQUIRE(eventually([&] { return int_of(p.element("/public.txt"), "synced_C") > 0; }, bound));
  // public.txt was published by a scan that saw the other two as well.
  BOOST_CHECK(p.element("/scratch.tmp").empty());
  BOOST_CHECK(p.element("/private/diary.txt").empty());
}

// Links down: an origin out of reach. C records syncError_C (30) and syncLastAttempt_C for the
// file, and its volume element says what failed (exit_reception, stderr_reception naming the
// origin) beside its lastConnection* keys; when the origin comes up (its volume element then
// names where) C catches up, and its element says all is well again (exit_reception 0).
BOOST_AUTO_TEST_CASE(an_origin_out_of_reach_is_caught_up_with_when_it_returns) {
  project p;
  auto c = p.site("C");
  BOOST_REQUIRE(eventually([&] { return int_of(p.element("site/C"), "lastConnectionSuccess") > 0; },
                           bound));
  auto vc = p.element("site/C");
  BOOST_CHECK_GT(int_of(vc, "lastConnectionStatusChange"), 0);
  BOOST_CHECK_EQUAL(int_of(vc, "exit_reception"), 0);
  // Y is down: its element names a port where nothing listens. Its volume holds the file.
  write_file(p.root / "Y" / "volume" / "late.txt", "from Y, which was down");
  BOOST_REQUIRE_EQUAL(p.admin->post("/api/create/",
                                    R"([{"_id":"site/Y","url":"http://127.0.0.1:1/api/content/site"},
                                        {"_id":"/late.txt","origin":"Y","file_size":22}])")
                          .status,
                      201);
  std::string e;
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          e = p.element("/late.txt");
                          return int_of(e, "syncError_C") == 30;
                        }, bound),
                        "no error 30: " << e << "\nC:\n" << c->proc->output());
  BOOST_CHECK_GT(int_of(e, "syncLastAttempt_C"), 0);
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          vc = p.element("site/C");
                          return int_of(vc, "exit_reception") == 30;
                        }, bound),
                        "C's volume element never said: " << vc);
  BOOST_CHECK_EQUAL(int_of(vc, "error"), 30);
  BOOST_CHECK_MESSAGE(member(vc, "stderr_reception").find("from Y") != std::string::npos, vc);

  // Y comes up: its start writes its real url, and C's retries reach it.
  auto y = p.site("Y");
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          e = p.element("/late.txt");
                          return int_of(e, "synced_C") > 0;
                        }, bound),
                        "C never caught up: " << e << "\nC:\n" << c->proc->output());
  BOOST_CHECK_EQUAL(int_of(e, "synced_C"), int_of(e, "time"));
  BOOST_CHECK(!has_member(e, "syncError_C"));
  BOOST_CHECK_EQUAL(read_file(p.root / "C" / "volume" / "late.txt"), "from Y, which was down");
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          vc = p.element("site/C");
                          return int_of(vc, "exit_reception") == 0;
                        }, bound),
                        "C's volume element still shows the failure: " << vc);
  BOOST_CHECK_EQUAL(member(vc, "stderr_reception"), "");
}

// A bad token between sites: X's content route is served by a node of another tracker, which
// does not know C's token. C records rsync's 5, says so in its volume element and its log.
BOOST_AUTO_TEST_CASE(a_token_refused_by_an_origin_is_a_clear_error) {
  project p;
  auto c = p.site("C");
  node_process other{p.root / "N", ""};
  BOOST_REQUIRE_EQUAL(
      p.admin
          ->post("/api/create/",
                 R"([{"_id":"site/X","url":"http://127.0.0.1:)" + std::to_string(other.port) +
                     R"(/api/content/site"},{"_id":"/t.txt","origin":"X","file_size":3}])")
          .status,
      201);
  std::string e, vc;
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          e = p.element("/t.txt");
                          vc = p.element("site/C");
                          return int_of(e, "syncError_C") == 5 && int_of(vc, "exit_reception") == 5;
                        }, bound),
                        "no error 5: " << e << "\n" << vc << "\nC:\n" << c->proc->output());
  auto said = member(vc, "stderr_reception");
  BOOST_CHECK_MESSAGE(said.find("refused the token") != std::string::npos &&
                          said.find("from X") != std::string::npos,
                      said);
  BOOST_CHECK_MESSAGE(c->proc->output().find("refused the token") != std::string::npos,
                      c->proc->output());
  BOOST_CHECK(!std::filesystem::exists(p.root / "C" / "volume" / "t.txt"));
}

// Files published through the API (`/api/publish`, seed 003) propagate as scanned ones do:
// `syncEverywhere: false` with `sync_D: true` reaches D only; a site fetches its queue highest
// `sync_priority` first; a locked file still records its copies (bookkeeping passes locks).
BOOST_AUTO_TEST_CASE(published_files_go_where_and_in_the_order_their_elements_say) {
  project p;
  // B scans once at start, then not for an hour: what it holds below is published by hand.
  auto b = p.site("B", "scan_interval_s = 3600\n");
  auto c = p.site("C");
  auto d = p.site("D");
  api_client admin_c{c->port};
  admin_c.set_token(admin_c.sign_in("root", admin_password));
  BOOST_REQUIRE(eventually([&] {
    return int_of(p.element("site/B"), "last_scan") > 0 && !p.element("site/C").empty() &&
           !p.element("site/D").empty();
  }, bound));
  // C holds its deliveries while they queue, then takes them one at a time.
  BOOST_REQUIRE_EQUAL(p.admin->put("/api/update/", R"({"_id":"site/C","enableReception":false})").status, 200);
  BOOST_REQUIRE(eventually([&] { return counter(admin_c, "reception_on") == 0; }, bound));
  auto vol = p.root / "B" / "volume";
  const std::vector<std::pair<std::string, int>> files{
      {"p1.txt", 1}, {"p9.txt", 9}, {"locked.txt", 3}, {"p5.txt", 5}};
  std::string published = "[";
  for (auto& [name, priority] : files) {
    write_file(vol / name, "priority " + std::to_string(priority));
    if (published.size() > 1) published += ',';
    published += R"({"_id":"/)" + name + R"(","origin":"B","comment":"by hand","file_size":10,"sync_priority":)" +
                 std::to_string(priority) + "}";
  }
  published += "]";
  auto r = p.admin->post("/api/publish/", published);
  BOOST_REQUIRE_MESSAGE(r.status == 201, r.status << " " << r.body);
  write_file(vol / "only-d.txt", "for D");
  r = p.admin->post("/api/publish/",
                    R"({"_id":"/only-d.txt","origin":"B","comment":"for D only","file_size":5,"syncEverywhere":false,"sync_D":true})");
  BOOST_REQUIRE_MESSAGE(r.status == 201, r.status << " " << r.body);
  BOOST_REQUIRE_EQUAL(p.admin->put("/api/lock/", R"("/locked.txt")").status, 200);

  // D receives everything meant for it, the file only it should have included.
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          for (auto& f : files)
                            if (int_of(p.element("/" + f.first), "synced_D") <= 0) return false;
                          return int_of(p.element("/only-d.txt"), "synced_D") > 0;
                        }, bound),
                        "D:\n" << d->proc->output());
  BOOST_CHECK_EQUAL(read_file(p.root / "D" / "volume" / "only-d.txt"), "for D");
  BOOST_REQUIRE(eventually([&] { return counter(admin_c, "queued") == 4; }, bound));

  BOOST_REQUIRE_EQUAL(p.admin->put("/api/update/",
                                   R"({"_id":"site/C","enableReception":true,"syncAmountReception":1})")
                          .status,
                      200);
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          for (auto& f : files)
                            if (int_of(p.element("/" + f.first), "synced_C") <= 0) return false;
                          return true;
                        }, bound),
                        "C:\n" << c->proc->output());
  // Highest priority first: p9, p5, locked (3), p1 were put in place in that order.
  std::vector<int64_t> placed;
  for (auto* name : {"p9.txt", "p5.txt", "locked.txt", "p1.txt"})
    placed.push_back(ctime_ns(p.root / "C" / "volume" / name));
  for (size_t i = 1; i < placed.size(); ++i)
    BOOST_CHECK_MESSAGE(placed[i - 1] < placed[i], "out of priority order at " << i);
  auto locked = p.element("/locked.txt");
  BOOST_CHECK_EQUAL(int_of(locked, "synced_C"), int_of(locked, "time"));
  BOOST_CHECK_EQUAL(member(locked, "lock"), "root");
  BOOST_CHECK_EQUAL(read_file(p.root / "C" / "volume" / "locked.txt"), "priority 3");
  // Not meant for C: never fetched there.
  BOOST_CHECK(!std::filesystem::exists(p.root / "C" / "volume" / "only-d.txt"));
  BOOST_CHECK(!has_member(p.element("/only-d.txt"), "synced_C"));
}

// Packages (seed 003): a folder tracked with a trailing slash travels as one unit. Published by
// hand with B as origin, it reaches C whole (never file by file); a change inside it publishes
// the package again and C's copy is replaced at once, leaving nothing half-done behind; with
// enableDiscoveryPackages off, changes inside wait; removed at B, it is removed at C.
BOOST_AUTO_TEST_CASE(a_package_travels_and_changes_as_one_unit) {
  project p;
  auto vb = p.root / "B" / "volume";
  auto vc = p.root / "C" / "volume";
  std::string big = pseudo_random(200 * 1024, 3);
  write_file(vb / "pkg" / "a.txt", "first");
  write_file(vb / "pkg" / "sub" / "b.bin", big);
  write_file(vb / "other.txt", "not in the package");
  // Published before B starts: B reads the feed before its first scan, so it knows the package.
  auto r = p.admin->post("/api/publish/", R"({"_id":"/pkg/","origin":"B","comment":"a package"})");
  BOOST_REQUIRE_MESSAGE(r.status == 201, r.status << " " << r.body);
  auto b = p.site("B");
  auto c = p.site("C");
  std::string e;
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          e = p.element("/pkg/");
                          return int_of(e, "synced_C") > 0 && int_of(e, "synced_C") == int_of(e, "time") &&
                                 int_of(p.element("/other.txt"), "synced_C") > 0;
                        }, bound),
                        "the package never reached C: " << e << "\nB:\n" << b->proc->output()
                                                        << "\nC:\n" << c->proc->output());
  BOOST_CHECK_EQUAL(read_file(vc / "pkg" / "a.txt"), "first");
  BOOST_CHECK(read_file(vc / "pkg" / "sub" / "b.bin") == big);
  BOOST_CHECK(p.element("/pkg/a.txt").empty());
  BOOST_CHECK(p.element("/pkg/sub/b.bin").empty());

  // A change inside: the package is published again, whole, and C's copy replaced.
  auto first = int_of(e, "time");
  write_file(vb / "pkg" / "a.txt", "second version");
  write_file(vb / "pkg" / "new.txt", "new");
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          e = p.element("/pkg/");
                          return int_of(e, "time") > first && int_of(e, "synced_C") == int_of(e, "time");
                        }, bound),
                        "the change never reached C: " << e << "\nC:\n" << c->proc->output());
  BOOST_CHECK_EQUAL(member(e, "comment"), "modified at B");
  BOOST_CHECK_EQUAL(int_of(e, "file_size"), static_cast<int64_t>(14 + big.size() + 3));
  BOOST_CHECK_EQUAL(read_file(vc / "pkg" / "a.txt"), "second version");
  BOOST_CHECK_EQUAL(read_file(vc / "pkg" / "new.txt"), "new");
  BOOST_CHECK(read_file(vc / "pkg" / "sub" / "b.bin") == big);
  BOOST_CHECK(p.element("/pkg/new.txt").empty());
  for (auto& entry : std::filesystem::directory_iterator{vc})
    BOOST_CHECK_MESSAGE(entry.path().filename().string().front() != '.',
                        "left behind: " << entry.path());

  // enableDiscoveryPackages off at B: B's scans leave the package alone until it is on again.
  api_client admin_b{b->port};
  admin_b.set_token(admin_b.sign_in("root", admin_password));
  BOOST_REQUIRE_EQUAL(
      p.admin->put("/api/update/", R"({"_id":"site/B","enableDiscoveryPackages":false})").status, 200);
  BOOST_REQUIRE(eventually([&] { return counter(admin_b, "packages_on") == 0; }, bound));
  auto second = int_of(e, "time");
  write_file(vb / "pkg" / "a.txt", "third version");
  auto scans = counter(admin_b, "scans");
  BOOST_REQUIRE(eventually([&] { return counter(admin_b, "scans") >= scans + 2; }, bound));
  BOOST_CHECK_EQUAL(int_of(p.element("/pkg/"), "time"), second);
  BOOST_CHECK(p.element("/pkg/a.txt").empty());
  BOOST_REQUIRE_EQUAL(
      p.admin->put("/api/update/", R"({"_id":"site/B","enableDiscoveryPackages":true})").status, 200);
  BOOST_REQUIRE(eventually([&] {
    e = p.element("/pkg/");
    return int_of(e, "time") > second && int_of(e, "synced_C") == int_of(e, "time");
  }, bound));
  BOOST_CHECK_EQUAL(read_file(vc / "pkg" / "a.txt"), "third version");

  // Removed at B: the element goes, and C's copy with it.
  std::filesystem::remove_all(vb / "pkg");
  BOOST_REQUIRE_MESSAGE(eventually([&] { return !std::filesystem::exists(vc / "pkg"); }, bound),
                        "C kept the package; element: " << p.element("/pkg/") << "\nB:\n"
                                                        << b->proc->output());
  BOOST_CHECK(p.element("/pkg/").empty());
  BOOST_CHECK_EQUAL(read_file(vc / "other.txt"), "not in the package");
}
