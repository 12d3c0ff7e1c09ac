#define BOOST_TEST_MODULE storage_user_store
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>
#include <thread>
#include <vector>

#include "storage/database.hpp"
#include "storage/element_store.hpp"
#include "storage/error.hpp"
#include "storage/user_store.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/temp_dir.hpp"

using namespace syncline::storage;
using syncline::test::why;

namespace {

constexpr int64_t hour_ms = 3600 * 1000;

struct fixture {
  syncline::test::temp_dir dir{"user-store"};
  std::unique_ptr<database> db;
  std::unique_ptr<element_store> elements;
  std::unique_ptr<user_store> users;

  explicit fixture(const user_store_options& opts = user_store_options::minimum_cost()) {
    db = syncline::test::open_db(dir.path());
    elements = std::make_unique<element_store>(*db);
    users = std::make_unique<user_store>(*db, *elements, opts);
  }

  user_info create(std::string_view name, std::string_view password, user_class cls,
                   std::string_view extra = {}) {
    auto u = users->create_user(name, password, cls, extra);
    BOOST_REQUIRE_MESSAGE(u, "create " << name << ": " << why(u));
    return *u;
  }

  std::string issue(std::string_view name, int64_t ttl_ms, int64_t now_ms) {
    auto t = users->issue_token(name, ttl_ms, now_ms);
    BOOST_REQUIRE_MESSAGE(t, "issue for " << name << ": " << why(t));
    return t->token;
  }

  bool verifies(std::string_view token, int64_t now_ms) const {
    return static_cast<bool>(users->verify_token(token, now_ms));
  }

  // Changes keys of an element as an admin would through /api/update.
  void update(const std::string& json) {
    write_context admin{"@root", 5000};
    auto out = elements->update(json, admin);
    BOOST_REQUIRE_MESSAGE(out, why(out));
    for (auto& o : *out)
      BOOST_REQUIRE_MESSAGE(o.result == element_result::updated,
                            o.id << ": " << to_string(o.result));
  }

  // Every element's JSON, as the element API can return it (scan, list and read).
  std::string every_element() const {
    std::string all;
    std::vector<std::string> ids;
    auto err = elements->scan("", [&](std::string_view id, std::string_view json) {
      ids.emplace_back(id);
      all.append(json).push_back('\n');
      return true;
    });
    BOOST_REQUIRE_MESSAGE(!err, why(err));
    auto page = elements->list("", "", 1000);
    BOOST_REQUIRE_MESSAGE(page, why(page));
    for (auto& item : page->items) all.append(item.second).push_back('\n');
    auto got = elements->read(ids);
    BOOST_REQUIRE_MESSAGE(got, why(got));
    for (auto& json : *got) all.append(json.value_or("")).push_back('\n');
    return all;
  }

  // Every byte of every file of the database (write-ahead log, tables, manifests): what an
  // attacker holding a copy of the data directory has.
  std::string every_file() const {
    std::string all;
    for (auto& e : std::filesystem::recursive_directory_iterator(dir.path())) {
      if (!e.is_regular_file()) continue;
      std::ifstream in{e.path(), std::ios::binary};
      all.append(std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{});
    }
    return all;
  }
};

bool contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

template <class T>
storage_errc code_of(const caf::expected<T>& x) {
  for (auto c :
       {storage_errc::not_found, storage_errc::invalid_argument, storage_errc::already_exists,
        storage_errc::invalid_json, storage_errc::invalid_element, storage_errc::corruption})
    if (!x && is(x.error(), c)) return c;
  return storage_errc::io_error;
}

}  // namespace

BOOST_AUTO_TEST_CASE(class_names_round_trip) {
  for (auto c : {user_class::guest, user_class::user, user_class::editor, user_class::admin})
    BOOST_CHECK(user_class_from_string(to_string(c)) == c);
  BOOST_CHECK(!user_class_from_string("root"));
  BOOST_CHECK(!user_class_from_string("Admin"));
}

