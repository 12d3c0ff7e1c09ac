// GET /api/events (docs/api.md) through a real node on loopback: a client reads the stream as a
// browser's EventSource would, sees a datasource's run go by as it happens (status changes, run
// transitions, actor starts, each numbered), resumes with Last-Event-ID without missing or
// repeating anything, is told to read the state again when it asks from a position the node never
// gave, and is refused without a token. And the pause routes of the node, a volume, a transfer.
#define BOOST_TEST_MODULE api_events
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "tests/api/api_client.hpp"
#include "tests/support/http_client.hpp"

using namespace syncline::test;
namespace fs = std::filesystem;

namespace {

const std::string ws = "/api/acme/main/workspaces/ws1";

struct sse_event {
  uint64_t id = 0;
  std::string type;
  std::string data;
};

// One event stream, read as it comes.
class event_reader {
 public:
  event_reader(uint16_t port, const std::string& token, const std::string& last_id = {})
      : conn_("127.0.0.1", port) {
    std::vector<std::pair<std::string, std::string>> h{{"Authorization", "Bearer " + token},
                                                       {"Accept", "text/event-stream"}};
    if (!last_id.empty()) h.emplace_back("Last-Event-ID", last_id);
    conn_.send_request("GET", "/api/events", {}, h);
    auto head = conn_.read_until("\r\n\r\n");
    BOOST_REQUIRE(head);
    head_ = *head;
  }
  const std::string& head() const { return head_; }

  // The next event (keep-alive comments skipped); nullopt when the stream ended.
  std::optional<sse_event> next() {
    for (;;) {
      auto block = conn_.read_until("\n\n");
      if (!block) return std::nullopt;
      sse_event e;
      size_t at = 0;
      while (at < block->size()) {
        auto end = block->find('\n', at);
        auto line = block->substr(at, end - at);
        at = end + 1;
        if (line.rfind("id: ", 0) == 0) e.id = std::stoull(line.substr(4));
        if (line.rfind("event: ", 0) == 0) e.type = line.substr(7);
        if (line.rfind("data: ", 0) == 0) e.data = line.substr(6);
      }
      if (!e.type.empty()) return e;
    }
  }

  // Events until `pred` holds for one (returned too); fails the test if the stream ends first.
  template <class Pred>
  std::vector<sse_event> until(Pred pred) {
    std::vector<sse_event> seen;
    for (;;) {
      auto e = next();
      BOOST_REQUIRE_MESSAGE(e, "the stream ended before the event looked for");
      seen.push_back(*e);
      if (pred(*e)) return seen;
    }
  }

 private:
  http_connection conn_;
  std::string head_;
};

// A node's configuration with volume `vol` and a folder `photos` of `files` files beside its data,
// from which the API may make datasources.
std::function<void(syncline::runtime::node_config&)> with_photos(fs::path& photos, int files) {
  return [&photos, files](syncline::runtime::node_config& cfg) {
    auto volume = cfg.node.data_dir.parent_path() / "vol";
    photos = cfg.node.data_dir.parent_path() / "photos";
    fs::create_directories(volume);
    fs::create_directories(photos);
    for (int i = 0; i < files; ++i) std::ofstream{photos / ("p" + std::to_string(i))} << i;
    syncline::actors::volume_config v;
    v.id = "vol";
    v.path = volume.string();
    cfg.volumes.push_back(v);
    cfg.datasources_settings.allowed_roots = {photos.string()};
  };
}

bool has(const std::string& data, const std::string& part) { return data.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_CASE(a_runs_events_arrive_live_and_a_reconnect_misses_nothing) {
  fs::path photos;
  api_node node{"", 1000, with_photos(photos, 20)};
  api_client root{node.port};
  auto token = root.sign_in("root", node.admin_password);
  root.set_token(token);

  // No token: refused like every API route; a position that is not a number: 400.
  {
    http_connection c{"127.0.0.1", node.port};
    BOOST_CHECK_EQUAL(c.request("GET", "/api/events").status, 401);
    http_connection d{"127.0.0.1", node.port};
    BOOST_CHECK_EQUAL(d.request("GET", "/api/events", {}, {{"Authorization", "Bearer " + token},
                                                          {"Last-Event-ID", "x7"}})
                          .status,
                      400);
  }

  event_reader live{node.port, token};
  BOOST_CHECK_MESSAGE(has(live.head(), "HTTP/1.1 200"), live.head());
  BOOST_CHECK_MESSAGE(has(live.head(), "text/event-stream"), live.head());
  auto made = root.post(ws, R"({"id":"photos","type":"folder","path":")" + photos.string() +
                                R"(","volumes":["vol"],"sync_type":"auto"})");
  BOOST_REQUIRE_MESSAGE(made.status == 201, made.body);
  // The datasource's actor starts, its run goes from started to success, it ends synced: each
  // an event, numbered in order.
  auto seen = live.until([](const sse_event& e) {
    return e.type == "datasource" && has(e.data, R"("datasource":"photos")") && has(e.data, R"("status":"synced")");
  });
  bool actor = false, run_started = false, run_success = false, syncing = false;
  for (size_t i = 0; i < seen.size(); ++i) {
    auto& e = seen[i];
    if (i > 0) BOOST_CHECK_GT(e.id, seen[i - 1].id);
    BOOST_CHECK_MESSAGE(has(e.data, "\"seq\":" + std::to_string(e.id)), e.data);
    actor |= e.type == "actor" && has(e.data, R"("id":"photos")") && has(e.data, R"("state":"running")");
    run_started |= e.type == "run" && has(e.data, R"("run":1,"status":"started")");
    run_success |= e.type == "run" && has(e.data, R"("run":1,"status":"success")");
    syncing |= e.type == "datasource" && has(e.data, R"("status":"syncing")");
  }
  BOOST_CHECK(actor);
  BOOST_CHECK(run_started);
  BOOST_CHECK(run_success);
  BOOST_CHECK(syncing);

