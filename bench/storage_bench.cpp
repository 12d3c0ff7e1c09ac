// bench/storage_bench.cpp: the storage layer beside raw RocksDB doing the same work, in one run.
//
// Workloads (N elements or queue items; batches of 1000 throughout):
//   element create   ours: element_store::create of JSON arrays of 1000 elements (~170-byte
//                    objects, ~60-byte path-like `_id`s such as
//                    /projects/feature/seq001/shot0042/render_v01/file004217.exr, five custom
//                    keys; ~210 bytes stored), in `_id` order.
//                    raw: a WriteBatch of 1000 puts of the same keys and the very bytes ours
//                    stores (checked), WAL on.                       goal: ours >= 0.7x raw
//   element read     ours: element_store::read of 1000 ids in random order.
//                    raw: MultiGet of the same keys.
//   element update   ours: element_store::update of 1000 random ids, merging one or two keys.
//                    raw: MultiGet of the keys, then a WriteBatch putting the same new bytes.
//   prefix listing   ours: element_store::list pages of 1000 over every element.
//                    raw: one iterator over the same keys.           goal: ours >= 1,000,000/s
//   queue push       ours: transfer_queue::push of ~100-byte payloads, staged into
//                    write_batches of 1000, each batch at one of three priorities in turn (a run
//                    queues its actions at its datasource's priority).
//                    raw: WriteBatch puts of the same keys and payloads.
//   queue pop+ack    ours: pop of 1000 items, their acks staged into one write_batch.
//                    raw: an iterator reading 1000 items from the head, a WriteBatch deleting them.
//   queue cycle      push, then pop+ack, of every item: N / (push time + pop+ack time).
//                                                                     goal: ours >= 200,000/s
//
// Both sides open their database through storage::database in its own fresh directory, so the
// raw baseline runs on exactly syncline's DB and column-family options; before each timed phase
// the program waits until neither database has a flush or compaction pending or running, and
// runs alternate which side goes first. Timing is informational: the program fails only when a
// count or a stored value is wrong.
//
// Usage: storage_bench [--n N] [--tiny] [--runs R] [--only W,...] [--dir DIR] [--verbose]
//   --n N     elements and queue items (default 1,000,000); --tiny sets N = 2,000 (CI)
//   --runs R  repeat everything R times in fresh databases and print medians (default 1)
//   --only W  only these workloads: create, read, update, list, queue (read, update and list
//             create the elements first)
//   --dir DIR where to make the fresh databases (default: $TMPDIR or /tmp); removed at the end
//   --verbose print each phase's seconds and RocksDB's statistics to stderr
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/write_batch.h>

#include "bench/bench_support.hpp"
#include "storage/codec.hpp"
#include "storage/database.hpp"
#include "storage/detail/rocks.hpp"
#include "storage/element_store.hpp"
#include "storage/error.hpp"
#include "storage/transfer_queue.hpp"

namespace {

using namespace syncline::storage;
using syncline::bench::bench_clock;
using syncline::bench::seconds_since;
using syncline::bench::thread_cpu_seconds;

constexpr size_t batch_size = 1000;
constexpr int64_t bench_time_ms = 1700000000000;
constexpr const char* bench_author = "bench";
constexpr const char* id_prefix = "/projects/";
constexpr const char* queue_volume = "site-b";

// A failed count or value: the benchmark's numbers would mean nothing, so stop loudly.
[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "storage_bench: FAILED: %s\n", what.c_str());
  std::exit(1);
}

template <class T>
T must(caf::expected<T> x, const char* what) {
  if (!x) fail(std::string{what} + ": " + render(x.error()));
  return std::move(*x);
}

void must(const caf::error& err, const char* what) {
  if (err) fail(std::string{what} + ": " + render(err));
}

void must(const rocksdb::Status& st, const char* what) {
  if (!st.ok()) fail(std::string{what} + ": " + st.ToString());
}

rocksdb::Slice slice(std::string_view s) {
  return {s.data(), s.size()};
}

uint64_t mix(uint64_t x) {  // splitmix64: cheap deterministic variety in the generated values
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Ids increase with `i` (for N up to 10 million), so creating in index order is `_id` order.
std::string element_id(size_t i) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%sfeature/seq%03zu/shot%04zu/render_v01/file%06zu.exr", id_prefix,
                i / 10000, (i / 100) % 100, i);
  return buf;
}

