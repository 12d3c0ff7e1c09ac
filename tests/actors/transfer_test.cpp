#define BOOST_TEST_MODULE actors_transfer
#include <boost/test/unit_test.hpp>

#include <condition_variable>
#include <mutex>

#include "connectors/local_source.hpp"
#include "connectors/local_volume.hpp"
#include "storage/datasource_store.hpp"
#include "storage/datastore.hpp"
#include "tests/actors/harness.hpp"
#include "tests/actors/tree_compare.hpp"

using namespace syncline;
using namespace syncline::test;
using actors::sync_type;

namespace {

actors::datasource_config folder(const std::string& id, const temp_dir& src, int32_t priority = 0) {
  actors::datasource_config d;
  d.id = id;
  d.path = src.path().string();
  d.volumes = {"backup"};
  d.sync_priority = priority;
  d.schedule_min_s = d.schedule_max_s = 3600;
  return d;
}

actors::volume_config directory(const temp_dir& dst, uint32_t reception = 4) {
  actors::volume_config v;
  v.id = "backup";
  v.path = dst.path().string();
  v.sync_amount_reception = reception;
  return v;
}

// Records the order in which files are committed (renamed into place) on a local volume.
class recording_volume : public connectors::volume {
 public:
  struct commit_log {
    std::mutex mtx;
    std::vector<std::string> order;
  };
  explicit recording_volume(std::shared_ptr<connectors::volume> inner,
                            std::shared_ptr<commit_log> log = std::make_shared<commit_log>())
      : inner_(std::move(inner)), log_(std::move(log)) {}

  std::vector<std::string> committed() {
    std::lock_guard<std::mutex> guard{log_->mtx};
    return log_->order;
  }

  // A datasource's target records into the same log (references relative to the target).
  caf::expected<std::shared_ptr<connectors::volume>> target(std::string_view relative) override {
    auto t = inner_->target(relative);
    if (!t) return t;
    return std::shared_ptr<connectors::volume>{std::make_shared<recording_volume>(*t, log_)};
  }

  std::string describe() const override { return "recording " + inner_->describe(); }
  caf::error check() override { return inner_->check(); }
  caf::expected<std::unique_ptr<connectors::item_writer>> open_writer(
      const connectors::item_info& info, uint64_t offset) override {
    auto w = inner_->open_writer(info, offset);
    if (!w) return w;
    return std::unique_ptr<connectors::item_writer>{new writer{this, std::move(*w)}};
  }
  caf::error make_directory(const connectors::item_info& i) override {
    return inner_->make_directory(i);
  }
  caf::error make_symlink(const connectors::item_info& i) override {
    return inner_->make_symlink(i);
  }
  caf::error set_mtime(std::string_view r, int64_t t) override { return inner_->set_mtime(r, t); }
  caf::error remove(std::string_view r) override { return inner_->remove(r); }
  caf::expected<std::optional<connectors::item_info>> stat(std::string_view r) override {
    return inner_->stat(r);
  }
  caf::expected<std::unique_ptr<connectors::listing>> list() override { return inner_->list(); }
  caf::expected<std::unique_ptr<connectors::item_reader>> open_reader(std::string_view r,
                                                                      uint64_t o) override {
    return inner_->open_reader(r, o);
  }
  caf::error sync() override { return inner_->sync(); }

 private:
  struct writer : connectors::item_writer {
    writer(recording_volume* v, std::unique_ptr<connectors::item_writer> w)
        : owner(v), inner(std::move(w)) {}
    uint64_t offset() const noexcept override { return inner->offset(); }
    caf::error write(const char* d, size_t n) override { return inner->write(d, n); }
    caf::expected<size_t> copy_from(int fd, size_t n) override { return inner->copy_from(fd, n); }
    caf::error sync() override { return inner->sync(); }
    caf::error commit(const connectors::item_info& info) override {
      auto err = inner->commit(info);
      if (!err) {
        std::lock_guard<std::mutex> guard{owner->log_->mtx};
        owner->log_->order.push_back(info.reference);
      }
      return err;
    }
    void abort() override { inner->abort(); }
    caf::expected<uint64_t> content_hash() override { return inner->content_hash(); }
    recording_volume* owner;
    std::unique_ptr<connectors::item_writer> inner;
  };

  std::shared_ptr<connectors::volume> inner_;
  std::shared_ptr<commit_log> log_;
};

// A local source whose readers stop at a gate once `gate_at` bytes were read, until opened:
// a copy can be held in the middle of a file for as long as a test needs.
class gated_source : public connectors::source {
 public:
  gated_source(std::shared_ptr<connectors::source> inner, uint64_t gate_at)
      : inner_(std::move(inner)), gate_at_(gate_at) {}

