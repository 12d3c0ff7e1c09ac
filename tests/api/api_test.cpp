// The tracker API over real HTTP on loopback, against a node of this process: every route and
// status, the class permissions, tokens, and bad input that must change nothing.
#define BOOST_TEST_MODULE api
#include <arpa/inet.h>
#include <chrono>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "tests/api/api_client.hpp"

using namespace syncline::test;
using namespace std::chrono_literals;

namespace {

// One node for the whole suite, with a user of each class; each test uses ids of its own.
struct world : class_tokens {
  api_node node;

  world() { static_cast<class_tokens&>(*this) = make_class_users(node.port, node.admin_password); }
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
uint16_t port() { return w().node.port; }
api_client as(const std::string& token) { return api_client{port(), token}; }

// The number of elements in the node, to check that refused requests changed nothing.
uint64_t element_count() {
  auto r = as(w().root).post("/api/search_mongo", R"({"query":{},"limit":1})");
  BOOST_REQUIRE_EQUAL(r.status, 200);
  auto d = parse_json(r.body);
  return d->doc["count"].GetUint64();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(routing)

BOOST_AUTO_TEST_CASE(health_needs_no_token_but_every_api_route_does) {
  BOOST_CHECK_EQUAL(fetch(port(), "GET", "/health").status, 200);
  for (auto [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"POST", "/api/create/"},  {"GET", "/api/read/x"},     {"PUT", "/api/update/"},
           {"POST", "/api/upsert/"},  {"DELETE", "/api/delete/"}, {"GET", "/api/search/a:b"},
           {"GET", "/api/search_one/a:b"}, {"POST", "/api/search_mongo/"},
           {"GET", "/api/graph/0/x"}, {"POST", "/api/comment/"},  {"POST", "/api/publish/"},
           {"POST", "/api/version/x"}, {"PUT", "/api/lock/"},     {"PUT", "/api/unlock/"},
           {"GET", "/api/verify"},    {"POST", "/api/signOut"},   {"GET", "/api/actors"},
           {"GET", "/api/queue"},     {"GET", "/metrics"},        {"POST", "/api/createToken"}}) {
    auto r = fetch(port(), method, target, "{}");
    BOOST_CHECK_MESSAGE(r.status == 401, method << " " << target << " -> " << r.status);
    BOOST_CHECK(is_error_shape(r.body));
  }
}

BOOST_AUTO_TEST_CASE(trailing_slash_head_and_method_errors) {
  auto c = as(w().user);
  BOOST_CHECK_EQUAL(c.post("/api/create", R"({"_id":"/routing/a"})").status, 201);
  BOOST_CHECK_EQUAL(c.post("/api/create/", R"({"_id":"/routing/b"})").status, 201);
  auto r = c.get("/api/create/");
  BOOST_CHECK_EQUAL(r.status, 405);
  BOOST_CHECK_EQUAL(r.header("allow"), "POST");
  BOOST_CHECK_EQUAL(c.get("/api/nothing").status, 404);
  BOOST_CHECK_EQUAL(c.get("/api/read/%zz").status, 400);
  // HEAD: the headers GET would send and no body; read by hand to the end of the stream.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  std::string req = "HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  BOOST_REQUIRE(::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, static_cast<size_t>(n));
  ::close(fd);
  BOOST_CHECK(got.rfind("HTTP/1.1 200", 0) == 0);
  BOOST_CHECK(got.find("Content-Length: 0") == std::string::npos);
  BOOST_CHECK(got.size() >= 4 && got.substr(got.size() - 4) == "\r\n\r\n");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(crud)

BOOST_AUTO_TEST_CASE(create_answers_201_207_409_and_400) {
  auto c = as(w().user);
  auto r = c.post("/api/create/", R"({"_id":"/crud/c1","k":1})");
  BOOST_CHECK_EQUAL(r.status, 201);
  BOOST_CHECK_EQUAL(member(r.body, "_id"), "/crud/c1");
  BOOST_CHECK_EQUAL(member(r.body, "author"), "ursula");
  BOOST_CHECK(has_member(r.body, "time"));
  // No _id: one is made (a ULID).
  r = c.post("/api/create/", R"({"k":2})");
  BOOST_CHECK_EQUAL(r.status, 201);
  BOOST_CHECK_EQUAL(member(r.body, "_id").size(), 26u);
  // An array of ids is one element each; an array answers an array.
  r = c.post("/api/create/", R"({"_id":["/crud/c2","/crud/c3"],"k":3})");
  BOOST_CHECK_EQUAL(r.status, 201);
  BOOST_CHECK_EQUAL(array_size(r.body), 2);
  r = c.post("/api/create/", R"([{"_id":"/crud/c4"}])");
  BOOST_CHECK_EQUAL(r.status, 201);
  BOOST_CHECK_EQUAL(array_size(r.body), 1);
  // Some exist: 207 with null where they did.
  r = c.post("/api/create/", R"([{"_id":"/crud/c1"},{"_id":"/crud/c5"}])");
  BOOST_CHECK_EQUAL(r.status, 207);
  BOOST_CHECK(r.body.rfind("[null,{", 0) == 0);
  // All exist: 409, nothing written.
  auto before = element_count();
  r = c.post("/api/create/", R"([{"_id":"/crud/c1"},{"_id":"/crud/c2"}])");
  BOOST_CHECK_EQUAL(r.status, 409);
  BOOST_CHECK(is_error_shape(r.body));
  for (auto bad : {"null", "\"Foo\"", "42", "[1,2]", "[{}, 3]", "{\"_id\":5}", "", "{"}) {
    r = c.post("/api/create/", bad);
    BOOST_CHECK_MESSAGE(r.status == 400, bad << " -> " << r.status << " " << r.body);
    BOOST_CHECK(is_error_shape(r.body));
  }
  BOOST_CHECK_EQUAL(element_count(), before);
}

BOOST_AUTO_TEST_CASE(reserved_keys_are_the_servers_unless_an_admin_gives_them) {
  auto r = as(w().user).post("/api/create/",
                             R"({"_id":"/crud/r1","author":"mallory","time":1,"class":"admin","password":"x"})");
  BOOST_CHECK_EQUAL(r.status, 201);
  BOOST_CHECK_EQUAL(member(r.body, "author"), "ursula");
  BOOST_CHECK(!has_member(r.body, "class"));
  BOOST_CHECK(!has_member(r.body, "password"));
  auto d = parse_json(r.body);
  BOOST_CHECK_NE(d->doc["time"].GetInt64(), 1);
  r = as(w().admin).post("/api/create/", R"({"_id":"/crud/r2","author":"import","time":7})");
  BOOST_CHECK_EQUAL(r.status, 201);
  BOOST_CHECK_EQUAL(member(r.body, "author"), "import");
  BOOST_CHECK_EQUAL(parse_json(r.body)->doc["time"].GetInt64(), 7);
}

BOOST_AUTO_TEST_CASE(read_by_get_and_post_in_input_order_with_null_holes) {
  auto c = as(w().user);
  BOOST_REQUIRE_EQUAL(c.post("/api/create/", R"({"_id":["/crud/rd/a","/crud/rd/b,c"],"v":1})").status, 201);
  // One id answers an object, several an array; ids are URL-encoded (%2C inside an id).
  auto r = c.get("/api/read/%2Fcrud%2Frd%2Fa");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(member(r.body, "_id"), "/crud/rd/a");
  r = c.get("/api/read//crud/rd/a,%2Fcrud%2Frd%2Fb%2Cc");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(array_size(r.body), 2);
  r = c.get("/api/read//crud/rd/a,/crud/rd/missing");
  BOOST_CHECK_EQUAL(r.status, 207);
  BOOST_CHECK(r.body.find(",null]") != std::string::npos);
  r = c.post("/api/read/", R"("/crud/rd/a")");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(member(r.body, "_id"), "/crud/rd/a");
  r = c.post("/api/read/", R"(["/crud/rd/a"])");
  BOOST_CHECK_EQUAL(array_size(r.body), 1);
  r = c.post("/api/read/", R"(["/nope/1","/nope/2"])");
  BOOST_CHECK_EQUAL(r.status, 404);
  BOOST_CHECK_EQUAL(c.get("/api/read/%2Fnope").status, 404);
  // No id, or not an id.
  BOOST_CHECK_EQUAL(c.get("/api/read/").status, 400);
  BOOST_CHECK_EQUAL(c.post("/api/read/", "").status, 400);
  BOOST_CHECK_EQUAL(c.post("/api/read/", "{}").status, 400);
  BOOST_CHECK_EQUAL(c.post("/api/read/", "[]").status, 400);
  BOOST_CHECK_EQUAL(c.post("/api/read/", "[true]").status, 400);
}

BOOST_AUTO_TEST_CASE(update_merges_removes_with_null_and_counts_misses) {
  auto c = as(w().editor);
  BOOST_REQUIRE_EQUAL(c.post("/api/create/", R"({"_id":["/crud/u1","/crud/u2"],"a":1,"b":2})").status, 201);
  auto r = c.put("/api/update/", R"({"_id":"/crud/u1","a":5,"b":null,"c":"x"})");
  BOOST_CHECK_EQUAL(r.status, 200);
  auto d = parse_json(r.body);
  BOOST_CHECK_EQUAL(d->doc["a"].GetInt(), 5);
  BOOST_CHECK(!d->doc.HasMember("b"));
  BOOST_CHECK_EQUAL(member(r.body, "c"), "x");
  r = c.put("/api/update/", R"({"_id":["/crud/u1","/crud/u2"],"z":true})");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(array_size(r.body), 2);
  r = c.post("/api/update/", R"({"_id":["/crud/u1","/crud/u-missing"],"z":false})");
  BOOST_CHECK_EQUAL(r.status, 207);
  r = c.put("/api/update/", R"({"_id":"/crud/u-missing","z":1})");
  BOOST_CHECK_EQUAL(r.status, 404);
  for (auto bad : {R"({"_id":"/crud/u1"})", R"({"z":1})", "null", "[3]", "{"}) {
    r = c.put("/api/update/", bad);
    BOOST_CHECK_MESSAGE(r.status == 400, bad << " -> " << r.status);
  }
}

BOOST_AUTO_TEST_CASE(upsert_creates_or_updates) {
  auto c = as(w().editor);
  auto r = c.post("/api/upsert/", R"({"_id":"/crud/up1","a":1})");
  BOOST_CHECK_EQUAL(r.status, 200);
  r = c.post("/api/upsert/", R"([{"_id":"/crud/up1","a":2},{"_id":"/crud/up2","a":3}])");
  BOOST_CHECK_EQUAL(r.status, 200);
  auto d = parse_json(r.body);
  BOOST_REQUIRE(d->doc.IsArray());
  BOOST_CHECK_EQUAL(d->doc[0]["a"].GetInt(), 2);
  BOOST_CHECK_EQUAL(d->doc[1]["a"].GetInt(), 3);
}

BOOST_AUTO_TEST_CASE(delete_answers_ids_and_counts_misses) {
  auto c = as(w().editor);
  BOOST_REQUIRE_EQUAL(c.post("/api/create/", R"({"_id":["/crud/d1","/crud/d2","/crud/d3"]})").status, 201);
  auto r = c.del("/api/delete/", R"("/crud/d1")");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(r.body, R"("/crud/d1")");
  r = c.del("/api/delete/", R"(["/crud/d2","/crud/d-missing"])");
  BOOST_CHECK_EQUAL(r.status, 207);
  BOOST_CHECK_EQUAL(r.body, R"(["/crud/d2",null])");
  r = c.post("/api/delete/", R"(["/crud/d3"])");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(r.body, R"(["/crud/d3"])");
  BOOST_CHECK_EQUAL(c.del("/api/delete/", R"("/crud/d1")").status, 404);
  BOOST_CHECK_EQUAL(c.del("/api/delete/", "{}").status, 400);
  BOOST_CHECK_EQUAL(c.del("/api/delete/", R"("")").status, 400);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(search)

BOOST_AUTO_TEST_CASE(text_search_mongo_search_and_search_one) {
  auto c = as(w().editor);
  BOOST_REQUIRE_EQUAL(c.post("/api/create/", R"([
      {"_id":"/srch/a.mov","size":10,"kind":"clip"},
      {"_id":"/srch/b.mov","size":200,"kind":"clip"},
      {"_id":"/srch/c.png","size":30,"kind":"still"}])").status, 201);
  auto g = as(w().guest);
  auto r = g.get("/api/search/kind:clip%20_id:%2F%5E%5C%2Fsrch%2F");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(r.body, R"(["/srch/a.mov","/srch/b.mov"])");
  r = g.get("/api/search/" "_id:/srch/%20size%3E20");  // the regex form, then a number compare
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(r.body, R"(["/srch/b.mov","/srch/c.png"])");
  r = g.get("/api/search/_id:%2F.*mov%2F%20size%3C%3D10");
  BOOST_CHECK_EQUAL(r.body, R"(["/srch/a.mov"])");
  BOOST_CHECK_EQUAL(g.get("/api/search/").status, 400);
  BOOST_CHECK_EQUAL(g.get("/api/search/%20%20").status, 400);
  r = g.get("/api/search_one/kind:still");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(member(r.body, "_id"), "/srch/c.png");
  r = g.get("/api/search_one/kind:nothing");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(r.body, "null");
  r = g.post("/api/search_mongo/",
             R"({"query":{"kind":"clip","size":{"$gte":10}},"sort":{"size":-1},"limit":1,"skip":0})");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(r.body, R"({"count":2,"ids":["/srch/b.mov"]})");
  r = g.post("/api/search_mongo", R"({"query":{"_id":"REGEX_^/srch/.*png$"}})");
  BOOST_CHECK_EQUAL(r.body, R"({"count":1,"ids":["/srch/c.png"]})");
  // queryobj in a form, as some clients send it.
  r = g.call("POST", "/api/search_mongo/",
             "queryobj=%7B%22query%22%3A%7B%22kind%22%3A%22still%22%7D%7D", {},
             "application/x-www-form-urlencoded");
  BOOST_CHECK_EQUAL(r.body, R"({"count":1,"ids":["/srch/c.png"]})");
  BOOST_CHECK_EQUAL(g.post("/api/search_mongo/", R"({"query":{"a":{"$bogus":1}}})").status, 400);
  BOOST_CHECK_EQUAL(g.post("/api/search_mongo/", R"({"query":5})").status, 400);
}

BOOST_AUTO_TEST_CASE(graph_follows_edges_to_their_sources) {
  auto c = as(w().editor);
  BOOST_REQUIRE_EQUAL(c.post("/api/create/", R"([
      {"_id":"g:a"},{"_id":"g:b"},{"_id":"g:c"},
      {"_id":"g:e1","src_id":"g:b","tgt_id":"g:a"},
      {"_id":"g:e2","src_id":"g:c","tgt_id":"g:b"}])").status, 201);
  auto g = as(w().guest);
  auto r = g.get("/api/graph/0/g:a");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(array_size(r.body), 5);  // a, b, c, e1, e2
  r = g.get("/api/graph/1/g:a");
  BOOST_CHECK_EQUAL(array_size(r.body), 3);  // a, b, e1
  r = g.post("/api/graph/0/", R"(["g:a","g:missing"])");
  BOOST_CHECK_EQUAL(r.status, 207);
  BOOST_CHECK_EQUAL(g.get("/api/graph/0/g:none").status, 404);
  BOOST_CHECK_EQUAL(g.get("/api/graph/x/g:a").status, 400);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dam)

BOOST_AUTO_TEST_CASE(comment_makes_children_with_author_and_time) {
  auto c = as(w().user);
  BOOST_REQUIRE_EQUAL(c.post("/api/create/", R"({"_id":["/dam/p1","/dam/p2"]})").status, 201);
  auto r = c.post("/api/comment/", R"({"#parent":"/dam/p1","comment":"looks good"})");
  BOOST_CHECK_EQUAL(r.status, 201);
  BOOST_CHECK_EQUAL(member(r.body, "#parent"), "/dam/p1");
  BOOST_CHECK_EQUAL(member(r.body, "author"), "ursula");
  BOOST_CHECK(has_member(r.body, "time"));
  r = c.post("/api/comment/", R"({"#parent":["/dam/p1","/dam/none","/dam/p2"],"comment":"x"})");
  BOOST_CHECK_EQUAL(r.status, 207);
  auto d = parse_json(r.body);
  BOOST_REQUIRE(d->doc.IsArray());
  BOOST_CHECK(d->doc[1].IsNull());
  BOOST_CHECK_EQUAL(c.post("/api/comment/", R"({"#parent":"/dam/none","comment":"x"})").status, 404);
  BOOST_CHECK_EQUAL(c.post("/api/comment/", R"({"#parent":"/dam/p1"})").status, 400);
  BOOST_CHECK_EQUAL(c.post("/api/comment/", R"({"#parent":"/dam/p1","comment":""})").status, 400);
  BOOST_CHECK_EQUAL(c.post("/api/comment/", R"({"#parent":"/dam/p1","comment":3})").status, 400);
}

BOOST_AUTO_TEST_CASE(publish_tracks_a_path_once_and_keeps_the_record_in_a_child) {
  auto c = as(w().user);
  auto r = c.post("/api/publish/",
                  R"({"_id":"/dam/pub/file.mov","comment":"first","origin":"siteA","sync_priority":3})");
  BOOST_CHECK_EQUAL(r.status, 201);
  auto d = parse_json(r.body);
  BOOST_REQUIRE(d->doc.IsArray());
  BOOST_REQUIRE_EQUAL(d->doc.Size(), 2u);
  BOOST_CHECK_EQUAL(std::string{d->doc[0]["_id"].GetString()}, "/dam/pub/file.mov");
  BOOST_CHECK_EQUAL(std::string{d->doc[1]["#parent"].GetString()}, "/dam/pub/file.mov");
  BOOST_CHECK_EQUAL(std::string{d->doc[1]["origin"].GetString()}, "siteA");
  BOOST_CHECK_EQUAL(std::string{d->doc[1]["comment"].GetString()}, "first");
  BOOST_CHECK_EQUAL(c.post("/api/publish/", R"({"_id":"/dam/pub/file.mov","comment":"again","origin":"siteA"})").status, 409);
  auto before = element_count();
  for (auto bad : {R"({"_id":"/dam/pub/x","comment":"c"})", R"({"_id":"/dam/pub/x","origin":"o"})",
                   R"({"comment":"c","origin":"o"})", R"({"_id":"dam/pub/x","comment":"c","origin":"o"})",
                   R"({"_id":"/dam/../etc/passwd","comment":"c","origin":"o"})",
                   R"({"_id":"/dam/pub/..","comment":"c","origin":"o"})",
                   R"({"_id":"/dam/./x","comment":"c","origin":"o"})"}) {
    r = c.post("/api/publish/", bad);
    BOOST_CHECK_MESSAGE(r.status == 400, bad << " -> " << r.status);
  }
  BOOST_CHECK_EQUAL(element_count(), before);
}

BOOST_AUTO_TEST_CASE(version_keeps_the_head_as_a_child_and_numbers_it) {
  auto c = as(w().user);
  BOOST_REQUIRE_EQUAL(c.post("/api/create/", R"({"_id":"/dam/v/shot.exr","file":"/dam/v/shot.exr","note":"v0"})").status, 201);
  // The JavaScript and Python clients put the id in the path as it is.
  auto r = c.post("/api/version//dam/v/shot.exr", R"({"file":"/dam/v/shot.exr","note":"v1"})");
  BOOST_CHECK_EQUAL(r.status, 201);
  BOOST_CHECK_EQUAL(member(r.body, "note"), "v1");
  BOOST_CHECK_EQUAL(parse_json(r.body)->doc["version"].GetInt(), 2);
  r = c.post("/api/version/%2Fdam%2Fv%2Fshot.exr", R"({"file":"/dam/v/shot.exr","note":"v2"})");
  BOOST_CHECK_EQUAL(parse_json(r.body)->doc["version"].GetInt(), 3);
  auto kids = as(w().guest).post("/api/search_mongo/", R"({"query":{"#parent":"/dam/v/shot.exr"}})");
  BOOST_CHECK_EQUAL(parse_json(kids.body)->doc["count"].GetInt(), 2);
  BOOST_CHECK_EQUAL(c.post("/api/version//dam/v/none", R"({"file":"x"})").status, 404);
  BOOST_CHECK_EQUAL(c.post("/api/version//dam/v/shot.exr", R"({"note":"no file"})").status, 400);
}

BOOST_AUTO_TEST_CASE(locks_are_honoured_by_every_write_and_change_nothing_when_refused) {
  auto u = as(w().user);
  auto e = as(w().editor);
  BOOST_REQUIRE_EQUAL(u.post("/api/create/", R"({"_id":["/dam/l1","/dam/l2"],"v":1})").status, 201);
  auto r = u.put("/api/lock/", R"("/dam/l1")");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(member(r.body, "lock"), "ursula");
  BOOST_CHECK_EQUAL(u.put("/api/lock/", R"("/dam/l1")").status, 200);  // held by me already
  auto before = as(w().guest).post("/api/read/", R"(["/dam/l1","/dam/l2"])").body;
  // Another user: lock, unlock, update, upsert, delete all refused whole, nothing changed.
  BOOST_CHECK_EQUAL(e.put("/api/lock/", R"(["/dam/l2","/dam/l1"])").status, 409);
  BOOST_CHECK_EQUAL(e.put("/api/unlock/", R"("/dam/l1")").status, 409);
  BOOST_CHECK_EQUAL(e.put("/api/update/", R"({"_id":["/dam/l2","/dam/l1"],"v":2})").status, 409);
  BOOST_CHECK_EQUAL(e.post("/api/upsert/", R"({"_id":"/dam/l1","v":3})").status, 409);
  BOOST_CHECK_EQUAL(e.del("/api/delete/", R"(["/dam/l2","/dam/l1"])").status, 409);
  BOOST_CHECK_EQUAL(as(w().guest).post("/api/read/", R"(["/dam/l1","/dam/l2"])").body, before);
  // The owner can still write and unlock.
  BOOST_CHECK_EQUAL(u.put("/api/unlock/", R"("/dam/l1")").status, 200);
  BOOST_CHECK(!has_member(as(w().guest).get("/api/read/%2Fdam%2Fl1").body, "lock"));
  BOOST_CHECK_EQUAL(e.put("/api/update/", R"({"_id":"/dam/l1","v":4})").status, 200);
  BOOST_CHECK_EQUAL(u.put("/api/lock/", R"(["/dam/l1","/dam/lock-none"])").status, 207);
  BOOST_CHECK_EQUAL(u.put("/api/lock/", R"("/dam/lock-none")").status, 404);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(auth)

// Each class against each route: allowed answers anything but 401/403; forbidden answers 403.
BOOST_AUTO_TEST_CASE(class_matrix) {
  struct route {
    const char* method;
    const char* target;
    const char* body;
    int min_class;  // 0 guest, 1 user, 2 editor, 3 admin
  };
  const route routes[] = {
      {"GET", "/api/read/%2Fmx", "", 0},
      {"POST", "/api/read/", R"("/mx")", 0},
      {"GET", "/api/search/_id:%2Fmx", "", 0},
      {"GET", "/api/search_one/_id:%2Fmx", "", 0},
      {"POST", "/api/search_mongo/", R"({"query":{}, "limit":1})", 0},
      {"GET", "/api/graph/0/%2Fmx", "", 0},
      {"GET", "/api/verify", "", 0},
      {"GET", "/api/actors", "", 0},
      {"GET", "/api/queue", "", 0},
      {"GET", "/metrics", "", 0},
      {"POST", "/api/create/", R"({"k":1})", 1},
      {"POST", "/api/comment/", R"({"#parent":"/mx","comment":"c"})", 1},
      {"POST", "/api/publish/", R"({"_id":"/mx/pub","comment":"c","origin":"o"})", 1},
      {"POST", "/api/version//mx", R"({"file":"f"})", 1},
      {"PUT", "/api/lock/", R"("/mx")", 1},
      {"PUT", "/api/unlock/", R"("/mx")", 1},
      {"PUT", "/api/update/", R"({"_id":"/mx","k":2})", 2},
      {"POST", "/api/upsert/", R"({"_id":"/mx2","k":2})", 2},
      {"DELETE", "/api/delete/", R"("/mx-none")", 2},
      {"POST", "/api/create/", R"({"_id":"@matrix","class":"guest"})", 3},
      {"PUT", "/api/update/", R"({"_id":"rsyncGlobalParameters","enableScans":true})", 3},
  };
  BOOST_REQUIRE_EQUAL(as(w().root).post("/api/create/", R"({"_id":"/mx"})").status, 201);
  const std::string tokens[] = {w().guest, w().user, w().editor, w().admin};
  for (int cls = 0; cls < 4; ++cls) {
    for (auto& r : routes) {
      auto c = as(tokens[cls]);
      auto res = c.call(r.method, r.target, r.body);
      if (cls >= r.min_class)
        BOOST_CHECK_MESSAGE(res.status != 401 && res.status != 403,
                            "class " << cls << " " << r.method << " " << r.target << " -> "
                                     << res.status << " " << res.body);
      else
        BOOST_CHECK_MESSAGE(res.status == 403, "class " << cls << " " << r.method << " "
                                                        << r.target << " -> " << res.status);
      // Unlock after each lock so the next class finds the element free.
      if (std::string{r.target} == "/api/lock/") c.put("/api/unlock/", R"("/mx")");
    }
  }
}

BOOST_AUTO_TEST_CASE(sign_in_by_form_json_or_email_never_shows_a_password) {
  api_client c{port()};
  auto r = c.call("POST", "/api/signIn", R"({"username":"ursula","password":"pw-user"})");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(member(r.body, "username"), "ursula");
  BOOST_CHECK_EQUAL(member(r.body, "class"), "user");
  BOOST_CHECK_EQUAL(member(r.body, "token").size(), 43u);
  BOOST_CHECK(has_member(r.body, "token_exp"));
  BOOST_CHECK(!has_member(r.body, "password"));
  BOOST_CHECK(!c.sign_in("gina@example.com", "pw-guest").empty());
  BOOST_CHECK(c.sign_in("ursula", "wrong").empty());
  r = c.call("POST", "/api/signIn", "username=ursula&password=wrong", {},
             "application/x-www-form-urlencoded");
  BOOST_CHECK_EQUAL(r.status, 401);
  BOOST_CHECK(is_error_shape(r.body));
  BOOST_CHECK_EQUAL(c.call("POST", "/api/signIn", "username=nobody&password=x", {},
                           "application/x-www-form-urlencoded").status, 401);
  BOOST_CHECK_EQUAL(c.call("POST", "/api/signIn", "username=ursula", {},
                           "application/x-www-form-urlencoded").status, 400);
  BOOST_CHECK_EQUAL(c.call("POST", "/api/signIn", "username=ursula&password=pw-user&expiresIn=soon", {},
                           "application/x-www-form-urlencoded").status, 400);
  // Reading a user never shows a password.
  auto u = as(w().guest).get("/api/read/%40ursula");
  BOOST_CHECK_EQUAL(u.status, 200);
  BOOST_CHECK(!has_member(u.body, "password"));
  // verify answers who the token belongs to.
  auto v = as(w().editor).get("/api/verify");
  BOOST_CHECK_EQUAL(v.status, 200);
  BOOST_CHECK_EQUAL(member(v.body, "username"), "ed");
  BOOST_CHECK_EQUAL(member(v.body, "class"), "editor");
}

BOOST_AUTO_TEST_CASE(tokens_by_cookie_bad_schemes_and_sign_out_revokes_on_the_server) {
  api_client anon{port()};
  auto token = anon.sign_in("ursula", "pw-user");
  BOOST_REQUIRE(!token.empty());
  auto r = anon.call("GET", "/api/verify", {}, {{"Cookie", "a=1; token=" + token + "; b=2"}});
  BOOST_CHECK_EQUAL(r.status, 200);
  r = anon.call("GET", "/api/verify", {}, {{"Authorization", "Basic dXJzdWxhOnB3"}});
  BOOST_CHECK_EQUAL(r.status, 401);
  r = anon.call("GET", "/api/verify", {}, {{"Authorization", "Bearer nonsense"}});
  BOOST_CHECK_EQUAL(r.status, 401);
  auto c = as(token);
  BOOST_CHECK_EQUAL(c.get("/api/verify").status, 200);
  r = c.post("/api/signOut", "");
  BOOST_CHECK_EQUAL(r.status, 200);
  // Revoked at once, on the server: the same token no longer works, from any connection.
  BOOST_CHECK_EQUAL(c.get("/api/verify").status, 401);
  BOOST_CHECK_EQUAL(as(token).get("/api/read/%2Fmx").status, 401);
}

// The tracker's `point_reads` counter: reads answered on the network thread, not by the actor.
uint64_t point_reads() {
  auto r = as(w().root).get("/api/actors");
  BOOST_REQUIRE_EQUAL(r.status, 200);
  auto at = r.body.find(R"("point_reads":)");
  BOOST_REQUIRE(at != std::string::npos);
  return std::stoull(r.body.substr(at + 14));
}

// A GET of one element is answered on the network thread that read it, with the tracker's own
// authentication, token cache and answers: a revoked token is refused there on the very next
// request, however recently it was cached, and nobody reads without a valid token.
BOOST_AUTO_TEST_CASE(point_reads_answer_as_the_tracker_and_honour_revocation_at_once) {
  auto root = as(w().root);
  BOOST_REQUIRE_EQUAL(root.post("/api/create/", R"({"_id":"/pr","k":1})").status, 201);
  // The same answers as the tracker actor gives (POST /api/read/ goes to it).
  auto before = point_reads();
  auto fast = as(w().guest).get("/api/read/%2Fpr");
  auto slow = as(w().guest).post("/api/read/", R"("/pr")");
  BOOST_CHECK_EQUAL(fast.status, 200);
  BOOST_CHECK_EQUAL(fast.body, slow.body);
  BOOST_CHECK_EQUAL(member(fast.body, "_id"), "/pr");
  auto fast_missing = as(w().guest).get("/api/read/%2Fpr-none");
  auto slow_missing = as(w().guest).post("/api/read/", R"("/pr-none")");
  BOOST_CHECK_EQUAL(fast_missing.status, 404);
  BOOST_CHECK_EQUAL(fast_missing.body, slow_missing.body);
  BOOST_CHECK_EQUAL(point_reads(), before + 2);

  // Without a valid token: refused on the fast path as by the tracker.
  api_client anon{port()};
  BOOST_CHECK_EQUAL(anon.get("/api/read/%2Fpr").status, 401);
  BOOST_CHECK_EQUAL(anon.call("GET", "/api/read/%2Fpr", {}, {{"Authorization", "Basic dXJzdWxhOnB3"}}).status, 401);
  BOOST_CHECK_EQUAL(as("nonsense").get("/api/read/%2Fpr").status, 401);
  BOOST_CHECK_EQUAL(point_reads(), before + 5);

  // signOut: the token was just cached by two reads; the next read is refused.
  auto token = anon.sign_in("ursula", "pw-user");
  BOOST_REQUIRE(!token.empty());
  BOOST_CHECK_EQUAL(anon.call("GET", "/api/read/%2Fpr", {}, {{"Cookie", "token=" + token}}).status, 200);
  BOOST_CHECK_EQUAL(as(token).get("/api/read/%2Fpr").status, 200);
  BOOST_CHECK_EQUAL(as(token).post("/api/signOut", "").status, 200);
  BOOST_CHECK_EQUAL(as(token).get("/api/read/%2Fpr").status, 401);

  // A user disabled, given a new password or deleted: its cached token stops at once.
  BOOST_REQUIRE_EQUAL(root.post("/api/create/", R"({"_id":"@fast","class":"editor","password":"pw-fast"})").status, 201);
  auto cached_token = [&](const char* password) {
    auto t = anon.sign_in("fast", password);
    BOOST_REQUIRE(!t.empty());
    BOOST_CHECK_EQUAL(as(t).get("/api/read/%2Fpr").status, 200);
    BOOST_CHECK_EQUAL(as(t).get("/api/read/%2Fpr").status, 200);
    return t;
  };
  token = cached_token("pw-fast");
  BOOST_CHECK_EQUAL(root.put("/api/update/", R"({"_id":"@fast","disable":true})").status, 200);
  BOOST_CHECK_EQUAL(as(token).get("/api/read/%2Fpr").status, 401);
  BOOST_CHECK_EQUAL(root.put("/api/update/", R"({"_id":"@fast","disable":null})").status, 200);
  token = cached_token("pw-fast");
  BOOST_CHECK_EQUAL(root.put("/api/update/", R"({"_id":"@fast","password":"pw-new"})").status, 200);
  BOOST_CHECK_EQUAL(as(token).get("/api/read/%2Fpr").status, 401);
  token = cached_token("pw-new");
  BOOST_CHECK_EQUAL(root.del("/api/delete/", R"("@fast")").status, 200);
  BOOST_CHECK_EQUAL(as(token).get("/api/read/%2Fpr").status, 401);
}

BOOST_AUTO_TEST_CASE(tokens_expire) {
  api_client anon{port()};
  auto token = anon.sign_in("ursula", "pw-user", "1s");
  BOOST_REQUIRE(!token.empty());
  BOOST_CHECK_EQUAL(as(token).get("/api/verify").status, 200);
  // Expiry may lag by the token cache's second, no more.
  std::this_thread::sleep_for(2500ms);
  BOOST_CHECK_EQUAL(as(token).get("/api/verify").status, 401);
}

BOOST_AUTO_TEST_CASE(disabling_demoting_or_changing_a_password_takes_effect_at_once) {
  auto root = as(w().root);
  BOOST_REQUIRE_EQUAL(root.post("/api/create/", R"({"_id":"@temp","class":"editor","password":"pw-temp"})").status, 201);
  api_client anon{port()};
  auto token = anon.sign_in("temp", "pw-temp");
  BOOST_REQUIRE(!token.empty());
  auto t = as(token);
  BOOST_CHECK_EQUAL(t.put("/api/update/", R"({"_id":"/mx","k":9})").status, 200);
  // Demoted: the next request has the new class.
  BOOST_CHECK_EQUAL(root.put("/api/update/", R"({"_id":"@temp","class":"guest"})").status, 200);
  BOOST_CHECK_EQUAL(t.put("/api/update/", R"({"_id":"/mx","k":10})").status, 403);
  // Disabled: refused.
  BOOST_CHECK_EQUAL(root.put("/api/update/", R"({"_id":"@temp","disable":true})").status, 200);
  BOOST_CHECK_EQUAL(t.get("/api/verify").status, 401);
  BOOST_CHECK(anon.sign_in("temp", "pw-temp").empty());
  BOOST_CHECK_EQUAL(root.put("/api/update/", R"({"_id":"@temp","disable":null})").status, 200);
  token = anon.sign_in("temp", "pw-temp");
  BOOST_REQUIRE(!token.empty());
  // A new password revokes every token of the user.
  BOOST_CHECK_EQUAL(root.put("/api/update/", R"({"_id":"@temp","password":"pw-new"})").status, 200);
  BOOST_CHECK_EQUAL(as(token).get("/api/verify").status, 401);
  BOOST_CHECK(anon.sign_in("temp", "pw-temp").empty());
  BOOST_CHECK(!anon.sign_in("temp", "pw-new").empty());
  // Deleted: its tokens die.
  token = anon.sign_in("temp", "pw-new");
  BOOST_CHECK_EQUAL(root.del("/api/delete/", R"("@temp")").status, 200);
  BOOST_CHECK_EQUAL(as(token).get("/api/verify").status, 401);
  // Only admins write users.
  BOOST_CHECK_EQUAL(as(w().editor).put("/api/update/", R"({"_id":"@ursula","class":"admin"})").status, 403);
  BOOST_CHECK_EQUAL(as(w().editor).del("/api/delete/", R"("@ursula")").status, 403);
}

BOOST_AUTO_TEST_CASE(create_token_gives_another_token_to_a_signed_in_user) {
  auto r = as(w().user).call("POST", "/api/createToken", "expiresIn=1h", {},
                              "application/x-www-form-urlencoded");
  BOOST_CHECK_EQUAL(r.status, 200);
  auto d = parse_json(r.body);
  BOOST_REQUIRE(d->ok && d->doc.IsString());
  BOOST_CHECK_EQUAL(as(d->doc.GetString()).get("/api/verify").status, 200);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bad_input)

BOOST_AUTO_TEST_CASE(malformed_truncated_deep_and_invalid_bodies_change_nothing) {
  auto c = as(w().editor);
  BOOST_REQUIRE_EQUAL(c.post("/api/create/", R"({"_id":"/bad/x","v":1})").status, 201);
  auto before = element_count();
  auto stored = c.get("/api/read/%2Fbad%2Fx").body;
  std::string deep(70, '[');
  deep += std::string(70, ']');
  std::string deep_obj = R"({"_id":"/bad/deep","v":)" + std::string(65, '[') + std::string(65, ']') + "}";
  // Malformed, truncated, too deep, not UTF-8, NUL bytes: refused by every route.
  const std::vector<std::string> malformed = {
      "{", R"({"_id":"/bad/y","v":)", R"({"_id":"/bad/y" "v":1})", "[{},", deep, deep_obj,
      std::string{"{\"_id\":\"/bad/\xff\xfe\",\"v\":1}"},
      std::string{"{\"_id\":\"/bad/\xc0\xaf\",\"v\":1}"},
      std::string{"{\"_id\":\"a\0b\"}", 12}, "true"};
  // Well-formed JSON that no element write accepts: bad ids, wrong types.
  const std::vector<std::string> bad_elements = {
      R"({"_id":"/bad/nul\u0000id","v":1})", R"({"_id":"","v":1})",
      R"({"_id":")" + std::string(2000, 'a') + R"(","v":1})", R"({"_id":["/bad/z",3],"v":1})",
      "\"text\"", "[\"/bad/x\"]"};
  using target_list = std::vector<std::pair<std::string, std::string>>;
  const target_list element_writes = {{"POST", "/api/create/"}, {"PUT", "/api/update/"},
                                      {"POST", "/api/upsert/"}, {"POST", "/api/publish/"},
                                      {"POST", "/api/comment/"}};
  target_list every_body_route = element_writes;
  for (auto t : target_list{{"DELETE", "/api/delete/"}, {"PUT", "/api/lock/"},
                            {"PUT", "/api/unlock/"}, {"POST", "/api/read/"},
                            {"POST", "/api/search_mongo/"}, {"POST", "/api/graph/0/"}})
    every_body_route.push_back(t);
  std::vector<std::pair<std::string, target_list>> cases;
  for (auto& b : malformed) cases.emplace_back(b, every_body_route);
  for (auto& b : bad_elements) cases.emplace_back(b, element_writes);
  for (auto& [body, targets] : cases) {
    for (auto [method, target] : targets) {
      auto r = c.call(method, target, body);
      BOOST_CHECK_MESSAGE(r.status == 400, method << " " << target << " with " << body.substr(0, 40)
                                                  << " -> " << r.status << " " << r.body);
      BOOST_CHECK(is_error_shape(r.body));
    }
  }
  BOOST_CHECK_EQUAL(element_count(), before);
  BOOST_CHECK_EQUAL(c.get("/api/read/%2Fbad%2Fx").body, stored);
  // Ids in paths: NUL and bad escapes.
  BOOST_CHECK_EQUAL(c.get("/api/read/a%00b").status, 400);
  BOOST_CHECK_EQUAL(c.get("/api/read/a%").status, 400);
}

BOOST_AUTO_TEST_CASE(huge_bodies_are_refused_with_413) {
  auto c = as(w().editor);
  auto before = element_count();
  std::string huge = R"({"_id":"/bad/huge","v":")" + std::string(5u << 20, 'x') + "\"}";
  auto r = c.post("/api/create/", huge);
  BOOST_CHECK_EQUAL(r.status, 413);
  BOOST_CHECK(is_error_shape(r.body));
  BOOST_CHECK_EQUAL(element_count(), before);
}

BOOST_AUTO_TEST_CASE(ten_thousand_ids_in_one_request_and_no_more) {
  auto c = as(w().editor);
  std::string ids = "[";
  for (int i = 0; i < 10000; ++i) {
    if (i > 0) ids += ',';
    ids += "\"/bulk/" + std::to_string(i) + "\"";
  }
  ids += "]";
  auto r = c.post("/api/read/", ids);
  BOOST_CHECK_EQUAL(r.status, 404);
  r = c.post("/api/create/", R"({"_id":)" + ids + "}");
  BOOST_CHECK_EQUAL(r.status, 201);
  BOOST_CHECK_EQUAL(array_size(r.body), 10000);
  r = c.post("/api/read/", ids);
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(array_size(r.body), 10000);
  auto more = ids.substr(0, ids.size() - 1) + R"(,"/bulk/x"])";
  BOOST_CHECK_EQUAL(c.post("/api/read/", more).status, 400);
  BOOST_CHECK_EQUAL(c.post("/api/create/", R"({"_id":)" + more + "}").status, 400);
  BOOST_CHECK_EQUAL(c.del("/api/delete/", ids).status, 200);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(node_routes)

BOOST_AUTO_TEST_CASE(actors_queue_and_metrics) {
  auto g = as(w().guest);
  auto r = g.get("/api/actors");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK(r.body.find(R"("id":"tracker")") != std::string::npos);
  BOOST_CHECK(r.body.find(R"("id":"supervisor")") != std::string::npos);
  r = g.get("/api/queue?limit=5");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK(has_member(r.body, "queues"));
  BOOST_CHECK_EQUAL(g.get("/api/queue?limit=x").status, 400);
  r = g.get("/metrics");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK(r.header("content-type").rfind("text/plain", 0) == 0);
  for (auto needle : {"syncline_actor_mailbox{actor=\"tracker\"", "syncline_queue_depth_total",
                      "syncline_http_request_duration_seconds_bucket{route=\"GET /api/read/*ids\"",
                      "syncline_http_requests_total{", "syncline_tracker_requests"})
    BOOST_CHECK_MESSAGE(r.body.find(needle) != std::string::npos, needle);
}

BOOST_AUTO_TEST_SUITE_END()
