// tests/actors/site_logic_test.cpp: what a site decides, without actors or network: the scan's
// comparison of a real folder with the index in a real database, which tracked files it must
// fetch, the queue payload, content URLs and the request bodies it sends.
#define BOOST_TEST_MODULE actors_site_logic
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <rapidjson/document.h>

#include "actors/site_keys.hpp"
#include "actors/site_logic.hpp"
#include "connectors/local_volume.hpp"
#include "storage/database.hpp"
#include "storage/datastore.hpp"
#include "tests/temp_dir.hpp"

using namespace syncline;
using actors::site_change;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& bytes, int64_t mtime_s) {
  fs::create_directories(p.parent_path());
  std::ofstream{p, std::ios::binary | std::ios::trunc} << bytes;
  struct timespec t[2] = {{mtime_s, 0}, {mtime_s, 0}};
  ::utimensat(AT_FDCWD, p.c_str(), t, 0);
}

struct fixture {
  test::temp_dir dir{"site-logic"};
  fs::path vol = dir.path() / "vol";
  std::unique_ptr<storage::database> db;
  std::unique_ptr<connectors::local_volume> volume;

  fixture() {
    fs::create_directories(vol);
    auto opened = storage::database::open({dir.path() / "data"});
    BOOST_REQUIRE(opened);
    db = std::move(*opened);
    auto v = connectors::local_volume::make({vol.string()});
    BOOST_REQUIRE(v);
    volume = std::move(*v);
  }

  void known(const std::string& ref, uint64_t size, int64_t mtime_s) {
    storage::datastore_row r;
    r.reference = ref;
    r.size = size;
    r.mtime_ns = mtime_s * 1000000000;
    BOOST_REQUIRE(!storage::datastore{*db}.put("site", r));
  }

  std::vector<std::string> diff(std::function<bool(const std::string&)> skip = {}) {
    auto listing = volume->list();
    BOOST_REQUIRE(listing);
    storage::datastore rows{*db};
    auto cur = rows.scan("site");
    auto d = actors::diff_site(**listing, cur, [&](const std::string& ref) {
      return skip && skip(ref);
    });
    BOOST_REQUIRE(d);
    std::vector<std::string> out;
    for (auto& c : d->changes)
      out.push_back((c.what == site_change::kind::added      ? "+"
                     : c.what == site_change::kind::modified ? "~"
                                                             : "-") +
                    c.reference);
    return out;
  }
};

bool valid_json(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.c_str(), s.size());
  return !d.HasParseError();
}

connectors::flat_element element(const std::string& json) {
  auto e = connectors::flatten_element(json);
  BOOST_REQUIRE_MESSAGE(e, json);
  return *e;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_scan_finds_new_modified_and_removed_files_in_order, fixture) {
  write(vol / "a.txt", "a", 1000);
  write(vol / "d/b.txt", "bb", 1000);
  write(vol / "d/c.txt", "cc", 1000);
  write(vol / "z.txt", "z", 1000);
  fs::create_directories(vol / "empty");
  fs::create_symlink("a.txt", vol / "link");
  known("a.txt", 1, 1000);    // unchanged
  known("d/b.txt", 2, 999);   // other time
  known("d/c.txt", 3, 1000);  // other size
  known("gone.txt", 5, 1000);
  known("y/gone.txt", 5, 1000);
  auto got = diff();
  std::vector<std::string> want{"~d/b.txt", "~d/c.txt", "-gone.txt", "-y/gone.txt", "+z.txt"};
  BOOST_CHECK_EQUAL_COLLECTIONS(got.begin(), got.end(), want.begin(), want.end());
  // A file being received is left out both ways.
  got = diff([](const std::string& r) { return r == "z.txt" || r == "gone.txt"; });
  want = {"~d/b.txt", "~d/c.txt", "-y/gone.txt"};
  BOOST_CHECK_EQUAL_COLLECTIONS(got.begin(), got.end(), want.begin(), want.end());
}

BOOST_FIXTURE_TEST_CASE(an_empty_volume_and_an_empty_index, fixture) {
  BOOST_CHECK(diff().empty());
  known("x", 1, 1);
  auto got = diff();
  BOOST_REQUIRE_EQUAL(got.size(), 1u);
  BOOST_CHECK_EQUAL(got[0], "-x");
}