// The element's keys besides `_id`, compact, starting with a comma.
std::string element_fields(size_t i) {
  auto h = mix(i);
  char buf[192];
  std::snprintf(buf, sizeof buf,
                R"(,"type":"file","size":%)" PRIu64 R"(,"mtime":%)" PRIu64 R"(,"hash":"%016)" PRIx64
                R"(","tags":["exr","render"])",
                h % 100000000, uint64_t{1600000000000} + (h >> 24) % 100000000000, mix(h));
  return buf;
}

// What `create` with author `bench` at `bench_time_ms` stores for element `i`.
std::string stored_element(const std::string& id, size_t i) {
  return R"({"_id":")" + id + '"' + element_fields(i) + R"(,"author":"bench","time":)" +
         std::to_string(bench_time_ms) + '}';
}

// The keys an update merges into element `i`: one or two, alternately.
std::string_view update_fields(size_t i) {
  return i % 2 == 0 ? R"(,"status":"synced")" : R"(,"status":"synced","synced_site_b":true)";
}

std::string queue_payload(size_t i) {
  char buf[160];
  std::snprintf(
      buf, sizeof buf,
      R"({"ds":"ds-0007","ref":"seq%03zu/shot%04zu/file%06zu.exr","action":"add","size":%)" PRIu64
      "}",
      i / 10000, (i / 100) % 100, i, mix(i) % 100000000);
  return buf;
}

// A run queues its actions at its datasource's priority: one priority per batch, three in turn.
int32_t queue_priority(size_t i) {
  return static_cast<int32_t>(i / batch_size % 3);
}

// The queue's key layout (see transfer_queue.cpp), for the raw baseline's keys.
std::string queue_key(int32_t priority, uint64_t seq) {
  std::string key;
  codec::append_string(key, queue_volume);
  codec::append_i32_descending(key, priority);
  codec::append_u64(key, seq);
  return key;
}

// Blocks until the database has no flush or compaction pending or running, so that a timed
// phase does not pay for the previous phase's (or the other side's) background work.
void wait_idle(database& db) {
  auto& r = db.internals();
  auto deadline = bench_clock::now() + std::chrono::minutes(5);
  for (;;) {
    uint64_t busy = 0;
    uint64_t v = 0;
    for (auto* cf : r.handles) {
      v = 0;
      if (r.db->GetIntProperty(cf, "rocksdb.mem-table-flush-pending", &v)) busy += v;
      v = 0;
      if (r.db->GetIntProperty(cf, "rocksdb.compaction-pending", &v)) busy += v;
    }
    v = 0;
    if (r.db->GetIntProperty("rocksdb.num-running-flushes", &v)) busy += v;
    v = 0;
    if (r.db->GetIntProperty("rocksdb.num-running-compactions", &v)) busy += v;
    if (busy == 0 || bench_clock::now() > deadline) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// The workloads' inputs, generated before any timing.

struct inputs {
  size_t n = 0;
  std::vector<std::string> ids;
  std::vector<std::string> stored;       // what create stores, per element
  std::vector<std::string> create_json;  // one JSON array per batch
  std::vector<size_t> read_order;        // a random permutation
  std::vector<size_t> update_order;      // another one
  std::vector<std::string> update_json;  // one JSON array per batch of update_order
  std::vector<std::string> updated;      // what update stores, per element
  std::vector<std::string> payloads;     // queue payloads
  // Per batch: the ids to read, as strings for ours and as slices of the same strings for raw;
  // and the keys and stored values back to back, for raw creates (ours reads each batch from
  // one JSON text, and scattered strings would make the baseline wait on its input's cache
  // misses).
  std::vector<std::vector<std::string>> read_ids;
  std::vector<std::vector<rocksdb::Slice>> read_keys;
  std::vector<std::string> stored_batches;
};

inputs make_inputs(size_t n) {
  inputs in;
  in.n = n;
  in.ids.reserve(n);
  in.stored.reserve(n);
  in.updated.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    in.ids.push_back(element_id(i));
    in.stored.push_back(stored_element(in.ids[i], i));
    auto& s = in.stored[i];
    in.updated.push_back(s.substr(0, s.size() - 1) + std::string{update_fields(i)} + '}');
    in.payloads.push_back(queue_payload(i));
  }
  for (size_t b = 0; b < n; b += batch_size) {
    std::string json = "[";
    for (size_t i = b; i < std::min(n, b + batch_size); ++i) {
      if (i > b) json += ',';
      json += R"({"_id":")" + in.ids[i] + '"' + element_fields(i) + '}';
    }
    json += ']';
    in.create_json.push_back(std::move(json));
  }
  std::mt19937_64 rng{42};
  in.read_order.resize(n);
  for (size_t i = 0; i < n; ++i) in.read_order[i] = i;
  in.update_order = in.read_order;
  std::shuffle(in.read_order.begin(), in.read_order.end(), rng);
  std::shuffle(in.update_order.begin(), in.update_order.end(), rng);
  for (size_t b = 0; b < n; b += batch_size) {
    auto& ids = in.read_ids.emplace_back();
    for (size_t k = b; k < std::min(n, b + batch_size); ++k)
      ids.push_back(in.ids[in.read_order[k]]);
    auto& keys = in.read_keys.emplace_back();
    for (auto& id : ids) keys.push_back(slice(id));
    auto& text = in.stored_batches.emplace_back();
    for (size_t i = b; i < std::min(n, b + batch_size); ++i) text += in.ids[i] + in.stored[i];
  }
  for (size_t b = 0; b < n; b += batch_size) {
    std::string json = "[";
    for (size_t k = b; k < std::min(n, b + batch_size); ++k) {
      auto i = in.update_order[k];
      if (k > b) json += ',';
      json += R"({"_id":")" + in.ids[i] + '"' + std::string{update_fields(i)} + '}';
    }
    json += ']';
    in.update_json.push_back(std::move(json));
  }
  return in;
}

