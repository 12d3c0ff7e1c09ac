// Seed 000's datasource routes over real HTTP on loopback, against a node of this process whose
// folder datasources sync real directories into real directory volumes: create, read, list,
// change, delete, collect now and runs, children paging while items change, recompute,
// credentials encrypted at rest, sharing, the class matrix and bad input.
#define BOOST_TEST_MODULE datasource_api
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "tests/api/api_client.hpp"

using namespace syncline::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const char* const volumes[] = {"vol-crud", "vol-spy", "vol-page", "vol-compute", "vol-misc"};

// A node's configuration: its data in `dir`/data, an admin `root`, a directory volume per test
// area under `dir`.
syncline::runtime::node_config node_config(const temp_dir& dir) {
  auto pw = dir / "admin.pw";
  {
    std::ofstream out{pw};
    out << "root-secret-1\n";
  }
  ::chmod(pw.c_str(), 0600);
  syncline::runtime::node_config cfg;
  cfg.node.data_dir = dir / "data";
  cfg.http.listen = {"127.0.0.1", 0};
  cfg.auth.admin_user = "root";
  cfg.auth.admin_password_file = pw;
  // API folder datasources may read below the temporary directory, where the tests' are.
  cfg.datasources_settings.allowed_roots = {fs::temp_directory_path().string()};
  for (auto* v : volumes) {
    fs::create_directories(dir / v);
    syncline::actors::volume_config vc;
    vc.id = v;
    vc.path = (dir / v).string();
    cfg.volumes.push_back(vc);
  }
  return cfg;
}

// One node for the whole suite, with a directory volume per test area and a user of each class.
struct world {
  temp_dir dir{"dsapi"};
  std::unique_ptr<syncline::runtime::node> node;
  uint16_t port = 0;
  std::string root, guest, user, editor, editor2, admin;

  world() {
    auto cfg = node_config(dir);
    auto n = syncline::runtime::node::start(cfg);
    BOOST_REQUIRE_MESSAGE(n, (n ? std::string{"ok"} : syncline::storage::render(n.error())));
    node = std::move(*n);
    port = node->http_address().port;
    api_client c{port};
    root = c.sign_in("root", "root-secret-1");
    BOOST_REQUIRE(!root.empty());
    c.set_token(root);
    auto made = c.post("/api/create/",
                       R"([{"_id":"@gina","class":"guest","password":"pw-guest"},
                           {"_id":"@ursula","class":"user","password":"pw-user"},
                           {"_id":"@ed","class":"editor","password":"pw-editor"},
                           {"_id":"@eve","class":"editor","password":"pw-editor2"},
                           {"_id":"@ada","class":"admin","password":"pw-admin"}])");
    BOOST_REQUIRE_EQUAL(made.status, 201);
    guest = c.sign_in("gina", "pw-guest");
    user = c.sign_in("ursula", "pw-user");
    editor = c.sign_in("ed", "pw-editor");
    editor2 = c.sign_in("eve", "pw-editor2");
    admin = c.sign_in("ada", "pw-admin");
    BOOST_REQUIRE(!guest.empty() && !user.empty() && !editor.empty() && !editor2.empty() &&
                  !admin.empty());
  }
  ~world() {
    if (node) node->stop();
  }
};

world* the_world = nullptr;

struct global {
  global() { the_world = new world(); }
  ~global() {
    delete the_world;
    the_world = nullptr;
  }
};
BOOST_TEST_GLOBAL_FIXTURE(global);

world& w() { return *the_world; }
api_client as(const std::string& token) { return api_client{w().port, token}; }

const std::string ws = "/api/acme/main/workspaces/ws1";

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream out{p, std::ios::binary};
  out << text;
}

std::string read_file(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

// A folder datasource's creation body.
std::string folder_body(const std::string& id, const fs::path& src, const std::string& volume,
                        const std::string& sync = "one", const std::string& extra = {}) {
  return R"({"id":")" + id + R"(","type":"folder","path":")" + src.string() +
         R"(","volumes":[")" + volume + R"("],"sync_type":")" + sync + "\"" + extra + "}";
}

// The status of run `number` of datasource `id` ("" when it is not listed).
std::string run_status(const std::string& id, uint64_t number) {
  auto editor = as(w().editor);
  return syncline::test::run_status(editor, ws + "/" + id, number);
}

bool run_succeeded(const std::string& id, uint64_t number) {
  return run_status(id, number) == "success";
}

// Every child reference of `id`, page by page with `page_size`, calling `between` after each
// page.
std::vector<std::string> all_children(const std::string& id, int page_size,
                                      const std::function<void(int)>& between = {}) {
  std::vector<std::string> out;
  std::string scroll;
  bool first = true;
  for (int page = 0; page < 10000; ++page) {
    std::string body = "{\"page_size\":" + std::to_string(page_size);
    if (!first) body += ",\"scroll\":" + std::string{"\""} + scroll + "\"";
    body += "}";
    first = false;
    auto r = as(w().user).post(ws + "/" + id + "/@getAllChildren", body);
    BOOST_REQUIRE_EQUAL(r.status, 200);
    auto d = parse_json(r.body);
    BOOST_REQUIRE(d->ok && d->doc["items"].IsArray());
    BOOST_CHECK(static_cast<int>(d->doc["items"].Size()) <= page_size);
    for (auto& it : d->doc["items"].GetArray()) out.push_back(it["_id"].GetString());
    if (d->doc["cursor"].IsNull()) return out;
    scroll = d->doc["cursor"].GetString();
    if (between) between(page);
  }
  BOOST_FAIL("paging never ended");
  return out;
}

