#define BOOST_TEST_MODULE storage_database
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "storage/database.hpp"
#include "storage/datastore.hpp"
#include "storage/element_store.hpp"
#include "storage/error.hpp"
#include "storage/ulid.hpp"
#include "tests/storage/child_process.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/temp_dir.hpp"

using namespace syncline::storage;
using syncline::test::open_db;
using syncline::test::why;
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string message(const caf::error& err) { return render(err); }

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Every file under `dir` with its size, modification time and content: what "unchanged" means.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    struct stat st {};
    BOOST_REQUIRE(::lstat(e.path().c_str(), &st) == 0);
    std::string desc = std::to_string(st.st_mode) + " " + std::to_string(st.st_size) + " " +
                       std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
    if (e.is_regular_file()) desc += " " + std::to_string(std::hash<std::string>{}(read_file(e)));
    out[fs::relative(e.path(), dir).string()] = desc;
  }
  return out;
}

void check_unchanged(const std::map<std::string, std::string>& before, const fs::path& dir) {
  auto after = snapshot(dir);
  for (auto& [name, desc] : before) {
    auto i = after.find(name);
    if (i == after.end())
      BOOST_ERROR(name << " was removed");
    else if (i->second != desc)
      BOOST_ERROR(name << " changed: " << desc << " -> " << i->second);
  }
  for (auto& [name, desc] : after)
    if (before.count(name) == 0) BOOST_ERROR(name << " was created");
}

fs::path fixture(const std::string& name) { return fs::path{SYNCLINE_STORAGE_TEST_DATA} / name; }

// Stages a raw value into the meta column, bypassing put_meta's guard on the keys the database
// manages: how a test makes a database of another schema version, or without one.
void force_meta(database& db, std::string_view key, std::optional<std::string_view> value) {
  write_batch b{db};
  if (value)
    b.put(column::meta, key, *value);
  else
    b.erase(column::meta, key);
  BOOST_REQUIRE(!db.write(b));
}

struct fsize_limit {
  // Lowers the largest file size this process may write (RLIMIT_FSIZE) so that a write into
  // the log fails the way a full disk makes it fail; SIGXFSZ is ignored so the write returns
  // EFBIG instead of killing the test.
  explicit fsize_limit(rlim_t bytes) {
    BOOST_REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_) == 0);
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit lowered = old_;
    lowered.rlim_cur = bytes;
    BOOST_REQUIRE(::setrlimit(RLIMIT_FSIZE, &lowered) == 0);
  }
  ~fsize_limit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_handler_);
  }
  rlimit old_{};
  sighandler_t old_handler_{};
};

}  // namespace

BOOST_AUTO_TEST_CASE(open_creates_the_layout_and_the_identity_persists) {
  syncline::test::temp_dir tmp{"db-open"};
  auto data = tmp / "nested" / "data";
  std::string id;
  {
    auto db = open_db(data);
    BOOST_CHECK(db->data_dir() == data);
    id = db->node_id();
    BOOST_CHECK_EQUAL(id.size(), 26u);
    BOOST_CHECK(fs::is_regular_file(data / "db" / "CURRENT"));
    // The directory will hold password hashes and tokens: owner only.
    BOOST_CHECK((fs::status(data).permissions() & fs::perms::all) == fs::perms::owner_all);
    BOOST_CHECK_EQUAL(read_file(data / "node.lock"), std::to_string(::getpid()) + "\n");
    auto version = db->get_meta("schema_version");
    BOOST_REQUIRE(version && *version);
    BOOST_CHECK_EQUAL(**version, std::to_string(schema_version));
    auto node = db->get_meta("node_id");
    BOOST_REQUIRE(node && *node);
    BOOST_CHECK_EQUAL(**node, id);
    // Every column family exists on disk under its name (RocksDB lists them in OPTIONS-*).
    std::string options;
    for (auto& e : fs::directory_iterator(data / "db"))
      if (e.path().filename().string().rfind("OPTIONS-", 0) == 0) options = read_file(e.path());
    for (auto c : {column::elements, column::datastore, column::runs, column::queue,
                   column::users, column::tokens, column::meta})
      BOOST_CHECK_MESSAGE(contains(options, std::string{"[CFOptions \""} + to_string(c) + "\"]"),
                          "no column family " << to_string(c));
    BOOST_REQUIRE(!db->put_meta("custom", "value"));
  }
  auto db = open_db(data);
  BOOST_CHECK_EQUAL(db->node_id(), id);
  auto custom = db->get_meta("custom");
  BOOST_REQUIRE(custom && *custom);
  BOOST_CHECK_EQUAL(**custom, "value");
  auto created = db->get_meta("created_ms");
  BOOST_REQUIRE(created && *created);
  BOOST_CHECK(!created->value().empty());
}

