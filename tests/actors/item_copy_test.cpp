// tests/actors/item_copy_test.cpp: a transfer's steps run directly, without actors, over a real
// database, a real folder source and a real folder volume: a file copied in chunks with resume
// points, a copy resumed after its process died (and not when the source was rewritten since),
// a source that changes mid-copy, the small
// actions and the rows with nothing to do.
#define BOOST_TEST_MODULE actors_item_copy
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include <xxhash.h>

#include "actors/item_copy.hpp"
#include "actors/node_context.hpp"
#include "actors/sync_model.hpp"
#include "connectors/error.hpp"
#include "connectors/local_source.hpp"
#include "connectors/local_volume.hpp"
#include "storage/database.hpp"
#include "storage/datasource_store.hpp"
#include "storage/datastore.hpp"
#include "storage/error.hpp"
#include "storage/transfer_queue.hpp"
#include "tests/actors/harness.hpp"
#include "tests/temp_dir.hpp"

using namespace syncline;
namespace fs = std::filesystem;

namespace {

struct fixture {
  test::temp_dir dir{"item-copy"};
  fs::path src = dir.path() / "src";
  fs::path dst = dir.path() / "dst";
  std::unique_ptr<storage::database> db;
  std::unique_ptr<actors::node_context> ctx;

  fixture() {
    fs::create_directories(src);
    fs::create_directories(dst);
    auto opened = storage::database::open({dir.path() / "data"});
    BOOST_REQUIRE(opened);
    db = std::move(*opened);
    auto q = storage::transfer_queue::open(*db);
    BOOST_REQUIRE(q);
    actors::runtime_settings settings;
    settings.chunk_bytes = 4096;
    settings.checkpoint_bytes = 8192;
    ctx = std::make_unique<actors::node_context>(*db, std::move(*q), settings);
    connectors::local_source_options from;
    from.root = src.string();
    auto source = connectors::local_source::make(from);
    BOOST_REQUIRE(source);
    auto volume = connectors::local_volume::make({dst.string()});
    BOOST_REQUIRE(volume);
    ctx->set_source("ds", std::move(*source));
    ctx->set_volume("v", std::move(*volume));
    ctx->set_targets("ds", {{"v", ""}});
  }

  // The row of `ref` with `action`, as a run's merge leaves it, and its queue item.
  storage::queue_item row(const std::string& ref, storage::pending_action action,
                          bool parked = false) {
    storage::datastore_row r;
    r.reference = ref;
    r.action = action;
    r.parked = parked;
    if (fs::is_regular_file(src / ref)) r.size = fs::file_size(src / ref);
    BOOST_REQUIRE(!ctx->rows().put(actors::datastore_scope("ds", "v"), r));
    storage::queue_item item;
    item.ticket.volume = "v";
    item.ticket.seq = 1;
    item.payload = ref;
    return item;
  }

  std::string resume_point(const std::string& ref) {
    auto key = storage::datasource_store::checkpoint_key(actors::queue_name("v", "ds"), ref);
    auto v = db->get_meta(key);
    BOOST_REQUIRE(v);
    return *v ? **v : std::string{};
  }

  // Copies `chunks` chunks of `item`, then the process "dies": dropping the copy closes its
  // files and nothing else, as a killed process does (the temporary file and the resume point
  // stay).
  void die_after(const storage::queue_item& item, int chunks, bool verify) {
    actors::copy_work w;
    auto step = actors::start_copy(*ctx, "ds", "v", item, verify, w);
    BOOST_REQUIRE(!step.error && !step.finished);
    for (int i = 0; i < chunks; ++i) {
      step = actors::copy_chunk(*ctx, w, std::move(step.report));
      BOOST_REQUIRE(!step.error && !step.finished);
    }
  }

  // Copies the rest of a started copy to its commit; the bytes copied by these steps.
  uint64_t finish(actors::copy_work& w, actors::copy_step& step) {
    uint64_t copied = 0;
    while (!step.finished) {
      step = actors::copy_chunk(*ctx, w, std::move(step.report));
      BOOST_REQUIRE_MESSAGE(!step.error, actors::render(step.error));
      copied += step.bytes;
    }
    return copied;
  }
};

std::string content(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 13) % 26);
  return s;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(item_copy, fixture)

