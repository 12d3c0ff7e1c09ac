// The change feed over HTTP (`GET /api/changes`, docs/api.md "Change feed") on a real node:
// pages after a cursor, the long poll woken by a write, refusals of bad parameters, resets,
// and who may follow it; the per-site keys that sites write through /api/syncState.
#define BOOST_TEST_MODULE api_changes
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "tests/api/api_client.hpp"

using namespace syncline::test;

namespace {

struct feed {
  std::vector<std::string> ids;  // "-" appended when deleted
  uint64_t last_seq = 0;
  bool reset = false;
};

feed read_feed(const http_result& r) {
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.body);
  auto d = parse_json(r.body);
  BOOST_REQUIRE_MESSAGE(d->ok && d->doc.IsObject() && d->doc.HasMember("results") &&
                            d->doc["results"].IsArray() && d->doc["last_seq"].IsUint64(),
                        r.body);
  feed f;
  uint64_t previous = 0;
  for (auto& c : d->doc["results"].GetArray()) {
    BOOST_REQUIRE(c.IsObject() && c["seq"].IsUint64() && c["id"].IsString() && c["at"].IsInt64());
    BOOST_CHECK_GT(c["seq"].GetUint64(), previous);
    previous = c["seq"].GetUint64();
    bool deleted = c.HasMember("deleted") && c["deleted"].IsTrue();
    f.ids.push_back(std::string{c["id"].GetString()} + (deleted ? "-" : ""));
  }
  f.last_seq = d->doc["last_seq"].GetUint64();
  f.reset = d->doc.HasMember("reset") && d->doc["reset"].IsTrue();
  return f;
}

std::string at(uint64_t since, const std::string& more = {}) {
  return "/api/changes?since=" + std::to_string(since) + more;
}

