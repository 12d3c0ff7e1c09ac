#define BOOST_TEST_MODULE storage_element_store
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "storage/database.hpp"
#include "storage/element_store.hpp"
#include "storage/error.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/temp_dir.hpp"

using namespace syncline::storage;
using syncline::test::why;

namespace {

struct fixture {
  syncline::test::temp_dir dir{"element-store"};
  std::unique_ptr<database> db;
  std::unique_ptr<element_store> store;
  write_context alice{"alice", 1000};
  write_context bob{"bob", 2000};

  fixture() { reopen(); }
  void reopen() {
    store.reset();
    db.reset();
    db = syncline::test::open_db(dir.path());
    store = std::make_unique<element_store>(*db);
  }

  // Every element as (id, json), in key order.
  std::map<std::string, std::string> all() const {
    std::map<std::string, std::string> out;
    auto err = store->scan("", [&](std::string_view id, std::string_view json) {
      out.emplace(id, json);
      return true;
    });
    BOOST_REQUIRE_MESSAGE(!err, why(err));
    return out;
  }

  std::string stored(const std::string& id) const {
    auto got = store->get(id);
    BOOST_REQUIRE_MESSAGE(got, why(got));
    BOOST_REQUIRE_MESSAGE(got->has_value(), id << " is missing");
    return **got;
  }

  void create(const std::string& json, const write_context& ctx) {
    auto out = store->create(json, ctx);
    BOOST_REQUIRE_MESSAGE(out, why(out));
    for (auto& o : *out)
      BOOST_REQUIRE_MESSAGE(o.result == element_result::created,
                            o.id << ": " << to_string(o.result));
  }

  // Creates `/a/b/...`-style ids with trivial bodies.
  void create_ids(const std::vector<std::string>& ids) {
    std::string json = "[";
    for (auto& id : ids) json += (json.size() > 1 ? "," : "") + std::string{R"({"_id":")"} + id + "\"}";
    create(json + "]", alice);
  }