// Seconds each phase took; the phases check their own counts.
struct side_times {
  double create = 0, read = 0, update = 0, list = 0, push = 0, pop_ack = 0;
};

class ours_side {
 public:
  ours_side(const inputs& in, const std::filesystem::path& dir)
      : in_(in), db_(must(database::open({dir}), "open our database")), store_(*db_) {
    ctx_.author = bench_author;
    ctx_.now_ms = bench_time_ms;
  }
  database& db() { return *db_; }

  double create() {
    auto start = bench_clock::now();
    size_t created = 0;
    for (auto& json : in_.create_json) {
      auto out = must(store_.create(json, ctx_), "create");
      for (auto& o : out) created += o.result == element_result::created ? 1 : 0;
    }
    auto t = seconds_since(start);
    if (created != in_.n)
      fail("create made " + std::to_string(created) + " of " + std::to_string(in_.n));
    return t;
  }

  double read() {
    auto start = bench_clock::now();
    size_t found = 0, bytes = 0;
    for (auto& ids : in_.read_ids) {
      auto out = must(store_.read(ids), "read");
      for (auto& v : out) {
        if (!v) continue;
        ++found;
        bytes += v->size();
      }
    }
    auto t = seconds_since(start);
    if (found != in_.n)
      fail("read found " + std::to_string(found) + " of " + std::to_string(in_.n));
    read_bytes = bytes;
    return t;
  }

  double update() {
    auto start = bench_clock::now();
    size_t updated = 0;
    for (auto& json : in_.update_json) {
      auto out = must(store_.update(json, ctx_), "update");
      for (auto& o : out) updated += o.result == element_result::updated ? 1 : 0;
    }
    auto t = seconds_since(start);
    if (updated != in_.n)
      fail("update changed " + std::to_string(updated) + " of " + std::to_string(in_.n));
    return t;
  }

  double list() {
    auto start = bench_clock::now();
    size_t listed = 0, bytes = 0;
    std::string cursor;
    for (;;) {
      auto page = must(store_.list(id_prefix, cursor, batch_size), "list");
      listed += page.items.size();
      for (auto& [id, json] : page.items) bytes += id.size() + json.size();
      if (page.next_cursor.empty()) break;
      cursor = std::move(page.next_cursor);
    }
    auto t = seconds_since(start);
    if (listed != in_.n)
      fail("list saw " + std::to_string(listed) + " of " + std::to_string(in_.n));
    list_bytes = bytes;
    return t;
  }

