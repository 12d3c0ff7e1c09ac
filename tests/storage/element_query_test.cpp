#define BOOST_TEST_MODULE storage_element_query
#include "storage/element_query.hpp"

#include <algorithm>
#include <random>
#include <set>

#include <boost/test/unit_test.hpp>
#include <re2/re2.h>

#include "storage/database.hpp"
#include "storage/element_store.hpp"
#include "storage/error.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/temp_dir.hpp"

using namespace syncline::storage;
using syncline::test::why;
using ids = std::vector<std::string>;

namespace {

struct fixture {
  syncline::test::temp_dir dir{"element-query"};
  std::unique_ptr<database> db = syncline::test::open_db(dir.path());
  element_store store{*db};

  void create(const std::string& json) {
    auto out = store.create(json, write_context{"alice", 1000});
    BOOST_REQUIRE_MESSAGE(out, why(out));
    for (auto& o : *out)
      BOOST_REQUIRE_MESSAGE(o.result == element_result::created,
                            o.id << ": " << to_string(o.result));
  }

  search_result run(const element_query& q, const search_options& opts = {}) {
    auto r = search(store, q, opts);
    BOOST_REQUIRE_MESSAGE(r, why(r));
    return std::move(*r);
  }

  ids text(const std::string& query, const search_options& opts = {}) {
    auto q = element_query::parse_text(query);
    BOOST_REQUIRE_MESSAGE(q, query << ": " << why(q));
    return run(*q, opts).ids;
  }

  ids mongo(const std::string& query, const search_options& opts = {}) {
    auto q = element_query::parse_mongo(query);
    BOOST_REQUIRE_MESSAGE(q, query << ": " << why(q));
    return run(*q, opts).ids;
  }

  // Every id whose element `q` matches, by reading all of them (no prefix).
  ids full_scan(const element_query& q) {
    ids out;
    auto err = store.scan("", [&](std::string_view id, std::string_view json) {
      if (q.matches(json)) out.emplace_back(id);
      return true;
    });
    BOOST_REQUIRE_MESSAGE(!err, why(err));
    return out;
  }
};

// The message of a failed parse, which must have failed with `code`.
template <class T>
std::string error_of(const caf::expected<T>& x,
                     storage_errc code = storage_errc::invalid_argument) {
  BOOST_REQUIRE_MESSAGE(!x, "expected an error");
  BOOST_CHECK_MESSAGE(is(x.error(), code), render(x.error()));
  return render(x.error());
}

void check_contains(const std::string& text, const std::string& part) {
  BOOST_CHECK_MESSAGE(text.find(part) != std::string::npos,
                      "'" << text << "' does not contain '" << part << "'");
}

bool text_matches(const std::string& query, const std::string& json) {
  auto q = element_query::parse_text(query);
  BOOST_REQUIRE_MESSAGE(q, query << ": " << why(q));
  return q->matches(json);
}

bool mongo_matches(const std::string& query, const std::string& json) {
  auto q = element_query::parse_mongo(query);
  BOOST_REQUIRE_MESSAGE(q, query << ": " << why(q));
  return q->matches(json);
}

std::string prefix_text(const std::string& query) {
  auto q = element_query::parse_text(query);
  BOOST_REQUIRE_MESSAGE(q, query << ": " << why(q));
  return q->id_prefix();
}

std::string prefix_mongo(const std::string& query) {
  auto q = element_query::parse_mongo(query);
  BOOST_REQUIRE_MESSAGE(q, query << ": " << why(q));
  return q->id_prefix();
}

}  // namespace

// ---- damas-core's text search ----

BOOST_FIXTURE_TEST_CASE(text_equality_on_strings_numbers_booleans_and_null, fixture) {
  create(R"([{"_id":"/a","kind":"file","n":7,"flag":true,"z":null},
             {"_id":"/b","kind":"folder","n":"7","flag":"true","z":"null"},
             {"_id":"/c","kind":"file","n":7.0,"flag":false},
             {"_id":"/d","kind":"File","n":"07","flag":1},
             {"_id":"/e","n":70}])");
  BOOST_CHECK(text("kind:file") == (ids{"/a", "/c"}));
  // A value that reads as a number matches numbers numerically and strings as text.
  BOOST_CHECK(text("n:7") == (ids{"/a", "/b", "/c"}));
  BOOST_CHECK(text("n:7.0") == (ids{"/a", "/c"}));
  BOOST_CHECK(text("n:07") == (ids{"/a", "/c", "/d"}));
  BOOST_CHECK(text("flag:true") == (ids{"/a", "/b"}));
  BOOST_CHECK(text("flag:false") == (ids{"/c"}));
  BOOST_CHECK(text("z:null") == (ids{"/a", "/b"}));
  BOOST_CHECK(text("missing:x").empty());
  BOOST_CHECK(text("kind:file n:7") == (ids{"/a", "/c"}));
  BOOST_CHECK(text("  kind:file \t  flag:false\n") == (ids{"/c"}));
}

BOOST_FIXTURE_TEST_CASE(text_values_are_percent_decoded_and_keep_colons, fixture) {
  create(R"([{"_id":"/a","comment":"hello world","url":"ssh://h:22/x","k y":"v"},
             {"_id":"/b","comment":"100%","url":"ssh"}])");
  BOOST_CHECK(text("comment:hello%20world") == (ids{"/a"}));
  BOOST_CHECK(text("comment:100%") == (ids{"/b"}));  // a lone % stays
  BOOST_CHECK(text("comment:100%25") == (ids{"/b"}));
  BOOST_CHECK(text("url:ssh://h:22/x") == (ids{"/a"}));  // damas-core would read `ssh`
  BOOST_CHECK(text("k%20y:v") == (ids{"/a"}));
  BOOST_CHECK(text("_id:%2Fb") == (ids{"/b"}));
}

