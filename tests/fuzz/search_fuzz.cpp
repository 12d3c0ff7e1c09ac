// tests/fuzz/search_fuzz.cpp: the two query readers of storage/element_query.hpp, damas-core's
// text search (built as search_text_fuzz) and MongoDB query objects (search_mongo_fuzz), on
// any bytes. A query that reads is run against a set of stored elements of every JSON type;
// the ranged scan the store plans from `id_prefix` must never miss a match.
#include <string>
#include <string_view>
#include <vector>

#include "storage/element_json.hpp"
#include "storage/element_query.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#ifndef SYNCLINE_FUZZ_MONGO
#error "build with SYNCLINE_FUZZ_MONGO=0 (text) or 1 (mongo)"
#endif

namespace {

using namespace syncline;

struct stored {
  std::string id;
  std::string json;
};

const std::vector<stored>& elements() {
  static const auto all = [] {
    std::vector<std::pair<std::string, std::string>> raw = {
        {"/a/b.txt", R"("file_size":12,"author":"ann","tags":["x","y"],"meta":{"n":1.5,"ok":true})"},
        {"/a/c", R"("file_size":-3,"author":null,"origin":"site1","nested":{"a":{"b":[1,{"c":"d"}]}})"},
        {"abc", R"("comment":"héllo wörld","#parent":"/a","time":1700000000000)"},
        {"ab", R"("file_size":1e3,"empty":"","list":[],"obj":{})"},
        {"", R"()"},
        {"z\u00e9", R"("a.b":"dotted","a":{"b":"nested"},"num":"12")"},
        {"/", R"("file_mtime":0,"lock":"bob","x":[[1,2],[3]])"},
    };
    std::vector<stored> out;
    for (auto& [id, fields] : raw) {
      auto json = "{\"_id\":" + storage::json_quote(id) + (fields.empty() ? "" : ",") + fields + "}";
      out.push_back({id, json});
    }
    return out;
  }();
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto in = fuzz::text(data, size);
  auto q = SYNCLINE_FUZZ_MONGO ? storage::element_query::parse_mongo(in)
                               : storage::element_query::parse_text(in);
  if (!q) return 0;
  auto copy = *q;
  for (auto& e : elements()) {
    bool hit = q->matches(e.json);
    fuzz::require(hit == copy.matches(e.json), "a copied query matches differently");
    if (hit)
      fuzz::require(e.id.compare(0, q->id_prefix().size(), q->id_prefix()) == 0,
                    "an element outside the query's id prefix matches (a ranged scan misses it)");
  }
  return 0;
}