BOOST_AUTO_TEST_CASE(two_databases_get_two_identities) {
  syncline::test::temp_dir a{"db-id-a"};
  syncline::test::temp_dir b{"db-id-b"};
  BOOST_CHECK_NE(open_db(a.path())->node_id(), open_db(b.path())->node_id());
}

BOOST_AUTO_TEST_CASE(meta_keys_of_the_database_are_not_writable) {
  syncline::test::temp_dir tmp{"db-meta"};
  auto db = open_db(tmp.path());
  for (auto key : {"schema_version", "node_id"}) {
    auto err = db->put_meta(key, "x");
    BOOST_CHECK(is(err, storage_errc::invalid_argument));
    BOOST_CHECK(contains(message(err), key));
  }
  BOOST_CHECK_EQUAL(db->get_meta("schema_version")->value(), std::to_string(schema_version));
  auto missing = db->get_meta("no such key");
  BOOST_REQUIRE(missing);
  BOOST_CHECK(!*missing);
  BOOST_REQUIRE(!db->put_meta(std::string{"nul\0key", 7}, std::string{"v\0v", 3}));
  auto nul = db->get_meta(std::string{"nul\0key", 7});
  BOOST_REQUIRE(nul && *nul);
  BOOST_CHECK(**nul == std::string("v\0v", 3));
}

BOOST_AUTO_TEST_CASE(meta_entries_can_be_erased_and_scanned_by_prefix) {
  syncline::test::temp_dir tmp{"db-meta-scan"};
  {
    auto db = open_db(tmp.path());
    for (auto key : {"ds/b", "ds/a", "ds/c", "dt/x", "ds"}) BOOST_REQUIRE(!db->put_meta(key, key));
    BOOST_REQUIRE(!db->erase_meta("ds/c"));
    BOOST_REQUIRE(!db->erase_meta("never-there"));
    std::vector<std::string> seen;
    auto err = db->scan_meta("ds/", [&](std::string_view key, std::string_view value) {
      BOOST_CHECK_EQUAL(key, value);
      seen.emplace_back(key);
      return true;
    });
    BOOST_REQUIRE_MESSAGE(!err, why(err));
    BOOST_CHECK((seen == std::vector<std::string>{"ds/a", "ds/b"}));
    seen.clear();
    BOOST_REQUIRE(!db->scan_meta("d", [&](std::string_view key, std::string_view) {
      seen.emplace_back(key);
      return seen.size() < 2;
    }));
    BOOST_CHECK((seen == std::vector<std::string>{"ds", "ds/a"}));
    // The keys the database manages cannot be erased: without them it would not open again.
    for (auto key : {"schema_version", "node_id"}) {
      auto refused = db->erase_meta(key);
      BOOST_CHECK(is(refused, storage_errc::invalid_argument));
      BOOST_CHECK(contains(message(refused), key));
    }
  }
  auto db = open_db(tmp.path());
  BOOST_CHECK(!db->get_meta("ds/c")->has_value());
  BOOST_CHECK_EQUAL(db->get_meta("ds/a")->value_or(""), "ds/a");
}

