// tests/connectors/synthetic_source_test.cpp: the generated source: determinism, layout,
// generations and change rate, content and hashes, constant memory.
#define BOOST_TEST_MODULE connectors_synthetic_source
#include "connectors/synthetic_source.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <xxhash.h>

#include "connectors/error.hpp"
#include "tests/connectors/connector_test_util.hpp"

using namespace syncline::connectors;
using namespace syncline::test;

namespace {

synthetic_source_options options(uint64_t count = 1000, uint64_t directories = 7,
                                 double rate = 0.1) {
  synthetic_source_options o;
  o.seed = 7;
  o.count = count;
  o.directories = directories;
  o.min_size = 100;
  o.max_size = 3000;
  o.change_rate = rate;
  return o;
}

std::unique_ptr<synthetic_source> make(const synthetic_source_options& o) {
  auto s = synthetic_source::make(o);
  BOOST_REQUIRE_MESSAGE(s, reason(s));
  return std::move(*s);
}

bool same(const item_info& a, const item_info& b) {
  return a.reference == b.reference && a.kind == b.kind && a.size == b.size &&
         a.mtime_ns == b.mtime_ns && a.mode == b.mode && a.hash == b.hash;
}

std::string content(source& s, const std::string& ref) {
  auto r = s.open(ref, 0);
  BOOST_REQUIRE_MESSAGE(r, reason(r));
  return read_all(**r, 1000);
}

// Files whose size or mtime differ between two listings of the same items.
size_t count_changed(const std::vector<item_info>& a, const std::vector<item_info>& b) {
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  size_t changed = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    BOOST_REQUIRE_EQUAL(a[k].reference, b[k].reference);
    if (!same(a[k], b[k])) ++changed;
  }
  return changed;
}

}  // namespace

BOOST_AUTO_TEST_CASE(layout_names_and_counts) {
  auto s = make(options(1000, 7));
  const auto items = list_all(*s);
  BOOST_REQUIRE_EQUAL(items.size(), 1007u);
  BOOST_CHECK_EQUAL(items[0].reference, "d0000/");
  BOOST_CHECK(items[0].kind == item_kind::directory);
  BOOST_CHECK_EQUAL(items[0].mode, 0755u);
  BOOST_CHECK_EQUAL(items[1].reference, "d0000/f00000000.bin");
  BOOST_CHECK_EQUAL(items.back().reference, "d0006/f00000999.bin");
  size_t files = 0;
  uint64_t last_index = 0;
  for (const auto& i : items) {
    if (i.kind != item_kind::file) continue;
    const uint64_t index = std::stoull(i.reference.substr(7, 8));
    if (files > 0) BOOST_CHECK_EQUAL(index, last_index + 1);  // every index, once, in order
    last_index = index;
    ++files;
    BOOST_CHECK_GE(i.size, 100u);
    BOOST_CHECK_LE(i.size, 3000u);
    BOOST_CHECK_EQUAL(i.mode, 0644u);
  }
  BOOST_CHECK_EQUAL(files, 1000u);
  // Flat: no directories.
  const auto flat = list_all(*make(options(20, 0)));
  BOOST_REQUIRE_EQUAL(flat.size(), 20u);
  BOOST_CHECK_EQUAL(flat[0].reference, "f00000000.bin");
  // More directories than files: empty directories are items too; widths grow as needed.
  const auto sparse = list_all(*make(options(3, 12345)));
  BOOST_CHECK_EQUAL(sparse.size(), 12348u);
  BOOST_CHECK_EQUAL(sparse[0].reference, "d00000/");
  // Names that do not exist, or look alike but differ, are not found.
  for (const char* ref : {"d0007/", "d0000/f00000999.bin", "d000/", "d0000/f0000000.bin",
                          "d0000/f00000000.txt", "d0000", "x"}) {
    BOOST_TEST_CONTEXT(ref) {
      CHECK_ERRC(s->stat(ref), connector_errc::not_found);
    }
  }
}

