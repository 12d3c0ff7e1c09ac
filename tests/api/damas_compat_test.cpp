// damas-core's clients against a node: each case sends exactly what one of its clients sends
// (read from damas-core's py/damas.py, py/damas_client.py, the asynchronous Python client,
// js/damas.js and cli/damas.sh) and checks what that client expects back. The last suite
// re-implements the cases of damas-core's REST test suite (server-nodejs/test/damas-core.js)
// on today's /api/ routes.
#define BOOST_TEST_MODULE damas_compat
#include <set>
#include <string>
#include <tuple>

#include <boost/test/unit_test.hpp>

#include "tests/api/api_client.hpp"

using namespace syncline::test;

namespace {

struct fixture {
  api_node node;
  // What every Python client adds to each request after signIn.
  headers py_json(const std::string& token) {
    return {{"content-type", "application/json"}, {"Authorization", "Bearer " + token}};
  }
  http_result send(const std::string& method, const std::string& target, const std::string& body,
                   const headers& h) {
    http_connection c{"127.0.0.1", node.port};
    return c.request(method, target, body, h);
  }
  // py/damas.py signIn: requests.post(url + '/api/signIn/', data={username, password}): a form.
  std::string py_sign_in(const std::string& user, const std::string& password) {
    auto r = send("POST", "/api/signIn/", "username=" + user + "&password=" + password,
                  {{"Content-Type", "application/x-www-form-urlencoded"}});
    BOOST_REQUIRE_EQUAL(r.status, 200);
    return member(r.body, "token");  // the client reads self.token['token']
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(python_client, fixture)

BOOST_AUTO_TEST_CASE(every_method_of_damas_py) {
  auto token = py_sign_in("root", node.admin_password);
  BOOST_REQUIRE(!token.empty());
  auto h = py_json(token);
  // create(keys): 201 or 207 -> json
  auto r = send("POST", "/api/create/", R"({"key1": "value1", "key2": "value2"})", h);
  BOOST_CHECK_EQUAL(r.status, 201);
  auto id = member(r.body, "_id");
  BOOST_REQUIRE(!id.empty());
  // search(query): GET /api/search/<query> as written (not encoded)
  r = send("GET", "/api/search/key1:value1", "", h);
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(r.body, "[\"" + id + "\"]");
  // read(id_): POST /api/read/ json.dumps(id_)
  r = send("POST", "/api/read/", "\"" + id + "\"", h);
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(member(r.body, "key1"), "value1");
  // update(keys): PUT /api/update/, None removes a key
  r = send("PUT", "/api/update/", "{\"_id\": \"" + id + "\", \"key2\": null, \"key3\": 3}", h);
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK(!has_member(r.body, "key2"));
  // upsert(keys): 200 or 201
  r = send("POST", "/api/upsert/", R"({"_id": "/py/up", "a": 1})", h);
  BOOST_CHECK(r.status == 200 || r.status == 201);
  // search_one(query)
  r = send("GET", "/api/search_one/key1:value1", "", h);
  BOOST_CHECK_EQUAL(member(r.body, "_id"), id);
  // search_mongo(query, sort, limit, skip)
  r = send("POST", "/api/search_mongo/",
           R"({"query": {"key1": "value1"}, "sort": {"_id": 1}, "limit": 0, "skip": 0})", h);
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(r.body, "{\"count\":1,\"ids\":[\"" + id + "\"]}");
  // graph(id_): POST /api/graph/0/ json.dumps(id_)
  r = send("POST", "/api/graph/0/", "\"" + id + "\"", h);
  BOOST_CHECK_EQUAL(r.status, 200);
  // lock/unlock(id_): PUT, True on 200
  BOOST_CHECK_EQUAL(send("PUT", "/api/lock/", "\"" + id + "\"", h).status, 200);
  BOOST_CHECK_EQUAL(send("PUT", "/api/unlock/", "\"" + id + "\"", h).status, 200);
  // publish(keys): 201 or 207
  r = send("POST", "/api/publish/",
           R"({"_id": "/py/file", "comment": "text", "origin": "sitename"})", h);
  BOOST_CHECK_EQUAL(r.status, 201);
  // version(id_, keys): '%s/api/version/%s' % (url, id_) with the path as it is
  r = send("POST", "/api/version//py/file", R"({"file": "/py/file"})", h);
  BOOST_CHECK_EQUAL(r.status, 201);
  // comment(keys): 201 or 207 (seed 003: one parent answers the comment object)
  r = send("POST", "/api/comment/", R"({"#parent": "/py/file", "comment": "text"})", h);
  BOOST_CHECK_EQUAL(r.status, 201);
  BOOST_CHECK_EQUAL(member(r.body, "author"), "root");
  r = send("POST", "/api/comment/", R"({"#parent": ["/py/file", "/py/up"], "comment": "text"})", h);
  BOOST_CHECK_EQUAL(array_size(r.body), 2);
  // verify(): GET /api/verify/, True on 200
  BOOST_CHECK_EQUAL(send("GET", "/api/verify/", "", h).status, 200);
  // delete(id_): DELETE /api/delete/ json.dumps(id_)
  r = send("DELETE", "/api/delete/", "\"" + id + "\"", h);
  BOOST_CHECK_EQUAL(r.status, 200);
  // signOut(): the client only forgets its token; verify without it is refused.
  BOOST_CHECK_EQUAL(send("GET", "/api/verify/", "", {}).status, 401);
}

// The asynchronous client posts a form labelled JSON to signIn, and posts update and delete.
BOOST_AUTO_TEST_CASE(the_asynchronous_client) {
  auto r = send("POST", "/api/signIn/", "username=root&password=" + node.admin_password,
                {{"content-type", "application/json"}});
  BOOST_REQUIRE_EQUAL(r.status, 200);
  auto h = py_json(member(r.body, "token"));
  BOOST_CHECK_EQUAL(send("POST", "/api/create/", R"({"_id": "/async/a", "v": 1})", h).status, 201);
  BOOST_CHECK_EQUAL(send("POST", "/api/update/", R"({"_id": "/async/a", "v": 2})", h).status, 200);
  BOOST_CHECK_EQUAL(send("POST", "/api/delete/", R"("/async/a")", h).status, 200);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(javascript_client, fixture)

BOOST_AUTO_TEST_CASE(every_method_of_damas_js) {
  // damas.signIn(username, password, expiresIn): a form, with encodeURIComponent'ed values.
  auto r = send("POST", "/api/signIn",
                "username=root&password=" + node.admin_password + "&expiresIn=2h",
                {{"Content-Type", "application/x-www-form-urlencoded"}});
  BOOST_REQUIRE_EQUAL(r.status, 200);
  auto token = member(r.body, "token");  // damas.token = damas.user.token
  headers json{{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}};
  headers bare{{"Authorization", "Bearer " + token}};
  // Every answer below 300 must parse as JSON (checkXHR).
  auto ok = [](const http_result& res) { return res.status < 300 && parse_json(res.body)->ok; };
  BOOST_CHECK(ok(send("POST", "/api/create/", R"([{"_id":"/js/a b","t":"x"},{"_id":"/js/c"}])", json)));
  BOOST_CHECK(ok(send("POST", "/api/read/", R"(["/js/a b","/js/c"])", json)));
  BOOST_CHECK(ok(send("PUT", "/api/update/", R"({"_id":"/js/c","t":"y"})", json)));
  BOOST_CHECK(ok(send("POST", "/api/upsert/", R"({"_id":"/js/d","t":"z"})", json)));
  // damas.search(query): 'search/' + encodeURIComponent(query)
  r = send("GET", "/api/search/t%3Ax%20_id%3A%2F%5E%5C%2Fjs%2F", "", bare);
  BOOST_CHECK(ok(r));
  BOOST_CHECK_EQUAL(r.body, R"(["/js/a b"])");
  BOOST_CHECK(ok(send("GET", "/api/search_one/t%3Ay", "", bare)));
  BOOST_CHECK(ok(send("POST", "/api/search_mongo",
                      R"({"query":{"t":{"$in":["x","y"]}},"sort":{"t":-1},"limit":10,"skip":0})", json)));
  BOOST_CHECK(ok(send("POST", "/api/graph/0/", R"(["/js/c"])", json)));
  BOOST_CHECK(ok(send("PUT", "/api/lock/", R"("/js/c")", json)));
  BOOST_CHECK(ok(send("PUT", "/api/unlock/", R"("/js/c")", json)));
  BOOST_CHECK(ok(send("POST", "/api/publish/", R"([{"_id":"/js/p","comment":"c","origin":"o"}])", json)));
  BOOST_CHECK(ok(send("POST", "/api/comment/", R"({"#parent":"/js/p","comment":"c"})", json)));
  // damas.version(id, keys): 'version/' + id
  BOOST_CHECK(ok(send("POST", "/api/version//js/p", R"({"file":"/js/p"})", json)));
  BOOST_CHECK(ok(send("GET", "/api/verify", "", bare)));
  BOOST_CHECK(ok(send("DELETE", "/api/delete/", R"(["/js/c","/js/d"])", json)));
  // An XHR without a token sends no Authorization header at all.
  BOOST_CHECK_EQUAL(send("GET", "/api/verify", "", {}).status, 401);
}

// py/damas_client.py: graph_backwards and graph_forwards post the ids to
// /api/graph_{backwards,forwards}/<depth>/ and read an array of ids; upsert takes the id
// "null" for a new element; the command line client lists every element with `search *`.
BOOST_AUTO_TEST_CASE(graph_directions_upsert_null_and_search_everything) {
  auto token = py_sign_in("root", node.admin_password);
  auto h = py_json(token);
  // a -> b -> c, as edges from src_id to tgt_id.
  BOOST_REQUIRE_EQUAL(send("POST", "/api/create/",
                           R"([{"_id":"/g/a"},{"_id":"/g/b"},{"_id":"/g/c"},
                               {"_id":"/g/ab","src_id":"/g/a","tgt_id":"/g/b"},
                               {"_id":"/g/bc","src_id":"/g/b","tgt_id":"/g/c"}])",
                           h)
                          .status,
                      201);
  auto ids_of = [](const std::string& body) {
    std::set<std::string> out;
    auto d = parse_json(body);
    if (!d->ok || !d->doc.IsArray()) return out;
    for (auto& v : d->doc.GetArray())
      if (v.IsString()) out.insert(v.GetString());
    return out;
  };
  auto r = send("POST", "/api/graph_backwards/0/", "\"/g/c\"", h);
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK((ids_of(r.body) == std::set<std::string>{"/g/c", "/g/bc", "/g/b", "/g/ab", "/g/a"}));
  r = send("POST", "/api/graph_forwards/1/", "\"/g/a\"", h);
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK((ids_of(r.body) == std::set<std::string>{"/g/a", "/g/ab", "/g/b"}));
  r = send("GET", "/api/graph_forwards/0/%2Fg%2Fb", "", h);
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK((ids_of(r.body) == std::set<std::string>{"/g/b", "/g/bc", "/g/c"}));
  // upsert({"_id": "null"}): a new element under a generated id, none named "null".
  r = send("POST", "/api/upsert/", R"({"_id":"null","k":1})", h);
  BOOST_CHECK_EQUAL(r.status, 200);
  auto made = member(r.body, "_id");
  if (made.empty()) {
    auto d = parse_json(r.body);
    if (d->ok && d->doc.IsArray() && d->doc.Size() == 1 && d->doc[0].IsObject() &&
        d->doc[0].HasMember("_id"))
      made = d->doc[0]["_id"].GetString();
  }
  BOOST_CHECK_MESSAGE(!made.empty() && made != "null", r.body);
  BOOST_CHECK_EQUAL(send("GET", "/api/read/null", "", h).status, 404);
  // search * (cli/damas help: "list every objects").
  r = send("GET", "/api/search/*", "", h);
  BOOST_CHECK_EQUAL(r.status, 200);
  auto all = ids_of(r.body);
  BOOST_CHECK(all.count("/g/a") == 1 && all.count("/g/bc") == 1 && all.count(made) == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(shell_client, fixture)

BOOST_AUTO_TEST_CASE(the_commands_of_damas_sh) {
  // signin: curl -ks --fail -d 'username=U&password=P' ${URL}signIn, token cut out by sed.
  auto r = send("POST", "/api/signIn", "username=root&password=" + node.admin_password,
                {{"Content-Type", "application/x-www-form-urlencoded"}});
  BOOST_REQUIRE_EQUAL(r.status, 200);
  // sed -e 's/.*"token":"\([^"]*\)".*/\1/'
  auto at = r.body.find(R"("token":")");
  BOOST_REQUIRE(at != std::string::npos);
  at += 9;
  auto token = r.body.substr(at, r.body.find('"', at) - at);
  headers h{{"Content-Type", "application/json"}, {"Authorization", "Bearer " + token}};
  // add: create with an _id array of real paths (folders end with /)
  r = send("POST", "/api/create/", R"({"_id":["/sh/a.txt","/sh/dir/"]})", h);
  BOOST_CHECK_EQUAL(r.status, 201);
  // show: read the same ids
  BOOST_CHECK_EQUAL(send("POST", "/api/read/", R"(["/sh/a.txt","/sh/dir/"])", h).status, 200);
  // untracked: read every file plus a final "" and look for null lines
  r = send("POST", "/api/read/", R"(["/sh/a.txt","/sh/new.txt",""])", h);
  BOOST_CHECK_EQUAL(r.status, 207);
  auto d = parse_json(r.body);
  BOOST_REQUIRE(d->ok && d->doc.IsArray() && d->doc.Size() == 3);
  BOOST_CHECK(d->doc[0].IsObject() && d->doc[1].IsNull() && d->doc[2].IsNull());
  // stats: update file_size and file_mtime of ids
  BOOST_CHECK_EQUAL(send("PUT", "/api/update/",
                         R"({"_id":["/sh/a.txt"],"file_size":12,"file_mtime":1567529676000})", h).status,
                    200);
  // search _id:/.*txt/ ; search_mongo with -l prints the ids of {"count","ids"} or of an array
  r = send("GET", "/api/search/_id:/.*txt/", "", h);
  BOOST_CHECK_EQUAL(r.body, R"(["/sh/a.txt"])");
  r = send("POST", "/api/search_mongo/", R"({"query": {"file_size":12}, "sort": {"_id":1}, "limit": 0, "skip": 0})", h);
  BOOST_CHECK_EQUAL(r.status, 200);
  // graph: POST graph/0/ ; lock/unlock: PUT arrays ; rm: DELETE an array
  BOOST_CHECK_EQUAL(send("POST", "/api/graph/0/", R"(["/sh/a.txt"])", h).status, 200);
  BOOST_CHECK_EQUAL(send("PUT", "/api/lock/", R"(["/sh/a.txt"])", h).status, 200);
  BOOST_CHECK_EQUAL(send("PUT", "/api/unlock/", R"(["/sh/a.txt"])", h).status, 200);
  BOOST_CHECK_EQUAL(send("POST", "/api/comment/", R"({"#parent":"/sh/a.txt","comment":"created with cli"})", h).status, 201);
  BOOST_CHECK_EQUAL(send("DELETE", "/api/delete/", R"(["/sh/a.txt","/sh/dir/"])", h).status, 200);
  // Without a token file the shell sends "Bearer " and nothing more: anonymous, so 401 here.
  BOOST_CHECK_EQUAL(send("POST", "/api/read/", R"(["/sh/a.txt"])",
                         {{"Content-Type", "application/json"}, {"Authorization", "Bearer "}}).status,
                    401);
}

BOOST_AUTO_TEST_SUITE_END()

// damas-core's server-nodejs/test/damas-core.js, case by case, on the /api/ routes of today
// (its old routes `/` and `/:id` are gone). Where the old suite expected 409 for a string body
// or a missing id on delete, today's cruds.js answers 400 and 404, and so does syncline.
BOOST_FIXTURE_TEST_SUITE(rest_suite, fixture)

BOOST_AUTO_TEST_CASE(create_read_update_delete_cases) {
  auto token = py_sign_in("root", node.admin_password);
  headers h{{"Accept", "application/json"}, {"Content-Type", "application/json"},
            {"Authorization", "Bearer " + token}};
  // Create: null -> 400; a string -> 400; a valid object -> 201 application/json.
  BOOST_CHECK_EQUAL(send("POST", "/api/create/", "null", h).status, 400);
  BOOST_CHECK_EQUAL(send("POST", "/api/create/", "\"Foo\"", h).status, 400);
  auto r = send("POST", "/api/create/",
                R"({"node":{"type":"node Test","link":{"type_link":"normal","src_id":1031241,"tgt_id":546992}}})", h);
  BOOST_CHECK_EQUAL(r.status, 201);
  BOOST_CHECK(r.header("content-type").find("application/json") != std::string::npos);
  auto id = member(r.body, "_id");
  // Read: an id not in the database -> 404; an existing one -> 200 JSON; no id -> 400.
  BOOST_CHECK_EQUAL(send("GET", "/api/read/552fdc00d0bc266248e1eb08", "", h).status, 404);
  BOOST_CHECK_EQUAL(send("GET", "/api/read/" + id, "", h).status, 200);
  BOOST_CHECK_EQUAL(send("GET", "/api/read/", "", h).status, 400);
  // Update: no id, an empty object, null -> 400; valid data -> 200 JSON.
  BOOST_CHECK_EQUAL(send("PUT", "/api/update/", "{}", h).status, 400);
  BOOST_CHECK_EQUAL(send("PUT", "/api/update/", "null", h).status, 400);
  BOOST_CHECK_EQUAL(send("PUT", "/api/update/", "{\"_id\":\"" + id + "\"}", h).status, 400);
  r = send("PUT", "/api/update/",
           "{\"_id\":\"" + id + R"(","nodeUpdated":{"type":"node Test updated"}})", h);
  BOOST_CHECK_EQUAL(r.status, 200);
  // Delete: an empty id -> 400; not in the database -> 404; existing -> 200.
  BOOST_CHECK_EQUAL(send("DELETE", "/api/delete/", "\"\"", h).status, 400);
  BOOST_CHECK_EQUAL(send("DELETE", "/api/delete/", "\"5527f052a23a84b74a548792\"", h).status, 404);
  BOOST_CHECK_EQUAL(send("DELETE", "/api/delete/", "\"" + id + "\"", h).status, 200);
}

// What every client parses: a JSON content type on each success, 207 with `null` in the place of
// each miss for comment and publish (as for read), a read's ids taken from a GET's body
// (Express reads bodies of any method; damas.js's read sends one), and createToken refused
// without a token.
BOOST_AUTO_TEST_CASE(json_answers_partial_outcomes_and_bodies_of_gets) {
  auto token = py_sign_in("root", node.admin_password);
  headers h{{"Content-Type", "application/json"}, {"Authorization", "Bearer " + token}};
  auto json_type = [](const http_result& r) {
    return r.header("content-type").find("application/json") != std::string::npos;
  };
  auto r = send("POST", "/api/create/", R"({"_id":"/p/a","file_size":1})", h);
  BOOST_CHECK_EQUAL(r.status, 201);
  BOOST_CHECK(json_type(r));
  for (auto [method, target, body] :
       {std::tuple<const char*, const char*, const char*>{"GET", "/api/read/%2Fp%2Fa", ""},
        {"GET", "/api/search/file_size:1", ""},
        {"POST", "/api/search_mongo/", R"({"query":{"file_size":1}})"},
        {"GET", "/api/graph/0/%2Fp%2Fa", ""},
        {"GET", "/api/verify", ""},
        {"PUT", "/api/update/", R"({"_id":"/p/a","file_size":2})"}}) {
    r = send(method, target, body, h);
    BOOST_CHECK_MESSAGE(r.status == 200 && json_type(r),
                        method << " " << target << ": " << r.status << " " << r.header("content-type"));
  }
  // GET /api/read/ with the ids in its body.
  r = send("GET", "/api/read/", R"(["/p/a"])", h);
  BOOST_CHECK_EQUAL(r.status, 200);
  auto d = parse_json(r.body);
  BOOST_CHECK(d->ok && d->doc.IsArray() && d->doc.Size() == 1 && d->doc[0].IsObject());
  // comment on one parent that exists and one that does not: 207, the comment and null.
  r = send("POST", "/api/comment/", R"({"#parent":["/p/a","/p/none"],"comment":"hi"})", h);
  BOOST_CHECK_EQUAL(r.status, 207);
  BOOST_CHECK(json_type(r));
  d = parse_json(r.body);
  BOOST_REQUIRE(d->ok && d->doc.IsArray() && d->doc.Size() == 2);
  BOOST_CHECK(d->doc[0].IsObject() && d->doc[1].IsNull());
  // publish a new file and one already tracked: 207, null for the tracked one.
  r = send("POST", "/api/publish/",
           R"([{"_id":"/p/new","comment":"first","origin":"s1"},{"_id":"/p/a","comment":"again","origin":"s1"}])",
           h);
  BOOST_CHECK_EQUAL(r.status, 207);
  BOOST_CHECK(json_type(r));
  d = parse_json(r.body);
  BOOST_REQUIRE(d->ok && d->doc.IsArray() && d->doc.Size() >= 2);
  BOOST_CHECK(d->doc[0].IsObject() && d->doc[1].IsNull());
  // createToken needs the token of whoever asks.
  r = send("POST", "/api/createToken", R"({"name":"ci"})", {{"Content-Type", "application/json"}});
  BOOST_CHECK_EQUAL(r.status, 401);
  BOOST_CHECK(json_type(r));
}

BOOST_AUTO_TEST_SUITE_END()

// damas-core without authentication (its `noauth`): syncline's opt-in anonymous class.
BOOST_AUTO_TEST_CASE(anonymous_class_serves_clients_that_never_sign_in) {
  api_node open{"editor"};
  http_connection c{"127.0.0.1", open.port};
  // Anonymous access is ambient (any web page could use it through a browser): a change
  // needs the Origin (or Referer) of an allowed page, the node's own here. Reads do not.
  auto r = c.request("POST", "/api/create/", R"({"_id":"/anon/a","v":1})",
                     {{"Content-Type", "application/json"}});
  BOOST_CHECK_EQUAL(r.status, 403);
  BOOST_CHECK_MESSAGE(r.body.find("needs an Origin (or Referer)") != std::string::npos, r.body);
  BOOST_CHECK_EQUAL(c.request("GET", "/api/read/%2Fanon%2Fa", "", {}).status, 404);
  headers json{{"Content-Type", "application/json"},
               {"Origin", "http://127.0.0.1:" + std::to_string(open.port)}};
  r = c.request("POST", "/api/create/", R"({"_id":"/anon/a","v":1})", json);
  BOOST_CHECK_EQUAL(r.status, 201);
  BOOST_CHECK_EQUAL(member(r.body, "author"), "anonymous");
  BOOST_CHECK_EQUAL(c.request("PUT", "/api/update/", R"({"_id":"/anon/a","v":2})", json).status, 200);
  r = c.request("GET", "/api/verify", "", {});
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK(r.body.find("\"anonymous\":true") != std::string::npos);
  // The class is a ceiling: users need admin.
  BOOST_CHECK_EQUAL(c.request("POST", "/api/create/", R"({"_id":"@x","class":"admin"})", json).status, 403);
  // A token that is wrong is refused, not taken as anonymous.
  BOOST_CHECK_EQUAL(c.request("GET", "/api/verify", "", {{"Authorization", "Bearer wrong"}}).status, 401);
}
