#define BOOST_TEST_MODULE storage_datastore
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <limits>
#include <map>
#include <random>

#include "storage/database.hpp"
#include "storage/datastore.hpp"
#include "storage/error.hpp"
#include "storage/row_reads.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/temp_dir.hpp"

using namespace syncline::storage;
using syncline::test::why;

namespace {

struct fixture {
  syncline::test::temp_dir dir{"datastore"};
  std::unique_ptr<database> db;
  std::unique_ptr<datastore> ds;
  std::mt19937_64 rng{std::random_device{}()};

  fixture() { reopen(); }
  void reopen() {
    ds.reset();
    db.reset();
    db = syncline::test::open_db(dir.path());
    ds = std::make_unique<datastore>(*db);
  }

  datastore_row random_row(std::string reference) {
    datastore_row r;
    r.reference = std::move(reference);
    r.mtime_ns = static_cast<int64_t>(rng());
    r.size = rng() >> (rng() % 64);
    if (rng() % 2) r.hash = rng();
    r.action = static_cast<pending_action>(rng() % 4);
    r.attempts = static_cast<uint32_t>(rng());
    r.last_error = rng() % 2 ? std::string{"disk\0full", 9} : std::string{};
    r.last_attempt_ms = static_cast<int64_t>(rng()) >> 20;
    r.flags = static_cast<uint32_t>(rng() % 4);
    r.mode = static_cast<uint32_t>(rng() % 07777);
    r.generation = rng();
    r.queue_seq = rng() >> 8;
    r.queue_priority = static_cast<int32_t>(static_cast<uint32_t>(rng()));
    r.parked = rng() % 2 == 1;
    return r;
  }

  void put(std::string_view source, const datastore_row& row) {
    auto err = ds->put(source, row);
    BOOST_REQUIRE_MESSAGE(!err, why(err));
  }

  std::optional<datastore_row> get(std::string_view source, std::string_view reference) {
    auto got = ds->get(source, reference);
    BOOST_REQUIRE_MESSAGE(got, why(got));
    return *got;
  }

  std::vector<datastore_row> rows_of(std::string_view source, std::string_view after = {}) {
    std::vector<datastore_row> out;
    auto cur = ds->scan(source, after);
    for (; cur.valid(); cur.next()) out.push_back(cur.row());
    BOOST_REQUIRE_MESSAGE(!cur.status(), why(cur.status()));
    return out;
  }