  std::vector<std::string> list_ids(std::string_view prefix, size_t page_size, bool shallow) {
    std::vector<std::string> out;
    std::string cursor;
    for (int pages = 0;; ++pages) {
      BOOST_REQUIRE(pages < 10000);
      auto page = store->list(prefix, cursor, page_size, shallow);
      BOOST_REQUIRE_MESSAGE(page, why(page));
      BOOST_REQUIRE_LE(page->items.size(), page_size);
      for (auto& [id, json] : page->items) {
        BOOST_CHECK_EQUAL(json, stored(id));
        out.push_back(id);
      }
      if (page->next_cursor.empty()) break;
      BOOST_REQUIRE_EQUAL(page->items.size(), page_size);
      BOOST_CHECK_EQUAL(page->next_cursor, page->items.back().first);
      cursor = page->next_cursor;
    }
    return out;
  }
};

std::vector<element_result> results(const std::vector<element_outcome>& out) {
  std::vector<element_result> r;
  for (auto& o : out) r.push_back(o.result);
  return r;
}

std::string results_text(const std::vector<element_outcome>& out) {
  std::string s;
  for (auto& o : out) s += o.id + "=" + to_string(o.result) + " ";
  return s;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(create_then_read_keeps_custom_keys_and_sets_author_time, fixture) {
  auto out = store->create(R"({"_id":"/a/b","k":[1,{"x":null}],"n":1.5})", alice);
  BOOST_REQUIRE(out);
  BOOST_REQUIRE_EQUAL(out->size(), 1u);
  BOOST_CHECK(out->at(0).result == element_result::created);
  auto got = store->read({"/a/b", "/missing"});
  BOOST_REQUIRE(got);
  BOOST_REQUIRE(got->at(0));
  BOOST_CHECK_EQUAL(*got->at(0),
                    R"({"_id":"/a/b","k":[1,{"x":null}],"n":1.5,"author":"alice","time":1000})");
  BOOST_CHECK(!got->at(1));
  BOOST_CHECK_EQUAL(out->at(0).json, *got->at(0));
}

BOOST_FIXTURE_TEST_CASE(malformed_input_writes_nothing, fixture) {
  for (auto bad : {R"({"_id":"/a")", R"([{"_id":"/a"},3])", R"({"_id":5})", R"({"_id":""})",
                   R"("str")"}) {
    auto out = store->create(bad, alice);
    BOOST_CHECK_MESSAGE(!out, bad);
  }
  auto page = store->list("", "", 10);
  BOOST_REQUIRE(page);
  BOOST_CHECK(page->items.empty());
}

BOOST_FIXTURE_TEST_CASE(create_reports_one_outcome_per_id_in_input_order, fixture) {
  create(R"({"_id":"/old","v":"original"})", alice);
  auto out = store->create(
      R"([{"_id":"/new1","v":1},{"_id":"/old","v":"clobber"},{"_id":["/arr1","/arr2"],"v":2},
          {"_id":"/new1","v":"again"},{"_id":["/arr2","/arr3"],"v":3}])",
      bob);
  BOOST_REQUIRE_MESSAGE(out, why(out));
  std::vector<std::string> ids;
  for (auto& o : *out) ids.push_back(o.id);
  BOOST_CHECK((ids == std::vector<std::string>{"/new1", "/old", "/arr1", "/arr2", "/new1",
                                                "/arr2", "/arr3"}));
  using r = element_result;
  BOOST_CHECK_MESSAGE((results(*out) == std::vector<r>{r::created, r::exists, r::created,
                                                       r::created, r::exists, r::exists,
                                                       r::created}),
                      results_text(*out));
  // Existing elements and the repeated mentions are untouched; created ones carry their JSON.
  BOOST_CHECK_EQUAL(stored("/old"), R"({"_id":"/old","v":"original","author":"alice","time":1000})");
  BOOST_CHECK_EQUAL(stored("/new1"), R"({"_id":"/new1","v":1,"author":"bob","time":2000})");
  BOOST_CHECK_EQUAL(stored("/arr2"), R"({"_id":"/arr2","v":2,"author":"bob","time":2000})");
  BOOST_CHECK_EQUAL(stored("/arr3"), R"({"_id":"/arr3","v":3,"author":"bob","time":2000})");
  BOOST_CHECK_EQUAL(out->at(0).json, stored("/new1"));
  BOOST_CHECK(out->at(1).json.empty());
  BOOST_CHECK_EQUAL(all().size(), 5u);
}

BOOST_FIXTURE_TEST_CASE(create_without_id_generates_increasing_ulids, fixture) {
  auto out = store->create(R"([{"k":1},{"k":2},{"_id":"/named"},{"k":3}])", alice);
  BOOST_REQUIRE_MESSAGE(out, why(out));
  BOOST_REQUIRE_EQUAL(out->size(), 4u);
  std::vector<std::string> generated{out->at(0).id, out->at(1).id, out->at(3).id};
  for (auto& id : generated) {
    BOOST_CHECK_EQUAL(id.size(), 26u);
    BOOST_CHECK(stored(id).find(R"("k":)") != std::string::npos);
  }
  BOOST_CHECK(std::is_sorted(generated.begin(), generated.end()));
  BOOST_CHECK(std::set<std::string>(generated.begin(), generated.end()).size() == 3);
  BOOST_CHECK_EQUAL(out->at(2).id, "/named");
}

BOOST_FIXTURE_TEST_CASE(author_and_time_are_the_store_s_unless_kept_on_purpose, fixture) {
  create(R"({"_id":"/forged","author":"mallory","time":5,"k":1})", alice);
  BOOST_CHECK_EQUAL(stored("/forged"), R"({"_id":"/forged","author":"alice","time":1000,"k":1})");

  write_context import{"importer", 3000};
  import.keep_given_author_time = true;
  create(R"({"_id":"/imported","author":"carol","time":5})", import);
  BOOST_CHECK_EQUAL(stored("/imported"), R"({"_id":"/imported","author":"carol","time":5})");
  create(R"({"_id":"/imported2","k":true})", import);
  BOOST_CHECK_EQUAL(stored("/imported2"),
                    R"({"_id":"/imported2","k":true,"author":"importer","time":3000})");

  write_context anonymous{"", 4000};
  create(R"({"_id":"/anon","author":"mallory"})", anonymous);
  BOOST_CHECK_EQUAL(stored("/anon"), R"({"_id":"/anon","time":4000})");

  // Update: a given author is ignored, time is the call's.
  auto up = store->update(R"({"_id":"/forged","author":"mallory","time":6,"k":2})", bob);
  BOOST_REQUIRE_MESSAGE(up, why(up));
  BOOST_CHECK_EQUAL(stored("/forged"), R"({"_id":"/forged","author":"alice","time":2000,"k":2})");
  up = store->update(R"({"_id":"/forged","author":"dave","time":7})", import);
  BOOST_REQUIRE_MESSAGE(up, why(up));
  BOOST_CHECK_EQUAL(stored("/forged"), R"({"_id":"/forged","author":"dave","time":7,"k":2})");
}

