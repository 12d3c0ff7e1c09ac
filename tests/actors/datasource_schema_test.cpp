#define BOOST_TEST_MODULE actors_datasource_schema
#include <boost/test/unit_test.hpp>

#include <limits>
#include <string>

#include "actors/datasource_schema.hpp"
#include "actors/records.hpp"

using namespace syncline::actors;

namespace {

// Reads `key` = `v` into `c`; the problem, or "".
std::string read(datasource_config& c, std::string_view key, const config_value& v) {
  auto* f = find_datasource_field(key);
  BOOST_REQUIRE_MESSAGE(f != nullptr, key);
  return f->read(v, c);
}

std::string read(std::string_view key, const config_value& v) {
  datasource_config c;
  return read(c, key, v);
}

// A configuration in which every field differs from its default.
datasource_config unusual() {
  datasource_config c;
  c.id = "photos";
  c.name = "Photos of the year";
  c.container = "acme";
  c.account = "main";
  c.workspace = "ws1";
  c.type = "synthetic";
  c.path = "/srv/photos";
  c.sync = sync_type::arch;
  c.volumes = {"a", "b"};
  c.target = "pics";
  c.targets = {{"b", "elsewhere/pics"}};
  c.sync_priority = -7;
  c.priority_rules = {{"**/*.raw", 9}, {"*.txt", -2}};
  c.include = {"**/*.jpg"};
  c.exclude = {"tmp/**"};
  c.compare_hash = true;
  c.max_delete = 12;
  c.max_delete_percent = 30;
  c.schedule_min_s = 61;
  c.schedule_max_s = 62;
  c.seed = std::numeric_limits<uint64_t>::max();
  c.count = 5;
  c.directories = 6;
  c.min_size = 7;
  c.max_size = 8;
  c.change_rate = 0.25;
  c.http.url = "https://api.example/v1/files?x=1";
  c.http.paging = "cursor";
  c.http.items = "/data/files";
  c.http.next = "/cursor";
  c.http.cursor_param = "scroll";
  c.http.first_page = 0;
  c.http.limit_param = "per_page";
  c.http.page_size = 250;
  c.http.reference = "/name";
  c.http.mtime_unit = "ms";
  c.http.auth = "oauth2";
  c.http.token_url = "https://auth.example/token";
  c.http.content_url = "https://api.example/v1/raw/{/id}";
  c.http.allow_insecure = true;
  c.http.timeout_s = 9;
  c.http.requests_per_s = 2.5;
  c.http.busy_retries = 3;
  return c;
}

}  // namespace

// What the view writes, the readers read back to the same configuration: one table for both.
BOOST_AUTO_TEST_CASE(every_field_reads_back_what_it_shows) {
  auto c = unusual();
  datasource_config back;
  for (auto& f : datasource_fields())
    BOOST_CHECK_MESSAGE(f.read(f.value(c), back).empty(), f.key);
  BOOST_CHECK_EQUAL(back.id, c.id);
  BOOST_CHECK_EQUAL(back.name, c.name);
  BOOST_CHECK_EQUAL(back.container, c.container);
  BOOST_CHECK(back.sync == c.sync);
  BOOST_CHECK(back.volumes == c.volumes);
  BOOST_CHECK(back.target == c.target);
  // `targets` shows every volume's target; read back it names each explicitly, to the same effect.
  BOOST_CHECK_EQUAL(back.targets.at("a"), "pics");
  BOOST_CHECK_EQUAL(back.targets.at("b"), "elsewhere/pics");
  BOOST_CHECK_EQUAL(back.sync_priority, -7);
  BOOST_REQUIRE_EQUAL(back.priority_rules.size(), 2u);
  BOOST_CHECK_EQUAL(back.priority_rules[1].glob, "*.txt");
  BOOST_CHECK_EQUAL(back.priority_rules[1].priority, -2);
  BOOST_CHECK(back.include == c.include);
  BOOST_CHECK(back.exclude == c.exclude);
  BOOST_CHECK(back.compare_hash);
  BOOST_CHECK_EQUAL(back.max_delete, 12u);
  BOOST_CHECK_EQUAL(back.max_delete_percent, 30u);
  BOOST_CHECK_EQUAL(back.schedule_min_s, 61);
  BOOST_CHECK_EQUAL(back.schedule_max_s, 62);
  BOOST_CHECK_EQUAL(back.seed, std::numeric_limits<uint64_t>::max());
  BOOST_CHECK_EQUAL(back.count, 5u);
  BOOST_CHECK_EQUAL(back.directories, 6u);
  BOOST_CHECK_EQUAL(back.min_size, 7u);
  BOOST_CHECK_EQUAL(back.max_size, 8u);
  BOOST_CHECK_EQUAL(back.change_rate, 0.25);
  BOOST_CHECK_EQUAL(back.http.url, c.http.url);
  BOOST_CHECK_EQUAL(back.http.paging, "cursor");
  BOOST_CHECK_EQUAL(back.http.cursor_param, "scroll");
  BOOST_CHECK_EQUAL(back.http.first_page, 0u);
  BOOST_CHECK_EQUAL(back.http.page_size, 250u);
  BOOST_CHECK_EQUAL(back.http.content_url, c.http.content_url);
  BOOST_CHECK(back.http.allow_insecure);
  BOOST_CHECK_EQUAL(back.http.timeout_s, 9);
  BOOST_CHECK_EQUAL(back.http.requests_per_s, 2.5);
  BOOST_CHECK_EQUAL(back.http.busy_retries, 3u);
  BOOST_CHECK_EQUAL(back.http.auth, "oauth2");
  BOOST_CHECK_EQUAL(back.http.token_url, c.http.token_url);
}