BOOST_AUTO_TEST_CASE(without_create_if_missing_nothing_is_created) {
  syncline::test::temp_dir tmp{"db-nocreate"};
  database_options opts;
  opts.data_dir = tmp / "absent";
  opts.create_if_missing = false;
  auto db = database::open(opts);
  BOOST_REQUIRE(!db);
  BOOST_CHECK(is(db.error(), storage_errc::not_found));
  BOOST_CHECK(contains(message(db.error()), opts.data_dir.string()));
  BOOST_CHECK(!fs::exists(opts.data_dir));

  opts.data_dir = tmp.path();
  db = database::open(opts);
  BOOST_REQUIRE(!db);
  BOOST_CHECK(is(db.error(), storage_errc::not_found));
  BOOST_CHECK(!fs::exists(tmp / "db"));
}

BOOST_AUTO_TEST_CASE(bad_data_dirs_are_refused_clearly) {
  auto empty = database::open({});
  BOOST_REQUIRE(!empty);
  BOOST_CHECK(is(empty.error(), storage_errc::invalid_argument));

  syncline::test::temp_dir tmp{"db-file"};
  auto file = tmp / "a-file";
  std::ofstream{file} << "not a directory";
  auto db = database::open({file});
  BOOST_REQUIRE(!db);
  BOOST_CHECK(is(db.error(), storage_errc::invalid_argument));
  BOOST_CHECK_MESSAGE(contains(message(db.error()), file.string()) &&
                          contains(message(db.error()), "not a directory"),
                      message(db.error()));
  BOOST_CHECK_EQUAL(read_file(file), "not a directory");

  // A data directory below a file cannot be created.
  auto below = database::open({file / "sub"});
  BOOST_REQUIRE(!below);
  BOOST_CHECK_MESSAGE(is(below.error(), storage_errc::io_error) ||
                          is(below.error(), storage_errc::invalid_argument),
                      message(below.error()));
  BOOST_CHECK(contains(message(below.error()), (file / "sub").string()));
}

BOOST_AUTO_TEST_CASE(a_second_open_in_the_same_process_is_locked_out) {
  syncline::test::temp_dir tmp{"db-lock"};
  auto first = open_db(tmp.path());
  auto second = database::open({tmp.path()});
  BOOST_REQUIRE(!second);
  BOOST_CHECK(is(second.error(), storage_errc::locked));
  BOOST_CHECK_MESSAGE(contains(message(second.error()), tmp.path().string()),
                      message(second.error()));
  BOOST_CHECK(contains(message(second.error()), "pid " + std::to_string(::getpid())));
  // The refused open took nothing from the holder.
  BOOST_CHECK(!first->put_meta("still", "works"));
  BOOST_CHECK_EQUAL(read_file(tmp / "node.lock"), std::to_string(::getpid()) + "\n");
  auto id = first->node_id();
  first.reset();
  auto third = open_db(tmp.path());
  BOOST_CHECK_EQUAL(third->node_id(), id);
  BOOST_CHECK_EQUAL(third->get_meta("still")->value(), "works");
}

BOOST_AUTO_TEST_CASE(another_process_holding_the_directory_locks_it_until_killed) {
  syncline::test::temp_dir tmp{"db-lock-proc"};
  syncline::test::child_process holder{
      {syncline::test::helper_path("tests/storage/crash_writer"), tmp.path().string(), "0", "0"}};
  BOOST_REQUIRE(holder.read_line() == std::string{"open"});
  BOOST_REQUIRE(holder.read_line() == std::string{"done"});
  auto refused = database::open({tmp.path()});
  BOOST_REQUIRE(!refused);
  BOOST_CHECK(is(refused.error(), storage_errc::locked));
  auto text = message(refused.error());
  BOOST_CHECK_MESSAGE(contains(text, tmp.path().string()), text);
  BOOST_CHECK_MESSAGE(contains(text, "pid " + std::to_string(holder.pid())), text);
  // A killed holder leaves no stale lock behind.
  auto status = holder.kill();
  BOOST_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  auto db = open_db(tmp.path());
  BOOST_CHECK_EQUAL(db->node_id().size(), 26u);
}