BOOST_AUTO_TEST_CASE(same_options_same_items_and_bytes) {
  auto a = make(options());
  auto b = make(options());
  const auto la = list_all(*a);
  const auto lb = list_all(*b);
  BOOST_CHECK_EQUAL(count_changed(la, lb), 0u);
  BOOST_CHECK(content(*a, "d0003/f00000500.bin") == content(*b, "d0003/f00000500.bin"));
  auto other_seed = options();
  other_seed.seed = 8;
  auto c = make(other_seed);
  BOOST_CHECK_GT(count_changed(la, list_all(*c)), 900u);
  BOOST_CHECK(content(*a, "d0003/f00000500.bin") != content(*c, "d0003/f00000500.bin"));
}

BOOST_AUTO_TEST_CASE(changes_follow_the_rate) {
  auto s = make(options(20000, 10, 0.1));
  const auto g0 = list_all(*s);
  BOOST_CHECK_EQUAL(s->advance(), 1u);
  const auto g1 = list_all(*s);
  // Binomial(20000, 0.1): mean 2000, standard deviation 42; allow five of them.
  const size_t one = count_changed(g0, g1);
  BOOST_CHECK_GT(one, 1790u);
  BOOST_CHECK_LT(one, 2210u);
  // After five generations, 1 - 0.9^5 = 41% of the files changed at least once.
  s->set_generation(5);
  const size_t five = count_changed(g0, list_all(*s));
  const double expected = 20000 * (1 - std::pow(0.9, 5));
  BOOST_CHECK_LT(std::abs(static_cast<double>(five) - expected), 5 * std::sqrt(expected * 0.59));
  // A changed file is newer; going back to a generation gives its listing again.
  for (size_t k = 0; k < g0.size(); ++k) {
    if (!same(g0[k], g1[k])) BOOST_CHECK_GT(g1[k].mtime_ns, g0[k].mtime_ns);
  }
  s->set_generation(0);
  BOOST_CHECK_EQUAL(count_changed(g0, list_all(*s)), 0u);
  // Directories never change.
  s->set_generation(3);
  const auto g3 = list_all(*s);
  for (size_t k = 0; k < g0.size(); ++k) {
    if (g0[k].kind == item_kind::directory) BOOST_CHECK(same(g0[k], g3[k]));
  }
}

BOOST_AUTO_TEST_CASE(rates_zero_and_one) {
  auto never = make(options(500, 5, 0.0));
  const auto before = list_all(*never);
  never->set_generation(1000);
  BOOST_CHECK_EQUAL(count_changed(before, list_all(*never)), 0u);
  auto always = make(options(500, 5, 1.0));
  const auto a0 = list_all(*always);
  always->advance();
  // Every file gets a new mtime (sizes may repeat by chance).
  const auto a1 = list_all(*always);
  for (size_t k = 0; k < a0.size(); ++k) {
    if (a0[k].kind == item_kind::file) BOOST_CHECK_NE(a0[k].mtime_ns, a1[k].mtime_ns);
  }
}

BOOST_AUTO_TEST_CASE(a_listing_keeps_its_generation_and_readers_notice_changes) {
  auto s = make(options(200, 2, 0.5));
  auto listing = s->list();
  BOOST_REQUIRE(listing);
  std::vector<item_info> first;
  BOOST_REQUIRE((*listing)->next(first, 50));
  const auto g0 = list_all(*s);
  // Open every file, move to the next generation, and ask each reader.
  std::vector<std::unique_ptr<item_reader>> readers;
  for (const auto& i : g0) {
    if (i.kind != item_kind::file) continue;
    auto r = s->open(i.reference, 0);
    BOOST_REQUIRE(r);
    readers.push_back(std::move(*r));
  }
  s->advance();
  auto rest = drain(**listing);  // started at generation 0: still generation 0
  first.insert(first.end(), rest.begin(), rest.end());
  BOOST_CHECK_EQUAL(count_changed(g0, first), 0u);
  const auto g1 = list_all(*s);
  size_t changed_readers = 0;
  size_t k = 0;
  for (const auto& i : g0) {
    if (i.kind != item_kind::file) continue;
    const auto now = std::find_if(g1.begin(), g1.end(),
                                  [&](const item_info& x) { return x.reference == i.reference; });
    auto c = readers[k++]->changed();
    BOOST_REQUIRE(c);
    BOOST_CHECK_EQUAL(*c, !same(i, *now));
    changed_readers += *c;
  }
  BOOST_CHECK_GT(changed_readers, 50u);
  BOOST_CHECK_LT(changed_readers, 150u);
}

