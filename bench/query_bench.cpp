// bench/query_bench.cpp: element searches beside a raw RocksDB iteration over the same elements.
//
// The data: N elements as bench/storage_bench.cpp makes them (~60-byte path-like `_id`s such as
// /projects/feature/seq001/shot0042/render_v01/file004217.exr, keys type, size, mtime, hash,
// tags, author, time; ~210 bytes stored), created through element_store::create in batches of
// 1000, then compacted, so every timed pass reads the same files.
//
// Workloads, each one `search()` over all N elements (the whole column family):
//   raw iteration   baseline: a RocksDB iterator over the elements column family with the read
//                   options element_store::scan uses, touching every key and value
//   raw, no fill    the same with fill_cache off (blocks read once need not evict others)
//   store scan      element_store::scan with a visitor that only counts: the floor of a search
//   match all       {}: the scan and the count, no JSON read
//   text string     `type:file` (every element matches)
//   text number     `size<50000000` (about half match)
//   mongo regex     {"hash":{"$regex":"^ab"}} (1 in 256)
//   mongo array     {"tags":"render","mtime":{"$gte":...}}: `tags` is an array, read by simdjson
//   mongo $or       {"$or":[{"size":{"$lt":1000000}},{"hash":"REGEX_^f"}]}
//   sorted page     `size<50000000` sorted by mtime descending, first 100
//   id prefix       `_id:/^\/projects\/feature\/seq001\//` (1%: a ranged scan, not a full one;
//                   seq000/shot0001, 100 elements, when N is under 20,000)
//                                                      goal: full scans of 1,000,000 under 1 s
//
// Each figure is the median of --runs passes (default 3) of the searching thread's CPU time, with
// the wall time beside it (other processes on a shared machine inflate the wall time), one line
// per figure, compared with the raw iteration's CPU time. Timing is informational: the program
// fails only when a count or an order is wrong.
//
// Usage: query_bench [--n N] [--tiny] [--runs R] [--dir DIR]
//   --n N     elements (default 1,000,000); --tiny sets N = 2,000 (CI)
//   --dir DIR where to make the database (default: $TMPDIR or /tmp); removed at the end
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

#include <CLI/CLI.hpp>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>

#include "bench/bench_support.hpp"
#include "storage/database.hpp"
#include "storage/detail/rocks.hpp"
#include "storage/element_query.hpp"
#include "storage/element_store.hpp"
#include "storage/error.hpp"

namespace {

using namespace syncline::storage;
using namespace syncline::bench;  // bench_clock, seconds_since, thread_cpu_seconds, thousands

constexpr size_t batch_size = 1000;
constexpr int64_t bench_time_ms = 1700000000000;
constexpr uint64_t size_bound = 50000000;
constexpr uint64_t mtime_bound = 1650000000000;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "query_bench: FAILED: %s\n", what.c_str());
  std::exit(1);
}

template <class T>
T must(caf::expected<T> x, const std::string& what) {
  if (!x) fail(what + ": " + render(x.error()));
  return std::move(*x);
}

// Wall and CPU seconds of one call.
struct timing {
  double wall = 0, cpu = 0;
};

template <class F>
timing timed(F&& f) {
  auto wall = bench_clock::now();
  auto cpu = thread_cpu_seconds();
  f();
  return {seconds_since(wall), thread_cpu_seconds() - cpu};
}

uint64_t mix(uint64_t x) {  // splitmix64, as storage_bench varies its values
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::string element_id(size_t i) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "/projects/feature/seq%03zu/shot%04zu/render_v01/file%06zu.exr",
                i / 10000, (i / 100) % 100, i);
  return buf;
}

struct element_values {
  uint64_t size, mtime, hash;
};

element_values values_of(size_t i) {
  auto h = mix(i);
  return {h % 100000000, uint64_t{1600000000000} + (h >> 24) % 100000000000, mix(h)};
}

std::string element_json(size_t i) {
  auto v = values_of(i);
  char buf[320];
  std::snprintf(buf, sizeof buf,
                R"({"_id":"%s","type":"file","size":%)" PRIu64 R"(,"mtime":%)" PRIu64
                R"(,"hash":"%016)" PRIx64 R"(","tags":["exr","render"]})",
                element_id(i).c_str(), v.size, v.mtime, v.hash);
  return buf;
}