BOOST_AUTO_TEST_CASE(a_file_is_copied_in_chunks_with_resume_points_then_committed) {
  auto data = content(20000);
  test::write_file(src / "f", data, 1600000000);
  auto item = row("f", storage::pending_action::add);
  actors::copy_work w;
  auto step = actors::start_copy(*ctx, "ds", "v", item, true, w);
  BOOST_REQUIRE_MESSAGE(!step.error, actors::render(step.error));
  BOOST_REQUIRE(!step.finished);
  std::vector<std::string> points;
  int chunks = 0;
  while (!step.finished) {
    step = actors::copy_chunk(*ctx, w, std::move(step.report));
    BOOST_REQUIRE_MESSAGE(!step.error, actors::render(step.error));
    ++chunks;
    points.push_back(resume_point("f"));
    // Nothing under the final name before the commit.
    if (!step.finished) BOOST_CHECK(!fs::exists(dst / "f"));
  }
  // 4 KiB chunks: 4 full ones and the rest; a resume point at 8 KiB and 16 KiB, none after.
  BOOST_CHECK_EQUAL(chunks, 5);
  // Each point names the version it is of: the source's size and mtime.
  const std::string of = " 20000 1600000000000000000";
  BOOST_CHECK(points == (std::vector<std::string>{"", "8192" + of, "8192" + of, "16384" + of, ""}));
  BOOST_CHECK_EQUAL(test::read_file(dst / "f"), data);
  BOOST_CHECK(step.report.outcome == actors::transfer_outcome::done);
  BOOST_CHECK_EQUAL(step.report.size, 20000u);
  BOOST_CHECK(step.report.has_hash);
  BOOST_CHECK_EQUAL(step.report.hash, XXH3_64bits(data.data(), data.size()));
}

BOOST_AUTO_TEST_CASE(a_copy_whose_process_died_resumes_from_its_resume_point) {
  auto data = content(20000);
  test::write_file(src / "f", data, 1600000000);
  auto item = row("f", storage::pending_action::add);
  die_after(item, 3, true);
  BOOST_CHECK_EQUAL(resume_point("f"), "8192 20000 1600000000000000000");
  actors::copy_work again;
  auto step = actors::start_copy(*ctx, "ds", "v", item, true, again);
  BOOST_REQUIRE(!step.error && !step.finished);
  BOOST_CHECK_EQUAL(again.writer->offset(), 8192u);  // from the resume point, not from 0
  BOOST_CHECK_EQUAL(finish(again, step), 20000u - 8192u);
  BOOST_CHECK_EQUAL(test::read_file(dst / "f"), data);
  // The hash covers the whole file, the prefix read again from the source.
  BOOST_CHECK_EQUAL(step.report.hash, XXH3_64bits(data.data(), data.size()));
  BOOST_CHECK_EQUAL(resume_point("f"), "");
}

// A partial copy's bytes are of the version it read: when the source is rewritten between the
// attempts (same size here, another content and time), the next copy starts afresh instead of
// finishing the old version's prefix with the new version's rest.
BOOST_AUTO_TEST_CASE(a_copy_of_a_source_rewritten_since_its_resume_point_starts_afresh) {
  auto old_data = content(20000);
  test::write_file(src / "f", old_data, 1600000000);
  auto item = row("f", storage::pending_action::add);
  die_after(item, 3, false);
  BOOST_REQUIRE_EQUAL(resume_point("f"), "8192 20000 1600000000000000000");
  std::string new_data = content(20000);
  std::reverse(new_data.begin(), new_data.end());
  test::write_file(src / "f", new_data, 1700000000);
  actors::copy_work again;
  auto step = actors::start_copy(*ctx, "ds", "v", item, true, again);
  BOOST_REQUIRE_MESSAGE(!step.error, actors::render(step.error));
  BOOST_REQUIRE(!step.finished);
  BOOST_CHECK_EQUAL(again.writer->offset(), 0u);
  BOOST_CHECK_EQUAL(finish(again, step), 20000u);
  BOOST_CHECK(test::read_file(dst / "f") == new_data);
  BOOST_CHECK_EQUAL(step.report.hash, XXH3_64bits(new_data.data(), new_data.size()));
  BOOST_CHECK_EQUAL(resume_point("f"), "");
}

// A resume point written before points named their version (an offset alone) is not trusted.
BOOST_AUTO_TEST_CASE(a_resume_point_without_its_version_is_not_resumed_from) {
  auto data = content(20000);
  test::write_file(src / "f", data, 1600000000);
  auto item = row("f", storage::pending_action::add);
  die_after(item, 3, false);
  auto key = storage::datasource_store::checkpoint_key(actors::queue_name("v", "ds"), "f");
  BOOST_REQUIRE(!db->put_meta(key, "8192"));
  actors::copy_work again;
  auto step = actors::start_copy(*ctx, "ds", "v", item, false, again);
  BOOST_REQUIRE(!step.error && !step.finished);
  BOOST_CHECK_EQUAL(again.writer->offset(), 0u);
  BOOST_CHECK_EQUAL(finish(again, step), 20000u);
  BOOST_CHECK(test::read_file(dst / "f") == data);
  BOOST_CHECK_EQUAL(resume_point("f"), "");
}

BOOST_AUTO_TEST_CASE(a_source_that_changes_during_the_copy_is_not_committed) {
  test::write_file(src / "f", content(10000), 1600000000);
  auto item = row("f", storage::pending_action::add);
  actors::copy_work w;
  auto step = actors::start_copy(*ctx, "ds", "v", item, false, w);
  BOOST_REQUIRE(!step.error && !step.finished);
  step = actors::copy_chunk(*ctx, w, std::move(step.report));
  BOOST_REQUIRE(!step.error && !step.finished);
  test::write_file(src / "f", content(12000), 1700000000);  // rewritten meanwhile
  while (!step.error && !step.finished) step = actors::copy_chunk(*ctx, w, std::move(step.report));
  BOOST_CHECK(connectors::is(step.error, connectors::connector_errc::changed_during_copy));
  BOOST_CHECK(!fs::exists(dst / "f"));
  // Nothing of the partial copy stays behind: no temporary file, no resume point.
  BOOST_CHECK(fs::is_empty(dst));
  BOOST_CHECK_EQUAL(resume_point("f"), "");
}