  void open_gate() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      open_ = true;
    }
    cv_.notify_all();
  }
  bool someone_waits() {
    std::lock_guard<std::mutex> guard{mtx_};
    return waiting_;
  }

  std::string describe() const override { return "gated " + inner_->describe(); }
  caf::error check() override { return inner_->check(); }
  caf::expected<std::unique_ptr<connectors::listing>> list() override { return inner_->list(); }
  caf::expected<connectors::item_info> stat(std::string_view r) override { return inner_->stat(r); }
  caf::expected<std::unique_ptr<connectors::item_reader>> open(std::string_view r,
                                                               uint64_t offset) override {
    auto rd = inner_->open(r, offset);
    if (!rd) return rd;
    return std::unique_ptr<connectors::item_reader>{new reader{this, std::move(*rd), offset}};
  }

 private:
  // No native handle: reads go through here, so the gate sees every byte.
  struct reader : connectors::item_reader {
    reader(gated_source* s, std::unique_ptr<connectors::item_reader> r, uint64_t at)
        : src(s), inner(std::move(r)), pos(at) {}
    const connectors::item_info& info() const noexcept override { return inner->info(); }
    caf::expected<size_t> read(char* buf, size_t n) override {
      if (pos >= src->gate_at_) {
        std::unique_lock<std::mutex> lock{src->mtx_};
        src->waiting_ = true;
        src->cv_.wait(lock, [this] { return src->open_; });
        src->waiting_ = false;
      } else {
        n = static_cast<size_t>(std::min<uint64_t>(n, src->gate_at_ - pos));
      }
      auto got = inner->read(buf, n);
      if (got) pos += *got;
      return got;
    }
    caf::expected<bool> changed() override { return inner->changed(); }
    gated_source* src;
    std::unique_ptr<connectors::item_reader> inner;
    uint64_t pos;
  };

  std::shared_ptr<connectors::source> inner_;
  uint64_t gate_at_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool open_ = false;
  bool waiting_ = false;
};

