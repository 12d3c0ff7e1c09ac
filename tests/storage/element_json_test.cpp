#define BOOST_TEST_MODULE storage_element_json
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "storage/detail/compact_batch.hpp"
#include "storage/element_json.hpp"
#include "storage/error.hpp"
#include "tests/storage/storage_test_util.hpp"

using namespace syncline::storage;
using syncline::test::why;

namespace {

// `depth` nested arrays around a number: `[[[1]]]` has depth 3.
std::string nested_arrays(size_t depth) {
  return std::string(depth, '[') + "1" + std::string(depth, ']');
}

// An element whose `k` value brings the whole document to `depth` levels (the object is one).
std::string element_of_depth(size_t depth) {
  return R"({"_id":"/deep","k":)" + nested_arrays(depth - 1) + "}";
}

std::string message_of(const caf::error& err) { return render(err); }

bool mentions(const caf::error& err, const std::string& what) {
  return message_of(err).find(what) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(one_object_gives_its_id_and_fields_in_input_order) {
  auto in = parse_elements(R"({"z":1,"_id":"/a","b":"x","a":{"n":[1,2]},"c":null})",
                           id_policy::required);
  BOOST_REQUIRE_MESSAGE(in, why(in));
  BOOST_REQUIRE_EQUAL(in->size(), 1u);
  auto& e = in->front();
  BOOST_REQUIRE_EQUAL(e.ids.size(), 1u);
  BOOST_CHECK_EQUAL(e.ids[0], "/a");
  BOOST_REQUIRE_EQUAL(e.fields.size(), 4u);
  BOOST_CHECK_EQUAL(e.fields[0].key, "z");
  BOOST_CHECK_EQUAL(e.fields[0].value, "1");
  BOOST_CHECK_EQUAL(e.fields[1].key, "b");
  BOOST_CHECK_EQUAL(e.fields[1].value, R"("x")");
  BOOST_CHECK_EQUAL(e.fields[2].key, "a");
  BOOST_CHECK_EQUAL(e.fields[2].value, R"({"n":[1,2]})");
  BOOST_CHECK_EQUAL(e.fields[3].key, "c");
  BOOST_CHECK(e.fields[3].is_null());
  BOOST_CHECK(e.find("b") == &e.fields[1]);
  BOOST_CHECK(e.find("_id") == nullptr);
  BOOST_CHECK(e.find("missing") == nullptr);
}

BOOST_AUTO_TEST_CASE(array_of_objects_and_id_arrays) {
  auto in = parse_elements(R"([{"_id":["/x","/y"],"k":1},{"k":2},{"_id":"/z"}])",
                           id_policy::optional);
  BOOST_REQUIRE_MESSAGE(in, why(in));
  BOOST_REQUIRE_EQUAL(in->size(), 3u);
  BOOST_CHECK((in->at(0).ids == std::vector<std::string>{"/x", "/y"}));
  BOOST_CHECK(in->at(1).ids.empty());
  BOOST_CHECK((in->at(2).ids == std::vector<std::string>{"/z"}));
  BOOST_CHECK(in->at(2).fields.empty());
}

BOOST_AUTO_TEST_CASE(duplicate_keys_keep_the_last_value_in_the_first_place) {
  auto in = parse_elements(R"({"_id":"/a","k":1,"j":2,"k":3,"_id":"/b"})", id_policy::required);
  BOOST_REQUIRE_MESSAGE(in, why(in));
  auto& e = in->front();
  BOOST_CHECK((e.ids == std::vector<std::string>{"/b"}));
  BOOST_REQUIRE_EQUAL(e.fields.size(), 2u);
  BOOST_CHECK_EQUAL(e.fields[0].key, "k");
  BOOST_CHECK_EQUAL(e.fields[0].value, "3");
  BOOST_CHECK_EQUAL(e.fields[1].key, "j");
}

BOOST_AUTO_TEST_CASE(escaped_ids_and_keys_are_unescaped) {
  auto in = parse_elements(R"({"_id":"/caf\u00e9 \"q\"","k\ty":"\u0041"})", id_policy::required);
  BOOST_REQUIRE_MESSAGE(in, why(in));
  BOOST_CHECK_EQUAL(in->front().ids.at(0), "/caf\xc3\xa9 \"q\"");
  BOOST_CHECK_EQUAL(in->front().fields.at(0).key, "k\ty");
}

BOOST_AUTO_TEST_CASE(required_ids_must_be_present) {
  auto in = parse_elements(R"([{"_id":"/a"},{"k":1}])", id_policy::required);
  BOOST_REQUIRE(!in);
  BOOST_CHECK(is(in.error(), storage_errc::invalid_element));
  BOOST_CHECK_MESSAGE(mentions(in.error(), "element 1") && mentions(in.error(), "_id is missing"),
                      message_of(in.error()));
}

BOOST_AUTO_TEST_CASE(malformed_json_is_invalid_json) {
  for (std::string bad : std::vector<std::string>{
           "", " ", "{", R"({"_id":"/a")", R"({"_id":"/a",})", R"({"_id":/a})", R"([{"_id":"/a"})",
           "{'_id':'/a'}", R"({"_id":"/a"} x)",
           std::string{"{\"_id\":\"/a\xff\"}"}, std::string{"{\"k\":\"\xc3\"}"},
           std::string{"{\"_id\":\"/a\0b\"}", 11}}) {
    auto in = parse_elements(bad, id_policy::optional);
    BOOST_CHECK_MESSAGE(!in, "accepted: " << bad);
    if (!in)
      BOOST_CHECK_MESSAGE(is(in.error(), storage_errc::invalid_json),
                          bad << " -> " << message_of(in.error()));
  }
}

BOOST_AUTO_TEST_CASE(values_that_are_not_objects_are_refused_naming_the_element) {
  struct bad_case {
    std::string json;
    std::string expect;
  };
  for (auto& c : std::vector<bad_case>{{"1", "got a number"},
                                       {R"("x")", "got a string"},
                                       {"null", "got null"},
                                       {"true", "got a boolean"},
                                       {"[]", "non-empty array"},
                                       {R"([{"_id":"/a"},[]])", "element 1: expected an object"},
                                       {R"([{"_id":"/a"},{"_id":"/b"},7])", "element 2"}}) {
    auto in = parse_elements(c.json, id_policy::optional);
    BOOST_REQUIRE_MESSAGE(!in, "accepted: " << c.json);
    BOOST_CHECK(is(in.error(), storage_errc::invalid_element));
    BOOST_CHECK_MESSAGE(mentions(in.error(), c.expect), c.json << " -> " << message_of(in.error()));
  }
}

BOOST_AUTO_TEST_CASE(bad_ids_are_refused_with_the_reason) {
  std::string too_long = "/" + std::string(max_id_bytes, 'x');
  std::string at_limit = "/" + std::string(max_id_bytes - 1, 'x');
  struct bad_case {
    std::string json;
    std::string expect;
  };
  for (auto& c : std::vector<bad_case>{
           {R"({"_id":5})", "_id must be a string, not a number"},
           {R"({"_id":null})", "_id must be a string, not null"},
           {R"({"_id":{"a":1}})", "_id must be a string, not an object"},
           {R"({"_id":""})", "must not be empty"},
           {R"({"_id":[]})", "empty array"},
           {R"({"_id":["/a",""]})", "_id[1] must not be empty"},
           {R"({"_id":["/a",3]})", "_id[1] must be a string, not a number"},
           {R"({"_id":"/a\u0000b"})", "NUL"},
           {R"({"_id":["\u0000"]})", "_id[0] must not contain a NUL"},
           {R"({"_id":")" + too_long + R"("})", "more than the limit of 1024"},
           {R"([{"_id":"/ok"},{"_id":7}])", "element 1: _id must be a string"}}) {
    auto in = parse_elements(c.json, id_policy::optional);
    BOOST_REQUIRE_MESSAGE(!in, "accepted: " << c.json.substr(0, 80));
    BOOST_CHECK(is(in.error(), storage_errc::invalid_element));
    BOOST_CHECK_MESSAGE(mentions(in.error(), c.expect),
                        c.json.substr(0, 80) << " -> " << message_of(in.error()));
  }
  auto ok = parse_elements(R"({"_id":")" + at_limit + R"("})", id_policy::required);
  BOOST_REQUIRE_MESSAGE(ok, why(ok));
  BOOST_CHECK_EQUAL(ok->front().ids.front().size(), max_id_bytes);
}

BOOST_AUTO_TEST_CASE(nesting_is_limited_to_max_json_depth) {
  auto at_limit = parse_elements(element_of_depth(max_json_depth), id_policy::required);
  BOOST_CHECK_MESSAGE(at_limit, why(at_limit));
  auto over = parse_elements(element_of_depth(max_json_depth + 1), id_policy::required);
  BOOST_REQUIRE(!over);
  BOOST_CHECK(is(over.error(), storage_errc::invalid_json));
  BOOST_CHECK_MESSAGE(mentions(over.error(), "deeper than 64"), message_of(over.error()));
  // Far deeper input must be refused the same way, not overflow a stack.
  auto deep = parse_elements(element_of_depth(100000), id_policy::required);
  BOOST_REQUIRE(!deep);
  BOOST_CHECK(is(deep.error(), storage_errc::invalid_json));
}

BOOST_AUTO_TEST_CASE(a_large_document_after_a_small_one_is_parsed_whole) {
  // The parser is reused per thread and grows on demand.
  BOOST_REQUIRE(parse_elements(R"({"_id":"/s"})", id_policy::required));
  std::string big = R"({"_id":"/big","v":")" + std::string(200000, 'v') + R"("})";
  auto in = parse_elements(big, id_policy::required);
  BOOST_REQUIRE_MESSAGE(in, why(in));
  BOOST_CHECK_EQUAL(in->front().fields.at(0).value.size(), 200002u);
}

BOOST_AUTO_TEST_CASE(parse_ids_takes_a_string_or_an_array_of_strings) {
  auto one = parse_ids(R"("/a")");
  BOOST_REQUIRE(one);
  BOOST_CHECK((*one == std::vector<std::string>{"/a"}));
  auto many = parse_ids(R"(["/a","/b","/a"])");
  BOOST_REQUIRE(many);
  BOOST_CHECK((*many == std::vector<std::string>{"/a", "/b", "/a"}));
  for (std::string bad : {"", "5", "{}", "[]", R"([""])", R"(["/a",1])", R"("/a\u0000")", "[\"/a\""}) {
    auto r = parse_ids(bad);
    BOOST_CHECK_MESSAGE(!r, "accepted: " << bad);
  }
}

BOOST_AUTO_TEST_CASE(validate_id_checks_each_rule) {
  BOOST_CHECK(!validate_id("/a/b"));
  BOOST_CHECK(!validate_id("@user"));
  BOOST_CHECK(!validate_id(std::string(max_id_bytes, 'x')));
  BOOST_CHECK(is(validate_id(""), storage_errc::invalid_element));
  BOOST_CHECK(is(validate_id(std::string(max_id_bytes + 1, 'x')), storage_errc::invalid_element));
  BOOST_CHECK(is(validate_id(std::string{"/a\0b", 4}), storage_errc::invalid_element));
  BOOST_CHECK(is(validate_id("/a\xff"), storage_errc::invalid_element));
  BOOST_CHECK(is(validate_id("/a\xc3"), storage_errc::invalid_element));
  BOOST_CHECK(is(validate_id("\xed\xa0\x80"), storage_errc::invalid_element));  // a surrogate
}

BOOST_AUTO_TEST_CASE(serialize_then_parse_stored_round_trips) {
  std::vector<element_field> fields{{"k", R"({"a":[1,2.5,"x"]})"},
                                    {"q\"uote", R"("line\nbreak")"},
                                    {"gone", "null"},
                                    {"nul\0key", "true"}};
  fields[3].key = std::string{"nul\0key", 7};
  auto json = serialize_element("/id \"x\"", fields);
  BOOST_CHECK_EQUAL(json.substr(0, 18), R"({"_id":"/id \"x\"")");
  auto back = parse_stored(json);
  BOOST_REQUIRE_MESSAGE(back, why(back));
  BOOST_REQUIRE_EQUAL(back->size(), 4u);
  for (size_t i = 0; i < fields.size(); ++i) {
    BOOST_CHECK_EQUAL(back->at(i).key, fields[i].key);
    BOOST_CHECK_EQUAL(back->at(i).value, fields[i].value);
  }
  auto dropped = serialize_element("/x", fields, true);
  BOOST_CHECK(dropped.find("gone") == std::string::npos);
  BOOST_CHECK(dropped.find("nul") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(parse_stored_reports_damage_as_corruption) {
  for (std::string bad : {"", "[1]", "\"x\"", "{", "{\"_id\":"}) {
    auto r = parse_stored(bad);
    BOOST_REQUIRE_MESSAGE(!r, "accepted: " << bad);
    BOOST_CHECK(is(r.error(), storage_errc::corruption));
  }
}

BOOST_AUTO_TEST_CASE(json_quote_escapes_what_json_requires) {
  BOOST_CHECK_EQUAL(json_quote("plain"), R"("plain")");
  BOOST_CHECK_EQUAL(json_quote("a\"b\\c\n"), R"("a\"b\\c\n")");
  BOOST_CHECK_EQUAL(json_quote(std::string{"\0", 1}), R"("\u0000")");
}

BOOST_AUTO_TEST_CASE(json_unquote_inverts_json_quote) {
  for (std::string s : {std::string{}, std::string{"plain"}, std::string{"o\"brien\\x\t"},
                        std::string{"nul\0in", 6}, std::string{"caf\xc3\xa9"}}) {
    auto back = json_unquote(json_quote(s));
    BOOST_REQUIRE(back);
    BOOST_CHECK(*back == s);
  }
  BOOST_CHECK_EQUAL(json_unquote(R"("\u0041\/")").value_or("?"), "A/");
  for (auto bad : {"", "x", "1", "null", R"("open)", R"(["a"])", R"("a" "b")"})
    BOOST_CHECK_MESSAGE(!json_unquote(bad), "unquoted " << bad);
}

namespace {

// The batch as text: every span spelled out, to compare two batches whole.
std::string layout(const element_batch& b) {
  auto span = [&](element_batch::span s) {
    return std::to_string(s.offset) + "+" + std::to_string(s.size) + "=" + std::string{b[s]};
  };
  std::string out = b.text + "\n";
  for (auto& e : b.elements) {
    out += "element ids";
    for (auto k = e.ids_begin; k < e.ids_end; ++k) out += " " + span(b.ids[k]);
    out += " fields";
    for (auto k = e.fields_begin; k < e.fields_end; ++k)
      out += " " + span(b.fields[k].key) + ":" + span(b.fields[k].value);
    out += e.has_body ? " body " + span(e.body) + "\n" : " no body\n";
  }
  return out;
}

}  // namespace

// Compact input is read as it stands, and makes exactly the batch the general parser makes;
// whatever the general parser would write differently (or refuse) is left to it.
BOOST_AUTO_TEST_CASE(the_fast_path_for_compact_input_matches_the_general_parser) {
  std::vector<std::string> taken{
      R"({"_id":"/a","type":"file","size":42,"tags":["exr","render"],"m":{"k":[1,-2,true,null]}})",
      R"([{"_id":"/a"},{"_id":"/b","x":0}])",
      "[\n  {\"_id\":\"/a\",\"x\":1},\n  {\"x\":2}\n]\n",
      R"({})",
      R"([{},{"k":"v"}])",
  };
  taken.push_back("{\"_id\":\"/caf\xc3\xa9\",\"k\":\"\xe2\x82\xac\",\"n\":-123456789012345678}");
  taken.push_back(R"({"_id":"/a","m":{"d":1,"d":2},"e":[]})");  // a nested repeat stays as written
  for (auto& json : taken) {
    for (auto policy : {id_policy::optional, id_policy::required}) {
      auto general = detail::parse_general_batch(json, policy);
      auto fast = detail::parse_compact_batch(json, policy);
      if (!general) {
        BOOST_CHECK_MESSAGE(!fast, "the fast path took what the general parser refuses: " + json);
        continue;
      }
      BOOST_REQUIRE_MESSAGE(fast, "the fast path declined " + json);
      BOOST_CHECK_EQUAL(layout(*fast), layout(*general));
      auto both = parse_element_batch(json, policy);
      BOOST_REQUIRE(both);
      BOOST_CHECK_EQUAL(layout(*both), layout(*general));
    }
  }
  std::vector<std::string> declined{
      R"({"_id":"/a","x":1.5})",             // the parser writes doubles its own way
      R"({"_id":"/a","x":1e2})",
      R"({"_id":"/a","x":-0})",
      R"({"_id":"/a","x":1234567890123456789})",  // 19 digits
      R"({"_id":"/a","x":"a\"b"})",          // an escape
      R"({"_id":"/a\u0041"})",
      R"({"_id":"/a", "x":1})",              // whitespace inside an element
      R"({"_id":"/a","x":[1, 2]})",
      R"({"x":1,"_id":"/a"})",               // `_id` not first
      R"({"_id":["/a","/b"]})",              // an array of ids
      R"({"_id":"/a","x":1,"x":2})",         // a repeated key
      R"({"_id":"","x":1})",                 // an invalid id
      R"([])", R"([{"_id":"/a"},])", R"({"_id":"/a"} x)", R"("a")", R"([1])", R"({"_id":"/a","x":tru})",
      R"({"_id":"/a","x":01})", R"({"_id":"/a","x":-})",
      element_of_depth(40),
      "{\"_id\":\"/a\",\"x\":\"\xff\"}",  // not UTF-8
  };
  for (auto& json : declined) {
    BOOST_CHECK_MESSAGE(!detail::parse_compact_batch(json, id_policy::optional),
                        "the fast path took " + json);
    auto general = detail::parse_general_batch(json, id_policy::optional);
    auto both = parse_element_batch(json, id_policy::optional);
    BOOST_CHECK_EQUAL(static_cast<bool>(both), static_cast<bool>(general));
    if (both && general) BOOST_CHECK_EQUAL(layout(*both), layout(*general));
  }
  // Without an `_id`, an element is refused where ids are required: by the general parser.
  BOOST_CHECK(!detail::parse_compact_batch(R"({"x":1})", id_policy::required));
  BOOST_CHECK(!parse_element_batch(R"({"x":1})", id_policy::required));
}