BOOST_AUTO_TEST_CASE(another_schema_version_is_refused_untouched) {
  syncline::test::temp_dir tmp{"db-schema"};
  {
    auto db = open_db(tmp.path());
    element_store store{*db};
    BOOST_REQUIRE(store.create(R"({"_id":"/kept"})", {"a", 1}));
    force_meta(*db, "schema_version", std::to_string(schema_version + 1));
  }
  auto before = snapshot(tmp / "db");
  auto db = database::open({tmp.path()});
  BOOST_REQUIRE(!db);
  BOOST_CHECK(is(db.error(), storage_errc::schema_mismatch));
  auto text = message(db.error());
  BOOST_CHECK_MESSAGE(contains(text, "schema version " + std::to_string(schema_version + 1)),
                      text);
  BOOST_CHECK_MESSAGE(contains(text, "schema version " + std::to_string(schema_version)), text);
  BOOST_CHECK_MESSAGE(contains(text, tmp.path().string()), text);
  check_unchanged(before, tmp / "db");
  // And it stays refused: the first refusal wrote nothing that would let a second one pass.
  auto again = database::open({tmp.path()});
  BOOST_REQUIRE(!again);
  BOOST_CHECK(is(again.error(), storage_errc::schema_mismatch));
  check_unchanged(before, tmp / "db");
}

BOOST_AUTO_TEST_CASE(an_older_schema_version_opens_for_its_upgrade) {
  syncline::test::temp_dir tmp{"db-upgrade"};
  {
    auto db = open_db(tmp.path());
    BOOST_CHECK_EQUAL(db->stored_schema_version(), schema_version);
    element_store store{*db};
    BOOST_REQUIRE(store.create(R"({"_id":"/kept"})", {"a", 1}));
    force_meta(*db, "schema_version", std::to_string(oldest_upgradable_schema));
  }
  {
    // Opened, told as older, and left older until the owner says the upgrade is done (a
    // crash in between upgrades again).
    auto db = open_db(tmp.path());
    BOOST_CHECK_EQUAL(db->stored_schema_version(), oldest_upgradable_schema);
    BOOST_CHECK_EQUAL(db->get_meta("schema_version")->value(),
                      std::to_string(oldest_upgradable_schema));
  }
  {
    auto db = open_db(tmp.path());
    BOOST_CHECK_EQUAL(db->stored_schema_version(), oldest_upgradable_schema);
    BOOST_REQUIRE(!db->finish_upgrade());
    BOOST_CHECK_EQUAL(db->stored_schema_version(), schema_version);
  }
  auto db = open_db(tmp.path());
  BOOST_CHECK_EQUAL(db->stored_schema_version(), schema_version);
  BOOST_CHECK_EQUAL(db->get_meta("schema_version")->value(), std::to_string(schema_version));
  element_store store{*db};
  auto kept = store.get("/kept");
  BOOST_REQUIRE(kept);
  BOOST_CHECK(kept->has_value());
}

BOOST_AUTO_TEST_CASE(a_schema_version_older_than_upgradable_is_refused) {
  syncline::test::temp_dir tmp{"db-ancient"};
  {
    auto db = open_db(tmp.path());
    force_meta(*db, "schema_version", "0");
  }
  auto db = database::open({tmp.path()});
  BOOST_REQUIRE(!db);
  BOOST_CHECK(is(db.error(), storage_errc::schema_mismatch));
}

BOOST_AUTO_TEST_CASE(a_database_with_data_but_no_schema_version_is_refused) {
  syncline::test::temp_dir tmp{"db-noschema"};
  {
    auto db = open_db(tmp.path());
    element_store store{*db};
    BOOST_REQUIRE(store.create(R"({"_id":"/kept"})", {"a", 1}));
    force_meta(*db, "schema_version", std::nullopt);
  }
  auto before = snapshot(tmp / "db");
  auto db = database::open({tmp.path()});
  BOOST_REQUIRE(!db);
  BOOST_CHECK(is(db.error(), storage_errc::schema_mismatch));
  BOOST_CHECK_MESSAGE(contains(message(db.error()), "no schema version"), message(db.error()));
  check_unchanged(before, tmp / "db");
}