// Every file below `dir`, read whole, concatenated: to look for a secret in the data directory.
bool any_file_contains(const fs::path& dir, const std::string& needle) {
  for (auto& e : fs::recursive_directory_iterator{dir}) {
    if (!e.is_regular_file()) continue;
    if (read_file(e.path()).find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(create_read_list_change_delete) {
  temp_dir src{"dsapi-crud"};
  write_file(src / "a.txt", "alpha");
  write_file(src / "sub/b.txt", "beta");
  auto ed = as(w().editor);
  auto made = ed.post(ws, folder_body("crud", src.path(), "vol-crud", "one",
                                      R"(,"include":["**"],"sync_priority":3,"schedule":{"min_s":60,"max_s":120})"));
  BOOST_REQUIRE_MESSAGE(made.status == 201, made.body);
  BOOST_CHECK_EQUAL(member(made.body, "owner"), "ed");
  BOOST_CHECK_EQUAL(member(made.body, "sync_type"), "one");
  BOOST_CHECK_EQUAL(member(made.body, "workspace"), "ws1");
  BOOST_CHECK_EQUAL(made.header("location"), ws + "/crud");

  // The first run starts at once and copies the folder.
  BOOST_REQUIRE(eventually([] { return run_succeeded("crud", 1); }));
  BOOST_CHECK_EQUAL(read_file(w().dir / "vol-crud" / "crud/sub/b.txt"), "beta");

  auto got = ed.get(ws + "/crud");
  BOOST_REQUIRE_EQUAL(got.status, 200);
  auto d = parse_json(got.body);
  BOOST_CHECK_EQUAL(d->doc["status"].GetString(), std::string{"synced"});
  BOOST_CHECK_EQUAL(d->doc["health"].GetString(), std::string{"healthy"});
  BOOST_CHECK_EQUAL(d->doc["sync_priority"].GetInt(), 3);
  BOOST_CHECK_EQUAL(d->doc["schedule"]["max_s"].GetInt(), 120);
  BOOST_CHECK_EQUAL(d->doc["last_run"]["status"].GetString(), std::string{"success"});
  BOOST_CHECK_EQUAL(d->doc["counters"]["vol-crud"]["items"].GetUint64(), 3u);  // a.txt sub/ sub/b.txt
  BOOST_CHECK_EQUAL(d->doc["credentials"]["stored"].GetBool(), false);

  // Listed in its workspace only.
  auto list = ed.get(ws);
  BOOST_REQUIRE_EQUAL(list.status, 200);
  BOOST_CHECK(list.body.find("\"id\":\"crud\"") != std::string::npos);
  auto other = ed.get("/api/acme/main/workspaces/ws2");
  BOOST_REQUIRE_EQUAL(other.status, 200);
  BOOST_CHECK(other.body.find("\"crud\"") == std::string::npos);
  BOOST_CHECK_EQUAL(ed.get("/api/acme/main/workspaces/ws2/crud").status, 404);
  BOOST_CHECK_EQUAL(ed.get("/api/other/main/workspaces/ws1/crud").status, 404);
  // Every workspace's at /api/datasources, each view naming where it lives.
  auto all = ed.get("/api/datasources");
  BOOST_REQUIRE_EQUAL(all.status, 200);
  BOOST_CHECK(all.body.find("\"id\":\"crud\"") != std::string::npos);
  BOOST_CHECK(all.body.find("\"workspace\":\"ws1\"") != std::string::npos);
  BOOST_CHECK_GE(parse_json(all.body)->doc["count"].GetUint64(),
                 parse_json(list.body)->doc["count"].GetUint64());
  BOOST_CHECK_EQUAL(fetch(w().port, "GET", "/api/datasources", "").status, 401);

  // Create again: 409 by POST and by PUT, in any workspace.
  BOOST_CHECK_EQUAL(ed.post(ws, folder_body("crud", src.path(), "vol-crud")).status, 409);
  BOOST_CHECK_EQUAL(ed.put(ws + "/crud", folder_body("crud", src.path(), "vol-crud")).status, 409);
  BOOST_CHECK_EQUAL(
      ed.post("/api/acme/main/workspaces/ws2", folder_body("crud", src.path(), "vol-crud")).status,
      409);

  // Change the configuration.
  auto changed = ed.call("PATCH", ws + "/crud", R"({"sync_priority":7,"exclude":["*.tmp"]})");
  BOOST_REQUIRE_MESSAGE(changed.status == 200, changed.body);
  got = ed.get(ws + "/crud");
  d = parse_json(got.body);
  BOOST_CHECK_EQUAL(d->doc["sync_priority"].GetInt(), 7);
  BOOST_CHECK_EQUAL(d->doc["exclude"][0].GetString(), std::string{"*.tmp"});

  // Status changes follow the transition table.
  auto bad = ed.call("PATCH", ws + "/crud", R"({"status":"resuming"})");
  BOOST_CHECK_EQUAL(bad.status, 409);
  BOOST_CHECK(is_error_shape(bad.body));
  BOOST_CHECK(member(bad.body, "message").find("cannot move from") != std::string::npos);
  BOOST_CHECK_EQUAL(ed.call("PATCH", ws + "/crud", R"({"status":"invited"})").status, 409);
  auto paused = ed.call("PATCH", ws + "/crud", R"({"status":"paused"})");
  BOOST_REQUIRE_MESSAGE(paused.status == 200, paused.body);
  BOOST_CHECK_EQUAL(member(paused.body, "status"), "paused");
  auto sync_paused = ed.call("PATCH", ws + "/crud", R"({"status":"syncing"})");
  BOOST_CHECK_EQUAL(sync_paused.status, 409);
  BOOST_CHECK_EQUAL(ed.get(ws + "/crud/@sendToSpyder").status, 409);
  auto resumed = ed.call("PATCH", ws + "/crud", R"({"status":"resuming"})");
  BOOST_REQUIRE_MESSAGE(resumed.status == 200, resumed.body);
  BOOST_CHECK(member(resumed.body, "status") != "paused");

  // Delete: gone from read and list; the copies stay.
  auto gone = ed.del(ws + "/crud", "");
  BOOST_REQUIRE_MESSAGE(gone.status == 200, gone.body);
  BOOST_CHECK_EQUAL(ed.get(ws + "/crud").status, 404);
  BOOST_CHECK(ed.get(ws).body.find("\"crud\"") == std::string::npos);
  BOOST_CHECK_EQUAL(ed.get(ws + "/crud/@runs").status, 404);
  BOOST_CHECK_EQUAL(ed.del(ws + "/crud", "").status, 404);
  BOOST_CHECK_EQUAL(read_file(w().dir / "vol-crud" / "crud/a.txt"), "alpha");

  // PUT creates at the path.
  auto put = ed.put(ws + "/crud2", R"({"type":"folder","path":")" + src.path().string() +
                                       R"(","volumes":["vol-crud"],"status":"paused"})");
  BOOST_REQUIRE_MESSAGE(put.status == 201, put.body);
  BOOST_CHECK_EQUAL(member(put.body, "status"), "paused");
  BOOST_CHECK_EQUAL(ed.del(ws + "/crud2", "").status, 200);
}

BOOST_AUTO_TEST_CASE(send_to_spyder_runs_and_shows_in_runs) {
  temp_dir src{"dsapi-spy"};
  write_file(src / "one.txt", "1");
  auto ed = as(w().editor);
  auto made = ed.post(ws, folder_body("spy", src.path(), "vol-spy", "auto", R"(,"status":"paused")"));
  BOOST_REQUIRE_MESSAGE(made.status == 201, made.body);
  BOOST_CHECK_EQUAL(member(made.body, "status"), "paused");
  // Paused: no run, and collecting now is refused.
  auto refused = ed.post(ws + "/spy/@sendToSpyder", "");
  BOOST_CHECK_EQUAL(refused.status, 409);
  BOOST_CHECK(is_error_shape(refused.body));
  auto resumed = ed.post(ws + "/spy/@resume", "");
  BOOST_REQUIRE_MESSAGE(resumed.status == 200, resumed.body);
  BOOST_REQUIRE_MESSAGE(eventually([] { return run_succeeded("spy", 1); }),
                        ed.get(ws + "/spy/@runs").body << " " << ed.get("/api/actors").body);
  BOOST_CHECK_EQUAL(read_file(w().dir / "vol-spy" / "spy/one.txt"), "1");

  write_file(src / "two.txt", "22");
  auto sent = ed.get(ws + "/spy/@sendToSpyder?force=True");
  BOOST_REQUIRE_MESSAGE(sent.status == 202, sent.body);
  auto d = parse_json(sent.body);
  uint64_t run = d->doc["run"].GetUint64();
  BOOST_CHECK_GE(run, 2u);
  BOOST_REQUIRE(eventually([&] { return run_succeeded("spy", run); }));
  BOOST_CHECK_EQUAL(read_file(w().dir / "vol-spy" / "spy/two.txt"), "22");

  // The run's statuses, oldest first, from started to success.
  auto runs = ed.get(ws + "/spy/@runs?limit=1");
  BOOST_REQUIRE_EQUAL(runs.status, 200);
  auto rd = parse_json(runs.body);
  BOOST_REQUIRE_EQUAL(rd->doc["runs"].Size(), 1u);
  auto& r = rd->doc["runs"][0];
  BOOST_CHECK_EQUAL(r["number"].GetUint64(), run);
  BOOST_CHECK_EQUAL(r["trigger"].GetString(), std::string{"manual"});
  auto& h = r["history"];
  BOOST_REQUIRE_GE(h.Size(), 2u);
  BOOST_CHECK_EQUAL(h[0]["status"].GetString(), std::string{"started"});
  BOOST_CHECK_EQUAL(h[h.Size() - 1]["status"].GetString(), std::string{"success"});
  BOOST_CHECK_EQUAL(r["counters"]["added"].GetUint64(), 1u);

  // Pause and resume by their verbs, and health by PATCH.
  auto p = ed.post(ws + "/spy/@pause", "");
  BOOST_CHECK_EQUAL(member(p.body, "status"), "paused");
  BOOST_CHECK_EQUAL(member(ed.get(ws + "/spy").body, "status"), "paused");  // read at once
  BOOST_CHECK_EQUAL(ed.post(ws + "/spy/@pause", "").status, 200);  // already paused
  BOOST_CHECK_EQUAL(ed.post(ws + "/spy/@resume", "").status, 200);
  BOOST_CHECK_EQUAL(ed.call("PATCH", ws + "/spy", R"({"health":"disabled"})").status, 200);
  BOOST_CHECK_EQUAL(ed.get(ws + "/spy/@sendToSpyder").status, 409);
  BOOST_CHECK_EQUAL(ed.call("PATCH", ws + "/spy", R"({"health":"pending"})").status, 200);
  BOOST_CHECK_EQUAL(ed.get(ws + "/spy/@sendToSpyder").status, 202);
}

BOOST_AUTO_TEST_CASE(get_all_children_pages_each_child_once_while_items_change) {
  temp_dir src{"dsapi-page"};
  for (int i = 0; i < 60; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "f%03d.txt", i);
    write_file(src / name, std::to_string(i));
  }
  auto ed = as(w().editor);
  BOOST_REQUIRE_EQUAL(ed.post(ws, folder_body("page", src.path(), "vol-page", "auto")).status, 201);
  BOOST_REQUIRE(eventually([] { return run_succeeded("page", 1); }));

  auto plain = all_children("page", 7);
  BOOST_CHECK_EQUAL(plain.size(), 60u);
  BOOST_CHECK(std::is_sorted(plain.begin(), plain.end()));

  // Between pages: items are added before and after the cursor, and items after it are
  // removed; a run makes the datastore see it each time.
  std::set<std::string> removed, added_after;
  uint64_t next_run = 2;
  auto changes = [&](int page) {
    char name[32];
    std::snprintf(name, sizeof name, "f%03d.txt", 59 - page);  // far ahead of the cursor
    fs::remove(src / name);
    removed.insert(name);
    std::snprintf(name, sizeof name, "a%03d.txt", page);  // before every cursor
    write_file(src / name, "x");
    std::snprintf(name, sizeof name, "z%03d.txt", page);  // after every cursor
    write_file(src / name, "z");
    added_after.insert(name);
    auto sent = ed.post(ws + "/page/@sendToSpyder", "");
    BOOST_REQUIRE_EQUAL(sent.status, 202);
    auto run = parse_json(sent.body)->doc["run"].GetUint64();
    next_run = run + 1;
    BOOST_REQUIRE(eventually([&] { return run_succeeded("page", run); }));
  };
  auto seen = all_children("page", 7, [&](int page) {
    if (page < 4) changes(page);
  });
  (void)next_run;
  std::map<std::string, int> times;
  for (auto& s : seen) ++times[s];
  for (auto& [ref, n] : times) BOOST_CHECK_MESSAGE(n == 1, ref << " seen " << n << " times");
  // Every item present from start to end appears exactly once.
  for (auto& ref : plain)
    if (removed.count(ref) == 0) BOOST_CHECK_MESSAGE(times[ref] == 1, ref << " missing");
  // Removed before the cursor reached them: never listed. Added after the cursor: listed.
  for (auto& ref : removed) BOOST_CHECK_MESSAGE(times.count(ref) == 0, ref << " was removed");
  for (auto& ref : added_after) BOOST_CHECK_MESSAGE(times[ref] == 1, ref << " missing");

  // The same through the query string; a page size beyond the bound is capped.
  auto q = as(w().user).get(ws + "/page/@getAllChildren?page_size=5000");
  BOOST_REQUIRE_EQUAL(q.status, 200);
  auto qd = parse_json(q.body);
  BOOST_CHECK(qd->doc["cursor"].IsNull());
  BOOST_CHECK_GE(qd->doc["items"].Size(), 60u);
  auto small = as(w().user).get(ws + "/page/@getAllChildren?page_size=2&scroll=f000.txt");
  auto sd = parse_json(small.body);
  BOOST_REQUIRE_EQUAL(sd->doc["items"].Size(), 2u);
  BOOST_CHECK_EQUAL(sd->doc["items"][0]["_id"].GetString(), std::string{"f001.txt"});
  BOOST_CHECK_EQUAL(sd->doc["cursor"].GetString(), std::string{"f002.txt"});

  // @frontsearch: text and MongoDB queries over the children.
  auto fs1 = as(w().user).post(ws + "/page/@frontsearch", R"({"query":"name:/^f00[0-4]/"})");
  BOOST_REQUIRE_MESSAGE(fs1.status == 200, fs1.body);
  BOOST_CHECK_EQUAL(parse_json(fs1.body)->doc["items"].Size(), 5u);
  auto fs2 = as(w().user).post(ws + "/page/@frontsearch",
                               R"({"query":{"name":{"$regex":"^z"},"type":"file"},"page_size":2})");
  BOOST_REQUIRE_EQUAL(fs2.status, 200);
  auto f2 = parse_json(fs2.body);
  BOOST_CHECK_EQUAL(f2->doc["items"].Size(), 2u);
  BOOST_CHECK(f2->doc["cursor"].IsString());
  auto fs3 = as(w().user).get(ws + "/page/@frontsearch?q=name:a000.txt");
  BOOST_CHECK_EQUAL(parse_json(fs3.body)->doc["items"].Size(), 1u);
  BOOST_CHECK_EQUAL(as(w().user).post(ws + "/page/@frontsearch", R"({"query":"nokey"})").status, 400);
  BOOST_CHECK_EQUAL(as(w().user).post(ws + "/page/@frontsearch", "{}").status, 400);
}