BOOST_FIXTURE_TEST_CASE(text_comparisons_numeric_and_lexicographic, fixture) {
  create(R"([{"_id":"/a","v":5},{"_id":"/b","v":10},{"_id":"/c","v":"10"},{"_id":"/d","v":"9"},
             {"_id":"/e","v":true},{"_id":"/f","v":-2.5},{"_id":"/g"}])");
  BOOST_CHECK(text("v<10") == (ids{"/a", "/f"}));  // "10" < "10" is false; "9" < "10" is false
  BOOST_CHECK(text("v<=10") == (ids{"/a", "/b", "/c", "/f"}));
  BOOST_CHECK(text("v>5") == (ids{"/b", "/d"}));  // "9" > "5" as text; "10" < "5" as text
  BOOST_CHECK(text("v>=5") == (ids{"/a", "/b", "/d"}));
  BOOST_CHECK(text("v<0") == (ids{"/f"}));
  BOOST_CHECK(text("v>-3") == (ids{"/a", "/b", "/c", "/d", "/f"}));  // "10" > "-3" as text
  // Non-numbers compare as text only.
  BOOST_CHECK(text("v>1a") == (ids{"/d"}));
  // Both bounds apply (damas-core keeps only the last term of a key).
  BOOST_CHECK(text("v>0 v<10") == (ids{"/a"}));
  // The leftmost operator wins: `<=` is one operator, `>` in the value stays in the value.
  BOOST_CHECK(text("v<=5") == (ids{"/a", "/c", "/f"}));
}

BOOST_FIXTURE_TEST_CASE(text_numbers_compare_exactly, fixture) {
  create(R"([{"_id":"/a","v":9007199254740993},{"_id":"/b","v":9007199254740992},
             {"_id":"/c","v":18446744073709551615},{"_id":"/d","v":1e300}])");
  BOOST_CHECK(text("v:9007199254740993") == (ids{"/a"}));
  BOOST_CHECK(text("v>9007199254740992") == (ids{"/a", "/c", "/d"}));
  BOOST_CHECK(text("v:18446744073709551615") == (ids{"/c"}));
  BOOST_CHECK(text("v>1e299") == (ids{"/d"}));
  BOOST_CHECK(text("v>=1e999").empty());  // not a number: compared as text, never with numbers
}

BOOST_FIXTURE_TEST_CASE(text_regexes_and_flags, fixture) {
  create(R"([{"_id":"/p/a.exr","name":"Shot_010","note":"one\ntwo","n":12},
             {"_id":"/p/b.png","name":"shot_020","note":"one two"},
             {"_id":"/q/","name":"other"}])");
  BOOST_CHECK(text("name:/^shot/") == (ids{"/p/b.png"}));
  BOOST_CHECK(text("name:/^shot/i") == (ids{"/p/a.exr", "/p/b.png"}));
  BOOST_CHECK(text("name:/0$/") == (ids{"/p/a.exr", "/p/b.png"}));
  BOOST_CHECK(text("note:/^two/").empty());
  BOOST_CHECK(text("note:/^two/m") == (ids{"/p/a.exr"}));
  BOOST_CHECK(text("note:/one.two/") == (ids{"/p/b.png"}));
  BOOST_CHECK(text("note:/one.two/s") == (ids{"/p/a.exr", "/p/b.png"}));
  BOOST_CHECK(text("name:/^shot/gi") == (ids{"/p/a.exr", "/p/b.png"}));  // g: ignored
  BOOST_CHECK(text("n:/12/").empty());  // regexes match strings only
  BOOST_CHECK(text("_id:/\\.exr$/") == (ids{"/p/a.exr"}));
  BOOST_CHECK(text("_id:/^/p//") == (ids{"/p/a.exr", "/p/b.png"}));
  // `/a/b`-style values are paths, not regexes; a folder id ending in `/` reads as a regex.
  BOOST_CHECK(text("_id:/p/a.exr") == (ids{"/p/a.exr"}));
  BOOST_CHECK(text("_id:/q/") == (ids{"/q/"}));  // the regex `q` finds only this one
}

BOOST_FIXTURE_TEST_CASE(text_dotted_paths_and_arrays, fixture) {
  create(R"([{"_id":"/a","meta":{"w":1920,"tags":["x","y"]},"tags":["exr","render"]},
             {"_id":"/b","meta":{"w":"1920"},"tags":"exr"},
             {"_id":"/c","meta":[{"w":640},{"w":1920}],"tags":[]}])");
  BOOST_CHECK(text("meta.w:1920") == (ids{"/a", "/b", "/c"}));
  BOOST_CHECK(text("meta.w>1000") == (ids{"/a", "/b", "/c"}));  // "1920" > "1000" as text
  BOOST_CHECK(text("meta.w<1000") == (ids{"/c"}));
  BOOST_CHECK(text("tags:exr") == (ids{"/a", "/b"}));
  BOOST_CHECK(text("meta.tags:y") == (ids{"/a"}));
  BOOST_CHECK(text("meta.tags.1:y") == (ids{"/a"}));
  BOOST_CHECK(text("meta.0.w:640") == (ids{"/c"}));
  BOOST_CHECK(text("tags:/^ren/") == (ids{"/a"}));
}