BOOST_FIXTURE_TEST_CASE(read_returns_input_order_with_holes, fixture) {
  create(R"([{"_id":"/a","v":1},{"_id":"/b","v":2}])", alice);
  auto got = store->read({"/b", "/none", "/a", "/b"});
  BOOST_REQUIRE_MESSAGE(got, why(got));
  BOOST_REQUIRE_EQUAL(got->size(), 4u);
  BOOST_CHECK(got->at(0) && got->at(0)->find(R"("v":2)") != std::string::npos);
  BOOST_CHECK(!got->at(1));
  BOOST_CHECK(got->at(2) && got->at(2)->find(R"("v":1)") != std::string::npos);
  BOOST_CHECK(got->at(3) == got->at(0));
  auto empty = store->read({});
  BOOST_REQUIRE(empty);
  BOOST_CHECK(empty->empty());
  auto bad = store->read({"/a", ""});
  BOOST_REQUIRE(!bad);
  BOOST_CHECK(is(bad.error(), storage_errc::invalid_element));
  auto missing = store->get("/none");
  BOOST_REQUIRE(missing);
  BOOST_CHECK(!*missing);
}

BOOST_FIXTURE_TEST_CASE(update_merges_keys_into_existing_elements, fixture) {
  create(R"({"_id":"/e","keep":1,"drop":2,"change":"old","nested":{"a":1}})", alice);
  create(R"({"_id":"/f","x":0})", alice);
  auto out = store->update(
      R"([{"_id":"/e","drop":null,"change":"new","added":[1,2],"nested":{"b":2}},
          {"_id":["/f","/missing"],"x":1,"absent_null":null}])",
      bob);
  BOOST_REQUIRE_MESSAGE(out, why(out));
  using r = element_result;
  BOOST_CHECK_MESSAGE((results(*out) == std::vector<r>{r::updated, r::updated, r::not_found}),
                      results_text(*out));
  auto e = stored("/e");
  // Replaced values are replaced whole (no deep merge), removed keys vanish, order is kept.
  BOOST_CHECK_EQUAL(e,
                    R"({"_id":"/e","keep":1,"change":"new","nested":{"b":2},"author":"alice",)"
                    R"("time":2000,"added":[1,2]})");
  BOOST_CHECK_EQUAL(out->at(0).json, e);
  BOOST_CHECK_EQUAL(stored("/f"), R"({"_id":"/f","x":1,"author":"alice","time":2000})");
  BOOST_CHECK(!store->get("/missing")->has_value());

  // An id named twice sees its first change.
  out = store->update(R"([{"_id":"/f","x":2},{"_id":"/f","y":3}])", alice);
  BOOST_REQUIRE_MESSAGE(out, why(out));
  BOOST_CHECK_EQUAL(stored("/f"), R"({"_id":"/f","x":2,"author":"alice","time":1000,"y":3})");
  BOOST_CHECK_EQUAL(out->at(0).json, out->at(1).json);
}

BOOST_FIXTURE_TEST_CASE(update_needs_a_key_and_an_id, fixture) {
  create(R"({"_id":"/e","v":1})", alice);
  auto before = all();
  for (auto bad : {R"({"_id":"/e"})", R"([{"_id":"/e","v":2},{"_id":"/e"}])", R"({"v":2})",
                   R"([{"_id":"/e","v":2},{"v":3}])"}) {
    auto out = store->update(bad, bob);
    BOOST_REQUIRE_MESSAGE(!out, "accepted " << bad);
    BOOST_CHECK_MESSAGE(is(out.error(), storage_errc::invalid_element), render(out.error()));
  }
  BOOST_CHECK((all() == before));
}