// Each datasource writes into its own target of a volume: overlapping targets are refused
// naming the other datasource; a target moved by PATCH is filled afresh, the old copies stay.
BOOST_AUTO_TEST_CASE(targets_are_refused_when_they_overlap_and_move_on_patch) {
  temp_dir src{"dsapi-target"};
  write_file(src / "x.txt", "x");
  auto ed = as(w().editor);
  auto made = ed.post(ws, folder_body("tgt-a", src.path(), "vol-misc", "auto", R"(,"target":"team")"));
  BOOST_REQUIRE_MESSAGE(made.status == 201, made.body);
  BOOST_CHECK_EQUAL(member(made.body, "target"), "team");
  BOOST_REQUIRE(eventually([] { return run_succeeded("tgt-a", 1); }));
  BOOST_CHECK_EQUAL(read_file(w().dir / "vol-misc" / "team/x.txt"), "x");
  for (auto target : {"team/inner", "team", ""}) {
    auto other = ed.post(ws, folder_body("tgt-b", src.path(), "vol-misc", "auto",
                                         std::string{R"(,"target":")"} + target + "\""));
    BOOST_CHECK_EQUAL(other.status, 400);
    BOOST_CHECK_MESSAGE(member(other.body, "message").find("'tgt-a'") != std::string::npos,
                        other.body);
  }
  BOOST_CHECK_EQUAL(ed.get(ws + "/tgt-b").status, 404);
  auto escape = ed.post(ws, folder_body("tgt-b", src.path(), "vol-misc", "auto",
                                        R"(,"target":"../out")"));
  BOOST_CHECK_EQUAL(escape.status, 400);
  auto moved = ed.call("PATCH", ws + "/tgt-a", R"({"target":"moved"})");
  BOOST_REQUIRE_MESSAGE(moved.status == 200, moved.body);
  auto d = parse_json(ed.get(ws + "/tgt-a").body);
  BOOST_CHECK_EQUAL(d->doc["targets"]["vol-misc"].GetString(), std::string{"moved"});
  BOOST_REQUIRE_EQUAL(ed.post(ws + "/tgt-a/@sendToSpyder", "").status, 202);
  BOOST_REQUIRE(eventually([] { return run_succeeded("tgt-a", 2); }));
  BOOST_CHECK_EQUAL(read_file(w().dir / "vol-misc" / "moved/x.txt"), "x");
  BOOST_CHECK_EQUAL(read_file(w().dir / "vol-misc" / "team/x.txt"), "x");
  // The old target is free again.
  auto b = ed.post(ws, folder_body("tgt-b", src.path(), "vol-misc", "auto", R"(,"target":"team/b")"));
  BOOST_CHECK_EQUAL(b.status, 201);
  BOOST_CHECK_EQUAL(ed.del(ws + "/tgt-b", "").status, 200);
  BOOST_CHECK_EQUAL(ed.del(ws + "/tgt-a", "").status, 200);
}