BOOST_AUTO_TEST_CASE(bad_text_queries_name_the_term) {
  check_contains(error_of(element_query::parse_text("")), "empty query");
  check_contains(error_of(element_query::parse_text(" \t\n ")), "empty query");
  check_contains(error_of(element_query::parse_text("kind:file lonely")),
                 "term 'lonely' has no operator");
  check_contains(error_of(element_query::parse_text(":x")), "term ':x' has no key");
  check_contains(error_of(element_query::parse_text(">=3")), "term '>=3' has no key");
  check_contains(error_of(element_query::parse_text("a..b:1")), "empty path segment");
  check_contains(error_of(element_query::parse_text("a.:1")), "empty path segment");
  check_contains(error_of(element_query::parse_text("name:/(/")), "term 'name:/(/': bad regex");
  check_contains(error_of(element_query::parse_text("name:/a)/i")), "unexpected )");
}

// ---- MongoDB query objects ----

BOOST_FIXTURE_TEST_CASE(mongo_equality_is_typed_and_reaches_into_arrays, fixture) {
  create(R"([{"_id":"/a","n":7,"s":"7","tags":["exr","render"],"o":{"x":1,"y":[1,2]}},
             {"_id":"/b","n":7.0,"s":7,"tags":"exr","o":{"y":[1,2],"x":1}},
             {"_id":"/c","n":"7","tags":[["exr"]],"o":{"x":1}},
             {"_id":"/d","z":null}])");
  BOOST_CHECK(mongo(R"({"n":7})") == (ids{"/a", "/b"}));
  BOOST_CHECK(mongo(R"({"n":"7"})") == (ids{"/c"}));
  BOOST_CHECK(mongo(R"({"n":{"$eq":7.0}})") == (ids{"/a", "/b"}));
  BOOST_CHECK(mongo(R"({"tags":"exr"})") == (ids{"/a", "/b"}));
  BOOST_CHECK(mongo(R"({"tags":["exr"]})") == (ids{"/c"}));  // an element equal to the array
  BOOST_CHECK(mongo(R"({"tags":["exr","render"]})") == (ids{"/a"}));
  BOOST_CHECK(mongo(R"({"tags":["render","exr"]})").empty());
  BOOST_CHECK(mongo(R"({"o":{"x":1,"y":[1,2]}})") == (ids{"/a"}));  // member order counts
  BOOST_CHECK(mongo(R"({"o":{"x":1}})") == (ids{"/c"}));
  BOOST_CHECK(mongo(R"({"o.x":1})") == (ids{"/a", "/b", "/c"}));
  BOOST_CHECK(mongo(R"({"o.y":2})") == (ids{"/a", "/b"}));
  BOOST_CHECK(mongo(R"({"o.y.1":2})") == (ids{"/a", "/b"}));
  BOOST_CHECK(mongo(R"({"z":null})") == (ids{"/a", "/b", "/c", "/d"}));  // null or missing
  BOOST_CHECK(mongo(R"({"n":7,"s":"7"})") == (ids{"/a"}));
  BOOST_CHECK(mongo(R"({})") == (ids{"/a", "/b", "/c", "/d"}));
}

BOOST_FIXTURE_TEST_CASE(mongo_ne_and_nin_include_missing_and_exclude_array_members, fixture) {
  create(R"([{"_id":"/a","v":1,"tags":["x","y"]},{"_id":"/b","v":2,"tags":["y"]},
             {"_id":"/c","v":null},{"_id":"/d"}])");
  BOOST_CHECK(mongo(R"({"v":{"$ne":1}})") == (ids{"/b", "/c", "/d"}));
  BOOST_CHECK(mongo(R"({"v":{"$ne":null}})") == (ids{"/a", "/b"}));
  BOOST_CHECK(mongo(R"({"tags":{"$ne":"x"}})") == (ids{"/b", "/c", "/d"}));
  BOOST_CHECK(mongo(R"({"v":{"$nin":[1,2]}})") == (ids{"/c", "/d"}));
  BOOST_CHECK(mongo(R"({"v":{"$in":[2,null]}})") == (ids{"/b", "/c", "/d"}));
  BOOST_CHECK(mongo(R"({"tags":{"$in":["x","z"]}})") == (ids{"/a"}));
  BOOST_CHECK(mongo(R"({"tags":{"$nin":["x"]}})") == (ids{"/b", "/c", "/d"}));
  BOOST_CHECK(mongo(R"({"v":{"$in":[]}})").empty());
}

BOOST_FIXTURE_TEST_CASE(mongo_comparisons_only_match_their_type_bracket, fixture) {
  create(R"([{"_id":"/a","v":5},{"_id":"/b","v":"5"},{"_id":"/c","v":"abc"},{"_id":"/d","v":true},
             {"_id":"/e","v":null},{"_id":"/f"},{"_id":"/g","v":[1,9]},{"_id":"/h","v":{"k":1}},
             {"_id":"/i","v":5.5},{"_id":"/j","v":false}])");
  BOOST_CHECK(mongo(R"({"v":{"$gt":4}})") == (ids{"/a", "/g", "/i"}));
  // Each operator may hold for a different element of an array (no $elemMatch).
  BOOST_CHECK(mongo(R"({"v":{"$gte":5,"$lt":5.5}})") == (ids{"/a", "/g"}));
  BOOST_CHECK(mongo(R"({"v":{"$lt":2}})") == (ids{"/g"}));  // an element is below 2
  BOOST_CHECK(mongo(R"({"v":{"$gt":"4"}})") == (ids{"/b", "/c"}));
  BOOST_CHECK(mongo(R"({"v":{"$lte":"abc"}})") == (ids{"/b", "/c"}));
  BOOST_CHECK(mongo(R"({"v":{"$gt":false}})") == (ids{"/d"}));
  BOOST_CHECK(mongo(R"({"v":{"$gte":null}})") == (ids{"/e", "/f"}));
  BOOST_CHECK(mongo(R"({"v":{"$lt":null}})").empty());
  BOOST_CHECK(mongo(R"({"v":{"$gte":{"k":0}}})") == (ids{"/h"}));
  BOOST_CHECK(mongo(R"({"v":{"$gt":[1,2]}})") == (ids{"/g"}));
}