struct fixture {
  api_node node;
  api_client root{node.port};
  fixture() {
    root.set_token(root.sign_in("root", node.admin_password));
    BOOST_REQUIRE(!root.token().empty());
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(writes_appear_after_the_cursor_in_order, fixture) {
  // The admin made at first start is an element too.
  auto start = read_feed(root.get("/api/changes"));
  BOOST_CHECK(!start.reset);
  BOOST_CHECK_EQUAL(start.ids.size(), 1u);
  BOOST_CHECK_EQUAL(start.ids.at(0), "@root");
  BOOST_REQUIRE_EQUAL(root.post("/api/create/", R"([{"_id":"/f/a"},{"_id":"/f/b"}])").status, 201);
  BOOST_REQUIRE_EQUAL(root.put("/api/update/", R"({"_id":"/f/a","k":1})").status, 200);
  BOOST_REQUIRE_EQUAL(root.del("/api/delete/", R"("/f/b")").status, 200);
  auto f = read_feed(root.get(at(start.last_seq)));
  BOOST_CHECK_EQUAL(f.ids.size(), 4u);
  BOOST_CHECK((f.ids == std::vector<std::string>{"/f/a", "/f/b", "/f/a", "/f/b-"}));
  // A page of two, then the rest from its last_seq.
  auto p1 = read_feed(root.get(at(start.last_seq, "&limit=2")));
  BOOST_CHECK((p1.ids == std::vector<std::string>{"/f/a", "/f/b"}));
  auto p2 = read_feed(root.get(at(p1.last_seq)));
  BOOST_CHECK((p2.ids == std::vector<std::string>{"/f/a", "/f/b-"}));
  BOOST_CHECK_EQUAL(p2.last_seq, f.last_seq);
  // Caught up: nothing, and the cursor stays.
  auto none = read_feed(root.get(at(f.last_seq)));
  BOOST_CHECK(none.ids.empty());
  BOOST_CHECK_EQUAL(none.last_seq, f.last_seq);
}

// A follower waiting with timeout_s gets the write made meanwhile, not an empty page after the
// timeout (60 s here: an answer without the write would mean the wake-up was lost).
BOOST_FIXTURE_TEST_CASE(a_long_poll_is_answered_by_the_next_write, fixture) {
  auto now = read_feed(root.get("/api/changes?limit=10000"));
  auto token = root.token();
  auto port = node.port;
  auto waiting = std::async(std::launch::async, [=] {
    api_client follower{port, token};
    return follower.get(at(now.last_seq, "&timeout_s=60"));
  });
  // The write comes once the follower waits (the tracker counts it), so the wake-up is tested.
  BOOST_REQUIRE(eventually([&] {
    return root.get("/api/actors").body.find(R"("feed_waiters":1)") != std::string::npos;
  }));
  BOOST_REQUIRE_EQUAL(root.post("/api/create/", R"({"_id":"/poll/x"})").status, 201);
  auto f = read_feed(waiting.get());
  BOOST_REQUIRE_EQUAL(f.ids.size(), 1u);
  BOOST_CHECK_EQUAL(f.ids[0], "/poll/x");
  // With nothing to read, a short wait ends with an empty page at the same cursor.
  auto quiet = read_feed(root.get(at(f.last_seq, "&timeout_s=1")));
  BOOST_CHECK(quiet.ids.empty());
  BOOST_CHECK_EQUAL(quiet.last_seq, f.last_seq);
  BOOST_CHECK(root.get("/api/actors").body.find(R"("feed_waiters":0)") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(bad_parameters_are_refused_naming_them, fixture) {
  for (auto [query, name] : std::vector<std::pair<std::string, std::string>>{
           {"since=-1", "since"},
           {"since=abc", "since"},
           {"since=99999999999999999999", "since"},
           {"limit=10001", "limit"},
           {"timeout_s=301", "timeout_s"},
           {"since=%zz", "query string"}}) {
    auto r = root.get("/api/changes?" + query);
    BOOST_CHECK_EQUAL(r.status, 400);
    BOOST_CHECK_MESSAGE(r.body.find(name) != std::string::npos, query << ": " << r.body);
  }
}

BOOST_FIXTURE_TEST_CASE(a_cursor_from_elsewhere_resets_and_strangers_are_refused, fixture) {
  auto f = read_feed(root.get(at(1000000)));
  BOOST_CHECK(f.reset);
  BOOST_CHECK(f.ids.empty());
  BOOST_CHECK_EQUAL(f.last_seq, read_feed(root.get("/api/changes")).last_seq);
  api_client stranger{node.port};
  BOOST_CHECK_EQUAL(stranger.get("/api/changes").status, 401);
  // A guest reads the feed as it may search.
  auto tokens = make_class_users(node.port, node.admin_password);
  api_client guest{node.port, tokens.guest};
  auto g = read_feed(guest.get("/api/changes"));
  BOOST_CHECK(!g.ids.empty());
}

// --- /api/syncState: the per-site keys sites write (docs/api.md "Sync state") ---------------

namespace {

int64_t int_member(const std::string& body, const char* key) {
  auto d = parse_json(body);
  if (!d->ok || !d->doc.IsObject() || !d->doc.HasMember(key) || !d->doc[key].IsInt64()) return -1;
  return d->doc[key].GetInt64();
}

}  // namespace

// Recording a copy must not make the element look newer than its copies: `time` and `author`
// stay, and the keys are set and removed as asked.
BOOST_FIXTURE_TEST_CASE(sync_state_keeps_time_and_author, fixture) {
  auto users = make_class_users(node.port, node.admin_password);
  api_client ed{node.port, users.editor};
  BOOST_REQUIRE_EQUAL(ed.post("/api/create/", R"({"_id":"/s/a","origin":"A"})").status, 201);
  auto before = ed.get("/api/read//s/a").body;
  auto time = int_member(before, "time");
  BOOST_REQUIRE_GT(time, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // a later write has a later time
  auto r = root.post("/api/syncState/", R"({"_id":"/s/a","synced_B":)" + std::to_string(time) +
                                            R"(,"syncing_B":12,"syncError_C":23})");
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.body);
  auto after = ed.get("/api/read//s/a").body;
  BOOST_CHECK_EQUAL(int_member(after, "time"), time);
  BOOST_CHECK_EQUAL(member(after, "author"), "ed");
  BOOST_CHECK_EQUAL(int_member(after, "synced_B"), time);
  BOOST_CHECK_EQUAL(int_member(after, "syncing_B"), 12);
  BOOST_CHECK_EQUAL(int_member(after, "syncError_C"), 23);
  // null removes a key; time and author given in the body are ignored.
  r = root.post("/api/syncState/", R"([{"_id":"/s/a","syncing_B":null}])");
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.body);
  after = ed.get("/api/read//s/a").body;
  BOOST_CHECK(!has_member(after, "syncing_B"));
  BOOST_CHECK_EQUAL(int_member(after, "time"), time);
  // An ordinary update moves time on (the contrast that makes the check above mean something).
  BOOST_REQUIRE_EQUAL(ed.put("/api/update/", R"({"_id":"/s/a","k":1})").status, 200);
  BOOST_CHECK_GT(int_member(ed.get("/api/read//s/a").body, "time"), time);
}

// A lock guards a file's content and description, not the record of where its copies are.
BOOST_FIXTURE_TEST_CASE(sync_state_passes_a_lock, fixture) {
  auto users = make_class_users(node.port, node.admin_password);
  api_client ed{node.port, users.editor};
  BOOST_REQUIRE_EQUAL(ed.post("/api/create/", R"({"_id":"/s/locked"})").status, 201);
  BOOST_REQUIRE_EQUAL(ed.put("/api/lock/", R"("/s/locked")").status, 200);
  BOOST_CHECK_EQUAL(root.put("/api/update/", R"({"_id":"/s/locked","k":1})").status, 409);
  auto r = root.put("/api/syncState/", R"({"_id":"/s/locked","synced_B":1})");
  BOOST_CHECK_MESSAGE(r.status == 200, r.status << " " << r.body);
  auto after = ed.get("/api/read//s/locked").body;
  BOOST_CHECK_EQUAL(int_member(after, "synced_B"), 1);
  BOOST_CHECK_EQUAL(member(after, "lock"), "ed");
}

BOOST_FIXTURE_TEST_CASE(sync_state_refuses_other_keys_values_ids_and_classes, fixture) {
  auto users = make_class_users(node.port, node.admin_password);
  BOOST_REQUIRE_EQUAL(root.post("/api/create/", R"({"_id":"/s/b"})").status, 201);
  auto before = root.get("/api/read//s/b").body;
  for (auto [body, what] : std::vector<std::pair<std::string, std::string>>{
           {R"({"_id":"/s/b","comment":"x"})", "comment"},
           {R"({"_id":"/s/b","lock":"root"})", "lock"},
           {R"({"_id":"/s/b","synced_":1})", "synced_"},
           {R"({"_id":"/s/b","synced_a b":1})", "synced_a b"},
           {R"({"_id":"/s/b","synced_B":"yes"})", "number"},
           {R"({"_id":"/s/b"})", "per-site key"},
           {R"({"_id":"@root","synced_B":1})", "user"}}) {
    auto r = root.post("/api/syncState/", body);
    BOOST_CHECK_MESSAGE(r.status == 400 && r.body.find(what) != std::string::npos,
                        body << ": " << r.status << " " << r.body);
  }
  BOOST_CHECK_EQUAL(root.get("/api/read//s/b").body, before);
  BOOST_CHECK_EQUAL(root.post("/api/syncState/", R"({"_id":"/s/none","synced_B":1})").status, 404);
  auto partial = root.post("/api/syncState/", R"([{"_id":"/s/b","synced_B":1},{"_id":"/s/none","synced_B":1}])");
  BOOST_CHECK_EQUAL(partial.status, 207);
  for (auto* token : {&users.user, &users.guest}) {
    api_client c{node.port, *token};
    BOOST_CHECK_EQUAL(c.post("/api/syncState/", R"({"_id":"/s/b","synced_B":2})").status, 403);
  }
  api_client ed{node.port, users.editor};
  BOOST_CHECK_EQUAL(ed.post("/api/syncState/", R"({"_id":"/s/b","synced_B":2})").status, 200);
}