// The deletion guard through the API: a PATCH to an empty folder removes nothing; the view
// shows the held count; a person confirms it with @sendToSpyder {"confirm_deletes": N}.
BOOST_AUTO_TEST_CASE(a_patch_to_an_empty_folder_holds_removals_until_confirmed) {
  temp_dir src{"dsapi-guard"};
  temp_dir empty{"dsapi-guard-empty"};
  write_file(src / "one.txt", "1");
  write_file(src / "two.txt", "2");
  write_file(src / "three.txt", "3");
  auto ed = as(w().editor);
  BOOST_REQUIRE_EQUAL(ed.post(ws, folder_body("guard", src.path(), "vol-misc", "auto")).status, 201);
  BOOST_REQUIRE(eventually([] { return run_succeeded("guard", 1); }));
  auto patched = ed.call("PATCH", ws + "/guard", R"({"path":")" + empty.path().string() + "\"}");
  BOOST_REQUIRE_MESSAGE(patched.status == 200, patched.body);
  BOOST_REQUIRE_EQUAL(ed.post(ws + "/guard/@sendToSpyder", "").status, 202);
  BOOST_REQUIRE(eventually([] { return run_status("guard", 2) == "failed"; }));
  auto view = parse_json(ed.get(ws + "/guard").body);
  BOOST_CHECK_EQUAL(view->doc["held_removals"].GetUint64(), 3u);
  BOOST_CHECK_EQUAL(view->doc["status"].GetString(), std::string{"error"});
  std::string why = view->doc["last_error"].GetString();
  BOOST_CHECK_MESSAGE(why.find("3 removal(s) held back") != std::string::npos, why);
  for (auto name : {"one.txt", "two.txt", "three.txt"})
    BOOST_CHECK(fs::exists(w().dir / "vol-misc" / "guard" / name));
  auto fewer = ed.post(ws + "/guard/@sendToSpyder", R"({"confirm_deletes":2})");
  BOOST_CHECK_EQUAL(fewer.status, 409);
  BOOST_CHECK_EQUAL(ed.post(ws + "/guard/@sendToSpyder", R"({"confirm_deletes":"x"})").status, 400);
  BOOST_CHECK_EQUAL(ed.post(ws + "/guard/@sendToSpyder", R"({"confirm":3})").status, 400);
  auto confirmed = ed.post(ws + "/guard/@sendToSpyder", R"({"confirm_deletes":3})");
  BOOST_REQUIRE_MESSAGE(confirmed.status == 202, confirmed.body);
  BOOST_REQUIRE(eventually([] { return run_succeeded("guard", 3); }));
  for (auto name : {"one.txt", "two.txt", "three.txt"})
    BOOST_CHECK(!fs::exists(w().dir / "vol-misc" / "guard" / name));
  BOOST_CHECK_EQUAL(parse_json(ed.get(ws + "/guard").body)->doc["held_removals"].GetUint64(), 0u);
  BOOST_CHECK_EQUAL(ed.del(ws + "/guard", "").status, 200);
}