struct workload {
  const char* name = "";
  std::string query;
  bool mongo = false;
  search_options options;
  uint64_t expected_count = 0;
  std::vector<double> wall, cpu;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// One pass of the raw baseline; returns the bytes it touched.
uint64_t raw_iteration(database& db, bool fill_cache) {
  auto& r = db.internals();
  rocksdb::ReadOptions ro;
  ro.readahead_size = 2u << 20;  // as element_store::scan
  ro.fill_cache = fill_cache;
  std::unique_ptr<rocksdb::Iterator> it{r.db->NewIterator(ro, r.cf(column::elements))};
  uint64_t bytes = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) bytes += it->key().size() + it->value().size();
  if (!it->status().ok()) fail("raw iteration: " + it->status().ToString());
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"query_bench: element searches beside a raw RocksDB iteration"};
  size_t n = 1000000;
  bool tiny = false;
  int runs = 3;
  std::string base;
  app.add_option("--n", n, "elements")->check(CLI::Range(size_t{100}, size_t{10000000}));
  app.add_flag("--tiny", tiny, "N = 2,000, for CI");
  app.add_option("--runs", runs, "passes per figure (medians)")->check(CLI::Range(1, 100));
  app.add_option("--dir", base, "where to make the database (default $TMPDIR or /tmp)");
  CLI11_PARSE(app, argc, argv);
  if (tiny) n = 2000;
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp && *tmp ? tmp : "/tmp";
  }
  std::string templ = base + "/query_bench-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) fail("cannot make a directory in " + base);
  std::filesystem::path root{templ};
  std::printf("query_bench: N = %s, %d run%s (medians), in %s\n", thousands(n).c_str(), runs,
              runs == 1 ? "" : "s", root.c_str());
  std::fflush(stdout);

  // The expected counts, from the generator itself.
  // The ranged scan reads 1% of the elements (seq001), or 100 of them when N is small.
  std::string prefix_query = n >= 20000 ? R"(_id:/^\/projects\/feature\/seq001\//)"
                                        : R"(_id:/^\/projects\/feature\/seq000\/shot0001\//)";
  uint64_t below_size = 0, regex_hits = 0, array_hits = 0, or_hits = 0, in_prefix = 0;
  for (size_t i = 0; i < n; ++i) {
    auto v = values_of(i);
    below_size += v.size < size_bound;
    regex_hits += (v.hash >> 56) == 0xab;
    array_hits += v.mtime >= mtime_bound;
    or_hits += v.size < 1000000 || (v.hash >> 60) == 0xf;
    in_prefix += n >= 20000 ? i / 10000 == 1 : i / 100 == 1;
  }

  {
    auto db = must(database::open({root / "data"}), "open");
    element_store store{*db};
    auto start = bench_clock::now();
    write_context ctx{"bench", bench_time_ms, false, false};
    for (size_t b = 0; b < n; b += batch_size) {
      std::string json = "[";
      for (size_t i = b; i < std::min(n, b + batch_size); ++i) {
        if (i > b) json += ',';
        json += element_json(i);
      }
      json += ']';
      auto out = must(store.create(json, ctx), "create");
      if (out.size() != std::min(n, b + batch_size) - b) fail("create: wrong outcome count");
    }
    auto& r = db->internals();
    rocksdb::CompactRangeOptions compact;
    compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    if (auto st = r.db->CompactRange(compact, r.cf(column::elements), nullptr, nullptr); !st.ok())
      fail("compact: " + st.ToString());
    uint64_t raw_bytes = 0;
    std::printf("load: %.2f s (create and compact)\n", seconds_since(start));
    std::fflush(stdout);

    std::vector<workload> workloads;
    auto add = [&](const char* name, std::string query, bool mongo, uint64_t expected,
                   search_options options = {}) {
      workload w;
      w.name = name;
      w.query = std::move(query);
      w.mongo = mongo;
      w.expected_count = expected;
      w.options = std::move(options);
      workloads.push_back(std::move(w));
    };
    add("match all", "{}", true, n);
    add("text string", "type:file", false, n);
    add("text number", "size<" + std::to_string(size_bound), false, below_size);
    add("mongo regex", R"({"hash":{"$regex":"^ab"}})", true, regex_hits);
    add("mongo array", R"({"tags":"render","mtime":{"$gte":)" + std::to_string(mtime_bound) + "}}",
        true, array_hits);
    add("mongo $or", R"({"$or":[{"size":{"$lt":1000000}},{"hash":"REGEX_^f"}]})", true, or_hits);
    search_options page;
    page.sort = {{"mtime", -1}};
    page.limit = 100;
    add("sorted page", "size<" + std::to_string(size_bound), false, below_size, page);
    add("id prefix", prefix_query, false, in_prefix);

    std::vector<double> raw_wall, raw_cpu, nofill_wall, nofill_cpu, scan_wall, scan_cpu;
    for (int run = 0; run < runs; ++run) {
      auto t = timed([&] { raw_bytes = raw_iteration(*db, true); });
      raw_wall.push_back(t.wall);
      raw_cpu.push_back(t.cpu);
      t = timed([&] {
        if (raw_iteration(*db, false) != raw_bytes) fail("raw iterations read different bytes");
      });
      nofill_wall.push_back(t.wall);
      nofill_cpu.push_back(t.cpu);
      t = timed([&] {
        uint64_t visited = 0;
        if (auto err = store.scan("", [&](std::string_view, std::string_view) {
              ++visited;
              return true;
            }))
          fail("store scan: " + render(err));
        if (visited != n) fail("store scan visited " + std::to_string(visited));
      });
      scan_wall.push_back(t.wall);
      scan_cpu.push_back(t.cpu);
      for (auto& w : workloads) {
        auto q =
            must(w.mongo ? element_query::parse_mongo(w.query) : element_query::parse_text(w.query),
                 w.query);
        search_result result;
        t = timed([&] { result = must(search(store, q, w.options), w.query); });
        w.wall.push_back(t.wall);
        w.cpu.push_back(t.cpu);
        if (result.count != w.expected_count)
          fail(std::string{w.name} + ": count " + std::to_string(result.count) + ", expected " +
               std::to_string(w.expected_count));
        if (w.options.limit != 0) {
          // The page holds the largest mtimes, in descending order.
          if (result.ids.size() != std::min<uint64_t>(w.options.limit, w.expected_count))
            fail(std::string{w.name} + ": wrong page size");
          for (size_t k = 1; k < result.ids.size(); ++k) {
            auto index = [](const std::string& id) {
              auto at = id.rfind("file") + 4;
              return static_cast<size_t>(std::stoull(id.substr(at, id.size() - 4 - at)));
            };
            if (values_of(index(result.ids[k - 1])).mtime < values_of(index(result.ids[k])).mtime)
              fail(std::string{w.name} + ": out of order at " + std::to_string(k));
          }
        }
      }
    }
    double raw = median(raw_cpu);
    std::printf("%-14s cpu %7.3f s  wall %7.3f s               %s elements, %s MB\n",
                "raw iteration", raw, median(raw_wall), thousands(n).c_str(),
                thousands(raw_bytes >> 20).c_str());
    std::printf("%-14s cpu %7.3f s  wall %7.3f s  cpu %5.2fx raw\n", "raw, no fill",
                median(nofill_cpu), median(nofill_wall), median(nofill_cpu) / raw);
    std::printf("%-14s cpu %7.3f s  wall %7.3f s  cpu %5.2fx raw\n", "store scan", median(scan_cpu),
                median(scan_wall), median(scan_cpu) / raw);
    for (auto& w : workloads) {
      double cpu = median(w.cpu);
      std::printf("%-14s cpu %7.3f s  wall %7.3f s  cpu %5.2fx raw  %9s matches  %s\n", w.name, cpu,
                  median(w.wall), cpu / raw, thousands(w.expected_count).c_str(), w.query.c_str());
    }
    std::printf("goal: a full scan of 1,000,000 elements under 1 s (timing never fails the run)\n");
  }
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  return 0;
}