BOOST_AUTO_TEST_CASE(which_tracked_files_a_site_fetches) {
  actors::reception_rules rules{"C", true};
  auto need = [&](const std::string& id, const std::string& json) {
    return actors::copy_needed(id, element(json), rules);
  };
  auto w = need("/p/a.bin", R"({"origin":"B","time":100,"sync_priority":7,"file_size":12,"file_mtime":5000})");
  BOOST_REQUIRE(w);
  BOOST_CHECK_EQUAL(w->reference, "p/a.bin");
  BOOST_CHECK_EQUAL(w->origin, "B");
  BOOST_CHECK_EQUAL(w->time, 100);
  BOOST_CHECK_EQUAL(w->priority, 7);
  BOOST_CHECK_EQUAL(w->size, 12u);
  BOOST_CHECK_EQUAL(w->mtime_ms, 5000);
  // Current, older or newer copies.
  BOOST_CHECK(!need("/a", R"({"origin":"B","time":100,"synced_C":100})"));
  BOOST_CHECK(!need("/a", R"({"origin":"B","time":100,"synced_C":150})"));
  BOOST_CHECK(need("/a", R"({"origin":"B","time":100,"synced_C":99})"));
  // Its own files, no origin, no time, not files of the project.
  BOOST_CHECK(!need("/a", R"({"origin":"C","time":100})"));
  BOOST_CHECK(!need("/a", R"({"time":100})"));
  BOOST_CHECK(!need("/a", R"({"origin":"B"})"));
  for (auto* id : {"rsyncGlobalParameters", "site/B", "@bob", "/a/../b", "/", "//", "/a//b"})
    BOOST_CHECK_MESSAGE(!need(id, R"({"origin":"B","time":1})"), id);
  // A package (a folder tracked as one unit) keeps its trailing slash.
  auto package = actors::copy_needed("/pkg/", element(R"({"origin":"B","time":1})"), rules);
  BOOST_REQUIRE(package);
  BOOST_CHECK_EQUAL(package->reference, "pkg/");
  // Destination filtering: the element's syncEverywhere, else the site's default; sync_C wins.
  BOOST_CHECK(!need("/a", R"({"origin":"B","time":1,"syncEverywhere":false})"));
  BOOST_CHECK(need("/a", R"({"origin":"B","time":1,"syncEverywhere":false,"sync_C":true})"));
  BOOST_CHECK(!need("/a", R"({"origin":"B","time":1,"syncEverywhere":false,"sync_D":true})"));
  rules.sync_everywhere = false;
  BOOST_CHECK(!need("/a", R"({"origin":"B","time":1})"));
  BOOST_CHECK(need("/a", R"({"origin":"B","time":1,"syncEverywhere":true})"));
}

BOOST_AUTO_TEST_CASE(queue_payloads_read_back) {
  actors::wanted_copy w;
  w.reference = "dir/with space/\xc3\xa9.bin";
  w.origin = "site-B_1";
  w.time = 1764979200123;
  w.priority = -3;
  w.size = 1ull << 40;
  w.mtime_ms = 1700000000000;
  auto back = actors::wanted_copy::decode(w.encode());
  BOOST_REQUIRE(back);
  BOOST_CHECK_EQUAL(back->reference, w.reference);
  BOOST_CHECK_EQUAL(back->origin, w.origin);
  BOOST_CHECK_EQUAL(back->time, w.time);
  BOOST_CHECK_EQUAL(back->priority, w.priority);
  BOOST_CHECK_EQUAL(back->size, w.size);
  BOOST_CHECK_EQUAL(back->mtime_ms, w.mtime_ms);
  BOOST_CHECK(!actors::wanted_copy::decode("1\nB\n2\n"));
  BOOST_CHECK(!actors::wanted_copy::decode("x\nB\n2\n3\nref\n0"));
}

BOOST_AUTO_TEST_CASE(content_urls_escape_all_but_slashes) {
  BOOST_CHECK_EQUAL(actors::content_url("http://h:1/api/content/site/", "a b/c%d/\xc3\xa9?#.txt"),
                    "http://h:1/api/content/site/a%20b/c%25d/%C3%A9%3F%23.txt");
}

BOOST_AUTO_TEST_CASE(request_bodies_say_what_seed_003_asks) {
  site_change added{site_change::kind::added, "d/\"q\".txt", 12, 1700000000123456789};
  auto body = actors::discovered_body({&added}, "B");
  BOOST_REQUIRE(valid_json(body));
  auto all = connectors::flatten_elements(body);
  BOOST_REQUIRE(all && all->size() == 1 && (*all)[0]);
  auto& e = *(*all)[0];
  BOOST_CHECK_EQUAL(*e.text("_id"), "/d/\"q\".txt");
  BOOST_CHECK_EQUAL(*e.text("origin"), "B");
  BOOST_CHECK_EQUAL(*e.text("comment"), "scanned at B");
  BOOST_CHECK_EQUAL(*e.integer("file_size"), 12);
  BOOST_CHECK_EQUAL(*e.integer("file_mtime"), 1700000000123);
  auto mod = actors::modified_body({&added}, "B", 42);
  BOOST_REQUIRE(valid_json(mod));
  auto m = element(mod.substr(1, mod.size() - 2));
  BOOST_CHECK_EQUAL(*m.text("comment"), "modified at B");
  BOOST_CHECK_EQUAL(*m.integer("modified_B"), 42);
  auto synced = actors::synced_body({{"/a", 7}, {"/b", 8}}, "C");
  BOOST_REQUIRE(valid_json(synced));
  auto s = connectors::flatten_elements(synced);
  BOOST_REQUIRE(s && s->size() == 2);
  BOOST_CHECK_EQUAL(*(*s)[1]->integer("synced_C"), 8);
  BOOST_CHECK((*s)[1]->keys.count("syncError_C") == 1);  // removed (null)
  auto failed = actors::failed_body("/a", "C", 23, 99);
  BOOST_REQUIRE(valid_json(failed));
  auto f = element(failed);
  BOOST_CHECK_EQUAL(*f.integer("syncError_C"), 23);
  BOOST_CHECK_EQUAL(*f.integer("syncLastAttempt_C"), 99);
  // Every key these bodies write for a site is one the tracker takes as a per-site key.
  for (auto& [key, value] : (*s)[0]->keys)
    if (key != "_id") BOOST_CHECK_MESSAGE(actors::parse_site_key(key), key);
}