BOOST_FIXTURE_TEST_CASE(create_then_authenticate_by_name_and_email, fixture) {
  auto bob = create("bob", "s3cret pass", user_class::editor,
                    R"({"email":"Bob@Example.com","fullname":"Bob Builder","n":null})");
  BOOST_CHECK_EQUAL(bob.id, "@bob");
  BOOST_CHECK_EQUAL(bob.username, "bob");
  BOOST_CHECK(bob.cls == user_class::editor);
  BOOST_CHECK_EQUAL(bob.email, "Bob@Example.com");
  BOOST_CHECK(!bob.disabled);
  // An element like any other: readable, with the reserved keys set by the store.
  auto stored = elements->get("@bob");
  BOOST_REQUIRE(stored && *stored);
  BOOST_CHECK_EQUAL(**stored, bob.element_json);
  for (auto key : {R"("_id":"@bob")", R"("username":"bob")", R"("class":"editor")",
                   R"("email":"Bob@Example.com")", R"("fullname":"Bob Builder")",
                   R"("author":"@bob")", R"("time":)"})
    BOOST_CHECK_MESSAGE(contains(bob.element_json, key), bob.element_json << " lacks " << key);
  BOOST_CHECK(!contains(bob.element_json, "\"n\""));
  BOOST_CHECK(!contains(bob.element_json, "password"));

  for (auto login : {"bob", "@bob", "Bob@Example.com", "bob@example.com", "BOB@EXAMPLE.COM"}) {
    auto u = users->authenticate(login, "s3cret pass");
    BOOST_REQUIRE_MESSAGE(u, login << ": " << why(u));
    BOOST_CHECK_EQUAL(u->id, "@bob");
    BOOST_CHECK(u->cls == user_class::editor);
    BOOST_CHECK_EQUAL(u->element_json, bob.element_json);
  }
  // Names are exact; only emails ignore case.
  BOOST_CHECK(!users->authenticate("Bob", "s3cret pass"));
  auto found = users->find("@bob");
  BOOST_REQUIRE_MESSAGE(found, why(found));
  BOOST_CHECK_EQUAL(found->email, "Bob@Example.com");
  BOOST_CHECK(code_of(users->find("nobody")) == storage_errc::not_found);
}

BOOST_FIXTURE_TEST_CASE(wrong_password_and_unknown_user_fail_alike, fixture) {
  create("bob", "right", user_class::user, R"({"email":"bob@example.com"})");
  // An element `@ghost` made through the generic API has no password hash: no way in.
  auto out = elements->create(R"({"_id":"@ghost","class":"admin"})", write_context{"@root", 1});
  BOOST_REQUIRE(out);
  std::vector<caf::expected<user_info>> failures;
  failures.push_back(users->authenticate("bob", "wrong"));
  failures.push_back(users->authenticate("bob", "righ"));
  failures.push_back(users->authenticate("bob", "right "));
  failures.push_back(users->authenticate("nobody", "right"));
  failures.push_back(users->authenticate("@nobody", "right"));
  failures.push_back(users->authenticate("bob@example.org", "right"));
  failures.push_back(users->authenticate("bob@example.com", "wrong"));
  failures.push_back(users->authenticate("ghost", "right"));
  failures.push_back(users->authenticate("ghost", ""));
  failures.push_back(users->authenticate("bad name", "right"));
  failures.push_back(users->authenticate("", "right"));
  failures.push_back(users->authenticate("bob", ""));
  failures.push_back(users->authenticate("bob", std::string(5000, 'x')));
  auto expected_text = render(failures.front().error());
  BOOST_CHECK_EQUAL(expected_text, "not_found: wrong username or password");
  for (size_t i = 0; i < failures.size(); ++i) {
    BOOST_REQUIRE_MESSAGE(!failures[i], "attempt " << i << " succeeded");
    BOOST_CHECK(code_of(failures[i]) == storage_errc::not_found);
    BOOST_CHECK_EQUAL(render(failures[i].error()), expected_text);
  }
}