// An http datasource's settings survive its record (formats 3 and 4).
BOOST_AUTO_TEST_CASE(an_http_datasources_settings_survive_its_record) {
  datasource_record r;
  r.config = unusual();
  r.config.type = "http";
  auto back = decode_datasource(encode(r));
  BOOST_REQUIRE(back);
  auto& h = back->config.http;
  BOOST_CHECK_EQUAL(h.url, r.config.http.url);
  BOOST_CHECK_EQUAL(h.items, "/data/files");
  BOOST_CHECK_EQUAL(h.limit_param, "per_page");
  BOOST_CHECK_EQUAL(h.reference, "/name");
  BOOST_CHECK_EQUAL(h.mtime_unit, "ms");
  BOOST_CHECK(h.allow_insecure);
  BOOST_CHECK_EQUAL(h.requests_per_s, 2.5);
  BOOST_CHECK_EQUAL(h.busy_retries, 3u);
  BOOST_CHECK_EQUAL(h.auth, "oauth2");
  BOOST_CHECK_EQUAL(h.token_url, "https://auth.example/token");
  BOOST_CHECK_EQUAL(back->config.change_rate, 0.25);
}

// The limits the two readers used to disagree on, now one each (docs/api.md lists them).
BOOST_AUTO_TEST_CASE(ranges_are_checked_at_their_limits) {
  using v = config_value;
  BOOST_CHECK(read("count", v::of(int64_t{100'000'000})).empty());
  BOOST_CHECK(!read("count", v::of(int64_t{100'000'001})).empty());
  BOOST_CHECK(read("directories", v::of(int64_t{1'000'000})).empty());
  BOOST_CHECK(!read("directories", v::of(int64_t{1'000'001})).empty());
  BOOST_CHECK(read("sync_priority", v::of(int64_t{std::numeric_limits<int32_t>::min()})).empty());
  BOOST_CHECK(!read("sync_priority", v::of(int64_t{std::numeric_limits<int32_t>::max()} + 1)).empty());
  BOOST_CHECK(!read("sync_priority", v::of(std::numeric_limits<uint64_t>::max())).empty());
  BOOST_CHECK(read("seed", v::of(std::numeric_limits<uint64_t>::max())).empty());
  BOOST_CHECK(!read("seed", v::of(int64_t{-1})).empty());
  BOOST_CHECK(!read("max_delete_percent", v::of(int64_t{101})).empty());
  BOOST_CHECK(!read("count", v::of(1.5)).empty());
  BOOST_CHECK(read("name", v::of(std::string(256, 'n'))).empty());
  BOOST_CHECK(!read("name", v::of(std::string(257, 'n'))).empty());
  BOOST_CHECK(!read("name", v::of(std::string{"\xC0\xAF"})).empty());
  BOOST_CHECK(read("workspace", v::of(std::string{"caf\xC3\xA9 2"})).empty());
  BOOST_CHECK(read("container", v::of(std::string(128, 'c'))).empty());
  BOOST_CHECK(!read("container", v::of(std::string(129, 'c'))).empty());
  BOOST_CHECK(!read("account", v::of(std::string{"a/b"})).empty());
  BOOST_CHECK(!read("account", v::of(std::string{".."})).empty());
  BOOST_CHECK(!read("volumes", v::of(std::vector<std::string>{"a b"})).empty());
  BOOST_CHECK(!read("include", v::of(std::vector<std::string>{"[a-"})).empty());
  BOOST_CHECK(!read("schedule", v::table_of({{"min_s", v::of(int64_t{0})}})).empty());
  BOOST_CHECK(!read("schedule", v::table_of({{"every", v::of(int64_t{5})}})).empty());
  BOOST_CHECK(!read("change_rate", v::of(1.5)).empty());
  BOOST_CHECK(read("change_rate", v::of(int64_t{1})).empty());
}