BOOST_AUTO_TEST_CASE(send_to_compute_pushes_one_item_again) {
  temp_dir src{"dsapi-compute"};
  write_file(src / "docs/report.txt", "report");
  write_file(src / "other.txt", "other");
  auto ed = as(w().editor);
  BOOST_REQUIRE_EQUAL(ed.post(ws, folder_body("compute", src.path(), "vol-compute")).status, 201);
  BOOST_REQUIRE(eventually([] { return run_succeeded("compute", 1); }));
  auto copy = w().dir / "vol-compute" / "compute/docs/report.txt";
  BOOST_REQUIRE_EQUAL(read_file(copy), "report");
  fs::remove(copy);
  auto r = ed.get(ws + "/compute/docs/report.txt/@sendToCompute?force=True");
  BOOST_REQUIRE_MESSAGE(r.status == 202, r.body);
  BOOST_CHECK_EQUAL(member(r.body, "resource"), "docs/report.txt");
  BOOST_REQUIRE(eventually([&] { return fs::exists(copy); }));
  BOOST_CHECK_EQUAL(read_file(copy), "report");
  // Percent-encoded slashes name the same resource.
  BOOST_CHECK_EQUAL(ed.get(ws + "/compute/docs%2Freport.txt/@sendToCompute").status, 202);
  auto missing = ed.get(ws + "/compute/docs/nothing.txt/@sendToCompute");
  BOOST_CHECK_EQUAL(missing.status, 404);
  BOOST_CHECK(is_error_shape(missing.body));
  BOOST_CHECK_EQUAL(ed.get(ws + "/compute/docs/../other.txt/@sendToCompute").status, 400);
  BOOST_CHECK_EQUAL(ed.get(ws + "/compute/docs/%00x/@sendToCompute").status, 400);
  BOOST_CHECK_EQUAL(ed.get(ws + "/nothing/x/@sendToCompute").status, 404);
  BOOST_CHECK_EQUAL(as(w().user).get(ws + "/compute/other.txt/@sendToCompute").status, 403);
}

BOOST_AUTO_TEST_CASE(credentials_are_encrypted_at_rest_and_never_returned) {
  temp_dir src{"dsapi-cred"};
  auto ed = as(w().editor);
  BOOST_REQUIRE_EQUAL(
      ed.post(ws, folder_body("cred", src.path(), "vol-misc", "one", R"(,"status":"paused")")).status,
      201);
  const std::string secret = "s3cr3t-VALUE-7f1e2d";
  const std::string bearer = "tok-abc-9d8c7b";
  auto r = ed.post(ws + "/cred/@refreshServiceCredentials?force=True",
                   R"({"X-Auth-Secret":")" + secret + R"(","Authorization":"Bearer )" + bearer + "\"}");
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
  BOOST_CHECK(r.body.find(secret) == std::string::npos);
  BOOST_CHECK(r.body.find("X-Auth-Secret") != std::string::npos);
  for (auto* target : {"/cred", "", "/cred/@runs", "/cred/@getAllChildren"}) {
    auto got = ed.get(ws + target);
    BOOST_CHECK_EQUAL(got.status, 200);
    BOOST_CHECK(got.body.find(secret) == std::string::npos);
    BOOST_CHECK(got.body.find(bearer) == std::string::npos);
  }
  BOOST_CHECK(parse_json(ed.get(ws + "/cred").body)->doc["credentials"]["stored"].GetBool());
  // Refresh again (a second write), then look through every file of the data directory.
  BOOST_CHECK_EQUAL(ed.post(ws + "/cred/@refreshServiceCredentials",
                            R"({"X-Auth-Secret":")" + secret + "\"}")
                        .status,
                    200);
  auto data = w().dir / "data";
  BOOST_CHECK(!any_file_contains(data, secret));
  BOOST_CHECK(!any_file_contains(data, bearer));
  struct stat st {};
  BOOST_REQUIRE_EQUAL(::stat((data / "credentials.key").c_str(), &st), 0);
  BOOST_CHECK_EQUAL(st.st_mode & 0777, 0600u);
  // Refused: lower classes, and bodies that hold no credentials.
  BOOST_CHECK_EQUAL(as(w().user).post(ws + "/cred/@refreshServiceCredentials", R"({"a":"b"})").status, 403);
  BOOST_CHECK_EQUAL(ed.post(ws + "/cred/@refreshServiceCredentials", "{}").status, 400);
  BOOST_CHECK_EQUAL(ed.post(ws + "/cred/@refreshServiceCredentials", "[1]").status, 400);
  BOOST_CHECK_EQUAL(ed.get(ws + "/cred/@refreshServiceCredentials").status, 405);
  // Deleting the datasource deletes its credentials.
  BOOST_CHECK_EQUAL(ed.del(ws + "/cred", "").status, 200);
}