BOOST_AUTO_TEST_CASE(a_plain_rocksdb_database_is_refused_untouched) {
  syncline::test::temp_dir tmp{"db-plain"};
  fs::copy(fixture("plain_rocksdb"), tmp / "db", fs::copy_options::recursive);
  auto before = snapshot(tmp / "db");
  auto db = database::open({tmp.path()});
  BOOST_REQUIRE(!db);
  BOOST_CHECK(is(db.error(), storage_errc::schema_mismatch));
  BOOST_CHECK_MESSAGE(contains(message(db.error()), "not a syncline one"), message(db.error()));
  BOOST_CHECK(contains(message(db.error()), (tmp / "db").string()));
  check_unchanged(before, tmp / "db");
}

BOOST_AUTO_TEST_CASE(an_initialisation_killed_before_the_schema_was_written_is_finished) {
  // DB::Open creates the column families one by one and only then is the schema version
  // written: a kill in between leaves column families with nothing in them. Such a database
  // holds nothing to protect, and refusing it would lock the node out of its data directory.
  syncline::test::temp_dir tmp{"db-interrupted"};
  {
    auto db = open_db(tmp.path());
    for (auto key : {"schema_version", "node_id", "created_ms"}) force_meta(*db, key, std::nullopt);
  }
  {
    auto db = open_db(tmp.path());
    BOOST_CHECK_EQUAL(db->node_id().size(), 26u);
    BOOST_CHECK_EQUAL(db->get_meta("schema_version")->value(), std::to_string(schema_version));
  }
  // The same when the kill came before the column families: only RocksDB's `default` exists.
  syncline::test::temp_dir bare{"db-interrupted-bare"};
  fs::copy(fixture("empty_rocksdb"), bare / "db", fs::copy_options::recursive);
  std::string id;
  {
    auto db = open_db(bare.path());
    id = db->node_id();
    element_store store{*db};
    BOOST_REQUIRE(store.create(R"({"_id":"/x"})", {"a", 1}));
  }
  auto db = open_db(bare.path());
  BOOST_CHECK_EQUAL(db->node_id(), id);
  BOOST_CHECK(element_store{*db}.get("/x")->has_value());
}

BOOST_AUTO_TEST_CASE(a_batch_applies_every_column_at_once_then_runs_its_hooks_in_order) {
  syncline::test::temp_dir tmp{"db-batch"};
  auto db = open_db(tmp.path());
  datastore rows{*db};
  element_store elements{*db};
  BOOST_REQUIRE(!db->put_meta("old", "1"));

  std::vector<std::string> calls;
  write_batch batch{*db};
  BOOST_CHECK(batch.empty());
  BOOST_CHECK(&batch.owner() == db.get());
  batch.put(column::meta, "new", "2");
  batch.erase(column::meta, "old");
  batch.put(column::elements, "/e", R"({"_id":"/e","k":1})");
  datastore_row row;
  row.reference = "ref";
  row.size = 42;
  rows.put(batch, "ds", row);
  batch.on_commit([&] {
    // Hooks see the batch's changes: they run after the write.
    calls.push_back("first:" + db->get_meta("new")->value_or("missing"));
  });
  batch.on_commit([&] { calls.push_back("second"); });
  BOOST_CHECK_EQUAL(batch.count(), 4u);
  BOOST_CHECK_GT(batch.byte_size(), 0u);
  BOOST_CHECK(calls.empty());
  BOOST_CHECK(!db->get_meta("new")->has_value());  // staged only

  // A moved batch carries its changes and hooks along.
  write_batch moved{std::move(batch)};
  BOOST_REQUIRE(!db->write(moved));
  BOOST_CHECK((calls == std::vector<std::string>{"first:2", "second"}));
  BOOST_CHECK(moved.empty());
  BOOST_CHECK(!db->get_meta("old")->has_value());
  BOOST_CHECK_EQUAL(elements.get("/e")->value(), R"({"_id":"/e","k":1})");
  auto got = rows.get("ds", "ref");
  BOOST_REQUIRE(got && *got);
  BOOST_CHECK((**got == row));

  // Written once: a second write of the now empty batch runs no hook again.
  BOOST_REQUIRE(!db->write(moved));
  BOOST_CHECK_EQUAL(calls.size(), 2u);

  // A batch with hooks but no change still reports its commit.
  write_batch only_hooks{*db};
  only_hooks.on_commit([&] { calls.push_back("third"); });
  BOOST_REQUIRE(!db->write(only_hooks));
  BOOST_CHECK_EQUAL(calls.back(), "third");

  // clear() drops changes and hooks alike.
  write_batch cleared{*db};
  cleared.put(column::meta, "dropped", "x");
  cleared.on_commit([&] { calls.push_back("dropped"); });
  cleared.clear();
  BOOST_CHECK(cleared.empty());
  BOOST_REQUIRE(!db->write(cleared));
  BOOST_CHECK_EQUAL(calls.back(), "third");
  BOOST_CHECK(!db->get_meta("dropped")->has_value());
}