BOOST_AUTO_TEST_CASE(site_names_and_keys) {
  BOOST_CHECK(!actors::site_name_problem("studio-1_B"));
  for (auto* bad : {"", "a b", "a/b", "é", "a.b"}) BOOST_CHECK_MESSAGE(actors::site_name_problem(bad), bad);
  BOOST_CHECK(actors::site_name_problem(std::string(65, 'a')));
  auto k = actors::parse_site_key("syncLastAttempt_site2");
  BOOST_REQUIRE(k);
  BOOST_CHECK(k->first == actors::site_key::sync_last_attempt);
  BOOST_CHECK_EQUAL(k->second, "site2");
  BOOST_CHECK(!actors::parse_site_key("synced_"));
  BOOST_CHECK(!actors::parse_site_key("sync_B"));
  BOOST_CHECK(!actors::parse_site_key("modified_B"));
  BOOST_CHECK_EQUAL(actors::destination_key("B"), "sync_B");
}

// The global scan rules: globs to include and exclude, tracked ids excluded with all they hold,
// entries separated by newlines or commas; the scan leaves out what they leave out (both ways:
// a tracked file now excluded is not removed); a bad glob keeps the rules before it and says why.
BOOST_FIXTURE_TEST_CASE(the_global_scan_rules_choose_what_scans_publish, fixture) {
  actors::live_settings live;
  BOOST_CHECK(live.scans_file("any/thing.tmp"));
  actors::apply_global(element(R"({"_id":"rsyncGlobalParameters","includePatternRules":"",
      "excludePatternRules":"*.tmp, **/cache/**\n/build/","excludedFiles":"/private/,/a[1].txt",
      "ignoreExistingFiles":true})"),
                       live);
  BOOST_CHECK(live.rules_problem.empty());
  BOOST_CHECK(live.ignore_existing);
  BOOST_CHECK(live.scans_file("docs/a.txt"));
  BOOST_CHECK(!live.scans_file("docs/a.tmp"));
  BOOST_CHECK(!live.scans_file("x/cache/y.bin"));
  BOOST_CHECK(!live.scans_file("build/out.o"));
  BOOST_CHECK(live.scans_file("src/build/out.o"));  // anchored at the root
  BOOST_CHECK(!live.scans_file("private/notes.txt"));
  BOOST_CHECK(!live.scans_file("a[1].txt"));  // an id, taken literally
  BOOST_CHECK(live.scans_file("a1.txt"));

  write(vol / "keep.txt", "k", 1000);
  write(vol / "new.tmp", "t", 1000);
  write(vol / "private/p.txt", "p", 1000);
  known("private/old.txt", 1, 1000);  // tracked, now excluded, and gone: no removal
  auto got = diff([&](const std::string& r) { return !live.scans_file(r); });
  std::vector<std::string> want{"+keep.txt"};
  BOOST_CHECK_EQUAL_COLLECTIONS(got.begin(), got.end(), want.begin(), want.end());

  // Include rules keep only what they name.
  actors::apply_global(element(R"({"_id":"rsyncGlobalParameters","includePatternRules":"*.txt"})"),
                       live);
  BOOST_CHECK(live.scans_file("keep.txt"));
  BOOST_CHECK(!live.scans_file("pic.jpg"));
  // A bad glob: the rules before it stay, and the problem is named.
  actors::apply_global(element(R"({"_id":"rsyncGlobalParameters","excludePatternRules":"[oops"})"),
                       live);
  BOOST_CHECK_MESSAGE(live.rules_problem.find("[oops") != std::string::npos, live.rules_problem);
  BOOST_CHECK(!live.scans_file("pic.jpg"));
  // Cleared: every file again.
  actors::apply_global(element(R"({"_id":"rsyncGlobalParameters","excludePatternRules":""})"), live);
  BOOST_CHECK(live.rules_problem.empty());
  BOOST_CHECK(live.scans_file("pic.jpg"));
}