BOOST_AUTO_TEST_CASE(sharing_shows_invited_until_accepted) {
  temp_dir src{"dsapi-share"};
  auto ed = as(w().editor);
  BOOST_REQUIRE_EQUAL(
      ed.post(ws, folder_body("shared", src.path(), "vol-misc", "one", R"(,"status":"paused")")).status,
      201);
  auto gina = as(w().guest);
  BOOST_CHECK_EQUAL(gina.get(ws + "/shared").status, 403);
  BOOST_CHECK(gina.get(ws).body.find("\"shared\"") == std::string::npos);
  BOOST_CHECK(gina.get("/api/datasources").body.find("\"shared\"") == std::string::npos);
  // Only the owner (or an admin) shares.
  BOOST_CHECK_EQUAL(as(w().editor2).post(ws + "/shared/@share", R"({"user":"gina"})").status, 403);
  BOOST_CHECK_EQUAL(as(w().user).post(ws + "/shared/@share", R"({"user":"gina"})").status, 403);
  BOOST_CHECK_EQUAL(ed.post(ws + "/shared/@share", R"({"user":"nobody"})").status, 400);
  BOOST_CHECK_EQUAL(ed.post(ws + "/shared/@share", R"({"user":"ed"})").status, 400);
  BOOST_CHECK_EQUAL(ed.post(ws + "/shared/@share", R"({})").status, 400);
  auto shared = ed.post(ws + "/shared/@share", R"({"user":"gina"})");
  BOOST_REQUIRE_MESSAGE(shared.status == 200, shared.body);
  BOOST_CHECK_EQUAL(member(shared.body, "invitation"), "invited");

  auto seen = gina.get(ws + "/shared");
  BOOST_REQUIRE_EQUAL(seen.status, 200);
  BOOST_CHECK_EQUAL(member(seen.body, "status"), "invited");
  BOOST_CHECK(!has_member(seen.body, "shared_with"));
  BOOST_CHECK(gina.get(ws).body.find("\"status\":\"invited\"") != std::string::npos);
  BOOST_CHECK(gina.get("/api/datasources").body.find("\"id\":\"shared\"") != std::string::npos);
  BOOST_CHECK_EQUAL(member(ed.get(ws + "/shared").body, "status"), "paused");
  BOOST_CHECK(ed.get(ws + "/shared").body.find("\"gina\":\"invited\"") != std::string::npos);
  // A guest may read, not write.
  BOOST_CHECK_EQUAL(gina.call("PATCH", ws + "/shared", R"({"sync_priority":1})").status, 403);
  BOOST_CHECK_EQUAL(as(w().user).post(ws + "/shared/@accept", "").status, 409);

  auto accepted = gina.post(ws + "/shared/@accept", "");
  BOOST_REQUIRE_MESSAGE(accepted.status == 200, accepted.body);
  BOOST_CHECK_EQUAL(member(accepted.body, "status"), "paused");
  BOOST_CHECK_EQUAL(member(gina.get(ws + "/shared").body, "status"), "paused");
  BOOST_CHECK_EQUAL(member(gina.get(ws + "/shared").body, "invitation"), "accepted");
  BOOST_CHECK_EQUAL(gina.post(ws + "/shared/@accept", "").status, 200);
  BOOST_CHECK(ed.get(ws + "/shared").body.find("\"gina\":\"accepted\"") != std::string::npos);
  // An admin may share too.
  BOOST_CHECK_EQUAL(as(w().admin).post(ws + "/shared/@share", R"({"user":"@ursula"})").status, 200);
  BOOST_CHECK_EQUAL(member(as(w().user).get(ws + "/shared").body, "status"), "invited");
  BOOST_CHECK_EQUAL(ed.del(ws + "/shared", "").status, 200);
}

BOOST_AUTO_TEST_CASE(class_matrix) {
  temp_dir src{"dsapi-matrix"};
  write_file(src / "m.txt", "m");
  BOOST_REQUIRE_EQUAL(
      as(w().editor).post(ws, folder_body("matrix", src.path(), "vol-misc", "one")).status, 201);
  BOOST_REQUIRE(eventually([] { return run_succeeded("matrix", 1); }));
  struct route {
    const char* method;
    std::string target;
    std::string body;
    int guest, user, editor, admin;  // expected statuses
  };
  auto ds = ws + "/matrix";
  std::vector<route> routes = {
      {"GET", ws, "", 200, 200, 200, 200},
      {"GET", ds, "", 403, 200, 200, 200},
      {"GET", ds + "/@runs", "", 403, 200, 200, 200},
      {"POST", ds + "/@getAllChildren", "{}", 403, 200, 200, 200},
      {"POST", ds + "/@frontsearch", R"({"query":"name:m.txt"})", 403, 200, 200, 200},
      {"PATCH", ds, R"({"sync_priority":2})", 403, 403, 200, 200},
      {"POST", ds + "/@sendToSpyder", "", 403, 403, 202, 202},
      {"GET", ds + "/m.txt/@sendToCompute", "", 403, 403, 202, 202},
      {"POST", ds + "/@refreshServiceCredentials", R"({"k":"v"})", 403, 403, 200, 200},
      {"POST", ds + "/@pause", "", 403, 403, 200, 200},
      // The editor's resume finds it paused; the admin's finds it running, which the status
      // table refuses (resuming comes only from paused).
      {"POST", ds + "/@resume", "", 403, 403, 200, 409},
      {"POST", ds + "/@share", R"({"user":"gina"})", 403, 403, 403, 200},
  };
  std::vector<std::pair<std::string, int route::*>> classes = {
      {w().guest, &route::guest}, {w().user, &route::user}, {w().editor2, &route::editor},
      {w().admin, &route::admin}};
  for (auto& r : routes) {
    auto anon = fetch(w().port, r.method, r.target, r.body);
    BOOST_CHECK_MESSAGE(anon.status == 401, r.method << " " << r.target << " anonymous -> " << anon.status);
    BOOST_CHECK(is_error_shape(anon.body));
    for (auto& [token, field] : classes) {
      auto got = as(token).call(r.method, r.target, r.body);
      BOOST_CHECK_MESSAGE(got.status == r.*field, r.method << " " << r.target << " -> " << got.status
                                                            << " expected " << r.*field << ": " << got.body);
      if (got.status >= 400) BOOST_CHECK(is_error_shape(got.body));
    }
  }
  // Create and delete.
  int i = 0;
  for (auto& [token, field] : classes) {
    bool may = field == &route::editor || field == &route::admin;
    auto id = "matrix-new" + std::to_string(i++);
    auto made = as(token).post(ws, folder_body(id, src.path(), "vol-misc", "one", R"(,"status":"paused")"));
    BOOST_CHECK_EQUAL(made.status, may ? 201 : 403);
    if (made.status != 201) continue;
    BOOST_CHECK_EQUAL(as(w().user).del(ws + "/" + id, "").status, 403);
    BOOST_CHECK_EQUAL(as(token).del(ws + "/" + id, "").status, 200);
  }
  BOOST_CHECK_EQUAL(fetch(w().port, "DELETE", ds).status, 401);
  BOOST_CHECK_EQUAL(as(w().guest).del(ds, "").status, 403);
  BOOST_CHECK_EQUAL(as(w().admin).del(ds, "").status, 200);
}

