// Floods against a real node on loopback: sign-in attempts limited per (user, address) with 429
// and Retry-After, a sign-in flood that does not starve a reader, and answers too large for one
// request refused with a clear error rather than cut. Every loop is bounded in count and time.
#define BOOST_TEST_MODULE flood
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>

#include "tests/api/api_client.hpp"

using namespace syncline;
using namespace syncline::test;
using namespace std::chrono_literals;

namespace {

http_result sign_in(uint16_t port, const std::string& user, const std::string& password) {
  http_connection c{"127.0.0.1", port};
  return c.request("POST", "/api/signIn", "username=" + user + "&password=" + password,
                   {{"Content-Type", "application/x-www-form-urlencoded"}});
}

}  // namespace

BOOST_AUTO_TEST_CASE(sign_in_attempts_are_limited_per_user_and_address) {
  api_node n{{}, 1000, [](runtime::node_config& cfg) {
               cfg.auth.sign_in_attempts = 3;
               cfg.auth.sign_in_attempts_per_address = 1000;
               cfg.auth.sign_in_window_s = 3600;
             }};
  api_client root{n.port};
  root.set_token(root.sign_in("root", n.admin_password));
  BOOST_REQUIRE(!root.token().empty());
  BOOST_REQUIRE_EQUAL(
      root.post("/api/create/", R"({"_id":"@ursula","class":"user","password":"pw-ursula"})").status,
      201);
  for (int i = 0; i < 3; ++i) BOOST_CHECK_EQUAL(sign_in(n.port, "ursula", "wrong").status, 401);
  auto r = sign_in(n.port, "ursula", "wrong");
  BOOST_CHECK_EQUAL(r.status, 429);
  BOOST_CHECK(is_error_shape(r.body));
  auto after = r.header("retry-after");
  BOOST_CHECK_MESSAGE(!after.empty() && std::stoi(after) >= 1, "Retry-After: " << after);
  BOOST_CHECK_MESSAGE(r.body.find("too many sign-in attempts") != std::string::npos, r.body);
  // Even the right password waits: the attempts of this user from here are spent.
  BOOST_CHECK_EQUAL(sign_in(n.port, "ursula", "pw-ursula").status, 429);
  // Another user from the same address is not locked out, and successes cost nothing.
  for (int i = 0; i < 10; ++i)
    BOOST_CHECK_EQUAL(sign_in(n.port, "root", n.admin_password).status, 200);
}

// A sign-in flood (many connections, wrong passwords, bounded in count) while a reader reads:
// every read is answered, and the flood gets 401, 429 or 503, never a hang.
BOOST_AUTO_TEST_CASE(a_sign_in_flood_does_not_starve_readers) {
  // Spent attempts come back slowly enough that none has by the end of the test.
  api_node n{{}, 1000, [](runtime::node_config& cfg) { cfg.auth.sign_in_window_s = 3600; }};
  api_client root{n.port};
  root.set_token(root.sign_in("root", n.admin_password));
  BOOST_REQUIRE(!root.token().empty());
  BOOST_REQUIRE_EQUAL(root.post("/api/create/", R"({"_id":"/r/a","v":1})").status, 201);
  std::atomic<int> running{6};
  std::atomic<int> flood_answers{0};
  std::atomic<int> unexpected{0};
  std::vector<std::thread> flood;
  for (int t = 0; t < 6; ++t)
    flood.emplace_back([&, t] {
      auto end = std::chrono::steady_clock::now() + 60s;
      for (int i = 0; i < 100 && std::chrono::steady_clock::now() < end; ++i) {
        try {
          auto r = sign_in(n.port, "user" + std::to_string(t * 1000 + i), "wrong");
          if (r.status != 401 && r.status != 429 && r.status != 503) ++unexpected;
          ++flood_answers;
        } catch (const std::exception&) {
          ++unexpected;
        }
      }
      --running;
    });
  int reads = 0;
  int ok = 0;
  api_client reader{n.port, root.token()};
  // Reads for as long as the flood lasts (bounded in count and time).
  auto end = std::chrono::steady_clock::now() + 90s;
  while ((reads < 20 || running > 0) && reads < 5000 && std::chrono::steady_clock::now() < end) {
    ++reads;
    ok += reader.get("/api/read/%2Fr%2Fa").status == 200;
    ok += reader.post("/api/search_mongo", R"({"query":{"v":1}})").status == 200;
  }
  for (auto& t : flood) t.join();
  BOOST_CHECK_EQUAL(ok, 2 * reads);
  BOOST_CHECK_EQUAL(flood_answers.load(), 600);
  BOOST_CHECK_EQUAL(unexpected.load(), 0);
  // The flood from this address spent its attempts: the limit answered it, not argon2id.
  BOOST_CHECK_EQUAL(sign_in(n.port, "someone", "wrong").status, 429);
}

BOOST_AUTO_TEST_CASE(answers_larger_than_the_limit_are_refused_never_cut) {
  api_node n{{}, 1000, [](runtime::node_config& cfg) { cfg.api.max_answer_ids = 5; }};
  api_client c{n.port};
  c.set_token(c.sign_in("root", n.admin_password));
  BOOST_REQUIRE(!c.token().empty());
  for (int i = 0; i < 7; ++i)
    BOOST_REQUIRE_EQUAL(c.post("/api/create/", R"({"_id":"/big/)" + std::to_string(i) +
                                                   R"(","kind":"x","tgt_id":"/big/0"})")
                            .status,
                        201);
  auto r = c.get("/api/search/kind:x");
  BOOST_CHECK_EQUAL(r.status, 400);
  BOOST_CHECK_MESSAGE(r.body.find("holds 7 ids") != std::string::npos &&
                          r.body.find("max_answer_ids") != std::string::npos &&
                          r.body.find("search_mongo") != std::string::npos,
                      r.body);
  r = c.post("/api/search_mongo", R"({"query":{"kind":"x"}})");
  BOOST_CHECK_EQUAL(r.status, 400);
  BOOST_CHECK_MESSAGE(r.body.find("max_answer_ids") != std::string::npos, r.body);
  r = c.post("/api/search_mongo", R"({"query":{"kind":"x"},"limit":6})");
  BOOST_CHECK_EQUAL(r.status, 400);
  // Paging works: 5, then 2.
  r = c.post("/api/search_mongo", R"({"query":{"kind":"x"},"limit":5})");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_MESSAGE(r.body.find("\"count\":7") != std::string::npos, r.body);
  r = c.post("/api/search_mongo", R"({"query":{"kind":"x"},"limit":5,"skip":5})");
  BOOST_CHECK_EQUAL(r.status, 200);
  // Within the limit, search answers.
  BOOST_REQUIRE_EQUAL(c.post("/api/create/", R"({"_id":"/other/1","kind":"y"})").status, 201);
  BOOST_CHECK_EQUAL(array_size(c.get("/api/search/kind:y").body), 1);
  // graph/0 of /big/0: every /big/i is an edge to it: 7 + nodes > 5.
  r = c.get("/api/graph/0/%2Fbig%2F0");
  BOOST_CHECK_EQUAL(r.status, 400);
  BOOST_CHECK_MESSAGE(r.body.find("max_answer_ids") != std::string::npos, r.body);
}