BOOST_FIXTURE_TEST_CASE(mongo_regexes_options_and_damas_strings, fixture) {
  create(R"([{"_id":"/p/a","name":"Shot_010","note":"one\ntwo"},
             {"_id":"/p/b","name":"shot_020","note":"x"},{"_id":"/q/c","name":5}])");
  BOOST_CHECK(mongo(R"({"name":{"$regex":"^shot"}})") == (ids{"/p/b"}));
  BOOST_CHECK(mongo(R"({"name":{"$regex":"^shot","$options":"i"}})") == (ids{"/p/a", "/p/b"}));
  BOOST_CHECK(mongo(R"({"name":{"$options":"i","$regex":"^shot"}})") == (ids{"/p/a", "/p/b"}));
  BOOST_CHECK(mongo(R"({"note":{"$regex":"^two$","$options":"m"}})") == (ids{"/p/a"}));
  BOOST_CHECK(mongo(R"({"note":{"$regex":"one.two","$options":"s"}})") == (ids{"/p/a"}));
  BOOST_CHECK(mongo(R"({"name":"REGEX_^shot"})") == (ids{"/p/b"}));
  BOOST_CHECK(mongo(R"({"name":"RX_^shot_RXi"})") == (ids{"/p/a", "/p/b"}));
  BOOST_CHECK(mongo(R"({"name":"RX_^shot_0"})") == (ids{"/p/b"}));  // no `_RX`: no flags
  BOOST_CHECK(mongo(R"({"name":"RX_o_R.X_RX"})").empty());          // pattern `o_R.X`
  BOOST_CHECK(mongo(R"({"name":{"$regex":"REGEX_^Shot"}})") == (ids{"/p/a"}));
  BOOST_CHECK(mongo(R"({"name":{"$in":["REGEX_^S","shot_020"]}})") == (ids{"/p/a", "/p/b"}));
  BOOST_CHECK(mongo(R"({"name":{"$nin":["RX_^s_RXi"]}})") == (ids{"/q/c"}));
  BOOST_CHECK(mongo(R"({"name":{"$not":"REGEX_^s"}})") == (ids{"/p/a", "/q/c"}));
  BOOST_CHECK(mongo(R"({"name":{"$eq":"REGEX_0$"}})") == (ids{"/p/a", "/p/b"}));
  BOOST_CHECK(mongo(R"({"name":{"$ne":"REGEX_0$"}})") == (ids{"/q/c"}));
  BOOST_CHECK(mongo(R"({"name":{"$regex":"5"}})").empty());  // numbers are not strings
}

BOOST_FIXTURE_TEST_CASE(mongo_exists_and_logical_nesting, fixture) {
  create(R"([{"_id":"/a","v":1,"w":"x","arr":[{"k":1},{"j":2}]},{"_id":"/b","v":2},
             {"_id":"/c","w":"y","v":null},{"_id":"/d","arr":[1,2]}])");
  BOOST_CHECK(mongo(R"({"v":{"$exists":true}})") == (ids{"/a", "/b", "/c"}));
  BOOST_CHECK(mongo(R"({"v":{"$exists":false}})") == (ids{"/d"}));
  BOOST_CHECK(mongo(R"({"w":{"$exists":1}})") == (ids{"/a", "/c"}));
  BOOST_CHECK(mongo(R"({"arr.k":{"$exists":true}})") == (ids{"/a"}));
  BOOST_CHECK(mongo(R"({"arr.j":2})") == (ids{"/a"}));
  BOOST_CHECK(mongo(R"({"arr.k":null})") == (ids{"/a", "/b", "/c", "/d"}));
  BOOST_CHECK(mongo(R"({"$or":[{"v":1},{"w":"y"}]})") == (ids{"/a", "/c"}));
  BOOST_CHECK(mongo(R"({"$and":[{"v":{"$gte":1}},{"v":{"$lte":1}}]})") == (ids{"/a"}));
  BOOST_CHECK(mongo(R"({"$nor":[{"v":1},{"w":"y"}]})") == (ids{"/b", "/d"}));
  BOOST_CHECK(mongo(R"({"v":{"$not":{"$gt":1}}})") == (ids{"/a", "/c", "/d"}));
  BOOST_CHECK(mongo(R"({"$or":[{"$and":[{"v":{"$exists":true}},{"$nor":[{"v":null}]}]},
                              {"arr":{"$in":[2]}}],"v":{"$not":{"$in":[2]}}})") ==
              (ids{"/a", "/d"}));
  BOOST_CHECK(mongo(R"({"$and":[{"$or":[{"v":1},{"v":2}]},{"$or":[{"v":2},{"w":"x"}]}]})") ==
              (ids{"/a", "/b"}));
}