  double push() {
    queue_ = must(transfer_queue::open(*db_), "open queue");
    auto start = bench_clock::now();
    write_batch batch{*db_};
    for (size_t i = 0; i < in_.n; ++i) {
      must(queue_->push(batch, queue_volume, queue_priority(i), in_.payloads[i]), "push");
      if (batch.count() == batch_size || i + 1 == in_.n) must(db_->write(batch), "write pushes");
    }
    auto t = seconds_since(start);
    if (queue_->size(queue_volume) != in_.n)
      fail("queue holds " + std::to_string(queue_->size(queue_volume)) + " items after " +
           std::to_string(in_.n) + " pushes");
    return t;
  }

  double pop_ack() {
    auto start = bench_clock::now();
    size_t acked = 0;
    write_batch batch{*db_};
    for (;;) {
      auto items = must(queue_->pop(queue_volume, batch_size), "pop");
      if (items.empty()) break;
      for (auto& item : items) must(queue_->ack(batch, item.ticket), "ack");
      must(db_->write(batch), "write acks");
      acked += items.size();
    }
    auto t = seconds_since(start);
    if (acked != in_.n || queue_->size(queue_volume) != 0)
      fail("popped and acknowledged " + std::to_string(acked) + " of " + std::to_string(in_.n) +
           " items; " + std::to_string(queue_->size(queue_volume)) + " left");
    return t;
  }

  // Our stored bytes must be the raw baseline's, or the two sides would not do the same work.
  void check_values(const std::vector<std::string>& expected, const char* phase) {
    for (size_t i = 0; i < in_.n; i += std::max<size_t>(1, in_.n / 97)) {
      auto got = must(store_.get(in_.ids[i]), "get");
      if (!got || *got != expected[i])
        fail(std::string{"after "} + phase + ", element " + in_.ids[i] + " is " +
             (got ? *got : "missing") + ", expected " + expected[i]);
    }
  }

  size_t read_bytes = 0, list_bytes = 0;

 private:
  const inputs& in_;
  std::unique_ptr<database> db_;
  element_store store_;
  write_context ctx_;
  std::unique_ptr<transfer_queue> queue_;
};

class raw_side {
 public:
  raw_side(const inputs& in, const std::filesystem::path& dir)
      : in_(in),
        db_(must(database::open({dir}), "open the raw database")),
        r_(db_->internals()),
        elements_(r_.cf(column::elements)),
        queue_cf_(r_.cf(column::queue)) {}
  database& db() { return *db_; }

  double create() {
    auto start = bench_clock::now();
    rocksdb::WriteBatch wb;
    for (size_t b = 0; b < in_.stored_batches.size(); ++b) {
      const char* p = in_.stored_batches[b].data();
      for (size_t i = b * batch_size; i < std::min(in_.n, (b + 1) * batch_size); ++i) {
        rocksdb::Slice key{p, in_.ids[i].size()};
        rocksdb::Slice value{p + key.size(), in_.stored[i].size()};
        p += key.size() + value.size();
        must(wb.Put(elements_, key, value), "put");
      }
      must(r_.db->Write(r_.write_options, &wb), "write");
      wb.Clear();
    }
    return seconds_since(start);
  }

  double read() {
    auto start = bench_clock::now();
    size_t found = 0, bytes = 0;
    std::vector<rocksdb::PinnableSlice> values(batch_size);
    std::vector<rocksdb::Status> statuses(batch_size);
    for (auto& keys : in_.read_keys) {
      r_.db->MultiGet(rocksdb::ReadOptions{}, elements_, keys.size(), keys.data(), values.data(),
                      statuses.data());
      for (size_t k = 0; k < keys.size(); ++k) {
        if (statuses[k].ok()) {
          ++found;
          bytes += values[k].size();
        }
        values[k].Reset();
      }
    }
    auto t = seconds_since(start);
    if (found != in_.n) fail("raw read found " + std::to_string(found));
    read_bytes = bytes;
    return t;
  }