BOOST_AUTO_TEST_CASE(paths_are_absolute_and_normal_and_need_not_exist) {
  using v = config_value;
  datasource_config c;
  BOOST_CHECK(read(c, "path", v::of(std::string{"/no/such/./dir/"})).empty());
  BOOST_CHECK_EQUAL(c.path, "/no/such/dir");
  auto p = read(c, "path", v::of(std::string{"relative/dir"}));
  BOOST_CHECK_MESSAGE(p.find("absolute") != std::string::npos, p);
  p = read(c, "path", v::of(std::string{"/tmp/../etc"}));
  BOOST_CHECK_MESSAGE(p.find("..") != std::string::npos, p);
  BOOST_CHECK(!read(c, "path", v::of(std::string{"/a\0b", 4})).empty());
  BOOST_CHECK_EQUAL(c.path, "/no/such/dir");  // a refused value changes nothing
  c.id = "d";
  c.volumes = {"v"};
  BOOST_CHECK(datasource_problem(c).empty());  // the folder's existence is the run's question
}

BOOST_AUTO_TEST_CASE(rules_across_fields) {
  datasource_config c;
  c.id = "d";
  c.path = "/x";
  BOOST_CHECK_NE(datasource_problem(c).find("volumes"), std::string::npos);
  c.volumes = {"v"};
  BOOST_CHECK(datasource_problem(c).empty());
  c.schedule_min_s = 100;
  c.schedule_max_s = 10;
  BOOST_CHECK_NE(datasource_problem(c).find("schedule_min_s"), std::string::npos);
  c.schedule_max_s = 100;
  c.min_size = 9;
  c.max_size = 8;
  BOOST_CHECK_NE(datasource_problem(c).find("min_size"), std::string::npos);
  c.max_size = 9;
  c.path.clear();
  BOOST_CHECK_NE(datasource_problem(c).find("path"), std::string::npos);
  c.type = "synthetic";
  BOOST_CHECK(datasource_problem(c).empty());
  c.targets = {{"w", "x"}};  // a volume it does not feed
  BOOST_CHECK(!datasource_problem(c).empty());
  c.targets.clear();
  BOOST_CHECK_EQUAL(volume_problem(c, {"v"}), "");
  BOOST_CHECK_NE(volume_problem(c, {"w"}).find("no volume 'v'"), std::string::npos);
}

BOOST_AUTO_TEST_CASE(unknown_keys_are_not_fields) {
  BOOST_CHECK(find_datasource_field("colour") == nullptr);
  BOOST_CHECK(find_datasource_field("status") == nullptr);
  BOOST_CHECK_NE(datasource_field_names().find("change_rate"), std::string::npos);
  for (auto* key : {"id", "container", "account", "workspace"})
    BOOST_CHECK(find_datasource_field(key)->identity);
  BOOST_CHECK(!find_datasource_field("path")->identity);
}