BOOST_AUTO_TEST_CASE(bad_mongo_queries_name_the_operator_or_value) {
  auto bad = [](const std::string& query, const std::string& part,
                storage_errc code = storage_errc::invalid_argument) {
    BOOST_TEST_CONTEXT(query) {
      check_contains(error_of(element_query::parse_mongo(query), code), part);
    }
  };
  bad(R"({"a":)", "malformed query JSON", storage_errc::invalid_json);
  bad(R"([1])", "the query must be an object, not [1]");
  bad(R"("x")", "the query must be an object");
  bad(R"({"$where":"1"})", "unknown top-level operator '$where'");
  bad(R"({"a":{"$size":2}})", "unknown operator '$size' in the condition on 'a'");
  bad(R"({"a":{"$gt":1,"b":2}})", "the condition on 'a' mixes operators with the field 'b'");
  bad(R"({"a":{"$in":5}})", "$in in the condition on 'a' needs an array, not 5");
  bad(R"({"a":{"$nin":"x"}})", "$nin in the condition on 'a' needs an array");
  bad(R"({"$and":[]})", "$and needs a non-empty array of query objects");
  bad(R"({"$or":{"a":1}})", "$or needs a non-empty array");
  bad(R"({"$nor":[{"a":1},3]})", "$nor[1] must be an object, not 3");
  bad(R"({"a":{"$exists":"yes"}})", "$exists in the condition on 'a' needs true or false");
  bad(R"({"a":{"$not":"x"}})",
      "$not in the condition on 'a' needs an object of operators or a regex");
  bad(R"({"a":{"$regex":5}})", "$regex in the condition on 'a' needs a string, not 5");
  bad(R"({"a":{"$options":"i"}})", "$options without $regex in the condition on 'a'");
  bad(R"({"a":{"$regex":"x","$options":"x"}})", "'x' (extended syntax) is not supported");
  bad(R"({"a":{"$regex":"x","$options":"q"}})", "unsupported option 'q'");
  bad(R"({"a":{"$regex":"(x"}})", "bad regex /(x/: missing )");
  bad(R"({"a":"RX_x_RXz"})", "unsupported regex flag 'z'");
  bad(R"({"a":"REGEX_[x"})", "bad regex /[x/");
  bad(R"({"a":{"$gt":"REGEX_x"}})", "a regex has no order");
  bad(R"({"":1})", "an empty key");
  bad(R"({"a..b":1})", "empty path segment");
  bad(R"({"$or":[{"a":{"$in":[{"$bad":1}]}},{"b":{"$foo":1}}]})",
      "unknown operator '$foo' in the condition on 'b'");
  std::string deep;
  for (int i = 0; i < 70; ++i) deep += R"({"$and":[)";
  deep += "{}";
  for (int i = 0; i < 70; ++i) deep += "]}";
  bad(deep, "query nests deeper than 64 levels", storage_errc::invalid_json);
}

// ---- matching raw elements ----

BOOST_AUTO_TEST_CASE(matches_reads_any_well_formed_object) {
  BOOST_CHECK(element_query{}.matches("{}"));
  BOOST_CHECK(element_query{}.matches("not even json"));
  // Whitespace, escaped keys and strings, nested values before the key.
  std::string json = R"( { "x" : { "a" : [ 1 , "}" ] } , "k\u0065y" : "a\"b" , "n" : -3 } )";
  BOOST_CHECK(text_matches("key:a\"b", json));
  BOOST_CHECK(text_matches("n<0", json));
  BOOST_CHECK(text_matches("x.a:}", json));
  BOOST_CHECK(mongo_matches(R"({"key":{"$regex":"^a\"b$"}})", json));
  BOOST_CHECK(!text_matches("key:ab", json));
  // Elements found malformed before the keys needed match nothing (only corruption makes them).
  BOOST_CHECK(!text_matches("n:1", R"({"n" 1})"));
  BOOST_CHECK(!text_matches("n:1", R"(["n",1])"));
  BOOST_CHECK(!text_matches("s:x", R"({"s":"x)"));
  BOOST_CHECK(!text_matches("s:x", R"({"s":"x\"})"));
  BOOST_CHECK(text_matches("s:x", R"({"a":[1,{"b":"]}\"["}], "s":"x"})"));
}

BOOST_AUTO_TEST_CASE(arrays_of_scalars_and_their_slow_cases) {
  // Arrays of plain scalars are read from the text; escaped strings, fractions, nested values
  // and array operands go through simdjson. Both must agree.
  std::string json = R"({"t":["a\"b",1.5,[2],{"k":"v"},"plain",7,null,true]})";
  BOOST_CHECK(text_matches("t:a\"b", json));
  BOOST_CHECK(text_matches("t:1.5", json));
  BOOST_CHECK(text_matches("t:plain", json));
  BOOST_CHECK(text_matches("t:7", json));
  BOOST_CHECK(text_matches("t>6", json));
  BOOST_CHECK(text_matches("t:true", json));
  BOOST_CHECK(!text_matches("t:2", json));  // a nested array's element is not the array's
  BOOST_CHECK(!text_matches("t:k", json));
  BOOST_CHECK(mongo_matches(R"({"t":{"k":"v"}})", json));
  BOOST_CHECK(mongo_matches(R"({"t":[2]})", json));
  BOOST_CHECK(mongo_matches(R"({"t":null})", json));
  BOOST_CHECK(mongo_matches(R"({"t":{"$in":[[2],"zz"]}})", json));
  BOOST_CHECK(!mongo_matches(R"({"t":{"$in":[[3],"zz"]}})", json));
  BOOST_CHECK(mongo_matches(R"({"t.k":"v"})", json));
  BOOST_CHECK(mongo_matches(R"({"t":{"$regex":"^pl"}})", json));
  BOOST_CHECK(!mongo_matches(R"({"t":{"$regex":"^k"}})", json));
  std::string plain = R"({"t":["x","y",3]})";
  BOOST_CHECK(text_matches("t:y", plain));
  BOOST_CHECK(!text_matches("t:z", plain));
  BOOST_CHECK(mongo_matches(R"({"t":{"$gt":2}})", plain));
  BOOST_CHECK(!mongo_matches(R"({"t":{"$gt":3}})", plain));
  BOOST_CHECK(!mongo_matches(R"({"t":"x"})", R"({"t":[]})"));
}