BOOST_FIXTURE_TEST_CASE(upsert_creates_or_merges_per_id, fixture) {
  create(R"({"_id":"/there","a":1,"b":2})", alice);
  auto out = store->upsert(
      R"([{"_id":["/there","/new"],"a":null,"c":3},{"_id":"/new","d":4},{"e":5}])", bob);
  BOOST_REQUIRE_MESSAGE(out, why(out));
  using r = element_result;
  BOOST_REQUIRE_MESSAGE((results(*out) == std::vector<r>{r::updated, r::created, r::updated,
                                                         r::created}),
                        results_text(*out));
  BOOST_CHECK_EQUAL(stored("/there"), R"({"_id":"/there","b":2,"author":"alice","time":2000,"c":3})");
  // Created without its null keys, then merged by the second mention.
  BOOST_CHECK_EQUAL(stored("/new"), R"({"_id":"/new","c":3,"author":"bob","time":2000,"d":4})");
  BOOST_CHECK_EQUAL(out->at(3).id.size(), 26u);
  BOOST_CHECK_EQUAL(stored(out->at(3).id), "{\"_id\":\"" + out->at(3).id +
                                               R"(","e":5,"author":"bob","time":2000})");
}

BOOST_FIXTURE_TEST_CASE(remove_deletes_each_id_once, fixture) {
  create(R"([{"_id":"/a"},{"_id":"/b"},{"_id":"/c"}])", alice);
  auto out = store->remove({"/a", "/zz", "/a", "/c"}, bob);
  BOOST_REQUIRE_MESSAGE(out, why(out));
  using r = element_result;
  BOOST_CHECK_MESSAGE((results(*out) == std::vector<r>{r::deleted, r::not_found, r::not_found,
                                                       r::deleted}),
                      results_text(*out));
  auto left = all();
  BOOST_REQUIRE_EQUAL(left.size(), 1u);
  BOOST_CHECK_EQUAL(left.begin()->first, "/b");
  auto bad = store->remove({"/b", std::string{"/x\0", 3}}, bob);
  BOOST_REQUIRE(!bad);
  BOOST_CHECK(is(bad.error(), storage_errc::invalid_element));
  BOOST_CHECK_EQUAL(all().size(), 1u);
}