std::optional<storage::datastore_row> row_of(harness& node, const std::string& ds,
                                             const std::string& ref) {
  auto r = node.ctx->rows().get(actors::datastore_scope(ds, "backup"), ref);
  BOOST_REQUIRE(r);
  return *r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(transient_failures_are_retried_until_the_copy_succeeds) {
  temp_dir src{"retry-src"}, dst{"retry-dst"};
  write_file(src / "a.txt", "alpha", 1600000000);
  write_file(src / "b.txt", "beta", 1600000001);
  harness node;
  auto v = directory(dst);
  v.type = "fault";
  v.fault_operation = "open_writer";
  v.fault_errno = EIO;
  v.fault_count = 2;
  v.fault_glob = "a.txt";
  node.add_volume(v);
  node.add_datasource(folder("docs", src));
  BOOST_CHECK_EQUAL(node.wait_run("docs", 1), "synced");
  BOOST_CHECK_EQUAL(read_file(dst / "docs/a.txt"), "alpha");
  auto vs = node.status(node.volumes.at("backup"));
  BOOST_CHECK_EQUAL(vs.counters.at("failed"), 2);
  BOOST_CHECK_EQUAL(vs.counters.at("retried"), 2);
  auto row = row_of(node, "docs", "a.txt");
  BOOST_REQUIRE(row);
  BOOST_CHECK(row->action == storage::pending_action::none);
  BOOST_CHECK_EQUAL(row->attempts, 0u);
}

BOOST_AUTO_TEST_CASE(permission_denied_goes_to_error_at_once_and_is_not_retried) {
  temp_dir src{"eacces-src"}, dst{"eacces-dst"};
  write_file(src / "a.txt", "alpha", 1600000000);
  write_file(src / "secret.txt", "no", 1600000001);
  harness node;
  auto v = directory(dst);
  v.type = "fault";
  v.fault_operation = "open_writer";
  v.fault_errno = EACCES;
  v.fault_count = 0;  // for ever
  v.fault_glob = "secret.txt";
  node.add_volume(v);
  node.add_datasource(folder("docs", src));
  BOOST_CHECK_EQUAL(node.wait_run("docs", 1), "error");
  BOOST_CHECK_EQUAL(read_file(dst / "docs/a.txt"), "alpha");
  BOOST_CHECK(!std::filesystem::exists(dst / "docs/secret.txt"));
  auto ds = node.status(node.datasources.at("docs"));
  BOOST_CHECK_NE(ds.last_error.find("secret.txt"), std::string::npos);
  BOOST_CHECK_NE(ds.last_error.find("permission_denied"), std::string::npos);
  auto row = row_of(node, "docs", "secret.txt");
  BOOST_REQUIRE(row);
  BOOST_CHECK(row->parked);
  BOOST_CHECK_EQUAL(row->attempts, 1u);  // tried once, never retried
  BOOST_CHECK(row->action == storage::pending_action::add);
  BOOST_CHECK_NE(row->last_error.find("permission_denied"), std::string::npos);
  auto vs = node.status(node.volumes.at("backup"));
  BOOST_CHECK_EQUAL(vs.counters.at("failed"), 1);
  BOOST_CHECK_EQUAL(vs.counters.at("retried"), 0);
  // A person acts (forces a sync): the item is tried again, once.
  node.sync_now("docs");
  BOOST_CHECK_EQUAL(node.wait_run("docs", 2), "error");
  BOOST_CHECK_EQUAL(row_of(node, "docs", "secret.txt")->attempts, 1u);
  BOOST_CHECK_EQUAL(node.status(node.volumes.at("backup")).counters.at("failed"), 2);
}

BOOST_AUTO_TEST_CASE(higher_priority_items_complete_first_and_priority_changes_while_queued) {
  temp_dir low{"prio-low"}, high{"prio-high"}, dst{"prio-dst"};
  for (int i = 0; i < 40; ++i) {
    write_file(low / ("low" + std::to_string(i)), "l", 1600000000 + i);
    write_file(high / ("high" + std::to_string(i)), "h", 1600000000 + i);
  }
  harness node;
  auto local = connectors::local_volume::make({dst.path().string()});
  BOOST_REQUIRE(local);
  auto rec = std::make_shared<recording_volume>(std::shared_ptr<connectors::volume>{std::move(*local)});
  auto v = node.add_volume(directory(dst, 1), rec);
  // Everything is queued while the volume is paused, then released at once.
  BOOST_CHECK(node.ask(v, actors::pause_atom::value));
  auto lo = node.add_datasource(folder("low", low, 0));
  auto hi = node.add_datasource(folder("high", high, 10));
  BOOST_REQUIRE(eventually([&] {
    return node.ctx->queue().size(actors::queue_name("backup", "low")) == 40 &&
           node.ctx->queue().size(actors::queue_name("backup", "high")) == 40;
  }));
  // "low" jumps ahead while its items wait in the queue.
  uint64_t moved = 0;
  (*node.self)
      ->request(lo, caf::duration{std::chrono::seconds{30}}, actors::priority_atom::value,
                int32_t{20})
      .receive([&](uint64_t n) { moved = n; }, [&](caf::error& e) { BOOST_FAIL(actors::render(e)); });
  BOOST_CHECK_EQUAL(moved, 40u);
  BOOST_CHECK(node.ask(v, actors::resume_atom::value));
  node.wait_run("low", 1);
  node.wait_run("high", 1);
  auto order = rec->committed();
  BOOST_REQUIRE_EQUAL(order.size(), 80u);
  for (size_t i = 0; i < 40; ++i) BOOST_CHECK_MESSAGE(order[i].rfind("low", 0) == 0, order[i]);
  for (size_t i = 40; i < 80; ++i) BOOST_CHECK_MESSAGE(order[i].rfind("high", 0) == 0, order[i]);
  // Within a priority, first in, first out.
  BOOST_CHECK_EQUAL(order[0], "low0");
  BOOST_CHECK_EQUAL(order[40], "high0");
  (void)hi;
}

BOOST_AUTO_TEST_CASE(a_transfer_pauses_mid_file_and_resumes_after_a_restart_from_its_checkpoint) {
  temp_dir src{"mid-src"}, dst{"mid-dst"};
  const uint64_t size = 24u << 20;
  std::string big(size, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
  write_file(src / "big.bin", big, 1600000000);
  auto settings = harness::fast_settings();
  settings.chunk_bytes = 1u << 20;
  settings.checkpoint_bytes = 4u << 20;
  harness node{settings};
  auto local = connectors::local_source::make({src.path().string(), {}, {}});
  BOOST_REQUIRE(local);
  // Hold the copy at 10 MiB: two checkpoints (4 and 8 MiB) are written by then.
  auto gate = std::make_shared<gated_source>(std::shared_ptr<connectors::source>{std::move(*local)},
                                             10u << 20);
  node.add_volume(directory(dst));
  auto ds = node.add_datasource(folder("media", src), gate);
  BOOST_REQUIRE(eventually([&] { return gate->someone_waits(); }));
  // Paused mid-file. The volume tells the transfer before it shows the transfer as paused, so
  // once we see that, the pause is in the transfer's mailbox ahead of the end of the chunk that
  // the gate holds: that chunk finishes, and no new one starts.
  BOOST_CHECK(node.ask(ds, actors::pause_atom::value));
  BOOST_REQUIRE(eventually([&] {
    auto v = node.status(node.volumes.at("backup"));
    return !v.children.empty() && v.children.front().state == "paused";
  }));
  gate->open_gate();
  BOOST_REQUIRE(eventually([&] { return !gate->someone_waits(); }));
  BOOST_CHECK(!std::filesystem::exists(dst / "media/big.bin"));
  BOOST_CHECK(std::filesystem::exists(dst / "media" / connectors::temporary_name("big.bin")));
  // A restart while paused: the new incarnation resumes from the last checkpoint.
  node.restart(settings);
  node.add_volume(directory(dst));
  auto ds2 = node.add_datasource(folder("media", src));
  BOOST_CHECK_EQUAL(node.status(ds2).state, "paused");
  BOOST_CHECK(node.ask(ds2, actors::resume_atom::value));
  BOOST_CHECK_EQUAL(node.wait_run("media", 1), "synced");
  BOOST_CHECK(read_file(dst / "media/big.bin") == big);
  BOOST_CHECK(!std::filesystem::exists(dst / "media" / connectors::temporary_name("big.bin")));
  // Only what followed the checkpoint was copied again.
  auto v = node.status(node.volumes.at("backup"));
  BOOST_CHECK_EQUAL(v.counters.at("bytes"), static_cast<int64_t>(size - (8u << 20)));
}

// A file deleted from the source while a partial copy of it waits (here: paused, then the node
// restarted) leaves nothing behind: no temporary file, no resume point, and the run is no error.
BOOST_AUTO_TEST_CASE(a_partial_copy_of_a_file_gone_from_the_source_is_removed) {
  temp_dir src{"gone-src"}, dst{"gone-dst"};
  std::string big(12u << 20, 'g');
  write_file(src / "big.bin", big, 1600000000);
  auto settings = harness::fast_settings();
  settings.chunk_bytes = 1u << 20;
  settings.checkpoint_bytes = 2u << 20;
  harness node{settings};
  auto local = connectors::local_source::make({src.path().string(), {}, {}});
  BOOST_REQUIRE(local);
  auto gate = std::make_shared<gated_source>(std::shared_ptr<connectors::source>{std::move(*local)},
                                             5u << 20);
  node.add_volume(directory(dst));
  auto ds = node.add_datasource(folder("media", src), gate);
  BOOST_REQUIRE(eventually([&] { return gate->someone_waits(); }));
  BOOST_CHECK(node.ask(ds, actors::pause_atom::value));
  BOOST_REQUIRE(eventually([&] {
    auto v = node.status(node.volumes.at("backup"));
    return !v.children.empty() && v.children.front().state == "paused";
  }));
  gate->open_gate();
  BOOST_REQUIRE(eventually([&] { return !gate->someone_waits(); }));
  auto temporary = dst / "media" / connectors::temporary_name("big.bin");
  BOOST_REQUIRE(std::filesystem::exists(temporary));
  node.restart(settings);
  std::filesystem::remove(src / "big.bin");
  node.add_volume(directory(dst));
  auto ds2 = node.add_datasource(folder("media", src));
  BOOST_CHECK(node.ask(ds2, actors::resume_atom::value));
  BOOST_CHECK_EQUAL(node.wait_run("media", 1), "synced");
  BOOST_CHECK(!std::filesystem::exists(dst / "media/big.bin"));
  BOOST_CHECK(!std::filesystem::exists(temporary));
  auto key = syncline::storage::datasource_store::checkpoint_key(
      actors::queue_name("backup", "media"), "big.bin");
  auto point = node.ctx->db().get_meta(key);
  BOOST_REQUIRE(point);
  BOOST_CHECK(!*point);
}

BOOST_AUTO_TEST_CASE(status_is_answered_in_the_middle_of_a_copy) {
  temp_dir src{"busy-src"}, dst{"busy-dst"};
  write_file(src / "big.bin", std::string(8u << 20, 'z'), 1600000000);
  auto settings = harness::fast_settings();
  settings.chunk_bytes = 1u << 20;
  harness node{settings};
  auto local = connectors::local_source::make({src.path().string(), {}, {}});
  BOOST_REQUIRE(local);
  auto gate = std::make_shared<gated_source>(std::shared_ptr<connectors::source>{std::move(*local)},
                                             2u << 20);
  node.add_volume(directory(dst));
  auto ds = node.add_datasource(folder("media", src), gate);
  BOOST_REQUIRE(eventually([&] { return gate->someone_waits(); }));
  // The copy is blocked inside an I/O job; every actor still answers.
  auto d = node.status(ds);
  BOOST_CHECK_EQUAL(d.state, "syncing");
  auto v = node.status(node.volumes.at("backup"));
  BOOST_REQUIRE_EQUAL(v.children.size(), 1u);
  BOOST_CHECK_EQUAL(v.children.front().current, "media:big.bin");
  gate->open_gate();
  BOOST_CHECK_EQUAL(node.wait_run("media", 1), "synced");
}

BOOST_AUTO_TEST_CASE(one_item_can_be_pushed_through_again) {
  temp_dir src{"again-src"}, dst{"again-dst"};
  write_file(src / "a.txt", "original", 1600000000);
  harness node;
  node.add_volume(directory(dst));
  auto ds = node.add_datasource(folder("docs", src));
  node.wait_run("docs", 1);
  // Someone damaged the copy; a rescan would not notice (the source did not change).
  write_file(dst / "docs/a.txt", "damaged", 1600000000);
  uint64_t queued = 0;
  (*node.self)
      ->request(ds, caf::duration{std::chrono::seconds{30}}, actors::recompute_atom::value,
                std::string{"a.txt"})
      .receive([&](uint64_t n) { queued = n; }, [&](caf::error& e) { BOOST_FAIL(actors::render(e)); });
  BOOST_CHECK_EQUAL(queued, 1u);
  BOOST_REQUIRE(eventually([&] { return read_file(dst / "docs/a.txt") == "original"; }));
  (*node.self)
      ->request(ds, caf::duration{std::chrono::seconds{30}}, actors::recompute_atom::value,
                std::string{"nothing-here"})
      .receive([&](uint64_t n) { queued = n; }, [&](caf::error& e) { BOOST_FAIL(actors::render(e)); });
  BOOST_CHECK_EQUAL(queued, 0u);
}

// Small files travel in batches (one transfer actor, one I/O job for many); a file of a chunk or
// more met in a batch is handed back and copied by a transfer of its own, in chunks.
BOOST_AUTO_TEST_CASE(small_files_go_in_batches_and_big_ones_on_their_own) {
  temp_dir src{"batch-src"}, dst{"batch-dst"};
  for (int d = 0; d < 4; ++d)
    for (int f = 0; f < 100; ++f)
      write_file(src / ("d" + std::to_string(d)) / ("f" + std::to_string(f)),
                 std::string(1 + (d * 100 + f) * 37 % 5000, static_cast<char>('a' + f % 26)),
                 1600000000 + f);
  std::string big(300u << 10, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 11);
  write_file(src / "d1/big.bin", big, 1600000000);
  write_file(src / "d3/big2.bin", big.substr(1000), 1600000001);
  auto settings = harness::fast_settings();
  settings.chunk_bytes = 64u << 10;
  harness node{settings};
  node.add_volume(directory(dst, 2));
  node.add_datasource(folder("tree", src));
  BOOST_CHECK_EQUAL(node.wait_run("tree", 1), "synced");
  auto diff = difference(snapshot(src.path()), snapshot(dst / "tree"));
  BOOST_CHECK_MESSAGE(diff.empty(), diff);
  auto v = node.status(node.volumes.at("backup"));
  // 406 items (4 directories, 402 files) in far fewer transfer actors than items.
  BOOST_CHECK_GT(v.counters.at("batches"), 0);
  BOOST_CHECK_LT(v.counters.at("batches"), 100);
  BOOST_CHECK_EQUAL(v.counters.at("failed"), 0);
  BOOST_CHECK(eventually([&] {
    return node.status(node.volumes.at("backup")).counters.at("done") == 406;
  }));
  BOOST_CHECK_EQUAL(read_file(dst / "tree/d1/big.bin"), big);
}

namespace {

// `files` small files in `src`, read through a gate every read waits at (the first file of each
// batch holds its job), all queued for datasource `id` while the volume of `slots` slots is
// paused, then released at once.
struct gated_queue {
  std::shared_ptr<gated_source> gate;
  actors::volume_actor vol;
  actors::datasource_actor ds;
};

gated_queue queue_behind_a_gate(harness& node, const temp_dir& src, const temp_dir& dst,
                                const std::string& id, int files, uint32_t slots) {
  for (int f = 0; f < files; ++f)
    write_file(src / ("f" + std::to_string(1000 + f)), "content " + std::to_string(f), 1600000000);
  auto local = connectors::local_source::make({src.path().string(), {}, {}});
  BOOST_REQUIRE(local);
  gated_queue out;
  out.gate =
      std::make_shared<gated_source>(std::shared_ptr<connectors::source>{std::move(*local)}, 0);
  out.vol = node.add_volume(directory(dst, slots));
  BOOST_CHECK(node.ask(out.vol, actors::pause_atom::value));
  out.ds = node.add_datasource(folder(id, src), out.gate);
  BOOST_REQUIRE(eventually([&] {
    return node.ctx->queue().size(actors::queue_name("backup", id)) == static_cast<uint64_t>(files);
  }));
  BOOST_CHECK(node.ask(out.vol, actors::resume_atom::value));
  return out;
}

}  // namespace

// Pausing pauses a whole batch, between two of its files; status shows the batch's files; the
// batch goes on after resume and every file arrives.
BOOST_AUTO_TEST_CASE(a_batch_pauses_as_one_and_shows_its_files) {
  temp_dir src{"bpause-src"}, dst{"bpause-dst"};
  const int files = 300;
  harness node;
  // One slot: full batches.
  auto queued = queue_behind_a_gate(node, src, dst, "many", files, 1);
  auto gate = queued.gate;
  auto ds = queued.ds;
  BOOST_REQUIRE(eventually([&] { return gate->someone_waits(); }));
  auto v = node.status(node.volumes.at("backup"));
  BOOST_REQUIRE_EQUAL(v.children.size(), 1u);
  auto& batch = v.children.front();
  BOOST_CHECK_GT(batch.counters.at("files"), 1);
  BOOST_CHECK_LE(batch.counters.at("files"), 64);
  BOOST_CHECK_NE(batch.current.find(" more files"), std::string::npos);
  BOOST_CHECK(node.ask(ds, actors::pause_atom::value));
  BOOST_REQUIRE(eventually([&] {
    auto s = node.status(node.volumes.at("backup"));
    return !s.children.empty() && s.children.front().state == "paused";
  }));
  gate->open_gate();
  BOOST_REQUIRE(eventually([&] { return !gate->someone_waits(); }));
  // Paused: no other batch starts, so at most the first batch's files can have arrived.
  auto arrived = [&] {
    size_t n = 0;
    if (std::filesystem::exists(dst / "many"))
      for (auto& e : std::filesystem::directory_iterator{dst / "many"})
        n += e.path().filename().string().rfind("f", 0) == 0 ? 1 : 0;
    return n;
  };
  BOOST_CHECK_LE(arrived(), static_cast<size_t>(batch.counters.at("files")));
  BOOST_CHECK_EQUAL(node.status(ds).state, "paused");
  BOOST_CHECK(node.ask(ds, actors::resume_atom::value));
  BOOST_CHECK_EQUAL(node.wait_run("many", 1), "synced");
  BOOST_CHECK_EQUAL(arrived(), static_cast<size_t>(files));
  auto diff = difference(snapshot(src.path()), snapshot(dst / "many"));
  BOOST_CHECK_MESSAGE(diff.empty(), diff);
}

// A few leased items that cannot get in each other's way are shared among the free slots: a
// hundred small files and four slots make four batches of 25 copied side by side (a watched
// change's few files do not wait behind one full batch), and every file arrives.
BOOST_AUTO_TEST_CASE(a_few_independent_files_are_shared_among_the_free_slots) {
  temp_dir src{"share-src"}, dst{"share-dst"};
  harness node;
  auto queued = queue_behind_a_gate(node, src, dst, "few", 100, 4);
  BOOST_REQUIRE(eventually([&] { return node.status(queued.vol).children.size() == 4; }));
  for (auto& batch : node.status(queued.vol).children)
    BOOST_CHECK_EQUAL(batch.counters.at("files"), 25);
  queued.gate->open_gate();
  BOOST_CHECK_EQUAL(node.wait_run("few", 1), "synced");
  auto diff = difference(snapshot(src.path()), snapshot(dst / "few"));
  BOOST_CHECK_MESSAGE(diff.empty(), diff);
}