BOOST_AUTO_TEST_CASE(regexes_match_as_re2_does) {
  // Random patterns over random strings, checked against RE2 called directly: the query's
  // shortcuts (a required literal prefix checked first, `^literal` without RE2) change nothing.
  std::mt19937 rng{7};
  const std::vector<std::string> pieces = {"a",  "b",  "ab",    "\\.",  ".",   "[ab]", "[^a]",
                                           "b?", "a*", "(a|b)", "x{2}", "\\d", "$",    "\\/"};
  const std::string alphabet = "abAB./1x";
  for (int round = 0; round < 300; ++round) {
    std::string pattern = rng() % 2 ? "^" : "";
    size_t n = 1 + rng() % 4;
    for (size_t i = 0; i < n; ++i) pattern += pieces[rng() % pieces.size()];
    bool icase = rng() % 3 == 0;
    std::string quoted;  // the pattern as a JSON string's contents
    for (char c : pattern) quoted += c == '\\' ? std::string{"\\\\"} : std::string(1, c);
    auto q = element_query::parse_mongo(R"({"s":{"$regex":")" + quoted + R"(","$options":")" +
                                        (icase ? "i" : "") + R"("}})");
    BOOST_REQUIRE_MESSAGE(q, pattern << ": " << why(q));
    RE2::Options opts;
    opts.set_case_sensitive(!icase);
    RE2 reference{pattern, opts};
    BOOST_REQUIRE(reference.ok());
    for (int k = 0; k < 30; ++k) {
      std::string s;
      size_t len = rng() % 6;
      for (size_t i = 0; i < len; ++i) s += alphabet[rng() % alphabet.size()];
      std::string json = R"({"s":")" + s + R"("})";
      BOOST_CHECK_MESSAGE(q->matches(json) == RE2::PartialMatch(s, reference),
                          "/" << pattern << "/" << (icase ? "i" : "") << " on '" << s << "'");
    }
  }
}

// ---- `_id` prefixes ----

BOOST_AUTO_TEST_CASE(id_prefix_when_the_query_pins_the_id) {
  BOOST_CHECK_EQUAL(prefix_text("_id:/^\\/proj\\/a/"), "/proj/a");
  BOOST_CHECK_EQUAL(prefix_text("_id:/^/proj/a/ kind:file"), "/proj/a");
  BOOST_CHECK_EQUAL(prefix_text("_id:/^/proj/ab?/"), "/proj/a");
  BOOST_CHECK_EQUAL(prefix_text("_id:/^/proj/(a|b)/"), "/proj/");
  BOOST_CHECK_EQUAL(prefix_text("_id:/^/proj|x/"), "");
  BOOST_CHECK_EQUAL(prefix_text("_id:/^/proj/m"), "");
  BOOST_CHECK_EQUAL(prefix_text("_id:/proj/"), "");
  BOOST_CHECK_EQUAL(prefix_text("_id:/^/Proj/i"), "/");
  BOOST_CHECK_EQUAL(prefix_text("_id:/proj/a"), "/proj/a");  // equality
  BOOST_CHECK_EQUAL(prefix_text("_id>/proj"), "");
  BOOST_CHECK_EQUAL(prefix_text("kind:file"), "");
  BOOST_CHECK_EQUAL(prefix_mongo(R"({"_id":"/a/b"})"), "/a/b");
  BOOST_CHECK_EQUAL(prefix_mongo(R"({"_id":{"$regex":"^/a/b"}})"), "/a/b");
  BOOST_CHECK_EQUAL(prefix_mongo(R"({"_id":{"$regex":"^/a/b","$options":"m"}})"), "");
  BOOST_CHECK_EQUAL(prefix_mongo(R"({"_id":"REGEX_^/a/c"})"), "/a/c");
  BOOST_CHECK_EQUAL(prefix_mongo(R"({"_id":{"$in":["/a/b1","/a/b2",5]}})"), "/a/b");
  BOOST_CHECK_EQUAL(prefix_mongo(R"({"_id":{"$in":["/a/b1","REGEX_^/a/c"]}})"), "/a/");
  BOOST_CHECK_EQUAL(prefix_mongo(R"({"_id":{"$in":["/a/b1","REGEX_/a/c"]}})"), "");
  BOOST_CHECK_EQUAL(prefix_mongo(R"({"$or":[{"_id":"/a/x"},{"_id":{"$regex":"^/a/y"}}]})"), "/a/");
  BOOST_CHECK_EQUAL(prefix_mongo(R"({"$or":[{"_id":"/a/x"},{"k":1}]})"), "");
  BOOST_CHECK_EQUAL(prefix_mongo(R"({"$and":[{"_id":{"$regex":"^/a"}},{"_id":"/a/b/c"}]})"),
                    "/a/b/c");
  BOOST_CHECK_EQUAL(prefix_mongo(R"({"_id":{"$ne":"/a"}})"), "");
  BOOST_CHECK_EQUAL(prefix_mongo(R"({"_id":{"$not":{"$regex":"^/a"}}})"), "");
  BOOST_CHECK_EQUAL(prefix_mongo(R"({"$nor":[{"_id":"/a"}]})"), "");
  BOOST_CHECK_EQUAL(prefix_mongo(R"({"_id.x":"/a"})"), "");
}