BOOST_FIXTURE_TEST_CASE(locks_belong_to_their_owner, fixture) {
  create(R"([{"_id":"/f","v":1},{"_id":"/g","v":1}])", alice);
  using r = element_result;
  auto out = store->lock({"/f", "/missing", "/f"}, alice);
  BOOST_REQUIRE_MESSAGE(out, why(out));
  BOOST_CHECK_MESSAGE((results(*out) == std::vector<r>{r::updated, r::not_found, r::unchanged}),
                      results_text(*out));
  BOOST_CHECK_EQUAL(stored("/f"), R"({"_id":"/f","v":1,"author":"alice","time":1000,"lock":"alice"})");
  BOOST_CHECK_EQUAL(out->at(0).json, stored("/f"));

  out = store->lock({"/f", "/g"}, bob);
  BOOST_REQUIRE_MESSAGE(out, why(out));
  BOOST_REQUIRE_MESSAGE((results(*out) == std::vector<r>{r::locked, r::updated}),
                        results_text(*out));
  BOOST_CHECK_EQUAL(out->at(0).lock_owner, "alice");

  // Whoever does not hold the lock changes nothing.
  auto f_before = stored("/f");
  out = store->update(R"({"_id":"/f","v":2})", bob);
  BOOST_REQUIRE(out);
  BOOST_CHECK(out->at(0).result == r::locked);
  BOOST_CHECK_EQUAL(out->at(0).lock_owner, "alice");
  out = store->upsert(R"({"_id":"/f","v":3})", bob);
  BOOST_REQUIRE(out);
  BOOST_CHECK(out->at(0).result == r::locked);
  out = store->remove({"/f"}, bob);
  BOOST_REQUIRE(out);
  BOOST_CHECK(out->at(0).result == r::locked);
  BOOST_CHECK_EQUAL(out->at(0).lock_owner, "alice");
  out = store->unlock({"/f"}, bob);
  BOOST_REQUIRE(out);
  BOOST_CHECK(out->at(0).result == r::locked);
  BOOST_CHECK_EQUAL(stored("/f"), f_before);

  // A call mixing locked and free elements changes only the free ones.
  out = store->update(R"({"_id":["/f","/g"],"w":1})", bob);
  BOOST_REQUIRE(out);
  BOOST_CHECK_MESSAGE((results(*out) == std::vector<r>{r::locked, r::updated}),
                      results_text(*out));
  BOOST_CHECK_EQUAL(stored("/f"), f_before);

  // The owner may change its locked element; an admin path may ignore locks.
  out = store->update(R"({"_id":"/f","v":4})", alice);
  BOOST_REQUIRE(out);
  BOOST_CHECK(out->at(0).result == r::updated);
  write_context admin = bob;
  admin.honor_locks = false;
  out = store->update(R"({"_id":"/f","v":5})", admin);
  BOOST_REQUIRE(out);
  BOOST_CHECK(out->at(0).result == r::updated);
  BOOST_CHECK(stored("/f").find(R"("lock":"alice")") != std::string::npos);

  out = store->unlock({"/f", "/f", "/missing"}, alice);
  BOOST_REQUIRE(out);
  BOOST_CHECK_MESSAGE((results(*out) == std::vector<r>{r::updated, r::unchanged, r::not_found}),
                      results_text(*out));
  BOOST_CHECK(stored("/f").find("lock") == std::string::npos);
  out = store->remove({"/f"}, bob);
  BOOST_REQUIRE(out);
  BOOST_CHECK(out->at(0).result == r::deleted);
  out = store->remove({"/g"}, admin);
  BOOST_REQUIRE(out);
  BOOST_CHECK(out->at(0).result == r::deleted);
}

BOOST_FIXTURE_TEST_CASE(a_lock_owner_with_json_special_characters_keeps_their_lock, fixture) {
  create(R"({"_id":"/f"})", alice);
  for (std::string name : {"o\"brien", "back\\slash", "tab\there", "caf\xc3\xa9"}) {
    write_context owner{name, 1000};
    auto out = store->lock({"/f"}, owner);
    BOOST_REQUIRE_MESSAGE(out, why(out));
    BOOST_REQUIRE_MESSAGE(out->at(0).result == element_result::updated, name);
    out = store->lock({"/f"}, bob);
    BOOST_REQUIRE(out);
    BOOST_CHECK(out->at(0).result == element_result::locked);
    BOOST_CHECK_EQUAL(out->at(0).lock_owner, name);
    out = store->update(R"({"_id":"/f","v":1})", owner);
    BOOST_REQUIRE(out);
    BOOST_CHECK_MESSAGE(out->at(0).result == element_result::updated,
                        name << ": " << to_string(out->at(0).result));
    out = store->lock({"/f"}, owner);
    BOOST_REQUIRE(out);
    BOOST_CHECK_MESSAGE(out->at(0).result == element_result::unchanged, name);
    out = store->unlock({"/f"}, owner);
    BOOST_REQUIRE(out);
    BOOST_REQUIRE_MESSAGE(out->at(0).result == element_result::updated,
                          name << ": " << to_string(out->at(0).result));
  }
}