BOOST_AUTO_TEST_CASE(a_failed_write_applies_nothing_and_runs_no_hook) {
  syncline::test::temp_dir tmp{"db-fail"};
  {
    auto db = open_db(tmp.path());
    BOOST_REQUIRE(!db->put_meta("before", "1"));
    bool hooked = false;
    write_batch batch{*db};
    batch.put(column::meta, "small", "1");
    batch.put(column::elements, "/big", std::string(4u << 20, 'x'));
    batch.on_commit([&] { hooked = true; });
    caf::error err;
    {
      fsize_limit limit{1u << 20};
      err = db->write(batch);
    }
    BOOST_REQUIRE_MESSAGE(err, "the write was expected to fail past RLIMIT_FSIZE");
    BOOST_CHECK_MESSAGE(is(err, storage_errc::io_error), message(err));
    BOOST_CHECK(!hooked);
    BOOST_CHECK_EQUAL(batch.count(), 2u);  // kept for the caller to retry or drop
    BOOST_CHECK(!db->get_meta("small")->has_value());
  }
  auto db = open_db(tmp.path());
  BOOST_CHECK_EQUAL(db->get_meta("before")->value_or("missing"), "1");
  BOOST_CHECK(!db->get_meta("small")->has_value());
  BOOST_CHECK(!element_store{*db}.get("/big")->has_value());
}

BOOST_AUTO_TEST_CASE(acknowledged_writes_survive_close_and_estimates_see_them) {
  syncline::test::temp_dir tmp{"db-durable"};
  {
    auto db = open_db(tmp.path());
    write_batch batch{*db};
    for (int i = 0; i < 500; ++i)
      batch.put(column::elements, "/k" + std::to_string(i), R"({"_id":"x"})");
    BOOST_REQUIRE(!db->write(batch));
    BOOST_CHECK(!db->sync_wal());
    BOOST_CHECK_GT(db->estimate_keys(column::elements), 0u);
    BOOST_CHECK_GT(db->estimate_bytes(column::elements), 0u);
    BOOST_CHECK_EQUAL(db->estimate_keys(column::tokens), 0u);
  }
  auto db = open_db(tmp.path());
  element_store store{*db};
  size_t n = 0;
  BOOST_REQUIRE(!store.scan("/k", [&](std::string_view, std::string_view) { return ++n, true; }));
  BOOST_CHECK_EQUAL(n, 500u);
}

BOOST_AUTO_TEST_CASE(column_and_error_names) {
  BOOST_CHECK_EQUAL(to_string(column::elements), "elements");
  BOOST_CHECK_EQUAL(to_string(column::meta), "meta");
  BOOST_CHECK_EQUAL(to_string(storage_errc::schema_mismatch), "schema_mismatch");
  BOOST_CHECK_EQUAL(render(make_error(storage_errc::locked, "held")), "locked: held");
  BOOST_CHECK_EQUAL(render(make_error(storage_errc::busy)), "busy");
  BOOST_CHECK_EQUAL(render(caf::error{}), "no error");
  BOOST_CHECK(is(make_error(storage_errc::closed), storage_errc::closed));
  BOOST_CHECK(!is(make_error(storage_errc::closed), storage_errc::busy));
  // "No error" is no storage error (and asking must not crash).
  BOOST_CHECK(!is(caf::error{}, storage_errc::busy));
  BOOST_CHECK(!is(caf::none, storage_errc::io_error));
}