  // Reads each element, then writes the merged bytes: the I/O of an update without the JSON.
  double update() {
    auto start = bench_clock::now();
    std::vector<rocksdb::Slice> keys;
    std::vector<rocksdb::PinnableSlice> values(batch_size);
    std::vector<rocksdb::Status> statuses(batch_size);
    rocksdb::WriteBatch wb;
    std::string merged;
    size_t updated = 0;
    for (size_t b = 0; b < in_.n; b += batch_size) {
      keys.clear();
      auto end = std::min(in_.n, b + batch_size);
      for (size_t k = b; k < end; ++k) keys.push_back(slice(in_.ids[in_.update_order[k]]));
      r_.db->MultiGet(rocksdb::ReadOptions{}, elements_, keys.size(), keys.data(), values.data(),
                      statuses.data());
      for (size_t k = 0; k < keys.size(); ++k) {
        if (!statuses[k].ok()) continue;
        merged.assign(values[k].data(), values[k].size() - 1);
        merged += update_fields(in_.update_order[b + k]);
        merged += '}';
        must(wb.Put(elements_, keys[k], merged), "put");
        values[k].Reset();
        ++updated;
      }
      must(r_.db->Write(r_.write_options, &wb), "write");
      wb.Clear();
    }
    auto t = seconds_since(start);
    if (updated != in_.n) fail("raw update changed " + std::to_string(updated));
    return t;
  }