BOOST_FIXTURE_TEST_CASE(id_prefix_scans_find_what_full_scans_find, fixture) {
  // Ids over a small alphabet so that random patterns hit often.
  std::mt19937 rng{20240611};
  const std::string alphabet = "/abAB.1";
  auto pick = [&](const std::string& from) { return from[rng() % from.size()]; };
  std::set<std::string> made;
  std::string batch = "[";
  while (made.size() < 1500) {
    std::string id = "/";
    size_t n = 1 + rng() % 7;
    for (size_t i = 0; i < n; ++i) id += pick(alphabet);
    if (!made.insert(id).second) continue;
    batch += (batch.size() > 1 ? "," : "") + std::string{R"({"_id":")"} + id + R"(","n":)" +
             std::to_string(rng() % 10) + "}";
  }
  create(batch + "]");
  std::vector<std::string> ids_made{made.begin(), made.end()};

  // A random regex body built from pieces that bend prefixes: classes, optional and repeated
  // atoms, groups with alternatives, escapes.
  auto regex_body = [&]() {
    static const std::vector<std::string> pieces = {
        "a",  "b",  "/",     "A",      "\\.",  ".",      "[ab]", "[^a]", "b?",
        "a*", "/+", "(a|b)", "(ab|a)", "1{2}", "(?i:a)", "\\d",  "$"};
    std::string s = rng() % 8 == 0 ? "" : "^";
    if (rng() % 2) s += ids_made[rng() % ids_made.size()].substr(0, 1 + rng() % 3);
    size_t n = rng() % 4;
    for (size_t i = 0; i < n; ++i) s += pieces[rng() % pieces.size()];
    if (rng() % 10 == 0) s += "|" + pieces[rng() % pieces.size()];
    return s;
  };
  auto json_string = [](const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '\\' || c == '"') out += '\\';
      out += c;
    }
    return out + "\"";
  };
  auto condition = [&]() -> std::string {
    switch (rng() % 6) {
      case 0:
        return R"({"_id":)" + json_string(ids_made[rng() % ids_made.size()]) + "}";
      case 1: {
        std::string opts = rng() % 3 == 0 ? "i" : (rng() % 4 == 0 ? "m" : "");
        return R"({"_id":{"$regex":)" + json_string(regex_body()) + R"(,"$options":")" + opts +
               "\"}}";
      }
      case 2: {
        std::string list;
        size_t n = 1 + rng() % 4;
        for (size_t i = 0; i < n; ++i) {
          if (i) list += ",";
          list += rng() % 3 == 0
                      ? json_string("REGEX_" + regex_body())
                      : json_string(ids_made[rng() % ids_made.size()].substr(0, 1 + rng() % 4));
        }
        return R"({"_id":{"$in":[)" + list + "]}}";
      }
      case 3:
        return R"({"_id":)" + json_string("RX_" + regex_body() + "_RXi") + "}";
      case 4:
        return R"({"n":{"$lt":)" + std::to_string(rng() % 10) + "}}";
      default:
        return R"({"_id":{"$regex":)" + json_string(regex_body()) + "}}";
    }
  };
  size_t with_prefix = 0;
  for (int round = 0; round < 400; ++round) {
    std::string query;
    switch (rng() % 3) {
      case 0:
        query = condition();
        break;
      case 1:
        query = R"({"$and":[)" + condition() + "," + condition() + "]}";
        break;
      default:
        query = R"({"$or":[)" + condition() + "," + condition() + "]}";
        break;
    }
    auto q = element_query::parse_mongo(query);
    BOOST_REQUIRE_MESSAGE(q, query << ": " << why(q));
    auto expected = full_scan(*q);
    auto got = run(*q);
    const auto& prefix = q->id_prefix();
    if (!prefix.empty()) ++with_prefix;
    BOOST_CHECK_MESSAGE(got.ids == expected, query << " (prefix '" << prefix
                                                   << "'): " << got.ids.size() << " ids, full scan "
                                                   << expected.size());
    BOOST_CHECK_EQUAL(got.count, expected.size());
    for (auto& id : expected)
      BOOST_CHECK_MESSAGE(id.compare(0, prefix.size(), prefix) == 0,
                          query << ": " << id << " lacks prefix '" << prefix << "'");
  }
  BOOST_TEST_MESSAGE(with_prefix << " of 400 queries had a prefix");
  BOOST_CHECK_GT(with_prefix, 100u);

  // Text terms, the same way.
  for (int round = 0; round < 200; ++round) {
    std::string flags = rng() % 3 == 0 ? "i" : "";
    std::string query = "_id:/" + regex_body() + "/" + flags;
    if (query.find(' ') != std::string::npos) continue;
    auto q = element_query::parse_text(query);
    BOOST_REQUIRE_MESSAGE(q, query << ": " << why(q));
    BOOST_CHECK_MESSAGE(run(*q).ids == full_scan(*q), query << " prefix " << q->id_prefix());
  }
}

// ---- sorting and paging ----

BOOST_FIXTURE_TEST_CASE(sort_orders_across_types_with_ties_by_id, fixture) {
  create(R"([{"_id":"/01","v":true},{"_id":"/02","v":"b"},{"_id":"/03","v":2.5},
             {"_id":"/04"},{"_id":"/05","v":null},{"_id":"/06","v":[1]},{"_id":"/07","v":{"a":1}},
             {"_id":"/08","v":-1},{"_id":"/09","v":"a"},{"_id":"/10","v":false},
             {"_id":"/11","v":2.5},{"_id":"/12","v":{"a":0}},{"_id":"/13","v":[0,5]},
             {"_id":"/14","v":9007199254740993},{"_id":"/15","v":9007199254740992}])");
  search_options asc;
  asc.sort = {{"v", 1}};
  BOOST_CHECK(text("_id:/./", asc) == (ids{"/04", "/05", "/08", "/03", "/11", "/15", "/14", "/09",
                                           "/02", "/12", "/07", "/13", "/06", "/10", "/01"}));
  search_options desc;
  desc.sort = {{"v", -1}};
  BOOST_CHECK(mongo("{}", desc) == (ids{"/01", "/10", "/06", "/13", "/07", "/12", "/02", "/09",
                                        "/14", "/15", "/03", "/11", "/08", "/04", "/05"}));
}