BOOST_AUTO_TEST_CASE(content_matches_size_offsets_and_hash) {
  auto o = options(50, 2, 0.2);
  o.compute_hash = true;
  o.min_size = 0;
  o.max_size = 40000;
  auto s = make(o);
  for (const auto& i : list_all(*s)) {
    if (i.kind != item_kind::file) continue;
    BOOST_TEST_CONTEXT(i.reference) {
      const auto bytes = content(*s, i.reference);
      BOOST_CHECK_EQUAL(bytes.size(), i.size);
      BOOST_REQUIRE(i.hash);
      BOOST_CHECK_EQUAL(*i.hash, XXH3_64bits(bytes.data(), bytes.size()));
      for (uint64_t offset : {uint64_t{1}, uint64_t{7}, uint64_t{8}, i.size / 2, i.size}) {
        auto r = s->open(i.reference, offset);
        BOOST_REQUIRE(r);
        BOOST_CHECK_EQUAL((*r)->native_handle(), -1);
        BOOST_CHECK(read_all(**r, 333) == bytes.substr(std::min<uint64_t>(offset, i.size)));
      }
    }
  }
  // Without the option there is no hash.
  for (const auto& i : list_all(*make(options(10, 1)))) BOOST_CHECK(!i.hash);
  CHECK_ERRC(s->open("d0000/", 0), connector_errc::invalid_path);
}

BOOST_AUTO_TEST_CASE(content_is_pinned) {
  // The bytes are part of the source's definition (a datastore written by one build is compared
  // with the listing of another): these hashes were taken from the byte-at-a-time generator.
  auto o = options(50, 2, 0.2);
  o.min_size = 0;
  o.max_size = 40000;
  auto s = make(o);
  const auto a = content(*s, "d0000/f00000003.bin");
  BOOST_CHECK_EQUAL(a.size(), 7598u);
  BOOST_CHECK_EQUAL(XXH3_64bits(a.data(), a.size()), 0x6cbff3d314850361ULL);
  const auto b = content(*s, "d0001/f00000042.bin");
  BOOST_CHECK_EQUAL(b.size(), 31659u);
  BOOST_CHECK_EQUAL(XXH3_64bits(b.data(), b.size()), 0x1f9b2fe6182465f3ULL);
}

BOOST_AUTO_TEST_CASE(memory_does_not_grow_with_the_count) {
  // A billion files: nothing is precomputed, so the first items and the last one are at hand.
  auto s = make(options(1'000'000'000, 1000, 0.01));
  auto l = s->list();
  BOOST_REQUIRE(l);
  std::vector<item_info> items;
  BOOST_REQUIRE((*l)->next(items, 1000));
  BOOST_CHECK_EQUAL(items.size(), 1000u);
  BOOST_CHECK_EQUAL(items[1].reference, "d0000/f000000000.bin");
  s->set_generation(1000);
  auto last = s->stat("d0999/f999999999.bin");
  BOOST_REQUIRE_MESSAGE(last, reason(last));
  BOOST_CHECK(last->kind == item_kind::file);
}

BOOST_AUTO_TEST_CASE(bad_options_are_bad_config) {
  auto o = options();
  o.min_size = 10;
  o.max_size = 5;
  CHECK_ERRC(synthetic_source::make(o), connector_errc::bad_config);
  o = options();
  o.change_rate = 1.5;
  CHECK_ERRC(synthetic_source::make(o), connector_errc::bad_config);
  o.change_rate = -0.1;
  CHECK_ERRC(synthetic_source::make(o), connector_errc::bad_config);
  o.change_rate = std::nan("");
  CHECK_ERRC(synthetic_source::make(o), connector_errc::bad_config);
  o = options();
  o.count = uint64_t{1} << 40;
  o.directories = uint64_t{1} << 30;
  CHECK_ERRC(synthetic_source::make(o), connector_errc::bad_config);
  BOOST_CHECK(make(options())->describe().find("seed=7") != std::string::npos);
}