  // A second run while nobody listens; a client that comes back with the last id it saw gets
  // exactly what followed it.
  auto last_seen = seen.back().id;
  BOOST_REQUIRE_EQUAL(root.post(ws + "/photos/@sendToSpyder", "{}").status, 202);
  BOOST_REQUIRE(eventually([&] { return run_status(root, ws + "/photos", 2) == "success"; }));
  event_reader again{node.port, token, std::to_string(last_seen)};
  auto missed = again.until([](const sse_event& e) {
    return e.type == "run" && has(e.data, R"("run":2,"status":"success")");
  });
  BOOST_CHECK_EQUAL(missed.front().id, last_seen + 1);
  for (size_t i = 1; i < missed.size(); ++i) BOOST_CHECK_EQUAL(missed[i].id, missed[i - 1].id + 1);

  // A position this node never gave (it restarted and numbers anew): read the state again.
  event_reader lost{node.port, token, std::to_string(last_seen + 1000000)};
  auto reset = lost.next();
  BOOST_REQUIRE(reset);
  BOOST_CHECK_EQUAL(reset->type, "reset");
  BOOST_CHECK(!lost.next());  // and the stream ends
}

// The node's pause routes (issue 15): the node, a volume, a transfer; editors and above only; the
// state shows in the API and in the event stream.
BOOST_AUTO_TEST_CASE(the_node_and_a_volume_pause_and_resume_through_the_api) {
  fs::path photos;
  api_node node{"", 1000, with_photos(photos, 1)};
  auto tokens = make_class_users(node.port, node.admin_password);
  api_client root{node.port, tokens.root};
  api_client user{node.port, tokens.user};
  api_client editor{node.port, tokens.editor};
  auto made = root.post(ws, R"({"id":"photos","type":"folder","path":")" + photos.string() +
                                R"(","volumes":["vol"],"sync_type":"auto"})");
  BOOST_REQUIRE_MESSAGE(made.status == 201, made.body);
  BOOST_REQUIRE(eventually([&] { return run_status(root, ws + "/photos", 1) == "success"; }));

  // Below editor: refused, nothing paused.
  BOOST_CHECK_EQUAL(user.post("/api/node/@pause", "").status, 403);
  BOOST_CHECK_EQUAL(user.post("/api/volumes/vol/@pause", "").status, 403);
  // The volume's own status in the actor tree (the supervisor's entry for it says `running`).
  auto volume_paused = [&] {
    return root.get("/api/actors").body.find(R"("id":"volume/vol","kind":"volume","state":"paused")") !=
           std::string::npos;
  };
  BOOST_CHECK(!volume_paused());

  // A volume.
  auto v = editor.post("/api/volumes/vol/@pause", "");
  BOOST_REQUIRE_MESSAGE(v.status == 200, v.body);
  BOOST_CHECK_EQUAL(member(v.body, "status"), "paused");
  BOOST_CHECK(eventually(volume_paused));
  BOOST_CHECK_EQUAL(editor.post("/api/volumes/vol/@resume", "").status, 200);
  BOOST_CHECK(eventually([&] { return !volume_paused(); }));
  BOOST_CHECK_EQUAL(editor.post("/api/volumes/nope/@pause", "").status, 404);

  // A transfer: none runs now; a name that is not one.
  auto t = editor.post("/api/transfers/vol/424242/@pause", "");
  BOOST_CHECK_EQUAL(t.status, 404);
  BOOST_CHECK_MESSAGE(t.body.find("transfer/vol/424242") != std::string::npos, t.body);
  BOOST_CHECK_EQUAL(editor.post("/api/transfers/vol/x1/@pause", "").status, 400);

  // The node: every datasource pauses (and says so in the event stream), then resumes.
  event_reader events{node.port, tokens.root};
  auto n = editor.post("/api/node/@pause", "");
  BOOST_REQUIRE_MESSAGE(n.status == 200, n.body);
  BOOST_CHECK_EQUAL(member(n.body, "node"), "paused");
  BOOST_CHECK(eventually([&] { return member(root.get(ws + "/photos").body, "status") == "paused"; }));
  events.until([](const sse_event& e) {
    return e.type == "datasource" && has(e.data, R"("status":"paused")");
  });
  BOOST_CHECK_EQUAL(editor.post("/api/node/@resume", "").status, 200);
  BOOST_CHECK(eventually([&] { return member(root.get(ws + "/photos").body, "status") != "paused"; }));
  // GET is not a way to pause.
  BOOST_CHECK_EQUAL(editor.get("/api/node/@pause").status, 405);
}