  double list() {
    auto start = bench_clock::now();
    auto upper = *codec::prefix_successor(id_prefix);
    auto upper_slice = slice(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it{r_.db->NewIterator(ro, elements_)};
    size_t listed = 0, bytes = 0;
    for (it->Seek(id_prefix); it->Valid(); it->Next()) {
      ++listed;
      bytes += it->key().size() + it->value().size();
    }
    must(it->status(), "iterate");
    auto t = seconds_since(start);
    if (listed != in_.n) fail("raw listing saw " + std::to_string(listed));
    list_bytes = bytes;
    return t;
  }

  double push() {
    auto start = bench_clock::now();
    rocksdb::WriteBatch wb;
    for (size_t i = 0; i < in_.n; ++i) {
      must(wb.Put(queue_cf_, queue_key(queue_priority(i), i + 1), in_.payloads[i]), "put");
      if (static_cast<size_t>(wb.Count()) == batch_size || i + 1 == in_.n) {
        must(r_.db->Write(r_.write_options, &wb), "write");
        wb.Clear();
      }
    }
    return seconds_since(start);
  }

  // Takes 1000 items from the head, as a pop does, and deletes them, as their acks do.
  double pop_ack() {
    auto start = bench_clock::now();
    std::string prefix;
    codec::append_string(prefix, queue_volume);
    auto upper = *codec::prefix_successor(prefix);
    auto upper_slice = slice(upper);
    std::string cursor = prefix;
    std::vector<std::pair<std::string, std::string>> items;
    rocksdb::WriteBatch wb;
    size_t taken = 0;
    for (;;) {
      rocksdb::ReadOptions ro;
      ro.iterate_upper_bound = &upper_slice;
      std::unique_ptr<rocksdb::Iterator> it{r_.db->NewIterator(ro, queue_cf_)};
      items.clear();
      for (it->Seek(cursor); it->Valid() && items.size() < batch_size; it->Next())
        items.emplace_back(it->key().ToString(), it->value().ToString());
      must(it->status(), "iterate queue");
      if (items.empty()) break;
      for (auto& item : items) must(wb.Delete(queue_cf_, item.first), "delete");
      must(r_.db->Write(r_.write_options, &wb), "write");
      wb.Clear();
      taken += items.size();
      cursor = items.back().first + '\0';
    }
    auto t = seconds_since(start);
    if (taken != in_.n) fail("raw queue took " + std::to_string(taken));
    return t;
  }

  void check_values(const std::vector<std::string>& expected, const char* phase) {
    std::string got;
    for (size_t i = 0; i < in_.n; i += std::max<size_t>(1, in_.n / 97)) {
      must(r_.db->Get(rocksdb::ReadOptions{}, elements_, in_.ids[i], &got), "get");
      if (got != expected[i]) fail(std::string{"raw side after "} + phase + ": " + in_.ids[i]);
    }
  }

  size_t read_bytes = 0, list_bytes = 0;

 private:
  const inputs& in_;
  std::unique_ptr<database> db_;
  database::impl& r_;
  rocksdb::ColumnFamilyHandle* elements_;
  rocksdb::ColumnFamilyHandle* queue_cf_;
};

// Which workloads run. Read, update and listing need the elements that create makes.
struct selection {
  bool create = true, read = true, update = true, list = true, queue = true;
  bool elements() const { return create || read || update || list; }
};

// Runs the selected phases on both sides, each phase starting with both databases idle;
// `ours_first` says which side goes first in each phase.
std::pair<side_times, side_times> run_once(const inputs& in, const std::filesystem::path& dir,
                                           const selection& sel, bool ours_first, bool verbose) {
  ours_side ours{in, dir / "ours"};
  raw_side raw{in, dir / "raw"};
  side_times o, r;
  auto phase = [&](const char* name, double& ours_t, double& raw_t,
                   const std::function<double()>& run_ours,
                   const std::function<double()>& run_raw) {
    double cpu[2] = {0, 0};
    for (int k = 0; k < 2; ++k) {
      wait_idle(ours.db());
      wait_idle(raw.db());
      bool ours_now = (k == 0) == ours_first;
      // With --verbose, phases are stamped with CLOCK_MONOTONIC, as `perf record -k
      // CLOCK_MONOTONIC` stamps samples, so that profiles can be cut into phases.
      auto stamp = [&](const char* what) {
        if (!verbose) return;
        timespec ts{};
        ::clock_gettime(CLOCK_MONOTONIC, &ts);
        std::fprintf(stderr, "  %s %s %s at %ld.%09ld\n", what, name, ours_now ? "ours" : "raw",
                     static_cast<long>(ts.tv_sec), ts.tv_nsec);
      };
      stamp("start");
      auto cpu_start = thread_cpu_seconds();
      if (ours_now)
        ours_t = run_ours();
      else
        raw_t = run_raw();
      cpu[ours_now ? 0 : 1] = thread_cpu_seconds() - cpu_start;
      stamp("end");
    }
    if (verbose)
      std::fprintf(stderr, "  %-8s ours %7.3f s (cpu %7.3f s)  raw %7.3f s (cpu %7.3f s)\n", name,
                   ours_t, cpu[0], raw_t, cpu[1]);
  };
  if (sel.elements()) {
    phase(
        "create", o.create, r.create, [&] { return ours.create(); }, [&] { return raw.create(); });
    ours.check_values(in.stored, "create");
    raw.check_values(in.stored, "create");
  }
  if (sel.read) {
    phase(
        "read", o.read, r.read, [&] { return ours.read(); }, [&] { return raw.read(); });
    if (ours.read_bytes != raw.read_bytes) fail("the two sides read different bytes");
  }
  if (sel.update) {
    phase(
        "update", o.update, r.update, [&] { return ours.update(); }, [&] { return raw.update(); });
    ours.check_values(in.updated, "update");
    raw.check_values(in.updated, "update");
  }
  if (sel.list) {
    phase(
        "list", o.list, r.list, [&] { return ours.list(); }, [&] { return raw.list(); });
    if (ours.list_bytes != raw.list_bytes) fail("the two sides listed different bytes");
  }
  if (sel.queue) {
    phase(
        "push", o.push, r.push, [&] { return ours.push(); }, [&] { return raw.push(); });
    phase(
        "pop+ack", o.pop_ack, r.pop_ack, [&] { return ours.pop_ack(); },
        [&] { return raw.pop_ack(); });
  }
  if (verbose) {
    for (auto* db : {&ours.db(), &raw.db()}) {
      auto& handles = db->internals();
      std::string stats;
      handles.db->GetProperty(handles.cf(column::elements), "rocksdb.levelstats", &stats);
      std::fprintf(stderr, "%s: elements column family\n%s", db == &ours.db() ? "ours" : "raw",
                   stats.c_str());
    }
  }
  return {o, r};
}

enum class goal_kind { none, ratio_at_least, rate_at_least };

struct figure {
  figure(const char* name_, const char* unit_, goal_kind goal_ = goal_kind::none,
         double goal_value_ = 0)
      : name(name_), unit(unit_), goal(goal_), goal_value(goal_value_) {}
  const char* name;
  const char* unit;
  goal_kind goal;
  double goal_value;
  std::vector<double> ours, raw;  // per-second rates, one per run
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
}

std::string thousands(double x) {
  auto s = std::to_string(static_cast<uint64_t>(x + 0.5));
  for (auto i = s.size(); i > 3; i -= 3) s.insert(i - 3, ",");
  return s;
}

void print(const figure& f) {
  auto ours = median(f.ours);
  auto raw = median(f.raw);
  std::vector<double> ratios;
  for (size_t i = 0; i < f.ours.size(); ++i) ratios.push_back(f.ours[i] / f.raw[i]);
  auto ratio = median(ratios);
  std::string goal = "goal: none";
  std::string met;
  if (f.goal == goal_kind::ratio_at_least) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "goal: ours >= %.2fx raw", f.goal_value);
    goal = buf;
    met = ratio >= f.goal_value ? "  met" : "  NOT met";
  } else if (f.goal == goal_kind::rate_at_least) {
    goal = "goal: ours >= " + thousands(f.goal_value) + "/s";
    met = ours >= f.goal_value ? "  met" : "  NOT met";
  }
  std::printf("%-16s ours %11s %-7s raw %11s %-7s ratio %5.2f   %s%s\n", f.name,
              thousands(ours).c_str(), f.unit, thousands(raw).c_str(), f.unit, ratio, goal.c_str(),
              met.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"storage_bench: the storage layer beside raw RocksDB doing the same work"};
  size_t n = 1000000;
  bool tiny = false;
  int runs = 1;
  std::string base;
  bool verbose = false;
  std::vector<std::string> only;
  app.add_option("--n", n, "elements and queue items")
      ->check(CLI::Range(size_t{1}, size_t{10000000}));
  app.add_flag("--tiny", tiny, "N = 2,000, for CI");
  app.add_option("--runs", runs, "repeat in fresh databases and print medians")
      ->check(CLI::Range(1, 100));
  app.add_option("--only", only, "run only these workloads")
      ->delimiter(',')
      ->check(CLI::IsMember({"create", "read", "update", "list", "queue"}));
  app.add_flag("--verbose", verbose, "print each phase's times and RocksDB's statistics");
  app.add_option("--dir", base, "where to make the fresh databases (default $TMPDIR or /tmp)");
  CLI11_PARSE(app, argc, argv);
  if (tiny) n = 2000;
  selection sel;
  if (!only.empty()) {
    auto has = [&](const char* w) { return std::find(only.begin(), only.end(), w) != only.end(); };
    sel = selection{has("create"), has("read"), has("update"), has("list"), has("queue")};
  }
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp && *tmp ? tmp : "/tmp";
  }
  // A fresh directory of our own: ext4 here creates files slowly right after mass deletions, so
  // nothing is reused, and everything is removed at the end.
  std::string templ = base + "/storage_bench-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) fail("cannot make a directory in " + base);
  std::filesystem::path root{templ};

  std::printf("storage_bench: N = %s, batches of %zu, %d run%s (medians), in %s\n",
              thousands(static_cast<double>(n)).c_str(), batch_size, runs, runs == 1 ? "" : "s",
              root.c_str());
  std::fflush(stdout);
  auto in = make_inputs(n);
  auto nd = static_cast<double>(n);
  figure create{"element create", "el/s", goal_kind::ratio_at_least, 0.7};
  figure read{"element read", "el/s"};
  figure update{"element update", "el/s"};
  figure list{"prefix listing", "el/s", goal_kind::rate_at_least, 1000000};
  figure push{"queue push", "items/s"};
  figure pop_ack{"queue pop+ack", "items/s"};
  figure cycle{"queue cycle", "items/s", goal_kind::rate_at_least, 200000};
  for (int run = 0; run < runs; ++run) {
    auto dir = root / ("run" + std::to_string(run));
    auto [o, r] = run_once(in, dir, sel, run % 2 == 0, verbose);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    auto add = [&](figure& f, double ours_s, double raw_s) {
      f.ours.push_back(nd / ours_s);
      f.raw.push_back(nd / raw_s);
    };
    add(create, o.create, r.create);
    add(read, o.read, r.read);
    add(update, o.update, r.update);
    add(list, o.list, r.list);
    add(push, o.push, r.push);
    add(pop_ack, o.pop_ack, r.pop_ack);
    add(cycle, o.push + o.pop_ack, r.push + r.pop_ack);
    if (runs > 1) std::fprintf(stderr, "storage_bench: run %d of %d done\n", run + 1, runs);
  }
  if (sel.create) print(create);
  if (sel.read) print(read);
  if (sel.update) print(update);
  if (sel.list) print(list);
  if (sel.queue)
    for (auto* f : {&push, &pop_ack, &cycle}) print(*f);
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  return 0;
}