BOOST_FIXTURE_TEST_CASE(bad_input_fails_the_whole_call_and_writes_nothing, fixture) {
  create(R"({"_id":"/existing","v":1})", alice);
  auto before = all();
  std::string long_id = "/" + std::string(max_id_bytes, 'x');
  std::string deep = R"({"_id":"/deep","k":)" + std::string(max_json_depth, '[') + "1" +
                     std::string(max_json_depth, ']') + "}";
  std::vector<std::string> corpus{
      "", "{", R"({"_id":"/a","v":)", R"([{"_id":"/a"},{"_id":"/b")", R"({"_id":"/a"}})",
      "not json", R"("a string")", "42", "null", "[]", R"([{"_id":"/a"},"x"])",
      R"([{"_id":"/a"},[{"_id":"/b"}]])", R"({"_id":7})", R"({"_id":""})", R"({"_id":[]})",
      R"({"_id":["/a",null]})", R"({"_id":"/a\u0000"})", R"({"_id":")" + long_id + R"("})",
      std::string{"{\"_id\":\"/bad\xc3\x28\"}"}, std::string{"{\"_id\":\"/a\",\"k\":\"\xff\"}"},
      deep, R"([{"_id":"/ok1","v":1},{"_id":"/ok2","v":)" + std::string(2000, '[') + "]}]"};
  for (auto& json : corpus) {
    for (int op = 0; op < 3; ++op) {
      auto out = op == 0 ? store->create(json, alice)
                         : op == 1 ? store->upsert(json, alice) : store->update(json, alice);
      BOOST_CHECK_MESSAGE(!out, "op " << op << " accepted " << json.substr(0, 60));
      if (!out)
        BOOST_CHECK_MESSAGE(is(out.error(), storage_errc::invalid_json) ||
                                is(out.error(), storage_errc::invalid_element),
                            render(out.error()));
    }
  }
  BOOST_CHECK((all() == before));
}

BOOST_FIXTURE_TEST_CASE(bad_ids_given_as_inputs_are_refused_too, fixture) {
  auto before = all();
  for (std::string id : {std::string{}, std::string{"/a\0b", 4}, std::string{"/bad\xff"},
                         "/" + std::string(max_id_bytes, 'x')}) {
    std::vector<element_input> in(2);
    in[0].ids = {"/fine"};
    in[0].fields = {{"v", "1"}};
    in[1].ids = {id};
    in[1].fields = {{"v", "2"}};
    for (int op = 0; op < 3; ++op) {
      auto out = op == 0 ? store->create(in, alice)
                         : op == 1 ? store->upsert(in, alice) : store->update(in, alice);
      BOOST_REQUIRE_MESSAGE(!out, "op " << op << " accepted an id of " << id.size() << " bytes");
      BOOST_CHECK(is(out.error(), storage_errc::invalid_element));
    }
    for (auto op : {&element_store::remove, &element_store::lock, &element_store::unlock}) {
      auto out = (store.get()->*op)({"/fine", id}, alice);
      BOOST_REQUIRE(!out);
      BOOST_CHECK(is(out.error(), storage_errc::invalid_element));
    }
  }
  BOOST_CHECK((all() == before));
}

BOOST_FIXTURE_TEST_CASE(element_size_is_limited_at_the_byte, fixture) {
  // The stored JSON of {"_id":"/big","v":"x...x","author":"alice","time":1000}.
  std::string frame = R"({"_id":"/big","v":"","author":"alice","time":1000})";
  std::string fits(max_element_bytes - frame.size(), 'x');
  create(R"({"_id":"/big","v":")" + fits + R"("})", alice);
  BOOST_CHECK_EQUAL(stored("/big").size(), max_element_bytes);

  auto before = all();
  auto out = store->create(R"([{"_id":"/small"},{"_id":"/big2","v":")" + fits + R"(x"}])", alice);
  BOOST_REQUIRE(!out);
  BOOST_CHECK(is(out.error(), storage_errc::invalid_element));
  BOOST_CHECK_MESSAGE(render(out.error()).find("/big2") != std::string::npos,
                      render(out.error()));
  // Growing an element past the limit fails the whole call too.
  out = store->update(R"([{"_id":"/big","w":1}])", alice);
  BOOST_REQUIRE(!out);
  BOOST_CHECK(is(out.error(), storage_errc::invalid_element));
  out = store->upsert(R"([{"_id":"/other","v":1},{"_id":"/big","v":")" + fits + R"(x"}])", alice);
  BOOST_REQUIRE(!out);
  BOOST_CHECK((all() == before));
}