BOOST_AUTO_TEST_CASE(small_actions_are_done_in_the_first_step_and_idle_rows_skipped) {
  test::write_file(dst / "old", "x");
  actors::copy_work w1;
  auto removed = actors::start_copy(*ctx, "ds", "v", row("old", storage::pending_action::remove),
                                    false, w1);
  BOOST_CHECK(!removed.error);
  BOOST_CHECK(removed.finished);
  BOOST_CHECK(!fs::exists(dst / "old"));
  fs::create_directories(src / "d");
  actors::copy_work w2;
  auto made = actors::start_copy(*ctx, "ds", "v", [&] {
    auto item = row("d/", storage::pending_action::add);
    auto r = *ctx->rows().get(actors::datastore_scope("ds", "v"), "d/");
    r->flags |= storage::datastore_row::flag_directory;
    BOOST_REQUIRE(!ctx->rows().put(actors::datastore_scope("ds", "v"), *r));
    return item;
  }(), false, w2);
  BOOST_CHECK(!made.error);
  BOOST_CHECK(made.finished);
  BOOST_CHECK(fs::is_directory(dst / "d"));
  // Parked, done already, or unknown: nothing to do.
  test::write_file(src / "p", "p");
  for (auto item : {row("p", storage::pending_action::add, true),
                    row("q", storage::pending_action::none)}) {
    actors::copy_work w;
    auto step = actors::start_copy(*ctx, "ds", "v", item, false, w);
    BOOST_CHECK(!step.error);
    BOOST_CHECK(step.finished);
    BOOST_CHECK(step.report.outcome == actors::transfer_outcome::skipped);
  }
  storage::queue_item unknown;
  unknown.payload = "never-listed";
  actors::copy_work w3;
  auto none = actors::start_copy(*ctx, "ds", "v", unknown, false, w3);
  BOOST_CHECK(none.report.outcome == actors::transfer_outcome::skipped);
  BOOST_CHECK(!fs::exists(dst / "p"));
}

BOOST_AUTO_TEST_CASE(a_batch_reads_its_rows_at_once_each_failing_on_its_own) {
  // Three small files; the middle one's row is damaged. A stale resume point (as an earlier,
  // bigger version's interrupted copy would leave) and a stale temporary file lie there for the
  // first: a batch copies its small files from their start and never resumes from them.
  test::write_file(src / "a", content(1000));
  test::write_file(src / "b", content(1500));
  test::write_file(src / "c", content(2000));
  std::vector<storage::queue_item> items{row("a", storage::pending_action::add),
                                         row("b", storage::pending_action::add),
                                         row("c", storage::pending_action::add)};
  storage::write_batch damage{*db};
  damage.put(storage::column::datastore,
             storage::datastore::key_prefix(actors::datastore_scope("ds", "v")) + "b",
             "\x01garbage");
  BOOST_REQUIRE(!db->write(damage));
  auto key = storage::datasource_store::checkpoint_key(actors::queue_name("v", "ds"), "a");
  BOOST_REQUIRE(!db->put_meta(key, "600"));
  {
    // A partial copy of the "old version" under the first file's temporary name.
    auto v = connectors::local_volume::make({dst.string()});
    BOOST_REQUIRE(v);
    connectors::item_info old;
    old.reference = "a";
    old.kind = connectors::item_kind::file;
    old.size = 5000;
    auto w = (*v)->open_writer(old, 0);
    BOOST_REQUIRE(w);
    std::string junk(600, 'Z');
    BOOST_REQUIRE(!(*w)->write(junk.data(), junk.size()));
  }
  std::atomic<bool> stop{false};
  auto step = actors::copy_batch(*ctx, "ds", "v", items, 0, false, stop);
  BOOST_REQUIRE_EQUAL(step.reports.size(), 3u);
  BOOST_CHECK_EQUAL(step.next, 3u);
  BOOST_CHECK(step.reports[0].outcome == actors::transfer_outcome::done);
  BOOST_CHECK(step.reports[1].outcome == actors::transfer_outcome::failed);
  BOOST_CHECK(storage::is(step.reports[1].error, storage::storage_errc::corruption));
  BOOST_CHECK(step.reports[2].outcome == actors::transfer_outcome::done);
  BOOST_CHECK(test::read_file(dst / "a") == content(1000));
  BOOST_CHECK(!fs::exists(dst / "b"));
  BOOST_CHECK(test::read_file(dst / "c") == content(2000));
}

BOOST_AUTO_TEST_SUITE_END()