// An unknown user costs an argon2id verification like a known one; without the stand-in hash
// it would answer a hundred times faster. Medians of interleaved runs keep this robust against
// a busy machine; the bound is loose on purpose.
BOOST_AUTO_TEST_CASE(unknown_user_takes_as_long_as_a_wrong_password) {
  user_store_options opts;
  opts.pwhash_opslimit = 2;
  opts.pwhash_memlimit = size_t{4} << 20;
  fixture f{opts};
  f.create("bob", "right", user_class::user, R"({"email":"bob@example.com"})");
  using clock = std::chrono::steady_clock;
  auto time_of = [&](std::string_view login) {
    auto t0 = clock::now();
    auto u = f.users->authenticate(login, "wrong");
    BOOST_REQUIRE(!u);
    return std::chrono::duration<double>(clock::now() - t0).count();
  };
  std::vector<double> known, unknown, unknown_email;
  for (int i = 0; i < 7; ++i) {
    known.push_back(time_of("bob"));
    unknown.push_back(time_of("nobody"));
    unknown_email.push_back(time_of("nobody@example.com"));
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  BOOST_TEST_MESSAGE("median seconds: known " << median(known) << ", unknown " << median(unknown)
                                              << ", unknown email " << median(unknown_email));
  BOOST_CHECK_GT(median(unknown), median(known) / 4);
  BOOST_CHECK_GT(median(unknown_email), median(known) / 4);
  BOOST_CHECK_GT(median(known), median(unknown) / 4);
}

BOOST_FIXTURE_TEST_CASE(disabled_users_are_refused, fixture) {
  create("carol", "pw", user_class::admin, R"({"disable":true})");
  auto u = users->authenticate("carol", "pw");
  BOOST_REQUIRE(!u);
  BOOST_CHECK_EQUAL(render(u.error()), "invalid_argument: user disabled");
  // Without the password nobody learns that the user is disabled.
  BOOST_CHECK_EQUAL(render(users->authenticate("carol", "nope").error()),
                    "not_found: wrong username or password");
  BOOST_CHECK(code_of(users->issue_token("carol", hour_ms, 0)) == storage_errc::invalid_argument);

  create("dave", "pw", user_class::user);
  auto token = issue("dave", hour_ms, 0);
  BOOST_CHECK(verifies(token, 1));
  // Any value JavaScript calls truthy disables, as in damas-core.
  for (auto value : {"true", "1", "\"yes\"", "\"false\"", "[]", "{}"}) {
    update(R"({"_id":"@dave","disable":)" + std::string{value} + "}");
    BOOST_CHECK_MESSAGE(!verifies(token, 2), "disable: " << value);
    BOOST_CHECK_MESSAGE(
        code_of(users->authenticate("dave", "pw")) == storage_errc::invalid_argument,
        "disable: " << value);
  }
  for (auto value : {"false", "0", "\"\"", "null", "-0.0"}) {
    update(R"({"_id":"@dave","disable":)" + std::string{value} + "}");
    BOOST_CHECK_MESSAGE(verifies(token, 3), "disable: " << value);
    BOOST_CHECK_MESSAGE(users->authenticate("dave", "pw"), "disable: " << value);
  }
  auto info = users->verify_token(token, 4);
  BOOST_REQUIRE(info);
  BOOST_CHECK(!info->disabled);
}

BOOST_FIXTURE_TEST_CASE(passwords_and_tokens_are_never_stored_in_clear, fixture) {
  const std::string password = "Tr0ub4dor&3-horse-battery";
  const std::string second = "second-Passw0rd-zebra";
  create("erin", password, user_class::admin,
         R"({"email":"erin@example.com","fullname":"Erin E"})");
  create("frank", second, user_class::user);
  std::vector<std::string> tokens;
  for (int i = 0; i < 3; ++i) tokens.push_back(issue("erin", hour_ms, 1000));
  tokens.push_back(issue("frank", hour_ms, 1000));
  BOOST_REQUIRE(users->authenticate("erin", password));
  BOOST_REQUIRE(!users->set_password("frank", "third-Passw0rd-yak"));
  tokens.push_back(issue("frank", hour_ms, 1000));
  BOOST_REQUIRE(!users->revoke_token(tokens.front()));

  auto elements_text = every_element();
  BOOST_CHECK(contains(elements_text, "erin@example.com"));  // the scan sees the elements
  auto files = every_file();
  // What the scan of the files must find, so that not finding a secret means something: the
  // element's email, and the hashes, argon2id at the store's cost.
  BOOST_CHECK(contains(files, "erin@example.com"));
  BOOST_CHECK(contains(files, "$argon2id$v=19$m=8,t=1,p=1$"));
  BOOST_CHECK(!contains(files, "$argon2i$"));
  BOOST_CHECK(!contains(files, "$argon2d$"));
  for (auto& secret : {password, second, std::string{"third-Passw0rd-yak"}}) {
    BOOST_CHECK_MESSAGE(!contains(elements_text, secret), "an element holds " << secret);
    BOOST_CHECK_MESSAGE(!contains(files, secret), "the database files hold " << secret);
  }
  for (auto& token : tokens) {
    BOOST_CHECK_MESSAGE(!contains(elements_text, token), "an element holds a token");
    BOOST_CHECK_MESSAGE(!contains(files, token), "the database files hold a token");
  }
  BOOST_CHECK(!contains(elements_text, "password"));
  BOOST_CHECK(!contains(elements_text, "argon2"));
}

BOOST_FIXTURE_TEST_CASE(tokens_verify_until_they_expire, fixture) {
  create("gina", "pw", user_class::user);
  auto t = users->issue_token("gina", 1000, 50'000);
  BOOST_REQUIRE_MESSAGE(t, why(t));
  BOOST_CHECK_EQUAL(t->expires_ms, 51'000);
  BOOST_CHECK_EQUAL(t->token.size(), 43u);
  BOOST_CHECK(std::all_of(t->token.begin(), t->token.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  }));
  auto u = users->verify_token(t->token, 50'000);
  BOOST_REQUIRE_MESSAGE(u, why(u));
  BOOST_CHECK_EQUAL(u->id, "@gina");
  BOOST_CHECK(verifies(t->token, 50'999));
  auto late = users->verify_token(t->token, 51'000);
  BOOST_REQUIRE(!late);
  BOOST_CHECK_EQUAL(render(late.error()), "not_found: invalid or expired token");

  // Every failure reads the same.
  std::string changed = t->token;
  changed[5] = changed[5] == 'A' ? 'B' : 'A';
  for (auto bad : {std::string{}, std::string{"x"}, changed, t->token + "A", t->token.substr(1),
                   std::string(43, '!')}) {
    auto v = users->verify_token(bad, 50'000);
    BOOST_REQUIRE(!v);
    BOOST_CHECK_EQUAL(render(v.error()), "not_found: invalid or expired token");
  }

  std::set<std::string> distinct;
  for (int i = 0; i < 50; ++i) distinct.insert(issue("gina", 1000, 0));
  BOOST_CHECK_EQUAL(distinct.size(), 50u);

  BOOST_CHECK(code_of(users->issue_token("gina", 0, 0)) == storage_errc::invalid_argument);
  BOOST_CHECK(code_of(users->issue_token("gina", -5, 0)) == storage_errc::invalid_argument);
  BOOST_CHECK(code_of(users->issue_token("nobody", 10, 0)) == storage_errc::not_found);
  auto forever = users->issue_token("gina", std::numeric_limits<int64_t>::max(), 10);
  BOOST_REQUIRE(forever);
  BOOST_CHECK_EQUAL(forever->expires_ms, std::numeric_limits<int64_t>::max());
  BOOST_CHECK(verifies(forever->token, std::numeric_limits<int64_t>::max() - 1));
}

BOOST_FIXTURE_TEST_CASE(revoke_one_revoke_all_and_set_password, fixture) {
  create("hank", "old", user_class::user);
  create("iris", "pw", user_class::user);
  auto a = issue("hank", hour_ms, 0), b = issue("hank", hour_ms, 0), c = issue("hank", hour_ms, 0);
  auto other = issue("iris", hour_ms, 0);

  BOOST_REQUIRE(!users->revoke_token(a));
  BOOST_CHECK(!verifies(a, 1));
  BOOST_CHECK(verifies(b, 1));
  BOOST_CHECK(!users->revoke_token(a));          // again: fine
  BOOST_CHECK(!users->revoke_token("garbage"));  // never issued: fine

  BOOST_REQUIRE(!users->revoke_all("@hank"));
  BOOST_CHECK(!verifies(b, 1));
  BOOST_CHECK(!verifies(c, 1));
  BOOST_CHECK(verifies(other, 1));
  BOOST_CHECK(!users->revoke_all("nobody"));
  BOOST_CHECK(users->revoke_all("bad name"));

  auto d = issue("hank", hour_ms, 0);
  BOOST_REQUIRE(!users->set_password("hank", "new"));
  BOOST_CHECK(!verifies(d, 1));
  BOOST_CHECK(verifies(other, 1));
  BOOST_CHECK(!users->authenticate("hank", "old"));
  BOOST_CHECK(users->authenticate("hank", "new"));
  BOOST_CHECK(verifies(issue("hank", hour_ms, 0), 1));

  BOOST_CHECK(users->set_password("nobody", "x"));
  BOOST_CHECK(users->set_password("hank", ""));
  BOOST_CHECK(users->authenticate("hank", "new"));
}

BOOST_FIXTURE_TEST_CASE(class_changes_apply_at_once, fixture) {
  create("jack", "pw", user_class::guest);
  auto t = issue("jack", hour_ms, 0);
  auto u = users->verify_token(t, 1);
  BOOST_REQUIRE(u);
  BOOST_CHECK(u->cls == user_class::guest);
  update(R"({"_id":"@jack","class":"admin"})");
  u = users->verify_token(t, 1);
  BOOST_REQUIRE(u);
  BOOST_CHECK(u->cls == user_class::admin);
  BOOST_CHECK(contains(u->element_json, R"("class":"admin")"));
  // A class this build does not know, or one that is not a string, is the weakest.
  update(R"({"_id":"@jack","class":"superuser"})");
  BOOST_CHECK(users->verify_token(t, 1)->cls == user_class::guest);
  update(R"({"_id":"@jack","class":3})");
  BOOST_CHECK(users->verify_token(t, 1)->cls == user_class::guest);
  update(R"({"_id":"@jack","class":null})");
  BOOST_CHECK(users->verify_token(t, 1)->cls == user_class::guest);
}

BOOST_FIXTURE_TEST_CASE(deleted_users_lose_tokens_and_password, fixture) {
  create("kate", "pw", user_class::admin);
  create("liam", "pw", user_class::user);
  auto t = issue("kate", hour_ms, 0);
  auto keep = issue("liam", hour_ms, 0);
  auto out = elements->remove({"@kate"}, write_context{"@root", 1});
  BOOST_REQUIRE(out && out->at(0).result == element_result::deleted);
  BOOST_CHECK(!verifies(t, 1));
  BOOST_CHECK_EQUAL(render(users->authenticate("kate", "pw").error()),
                    "not_found: wrong username or password");

  // Created again through the user store: the old tokens stay dead, the new password works.
  create("kate", "pw2", user_class::user);
  BOOST_CHECK(!verifies(t, 1));
  BOOST_CHECK(!users->authenticate("kate", "pw"));
  BOOST_CHECK(users->authenticate("kate", "pw2"));
  auto t2 = issue("kate", hour_ms, 0);

  // Deleted again, then purged: made again through the generic API, it has no password.
  out = elements->remove({"@kate"}, write_context{"@root", 1});
  BOOST_REQUIRE(out && out->at(0).result == element_result::deleted);
  auto purged = users->purge_expired(1);
  BOOST_REQUIRE_MESSAGE(purged, why(purged));
  BOOST_CHECK_EQUAL(*purged, 2u);  // t (old generation) and t2 (user gone)
  auto again = elements->create(R"({"_id":"@kate","class":"admin"})", write_context{"@root", 2});
  BOOST_REQUIRE(again && again->at(0).result == element_result::created);
  BOOST_CHECK(!users->authenticate("kate", "pw2"));
  BOOST_CHECK(!verifies(t2, 3));
  BOOST_CHECK(code_of(users->issue_token("kate", hour_ms, 3)) == storage_errc::not_found);
  BOOST_CHECK(verifies(keep, 3));
  // set_password makes the generic element a user.
  BOOST_REQUIRE(!users->set_password("kate", "pw3"));
  BOOST_CHECK(users->authenticate("kate", "pw3"));
}

// remove_elements deletes the hash in the same write as the element: without a purge, an element
// made again under the name (no password) does not sign in with the old one.
BOOST_FIXTURE_TEST_CASE(remove_elements_deletes_the_password_at_once, fixture) {
  create("mona", "pw-old", user_class::user);
  create("nils", "pw", user_class::user);
  auto t = issue("mona", hour_ms, 0);
  auto keep = issue("nils", hour_ms, 0);
  BOOST_REQUIRE(elements->create(R"({"_id":"/plain"})", write_context{"@root", 1}));
  auto out = users->remove_elements({"@mona", "/plain", "@nobody"}, write_context{"@root", 1});
  BOOST_REQUIRE_MESSAGE(out, why(out));
  BOOST_REQUIRE_EQUAL(out->size(), 3u);
  BOOST_CHECK(out->at(0).result == element_result::deleted);
  BOOST_CHECK(out->at(1).result == element_result::deleted);
  BOOST_CHECK(out->at(2).result == element_result::not_found);
  BOOST_CHECK(!verifies(t, 1));
  // No purge in between: the element comes back without a password, and the old one is gone.
  auto again = elements->create(R"({"_id":"@mona","class":"admin"})", write_context{"@root", 2});
  BOOST_REQUIRE(again && again->at(0).result == element_result::created);
  BOOST_CHECK(!users->authenticate("mona", "pw-old"));
  BOOST_CHECK(code_of(users->issue_token("mona", hour_ms, 3)) == storage_errc::not_found);
  BOOST_CHECK(!verifies(t, 3));
  BOOST_CHECK(verifies(keep, 3));
  auto purged = users->purge_expired(3);
  BOOST_REQUIRE_MESSAGE(purged, why(purged));
  BOOST_CHECK_EQUAL(*purged, 0u);  // nothing of mona's was left to purge
  // A locked user element is not deleted, and keeps its password.
  BOOST_REQUIRE(elements->lock({"@nils"}, write_context{"@nils", 4}));
  out = users->remove_elements({"@nils"}, write_context{"@root", 5});
  BOOST_REQUIRE_MESSAGE(out, why(out));
  BOOST_CHECK(out->at(0).result == element_result::locked);
  BOOST_CHECK(users->authenticate("nils", "pw"));
  BOOST_CHECK(verifies(keep, 5));
}

// An unlock that does not honour locks (an admin's force) removes another user's lock and says
// whose it was; an ordinary one is refused.
BOOST_FIXTURE_TEST_CASE(unlock_without_honoring_locks_breaks_them, fixture) {
  BOOST_REQUIRE(elements->create(R"({"_id":"/held"})", write_context{"@root", 1}));
  BOOST_REQUIRE(elements->lock({"/held"}, write_context{"ursula", 2}));
  auto plain = elements->unlock({"/held"}, write_context{"ada", 3});
  BOOST_REQUIRE(plain);
  BOOST_CHECK(plain->at(0).result == element_result::locked);
  write_context force{"ada", 4};
  force.honor_locks = false;
  auto broken = elements->unlock({"/held"}, force);
  BOOST_REQUIRE(broken);
  BOOST_CHECK(broken->at(0).result == element_result::updated);
  BOOST_CHECK_EQUAL(broken->at(0).lock_owner, "ursula");
  auto now = elements->get("/held");
  BOOST_REQUIRE(now && *now);
  BOOST_CHECK((*now)->find("\"lock\"") == std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(purge_removes_expired_tokens_only, fixture) {
  create("mia", "pw", user_class::user);
  std::vector<std::string> short_lived, long_lived;
  for (int i = 0; i < 5; ++i) short_lived.push_back(issue("mia", 100, 1000));  // until 1100
  for (int i = 0; i < 3; ++i) long_lived.push_back(issue("mia", 1000, 1000));  // until 2000
  auto none = users->purge_expired(1099);
  BOOST_REQUIRE(none);
  BOOST_CHECK_EQUAL(*none, 0u);
  auto five = users->purge_expired(1100);
  BOOST_REQUIRE(five);
  BOOST_CHECK_EQUAL(*five, 5u);
  for (auto& t : long_lived) BOOST_CHECK(verifies(t, 1500));
  // Purged tokens are gone, not merely expired: they fail even at a time before their expiry.
  for (auto& t : short_lived) BOOST_CHECK(!verifies(t, 1000));
  auto again = users->purge_expired(1100);
  BOOST_REQUIRE(again);
  BOOST_CHECK_EQUAL(*again, 0u);
  BOOST_CHECK(users->authenticate("mia", "pw"));  // a live user keeps its password
}

BOOST_FIXTURE_TEST_CASE(bad_names_passwords_and_extra_keys_change_nothing, fixture) {
  std::vector<std::string> bad_names{"",
                                     "@",
                                     "a b",
                                     "bob/x",
                                     "../x",
                                     "b\xc3\xa9",
                                     "@@bob",
                                     "bob@example.com",
                                     "tab\t",
                                     std::string(65, 'a'),
                                     std::string{"bo\0b", 4}};
  for (auto& name : bad_names) {
    auto u = users->create_user(name, "pw", user_class::user);
    BOOST_CHECK_MESSAGE(code_of(u) == storage_errc::invalid_argument, "name " << name);
  }
  BOOST_CHECK(users->create_user(std::string(64, 'a'), "pw", user_class::user));
  BOOST_CHECK(users->create_user("A.b_c-9", "pw", user_class::user));

  BOOST_CHECK(code_of(users->create_user("nina", "", user_class::user)) ==
              storage_errc::invalid_argument);
  BOOST_CHECK(code_of(users->create_user("nina", std::string(4097, 'p'), user_class::user)) ==
              storage_errc::invalid_argument);
  for (auto extra :
       {"[]", R"([{"a":1}])", R"({"password":"x"})", R"({"_id":"@other"})", R"({"class":"admin"})",
        R"({"username":"x"})", R"({"email":5})", "nope", R"({"a":)", "3", R"("str")"}) {
    auto u = users->create_user("nina", "pw", user_class::user, extra);
    BOOST_CHECK_MESSAGE(!u, "extra " << extra);
  }
  auto none = elements->get("@nina");
  BOOST_REQUIRE(none);
  BOOST_CHECK(!*none);

  auto long_pw = std::string(4096, 'p');
  create("nina", long_pw, user_class::user, "  {\"email\":\"nina@example.com\"}  ");
  BOOST_CHECK(users->authenticate("nina", long_pw));
  // Names, and emails ignoring case, are taken once.
  auto twice = users->create_user("nina", "other", user_class::admin);
  BOOST_CHECK(code_of(twice) == storage_errc::already_exists);
  auto same_email =
      users->create_user("nina2", "pw", user_class::user, R"({"email":"NINA@example.com"})");
  BOOST_CHECK(code_of(same_email) == storage_errc::already_exists);
  BOOST_CHECK(!*elements->get("@nina2"));
  auto u = users->authenticate("nina", long_pw);
  BOOST_REQUIRE(u);
  BOOST_CHECK(u->cls == user_class::user);

  // An email that two users share (an admin edited one) signs in neither.
  create("olga", "pw", user_class::user, R"({"email":"olga@example.com"})");
  BOOST_CHECK(users->authenticate("olga@example.com", "pw"));
  update(R"({"_id":"@nina","email":"olga@example.com"})");
  BOOST_CHECK(!users->authenticate("olga@example.com", "pw"));
  BOOST_CHECK(users->authenticate("olga", "pw"));
}

BOOST_FIXTURE_TEST_CASE(has_admin_counts_admin_class, fixture) {
  auto none = users->has_admin();
  BOOST_REQUIRE(none);
  BOOST_CHECK(!*none);
  create("pia", "pw", user_class::editor);
  BOOST_CHECK(!*users->has_admin());
  create("quinn", "pw", user_class::admin, R"({"disable":true})");
  BOOST_CHECK(*users->has_admin());
}

// Two creates of one name at once: one wins, and its password is the one stored.
BOOST_FIXTURE_TEST_CASE(concurrent_creates_of_one_name_have_one_winner, fixture) {
  for (int round = 0; round < 5; ++round) {
    auto name = "race" + std::to_string(round);
    std::vector<std::thread> threads;
    std::vector<int> won(4, 0);
    for (int i = 0; i < 4; ++i)
      threads.emplace_back([&, i] {
        won[i] = users->create_user(name, "pw" + std::to_string(i), user_class::user) ? 1 : 0;
      });
    for (auto& t : threads) t.join();
    BOOST_REQUIRE_EQUAL(std::count(won.begin(), won.end(), 1), 1);
    auto winner = std::find(won.begin(), won.end(), 1) - won.begin();
    for (int i = 0; i < 4; ++i)
      BOOST_CHECK_EQUAL(static_cast<bool>(users->authenticate(name, "pw" + std::to_string(i))),
                        i == winner);
  }
}

BOOST_FIXTURE_TEST_CASE(concurrent_issue_verify_revoke_and_purge, fixture) {
  constexpr int threads_n = 4, per_thread = 60;
  for (int i = 0; i < threads_n; ++i) create("t" + std::to_string(i), "pw", user_class::user);
  create("churn", "pw", user_class::user);
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < threads_n; ++i) {
    threads.emplace_back([&, i] {
      auto name = "t" + std::to_string(i);
      std::vector<std::string> mine;
      for (int k = 0; k < per_thread; ++k) {
        auto t = users->issue_token(name, hour_ms, 1000);
        if (!t) {
          ++failures;
          continue;
        }
        mine.push_back(t->token);
        auto u = users->verify_token(t->token, 1001);
        if (!u || u->id != "@" + name) ++failures;
        if (k % 3 == 0) {
          if (users->revoke_token(t->token) || users->verify_token(t->token, 1001)) ++failures;
        }
      }
      for (size_t k = 0; k < mine.size(); ++k)
        if (static_cast<bool>(users->verify_token(mine[k], 1002)) != (k % 3 != 0)) ++failures;
    });
  }
  // Meanwhile: purges (nothing expires at 1000) and password changes of another user.
  threads.emplace_back([&] {
    int n = 0;
    while (!stop) {
      auto p = users->purge_expired(1000);
      if (!p) ++failures;
      if (users->set_password("churn", "pw" + std::to_string(n++))) ++failures;
      auto t = users->issue_token("churn", hour_ms, 1000);
      if (!t || !users->verify_token(t->token, 1001)) ++failures;
    }
  });
  for (int i = 0; i < threads_n; ++i) threads[static_cast<size_t>(i)].join();
  stop = true;
  threads.back().join();
  BOOST_CHECK_EQUAL(failures.load(), 0);
  // All surviving tokens are still there after one more purge.
  auto p = users->purge_expired(1000);
  BOOST_REQUIRE(p);
  BOOST_CHECK_EQUAL(*p, 0u);
}