// A folder that does not exist (yet) is no configuration error: the datasource is made, and its
// run says what is wrong; once the folder appears, the next run copies it.
BOOST_AUTO_TEST_CASE(a_missing_folder_is_reported_by_its_run_not_refused) {
  temp_dir root{"dsapi-missing"};
  auto missing = root.path() / "later";
  auto ed = as(w().editor);
  auto made = ed.post(ws, folder_body("missing", missing, "vol-misc", "one"));
  BOOST_REQUIRE_MESSAGE(made.status == 201, made.body);
  // Until the run is over (a run is started, querying, ... before it fails or succeeds; waiting
  // for anything else read the view before the failure was recorded, now and then).
  BOOST_REQUIRE(eventually([] {
    auto s = run_status("missing", 1);
    return s == "failed" || s == "success";
  }));
  BOOST_CHECK_EQUAL(run_status("missing", 1), "failed");
  auto view = parse_json(ed.get(ws + "/missing").body);
  std::string why = view->doc["last_error"].GetString();
  BOOST_CHECK_MESSAGE(why.find(missing.string()) != std::string::npos, why);
  write_file(missing / "now.txt", "here");
  BOOST_REQUIRE_EQUAL(ed.post(ws + "/missing/@sendToSpyder", "").status, 202);
  BOOST_REQUIRE(eventually([] { return run_succeeded("missing", 2); }));
  BOOST_CHECK_EQUAL(read_file(w().dir / "vol-misc" / "missing" / "now.txt"), "here");
  BOOST_CHECK_EQUAL(ed.del(ws + "/missing", "").status, 200);
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused_and_changes_nothing) {
  temp_dir src{"dsapi-bad"};
  auto ed = as(w().editor);
  auto count = [&] { return parse_json(as(w().admin).get(ws).body)->doc["count"].GetUint64(); };
  auto before = count();
  auto expect = [&](int status, const char* method, const std::string& target,
                    const std::string& body, const std::string& says = {}) {
    auto r = ed.call(method, target, body);
    BOOST_CHECK_MESSAGE(r.status == status, method << " " << target << " " << body << " -> "
                                                   << r.status << " " << r.body);
    BOOST_CHECK_MESSAGE(is_error_shape(r.body), r.body);
    if (!says.empty())
      BOOST_CHECK_MESSAGE(member(r.body, "message").find(says) != std::string::npos, r.body);
  };
  auto good = [&](const std::string& extra) {
    return R"({"id":"bad","type":"folder","path":")" + src.path().string() +
           R"(","volumes":["vol-misc"])" + extra + "}";
  };
  expect(400, "POST", ws, "{", "JSON");
  expect(400, "POST", ws, R"({"id":"bad")", "JSON");
  expect(400, "POST", ws, "[]", "object");
  expect(400, "POST", ws, "\"x\"", "object");
  expect(400, "POST", ws, R"({"id":"bad","type":"folder","path":"\u0000"})");
  expect(400, "POST", ws, good(R"(,"colour":"red")"), "colour");
  expect(400, "POST", ws, good(R"(,"sync_type":"sometimes")"), "sync_type");
  expect(400, "POST", ws, good(R"(,"sync_priority":"high")"), "sync_priority");
  expect(400, "POST", ws, good(R"(,"include":"*.txt")"), "include");
  expect(400, "POST", ws, good(R"(,"include":["[a-"])"), "include");
  expect(400, "POST", ws, good(R"(,"schedule":{"min_s":100,"max_s":10})"), "min_s");
  expect(400, "POST", ws, good(R"(,"status":"synced")"), "paused");
  expect(400, "POST", ws, R"({"id":"bad","type":"folder","path":")" + src.path().string() + R"("})", "volumes");
  expect(400, "POST", ws, R"({"id":"bad","type":"folder","volumes":["vol-misc"]})", "path");
  expect(400, "POST", ws, R"({"id":"bad","path":")" + src.path().string() + R"(","volumes":["vol-misc"]})", "type");
  expect(400, "POST", ws, R"({"id":"bad","type":"tape","path":"/x","volumes":["vol-misc"]})", "type");
  expect(400, "POST", ws, R"({"type":"folder","path":")" + src.path().string() + R"(","volumes":["vol-misc"]})", "id");
  expect(400, "POST", ws, R"({"id":"bad","type":"folder","path":"relative/dir","volumes":["vol-misc"]})", "absolute");
  // A folder outside [datasources] allowed_roots: 403 naming the setting.
  expect(403, "POST", ws, R"({"id":"bad","type":"folder","path":"/etc","volumes":["vol-misc"]})", "allowed_roots");
  expect(400, "POST", ws, R"({"id":"bad","type":"folder","path":"/tmp/../etc","volumes":["vol-misc"]})", "..");
  expect(400, "POST", ws, good("").substr(0, good("").size() - 1) + R"(,"volumes":["no-such-volume"]})", "no-such-volume");
  expect(400, "POST", ws, R"({"id":"../x","type":"folder","path":"/tmp","volumes":["vol-misc"]})", "datasource id");
  expect(400, "POST", ws, good(R"(,"workspace":"elsewhere")"), "workspace");
  expect(400, "PUT", ws + "/other", good(""), "differs");
  // Paths: `..`, NUL, control bytes, unknown verbs and methods.
  expect(400, "GET", "/api/acme/main/workspaces/../x", "");
  expect(400, "GET", "/api/acme/../workspaces/ws1", "");
  expect(400, "GET", ws + "/..", "");
  expect(400, "GET", ws + "/nothing/../@runs", "", "'..'");
  expect(400, "GET", ws + "/nothing/./x/@sendToCompute", "", "'.'");
  expect(400, "GET", ws + "/nothing/x%00/@sendToCompute", "", "NUL");
  expect(400, "GET", ws + "/a%00b", "");
  expect(400, "GET", "/api/acme/ma%00in/workspaces/ws1", "");
  expect(400, "GET", "/api/acme/main/workspaces/%ff", "", "UTF-8");
  expect(404, "GET", ws + "/nothing", "");
  expect(404, "GET", ws + "/nothing/@runs", "");
  expect(404, "POST", ws + "/nothing/@sendToSpyder", "");
  expect(404, "PATCH", ws + "/nothing", R"({"sync_priority":1})");
  expect(404, "DELETE", ws + "/nothing", "");
  expect(404, "GET", ws + "/nothing/@noSuchVerb", "");
  expect(404, "GET", ws + "/nothing/extra", "");
  expect(405, "DELETE", ws, "");
  expect(405, "POST", ws + "/nothing", "");
  expect(405, "DELETE", ws + "/nothing/@runs", "");
  BOOST_CHECK_EQUAL(ed.call("DELETE", ws, "").header("allow"), "GET, POST");

  // Changes of an existing datasource that are refused leave it as it was.
  BOOST_REQUIRE_EQUAL(ed.post(ws, good(R"(,"status":"paused","sync_priority":4)")).status, 201);
  auto as_was = ed.get(ws + "/bad").body;
  expect(400, "PATCH", ws + "/bad", "{}", "nothing");
  expect(400, "PATCH", ws + "/bad", R"({"sync_priority":5,"colour":"red"})", "colour");
  expect(400, "PATCH", ws + "/bad", R"({"sync_priority":5,"status":"paused"})", "separate");
  expect(400, "PATCH", ws + "/bad", R"({"workspace":"ws2"})", "cannot be changed");
  expect(400, "PATCH", ws + "/bad", R"({"status":"asleep"})", "status");
  expect(400, "PATCH", ws + "/bad", R"({"volumes":[]})", "volumes");
  expect(400, "PATCH", ws + "/bad", R"({"volumes":["no-such-volume"]})", "no-such-volume");
  expect(409, "PATCH", ws + "/bad", R"({"status":"synced"})", "cannot move from paused to synced");
  expect(409, "PATCH", ws + "/bad", R"({"status":"syncing"})", "cannot move from paused to syncing");
  expect(400, "POST", ws + "/bad/@getAllChildren", R"({"page_size":0})", "page_size");
  expect(400, "POST", ws + "/bad/@getAllChildren", R"({"page_size":"many"})", "page_size");
  expect(400, "GET", ws + "/bad/@getAllChildren?page_size=-1", "", "page_size");
  expect(400, "POST", ws + "/bad/@getAllChildren", R"({"scroll":5})", "scroll");
  expect(400, "GET", ws + "/bad/@runs?limit=x", "", "limit");
  expect(400, "GET", ws + "/bad/@sendToCompute", "");
  auto now = ed.get(ws + "/bad").body;
  BOOST_CHECK_EQUAL(parse_json(now)->doc["sync_priority"].GetInt(), 4);
  BOOST_CHECK_EQUAL(member(now, "status"), "paused");
  BOOST_CHECK_EQUAL(ed.del(ws + "/bad", "").status, 200);
  BOOST_CHECK_EQUAL(count(), before);

  // The tracker's routes are not taken for containers.
  auto read = ed.get("/api/read/acme/main/workspaces/ws1");
  BOOST_CHECK(read.body.find("datasource") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(datasources_made_through_the_api_survive_a_restart) {
  temp_dir dir{"dsapi-restart"};
  temp_dir src{"dsapi-restart-src"};
  write_file(src / "kept.txt", "kept");
  auto cfg = node_config(dir);
  const std::string target = "/api/c1/a1/workspaces/w1/lasting";
  {
    auto n = syncline::runtime::node::start(cfg);
    BOOST_REQUIRE_MESSAGE(n, (n ? std::string{"ok"} : syncline::storage::render(n.error())));
    api_client c{(*n)->http_address().port};
    c.set_token(c.sign_in("root", "root-secret-1"));
    auto made = c.put(target, R"({"type":"folder","path":")" + src.path().string() +
                                  R"(","volumes":["vol-misc"],"sync_type":"arch"})");
    BOOST_REQUIRE_MESSAGE(made.status == 201, made.body);
    BOOST_REQUIRE_EQUAL(c.post(target + "/@refreshServiceCredentials", R"({"token":"t-1"})").status, 200);
    BOOST_REQUIRE(eventually([&] {
      auto runs = c.get(target + "/@runs");
      return runs.body.find("\"status\":\"success\"") != std::string::npos;
    }));
    (*n)->stop();
  }
  // Started again without allowed roots: the datasource made before keeps running (the node
  // warns), but no folder datasource can be made or moved through the API.
  cfg.datasources_settings.allowed_roots.clear();
  auto n = syncline::runtime::node::start(cfg);
  BOOST_REQUIRE_MESSAGE(n, (n ? std::string{"ok"} : syncline::storage::render(n.error())));
  api_client c{(*n)->http_address().port};
  c.set_token(c.sign_in("root", "root-secret-1"));
  auto refused = c.put("/api/c1/a1/workspaces/w1/another",
                       R"({"type":"folder","path":")" + src.path().string() +
                           R"(","volumes":["vol-misc"]})");
  BOOST_CHECK_EQUAL(refused.status, 403);
  BOOST_CHECK_MESSAGE(member(refused.body, "message").find("allowed_roots") != std::string::npos,
                      refused.body);
  auto moved = c.call("PATCH", target, R"({"path":"/etc"})");
  BOOST_CHECK_EQUAL(moved.status, 403);
  BOOST_CHECK_EQUAL(c.call("PATCH", target, R"({"sync_priority":2})").status, 200);
  auto got = c.get(target);
  BOOST_REQUIRE_EQUAL(got.status, 200);
  BOOST_CHECK_EQUAL(member(got.body, "owner"), "root");
  BOOST_CHECK_EQUAL(member(got.body, "sync_type"), "arch");
  BOOST_CHECK(parse_json(got.body)->doc["credentials"]["stored"].GetBool());
  // Its actor runs again, numbering on from before the restart (a watched folder is also walked
  // at start and after the change of its configuration: run 2 or later).
  write_file(src / "new.txt", "new");
  auto sent = c.post(target + "/@sendToSpyder", "");
  BOOST_REQUIRE_MESSAGE(sent.status == 202, sent.body);
  auto run = parse_json(sent.body)->doc["run"].GetUint64();
  BOOST_CHECK_GE(run, 2u);
  BOOST_REQUIRE(eventually([&] { return fs::exists(dir / "vol-misc" / "lasting/new.txt"); }));
  (*n)->stop();
}