BOOST_FIXTURE_TEST_CASE(sort_by_several_and_dotted_keys, fixture) {
  create(R"([{"_id":"/a","k":1,"m":{"t":3},"l":[5,1]},{"_id":"/b","k":2,"m":{"t":1},"l":[0]},
             {"_id":"/c","k":1,"m":{"t":1}},{"_id":"/d","k":2,"m":{"t":2},"l":[7]},
             {"_id":"/e","k":1,"m":"x"}])");
  search_options o;
  o.sort = {{"k", -1}, {"m.t", 1}};
  BOOST_CHECK(mongo("{}", o) == (ids{"/b", "/d", "/e", "/c", "/a"}));
  o.sort = {{"l.0", 1}};
  BOOST_CHECK(mongo("{}", o) == (ids{"/c", "/e", "/b", "/a", "/d"}));
  o.sort = {{"_id", -1}};
  BOOST_CHECK(mongo("{}", o) == (ids{"/e", "/d", "/c", "/b", "/a"}));
}

BOOST_FIXTURE_TEST_CASE(skip_limit_and_count, fixture) {
  std::string batch = "[";
  for (int i = 0; i < 3000; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "/e%04d", i);
    batch += (i ? "," : "") + std::string{R"({"_id":")"} + id + R"(","v":)" +
             std::to_string((i * 7919) % 1000) + R"(,"odd":)" + (i % 2 ? "true" : "false") + "}";
  }
  create(batch + "]");
  auto q = element_query::parse_text("odd:true");
  BOOST_REQUIRE(q);
  search_options o;
  o.skip = 10;
  o.limit = 3;
  auto r = run(*q, o);
  BOOST_CHECK_EQUAL(r.count, 1500u);
  BOOST_CHECK(r.ids == (ids{"/e0021", "/e0023", "/e0025"}));
  o.skip = 1499;
  o.limit = 10;
  r = run(*q, o);
  BOOST_CHECK_EQUAL(r.count, 1500u);
  BOOST_CHECK(r.ids == (ids{"/e2999"}));
  o.skip = 5000;
  BOOST_CHECK(run(*q, o).ids.empty());
  o.skip = 0;
  o.limit = 0;
  BOOST_CHECK_EQUAL(run(*q, o).ids.size(), 1500u);
  o.limit = std::numeric_limits<size_t>::max();
  o.skip = 1;
  BOOST_CHECK_EQUAL(run(*q, o).ids.size(), 1499u);

  // Sorted pages (the bounded path trims beyond 1024 held matches) agree with the full sort.
  search_options all;
  all.sort = {{"v", -1}};
  auto full = run(*q, all);
  BOOST_REQUIRE_EQUAL(full.ids.size(), 1500u);
  for (auto [skip, limit] :
       {std::pair<size_t, size_t>{0, 5}, {7, 13}, {600, 100}, {1490, 50}, {0, 1500}, {1500, 5}}) {
    search_options page = all;
    page.skip = skip;
    page.limit = limit;
    auto got = run(*q, page);
    BOOST_CHECK_EQUAL(got.count, 1500u);
    size_t end = std::min<size_t>(skip + limit, 1500);
    ids want(full.ids.begin() + static_cast<ptrdiff_t>(std::min<size_t>(skip, 1500)),
             full.ids.begin() + static_cast<ptrdiff_t>(end));
    BOOST_CHECK_MESSAGE(got.ids == want, "skip " << skip << " limit " << limit);
  }
  // Descending values, ties by ascending id.
  for (size_t i = 1; i < full.ids.size(); ++i) BOOST_REQUIRE(full.ids[i - 1] != full.ids[i]);
}

BOOST_FIXTURE_TEST_CASE(bad_sort_options, fixture) {
  element_query all;
  search_options o;
  o.sort = {{"v", 2}};
  auto r = search(store, all, o);
  check_contains(error_of(r), "sort direction of 'v' must be 1 or -1, not 2");
  o.sort = {{"a..b", 1}};
  check_contains(error_of(search(store, all, o)), "empty path segment");
  o.sort = {{"", 1}};
  check_contains(error_of(search(store, all, o)), "an empty key");
}

BOOST_FIXTURE_TEST_CASE(prefix_search_reads_only_the_range_and_text_search_too, fixture) {
  create(R"([{"_id":"/a/1","k":1},{"_id":"/a/2","k":2},{"_id":"/ab","k":1},{"_id":"/b/1","k":1}])");
  auto q = element_query::parse_text("_id:/^\\/a\\// k:1");
  BOOST_REQUIRE(q);
  BOOST_CHECK_EQUAL(q->id_prefix(), "/a/");
  auto r = run(*q);
  BOOST_CHECK_EQUAL(r.count, 1u);
  BOOST_CHECK(r.ids == (ids{"/a/1"}));
  BOOST_CHECK(mongo(R"({"_id":{"$in":["/a/2","/b/1","/zz"]}})") == (ids{"/a/2", "/b/1"}));
}