BOOST_FIXTURE_TEST_CASE(values_and_keys_are_kept_as_given, fixture) {
  create(R"({"_id":"/v","":"empty key","caf\u00e9":"\u00e9\n\"","big":18446744073709551615,)"
         R"("neg":-9223372036854775808,"f":1.25,"t":true,"nil":null,"o":{"a":[{},[]]}})",
         alice);
  BOOST_CHECK_EQUAL(stored("/v"),
                    "{\"_id\":\"/v\",\"\":\"empty key\",\"caf\xc3\xa9\":\"\xc3\xa9\\n\\\"\","
                    R"("big":18446744073709551615,"neg":-9223372036854775808,"f":1.25,"t":true,)"
                    R"("nil":null,"o":{"a":[{},[]]},"author":"alice","time":1000})");
  reopen();
  auto page = store->list("/v", "", 10);
  BOOST_REQUIRE(page);
  BOOST_REQUIRE_EQUAL(page->items.size(), 1u);
  BOOST_CHECK(page->items[0].second.find("\"nil\":null") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(listing_pages_through_a_prefix_in_key_order, fixture) {
  std::vector<std::string> ids{"/a",     "/a/",    "/a/b",  "/a/b/",  "/a/b/c", "/a/b0",
                               "/a/b/c/d", "/a.txt", "/a0",   "/ab",    "/b",     "/a/\xc3\xa9"};
  create_ids(ids);
  std::sort(ids.begin(), ids.end());
  for (size_t page_size : {1u, 2u, 3u, 5u, 100u}) {
    BOOST_CHECK((list_ids("", page_size, false) == ids));
    std::vector<std::string> under_a;
    for (auto& id : ids)
      if (id.rfind("/a/", 0) == 0) under_a.push_back(id);
    BOOST_CHECK((list_ids("/a/", page_size, false) == under_a));
  }
  BOOST_CHECK(list_ids("/zzz", 3, false).empty());
  auto zero = store->list("", "", 0);
  BOOST_REQUIRE(!zero);
  BOOST_CHECK(is(zero.error(), storage_errc::invalid_argument));
  auto foreign = store->list("/a/", "/b", 10);
  BOOST_REQUIRE(!foreign);
  BOOST_CHECK(is(foreign.error(), storage_errc::invalid_argument));
  // A cursor past everything ends the listing.
  auto past = store->list("/a/", "/a/\xff", 10);
  BOOST_REQUIRE(past);
  BOOST_CHECK(past->items.empty() && past->next_cursor.empty());
}

BOOST_FIXTURE_TEST_CASE(shallow_listing_gives_direct_children_only, fixture) {
  create_ids({"/a/", "/a/b/", "/a/b/f1", "/a/b/f2", "/a/b/sub/", "/a/b/sub/deep", "/a/b/sub/x/y",
              "/a/b/only/below", "/a/b/z", "/a/b.txt", "/a/b0", "/a/b//twice", "/a/c"});
  std::vector<std::string> children{"/a/b/f1", "/a/b/f2", "/a/b/sub/", "/a/b/z"};
  for (size_t page_size : {1u, 2u, 3u, 10u})
    BOOST_CHECK_MESSAGE((list_ids("/a/b/", page_size, true) == children),
                        "page size " << page_size);
  std::vector<std::string> top{"/a/b.txt", "/a/b/", "/a/b0", "/a/c"};
  for (size_t page_size : {1u, 2u, 10u})
    BOOST_CHECK((list_ids("/a/", page_size, true) == top));
}

BOOST_FIXTURE_TEST_CASE(paging_returns_each_lasting_element_once_despite_changes, fixture) {
  std::mt19937 rng{std::random_device{}()};
  std::set<std::string> present;
  std::vector<std::string> initial;
  for (int i = 0; i < 300; ++i) initial.push_back("/p/" + std::to_string(i * 7919 % 1000));
  create_ids(initial);
  present.insert(initial.begin(), initial.end());
  // Half the initial elements are never touched: they must each come back exactly once.
  std::set<std::string> lasting;
  for (size_t i = 0; i < initial.size(); i += 2) lasting.insert(initial[i]);

  std::vector<std::string> seen;
  std::string cursor;
  int next_new = 0;
  for (int pages = 0; pages < 1000; ++pages) {
    auto page = store->list("/p/", cursor, 7);
    BOOST_REQUIRE_MESSAGE(page, why(page));
    for (auto& item : page->items) seen.push_back(item.first);
    if (page->next_cursor.empty()) break;
    cursor = page->next_cursor;
    // Between pages: remove some elements that are not lasting (the cursor's one included,
    // sometimes), and add new ones before and after the cursor.
    std::vector<std::string> removable;
    for (auto& id : present)
      if (lasting.count(id) == 0) removable.push_back(id);
    std::shuffle(removable.begin(), removable.end(), rng);
    removable.resize(std::min<size_t>(removable.size(), 3));
    if (lasting.count(cursor) == 0 && present.count(cursor) != 0 && rng() % 2 == 0)
      removable.push_back(cursor);
    if (!removable.empty()) {
      auto out = store->remove(removable, alice);
      BOOST_REQUIRE(out);
      for (auto& id : removable) present.erase(id);
    }
    std::vector<std::string> added;
    for (int j = 0; j < 3; ++j) {
      auto id = "/p/" + std::to_string(rng() % 1000) + "n" + std::to_string(next_new++);
      added.push_back(id);
    }
    create_ids(added);
    present.insert(added.begin(), added.end());
  }
  BOOST_CHECK(std::is_sorted(seen.begin(), seen.end()));
  BOOST_CHECK_MESSAGE(std::adjacent_find(seen.begin(), seen.end()) == seen.end(),
                      "an element was returned twice");
  for (auto& id : lasting)
    BOOST_CHECK_MESSAGE(std::count(seen.begin(), seen.end(), id) == 1, id << " not returned once");
}

BOOST_FIXTURE_TEST_CASE(scan_visits_a_prefix_in_order_and_stops_when_asked, fixture) {
  create_ids({"/s/1", "/s/2", "/s/3", "/t/1"});
  std::vector<std::string> seen;
  auto err = store->scan("/s/", [&](std::string_view id, std::string_view json) {
    BOOST_CHECK(json.find(id) != std::string_view::npos);
    seen.emplace_back(id);
    return seen.size() < 2;
  });
  BOOST_REQUIRE(!err);
  BOOST_CHECK((seen == std::vector<std::string>{"/s/1", "/s/2"}));
}

BOOST_FIXTURE_TEST_CASE(elements_survive_reopen, fixture) {
  create(R"([{"_id":"/x","v":1},{"_id":"/y","v":2}])", alice);
  BOOST_REQUIRE(store->lock({"/x"}, alice));
  auto before = all();
  reopen();
  BOOST_CHECK((all() == before));
  auto out = store->update(R"({"_id":"/x","v":3})", bob);
  BOOST_REQUIRE(out);
  BOOST_CHECK(out->at(0).result == element_result::locked);
}

BOOST_FIXTURE_TEST_CASE(concurrent_creates_and_locks_have_one_winner, fixture) {
  constexpr int threads = 4;
  constexpr int ids = 200;
  std::vector<std::vector<element_outcome>> created(threads);
  std::vector<std::vector<element_outcome>> locked(threads);
  std::atomic<int> failures{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      write_context ctx{"user" + std::to_string(t), 1000 + t};
      for (int i = 0; i < ids; ++i) {
        auto out = store->create(R"({"_id":"/c/)" + std::to_string(i) + R"(","by":)" +
                                     std::to_string(t) + "}",
                                 ctx);
        if (!out) ++failures;
        else created[t].push_back(out->front());
        auto l = store->lock({"/c/" + std::to_string(i)}, ctx);
        if (!l) ++failures;
        else locked[t].push_back(l->front());
      }
    });
  }
  for (auto& th : pool) th.join();
  BOOST_REQUIRE_EQUAL(failures.load(), 0);
  for (int i = 0; i < ids; ++i) {
    int creators = 0;
    int creator = -1;
    int lockers = 0;
    int locker = -1;
    for (int t = 0; t < threads; ++t) {
      if (created[t][i].result == element_result::created) ++creators, creator = t;
      if (locked[t][i].result == element_result::updated) ++lockers, locker = t;
    }
    BOOST_CHECK_EQUAL(creators, 1);
    BOOST_CHECK_EQUAL(lockers, 1);
    auto json = stored("/c/" + std::to_string(i));
    BOOST_CHECK(json.find(R"("by":)" + std::to_string(creator)) != std::string::npos);
    BOOST_CHECK(json.find(R"("lock":"user)" + std::to_string(locker) + "\"") != std::string::npos);
  }
}