  std::vector<std::string> refs_of(std::string_view source, std::string_view after = {}) {
    std::vector<std::string> out;
    for (auto& r : rows_of(source, after)) out.push_back(r.reference);
    return out;
  }
};

datastore_row row_of(std::string reference, int64_t mtime, pending_action action) {
  datastore_row r;
  r.reference = std::move(reference);
  r.mtime_ns = mtime;
  r.action = action;
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(pending_action_names_round_trip) {
  for (auto a : {pending_action::none, pending_action::add, pending_action::replace,
                 pending_action::remove})
    BOOST_CHECK(pending_action_from_string(to_string(a)) == a);
  BOOST_CHECK_EQUAL(to_string(pending_action::replace), "replace");
  BOOST_CHECK(!pending_action_from_string("Add"));
  BOOST_CHECK(!pending_action_from_string(""));
}

BOOST_FIXTURE_TEST_CASE(rows_round_trip_every_field, fixture) {
  std::vector<datastore_row> written;
  for (int i = 0; i < 200; ++i) {
    auto row = random_row("ref/" + std::to_string(i));
    put("src", row);
    written.push_back(row);
  }
  datastore_row extremes;
  extremes.reference = std::string{"nul\0ref\xff", 8};
  extremes.mtime_ns = std::numeric_limits<int64_t>::min();
  extremes.size = std::numeric_limits<uint64_t>::max();
  extremes.hash = 0;
  extremes.attempts = std::numeric_limits<uint32_t>::max();
  extremes.last_attempt_ms = std::numeric_limits<int64_t>::max();
  extremes.flags = std::numeric_limits<uint32_t>::max();
  extremes.mode = std::numeric_limits<uint32_t>::max();
  extremes.generation = std::numeric_limits<uint64_t>::max();
  extremes.queue_seq = std::numeric_limits<uint64_t>::max();
  extremes.queue_priority = std::numeric_limits<int32_t>::min();
  extremes.last_error = std::string(100000, 'e');
  put("src", extremes);
  written.push_back(extremes);
  for (int pass = 0; pass < 2; ++pass) {
    for (auto& row : written) {
      auto got = get("src", row.reference);
      BOOST_REQUIRE(got);
      BOOST_CHECK_MESSAGE(*got == row, "row " << row.reference << " changed");
    }
    reopen();  // and again from disk
  }
  BOOST_CHECK(!get("src", "ref/missing"));
  BOOST_CHECK(!get("other", "ref/1"));
}

BOOST_FIXTURE_TEST_CASE(a_put_replaces_the_row_and_erase_removes_it, fixture) {
  put("src", row_of("f", 1, pending_action::add));
  put("src", row_of("f", 2, pending_action::none));
  auto rows = rows_of("src");
  BOOST_REQUIRE_EQUAL(rows.size(), 1u);
  BOOST_CHECK_EQUAL(rows[0].mtime_ns, 2);
  write_batch batch{*db};
  ds->erase(batch, "src", "f");
  ds->erase(batch, "src", "never-there");
  BOOST_CHECK(get("src", "f"));  // staged only
  BOOST_REQUIRE(!db->write(batch));
  BOOST_CHECK(!get("src", "f"));
  BOOST_CHECK(rows_of("src").empty());
}

BOOST_FIXTURE_TEST_CASE(scan_yields_references_in_byte_order, fixture) {
  std::vector<std::string> refs{"",    "a",  "a/", "a/b", "a.txt", "a0", "B", "b",
                                "\xc3\xa9", "\xff", std::string{"a\0", 2},
                                std::string{"a\0b", 3}, std::string{"\0", 1}};
  for (int i = 0; i < 300; ++i) {
    std::string r;
    for (size_t n = rng() % 6; n > 0; --n) r.push_back("\0\x01/a\xfe\xff"[rng() % 6]);
    refs.push_back(r);
  }
  std::shuffle(refs.begin(), refs.end(), rng);
  for (auto& r : refs) put("src", row_of(r, 1, pending_action::add));
  std::sort(refs.begin(), refs.end());
  refs.erase(std::unique(refs.begin(), refs.end()), refs.end());
  BOOST_CHECK((refs_of("src") == refs));

  // scan(after) starts strictly after `after`, whether or not a row has that reference.
  // (An empty `after` means "from the start", so the empty reference cannot be a cursor.)
  BOOST_REQUIRE(refs.front().empty());
  BOOST_CHECK((refs_of("src", "") == refs));
  for (size_t i = 1; i < refs.size(); ++i) {
    std::vector<std::string> tail(refs.begin() + static_cast<std::ptrdiff_t>(i) + 1, refs.end());
    BOOST_REQUIRE_MESSAGE((refs_of("src", refs[i]) == tail), "after row " << i);
  }
  auto probe = std::string{"a\0", 2} + "\x01";  // between "a\0" and "a\0b"
  std::vector<std::string> tail;
  for (auto& r : refs)
    if (r > probe) tail.push_back(r);
  BOOST_CHECK((refs_of("src", probe) == tail));
  BOOST_CHECK(refs_of("src", refs.back()).empty());
}

BOOST_FIXTURE_TEST_CASE(datasources_do_not_bleed_into_each_other, fixture) {
  // Names that are prefixes of each other, or hold NUL and 0xFF, the bytes the key encoding uses.
  std::vector<std::string> sources{"",  "a",  std::string{"a\0", 2}, std::string{"a\0\x01", 3},
                                   "ab", "a\xff", std::string{"\0", 1}, "\xff", "b"};
  std::map<std::string, std::vector<std::string>> expected;
  for (size_t s = 0; s < sources.size(); ++s) {
    for (size_t i = 0; i < 5 + s; ++i) {
      // References that would continue another datasource's name.
      std::string ref = i % 2 ? std::string{"\0\x01", 2} + std::to_string(i) : "b" + std::to_string(i);
      auto row = row_of(ref, static_cast<int64_t>(s), pending_action::add);
      row.size = s * 100 + i;
      put(sources[s], row);
      expected[sources[s]].push_back(ref);
    }
  }
  for (auto& [source, refs] : expected) {
    std::sort(refs.begin(), refs.end());
    auto rows = rows_of(source);
    BOOST_CHECK_MESSAGE(rows.size() == refs.size(), "datasource of " << source.size()
                                                                     << " bytes: " << rows.size());
    for (size_t i = 0; i < rows.size() && i < refs.size(); ++i) {
      BOOST_CHECK(rows[i].reference == refs[i]);
      auto s = static_cast<size_t>(std::find(sources.begin(), sources.end(), source) -
                                   sources.begin());
      BOOST_CHECK_EQUAL(rows[i].mtime_ns, static_cast<int64_t>(s));
    }
    auto counts = ds->count(source);
    BOOST_REQUIRE_MESSAGE(counts, why(counts));
    BOOST_CHECK_EQUAL(counts->rows, refs.size());
  }
  // Dropping one datasource leaves every other, its prefix-sharing neighbours included.
  BOOST_REQUIRE(!ds->drop("a"));
  BOOST_CHECK(rows_of("a").empty());
  BOOST_CHECK(!get("a", "b0"));
  for (auto& [source, refs] : expected)
    if (source != "a") BOOST_CHECK_EQUAL(rows_of(source).size(), refs.size());
  BOOST_REQUIRE(!ds->drop(std::string{"\0", 1}));
  BOOST_REQUIRE(!ds->drop(""));
  BOOST_CHECK(rows_of("").empty());
  const std::string a_nul{"a\0", 2};
  BOOST_CHECK_EQUAL(rows_of(a_nul).size(), expected[a_nul].size());
  BOOST_CHECK_EQUAL(rows_of("\xff").size(), expected["\xff"].size());
  BOOST_REQUIRE(!ds->drop("never-there"));
  reopen();
  BOOST_CHECK(rows_of("a").empty());
  BOOST_CHECK_EQUAL(rows_of("ab").size(), expected["ab"].size());
}

BOOST_FIXTURE_TEST_CASE(count_sums_rows_actions_and_bytes, fixture) {
  auto empty = ds->count("src");
  BOOST_REQUIRE(empty);
  BOOST_CHECK_EQUAL(empty->rows, 0u);
  uint64_t pending[4] = {};
  uint64_t bytes = 0;
  for (int i = 0; i < 100; ++i) {
    auto row = row_of("f" + std::to_string(i), i, static_cast<pending_action>(i % 4));
    row.size = static_cast<uint64_t>(i) * 1000;
    put("src", row);
    ++pending[i % 4];
    bytes += row.size;
  }
  put("elsewhere", row_of("x", 0, pending_action::add));
  auto c = ds->count("src");
  BOOST_REQUIRE_MESSAGE(c, why(c));
  BOOST_CHECK_EQUAL(c->rows, 100u);
  for (int a = 0; a < 4; ++a) BOOST_CHECK_EQUAL(c->pending[a], pending[a]);
  BOOST_CHECK_EQUAL(c->bytes, bytes);
}

BOOST_FIXTURE_TEST_CASE(a_cursor_reads_the_snapshot_it_was_made_on, fixture) {
  for (int i = 0; i < 10; ++i) put("src", row_of("f" + std::to_string(i), i, pending_action::add));
  auto cur = ds->scan("src");
  BOOST_REQUIRE(cur.valid());
  // Changes after the cursor was made, ahead of its position, stay invisible to it.
  put("src", row_of("f5", 555, pending_action::replace));
  put("src", row_of("f55", 0, pending_action::add));
  write_batch batch{*db};
  ds->erase(batch, "src", "f9");
  BOOST_REQUIRE(!db->write(batch));
  std::vector<std::string> seen;
  for (; cur.valid(); cur.next()) {
    seen.push_back(cur.row().reference);
    if (cur.row().reference == "f5") BOOST_CHECK_EQUAL(cur.row().mtime_ns, 5);
  }
  BOOST_CHECK(!cur.status());
  BOOST_CHECK_EQUAL(seen.size(), 10u);
  BOOST_CHECK(std::find(seen.begin(), seen.end(), "f55") == seen.end());
  cur.next();  // past the end stays there
  BOOST_CHECK(!cur.valid());
  // A moved cursor continues where the original was.
  auto a = ds->scan("src");
  a.next();
  datastore::cursor b{std::move(a)};
  BOOST_REQUIRE(b.valid());
  BOOST_CHECK_EQUAL(b.row().reference, "f1");
}

BOOST_FIXTURE_TEST_CASE(seed_002_incremental_synchronize_example, fixture) {
  // Seed 002, driven the way a run drives the datastore: merge the sorted source listing with
  // scan(), stage the changes into batches, let results clear actions one by one.
  using listing = std::vector<std::pair<std::string, int64_t>>;  // (reference, mtime)
  auto cycle = [&](const listing& source) {
    auto cur = ds->scan("data");
    write_batch batch{*db};
    size_t i = 0;
    while (cur.valid() || i < source.size()) {
      int order = !cur.valid() ? 1 : i == source.size() ? -1
                                 : cur.row().reference.compare(source[i].first);
      if (order < 0) {  // in the datastore, gone from the source
        auto row = cur.row();
        row.action = pending_action::remove;
        ds->put(batch, "data", row);
        cur.next();
      } else if (order > 0) {  // new at the source
        ds->put(batch, "data", row_of(source[i].first, source[i].second, pending_action::add));
        ++i;
      } else {
        if (cur.row().mtime_ns != source[i].second) {
          auto row = cur.row();
          row.mtime_ns = source[i].second;
          row.action = pending_action::replace;
          ds->put(batch, "data", row);
        }
        cur.next();
        ++i;
      }
      // Commit as the merge goes: the cursor keeps reading its own snapshot.
      if (batch.count() >= 1) BOOST_REQUIRE(!db->write(batch));
    }
    BOOST_REQUIRE(!cur.status());
    BOOST_REQUIRE(!db->write(batch));
  };
  auto succeed = [&](const std::string& ref) {
    auto row = get("data", ref);
    BOOST_REQUIRE(row);
    write_batch batch{*db};
    if (row->action == pending_action::remove) {
      ds->erase(batch, "data", ref);
    } else {
      row->action = pending_action::none;
      ds->put(batch, "data", *row);
    }
    BOOST_REQUIRE(!db->write(batch));
  };
  auto table = [&] {
    std::vector<std::tuple<std::string, int64_t, std::string>> out;
    for (auto& r : rows_of("data")) out.emplace_back(r.reference, r.mtime_ns, to_string(r.action));
    return out;
  };
  using table_t = std::vector<std::tuple<std::string, int64_t, std::string>>;

  cycle({{"File1.txt", 1200}, {"File2.txt", 1205}, {"File3.txt", 1210}});
  BOOST_CHECK((table() == table_t{{"File1.txt", 1200, "add"},
                                  {"File2.txt", 1205, "add"},
                                  {"File3.txt", 1210, "add"}}));
  succeed("File1.txt");
  succeed("File2.txt");  // File3.txt's ingest fails: its action stays
  BOOST_CHECK((table() == table_t{{"File1.txt", 1200, "none"},
                                  {"File2.txt", 1205, "none"},
                                  {"File3.txt", 1210, "add"}}));

  cycle({{"File2.txt", 1230}, {"File3.txt", 1210}});
  BOOST_CHECK((table() == table_t{{"File1.txt", 1200, "remove"},
                                  {"File2.txt", 1230, "replace"},
                                  {"File3.txt", 1210, "add"}}));
  for (auto ref : {"File1.txt", "File2.txt", "File3.txt"}) succeed(ref);
  BOOST_CHECK((table() == table_t{{"File2.txt", 1230, "none"}, {"File3.txt", 1210, "none"}}));
}

BOOST_FIXTURE_TEST_CASE(a_large_merge_committing_as_it_goes_ends_in_the_source_state, fixture) {
  std::map<std::string, int64_t> before;
  for (int i = 0; i < 3000; ++i) before["f" + std::to_string(rng() % 5000)] = i;
  for (auto& [ref, m] : before) put("src", row_of(ref, m, pending_action::none));
  std::map<std::string, int64_t> source;
  for (auto& [ref, m] : before)
    if (rng() % 4 != 0) source[ref] = rng() % 3 == 0 ? m + 1 : m;
  for (int i = 0; i < 1000; ++i) source["g" + std::to_string(rng() % 5000)] = i;

  auto cur = ds->scan("src");
  auto it = source.begin();
  write_batch batch{*db};
  size_t writes = 0;
  while (cur.valid() || it != source.end()) {
    int order = !cur.valid() ? 1 : it == source.end() ? -1 : cur.row().reference.compare(it->first);
    if (order < 0) {
      ds->erase(batch, "src", cur.row().reference);
      cur.next();
    } else if (order > 0) {
      ds->put(batch, "src", row_of(it->first, it->second, pending_action::add));
      ++it;
    } else {
      if (cur.row().mtime_ns != it->second)
        ds->put(batch, "src", row_of(it->first, it->second, pending_action::replace));
      cur.next();
      ++it;
    }
    if (batch.count() >= 97) {
      writes += batch.count();
      BOOST_REQUIRE(!db->write(batch));
    }
  }
  BOOST_REQUIRE(!cur.status());
  writes += batch.count();
  BOOST_REQUIRE(!db->write(batch));
  BOOST_TEST_MESSAGE("merge staged " << writes << " changes");

  auto rows = rows_of("src");
  BOOST_REQUIRE_EQUAL(rows.size(), source.size());
  auto s = source.begin();
  for (auto& row : rows) {
    BOOST_CHECK_EQUAL(row.reference, s->first);
    BOOST_CHECK_EQUAL(row.mtime_ns, s->second);
    auto was = before.find(row.reference);
    auto expected_action = was == before.end()           ? pending_action::add
                           : was->second != row.mtime_ns ? pending_action::replace
                                                         : pending_action::none;
    BOOST_CHECK(row.action == expected_action);
    ++s;
  }
}

BOOST_FIXTURE_TEST_CASE(damaged_rows_are_reported_as_corruption, fixture) {
  put("src", row_of("a", 1, pending_action::add));
  put("src", row_of("c", 1, pending_action::add));
  write_batch batch{*db};
  batch.put(column::datastore, datastore::key_prefix("src") + "b", "\x01garbage");
  BOOST_REQUIRE(!db->write(batch));
  auto got = ds->get("src", "b");
  BOOST_REQUIRE(!got);
  BOOST_CHECK(is(got.error(), storage_errc::corruption));
  BOOST_CHECK(render(got.error()).find("b") != std::string::npos);
  auto cur = ds->scan("src");
  std::vector<std::string> seen;
  for (; cur.valid(); cur.next()) seen.push_back(cur.row().reference);
  BOOST_CHECK((seen == std::vector<std::string>{"a"}));
  BOOST_CHECK(is(cur.status(), storage_errc::corruption));
  auto counts = ds->count("src");
  BOOST_REQUIRE(!counts);
  BOOST_CHECK(is(counts.error(), storage_errc::corruption));
  // Short values (a format byte followed by too few fields) are refused, never read past.
  for (size_t cut = 0; cut < 8; ++cut) {
    write_batch b{*db};
    b.put(column::datastore, datastore::key_prefix("trunc") + "x", std::string(cut, '\x01'));
    BOOST_REQUIRE(!db->write(b));
    auto r = ds->get("trunc", "x");
    BOOST_CHECK_MESSAGE(!r && is(r.error(), storage_errc::corruption), "cut " << cut);
  }
}

BOOST_FIXTURE_TEST_CASE(read_rows_reads_as_get_does, fixture) {
  // Rows of two scopes, read at once in an order that is not the keys' order, with references
  // that have no row, one twice, and rows that are in the memtable or on disk.
  std::vector<datastore_row> written;
  for (int i = 0; i < 50; ++i) {
    auto row = random_row("ref/" + std::to_string(i));
    put(i % 2 ? "src" : "other", row);
    written.push_back(row);
  }
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<row_key> keys;
    std::vector<std::string> scopes;
    for (int i = 49; i >= 0; --i) scopes.push_back(i % 2 ? "src" : "other");
    for (int i = 49, k = 0; i >= 0; --i, ++k) keys.push_back({scopes[k], written[i].reference});
    keys.push_back({"src", "ref/missing"});
    keys.push_back({"other", "ref/1"});  // ref/1 is in "src" only
    keys.push_back({"src", "ref/1"});    // twice
    auto got = read_rows(*db, keys);
    BOOST_REQUIRE_EQUAL(got.size(), keys.size());
    for (size_t k = 0; k < keys.size(); ++k) {
      BOOST_REQUIRE_MESSAGE(got[k], why(got[k]));
      auto one = get(keys[k].scope, keys[k].reference);
      BOOST_CHECK_MESSAGE(*got[k] == one, "row " << keys[k].reference << " differs from get");
    }
    BOOST_CHECK(!*got[50] && !*got[51] && *got[52]);
    reopen();  // and again from disk
  }
  BOOST_CHECK(read_rows(*db, {}).empty());
  // A damaged row fails its own read, as get does, and only its own.
  write_batch batch{*db};
  batch.put(column::datastore, datastore::key_prefix("src") + "bad", "\x01garbage");
  BOOST_REQUIRE(!db->write(batch));
  auto bad = read_rows(*db, {{"src", "ref/1"}, {"src", "bad"}, {"src", "ref/3"}});
  BOOST_REQUIRE_EQUAL(bad.size(), 3u);
  BOOST_CHECK(bad[0] && *bad[0] && bad[2] && *bad[2]);
  BOOST_REQUIRE(!bad[1]);
  BOOST_CHECK(is(bad[1].error(), storage_errc::corruption));
  BOOST_CHECK(render(bad[1].error()).find("bad") != std::string::npos);
}
