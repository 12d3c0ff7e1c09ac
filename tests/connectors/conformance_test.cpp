// tests/connectors/conformance_test.cpp: what every source and every volume must do, written
// once and run against each implementation (as rclone's fstests do for its backends).
#define BOOST_TEST_MODULE connectors_conformance
#include <algorithm>
#include <fcntl.h>
#include <filesystem>
#include <set>
#include <string>
#include <sys/stat.h>
#include <tuple>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "connectors/error.hpp"
#include "connectors/fault_volume.hpp"
#include "connectors/http_source.hpp"
#include "connectors/local_source.hpp"
#include "connectors/local_volume.hpp"
#include "connectors/synthetic_source.hpp"
#include "tests/connectors/connector_test_util.hpp"
#include "tests/connectors/json_service.hpp"
#include "tests/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace syncline::connectors;
using namespace syncline::test;

namespace {

struct local_source_fixture {
  temp_dir dir{"conformance-src"};
  std::unique_ptr<source> src;

  local_source_fixture() {
    const auto& r = dir.path();
    fs::create_directories(r / "a" / "c");
    fs::create_directories(r / "empty");
    fs::create_directories(r / "b b");
    write_file(r / "a.txt", "alpha");
    write_file(r / "a" / "b", std::string(10000, 'b'), 0600);
    write_file(r / "a" / "c" / "deep.bin", std::string(200000, 'd'), 0755);
    write_file(r / "a0", "");
    write_file(r / "b b" / "x y", "spaces");
    write_file(r / "\xc3\xa9t\xc3\xa9.txt", "utf-8");
    BOOST_REQUIRE_EQUAL(::symlink("a/b", (r / "link").c_str()), 0);
    auto made = local_source::make({r.string(), {}, {}});
    BOOST_REQUIRE_MESSAGE(made, reason(made));
    src = std::move(*made);
  }
};

struct synthetic_source_fixture {
  std::unique_ptr<source> src;

  synthetic_source_fixture() {
    synthetic_source_options o;
    o.seed = 42;
    o.count = 300;
    o.directories = 7;
    o.min_size = 0;
    o.max_size = 20000;
    o.change_rate = 0.3;
    o.generation = 4;
    o.compute_hash = true;
    auto made = synthetic_source::make(o);
    BOOST_REQUIRE_MESSAGE(made, reason(made));
    src = std::move(*made);
  }
};

// A JSON API on loopback, listed three items a page with a cursor.
struct http_source_fixture {
  json_service service;
  std::unique_ptr<source> src;

  http_source_fixture() {
    service.files = {{"a.txt", "alpha"},
                     {"a/b", std::string(10000, 'b')},
                     {"a/c/deep.bin", std::string(200000, 'd')},
                     {"a0", ""},
                     {"b b/x y", "spaces"},
                     {"\xc3\xa9t\xc3\xa9.txt", "utf-8"}};
    http_source_options o;
    o.url = service.base() + "/cursor";
    o.paging = http_paging::cursor;
    o.items_pointer = "/data/files";
    o.next_pointer = "/cursor";
    o.reference_pointer = "/path";
    o.size_pointer = "/size";
    o.mtime_pointer = "/mtime_ms";
    o.mtime_unit = "ms";
    o.hash_pointer = "/xxh3";
    o.content_url = service.base() + "/files/{/path}";
    auto made = http_source::make(o);
    BOOST_REQUIRE_MESSAGE(made, reason(made));
    src = std::move(*made);
  }
};

using source_fixtures = std::tuple<local_source_fixture, synthetic_source_fixture, http_source_fixture>;

const char* const bad_references[] = {"",    "/etc/passwd", "../x", "a/../../x", "a//b",
                                      "./a", "a/.",         "..",   "a/../b",    "/"};

}  // namespace

BOOST_AUTO_TEST_SUITE(sources)

BOOST_AUTO_TEST_CASE_TEMPLATE(check_and_describe, F, source_fixtures) {
  F f;
  CHECK_OK(f.src->check());
  BOOST_CHECK(!f.src->describe().empty());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(listing_is_strictly_ordered_valid_and_batch_independent, F,
                              source_fixtures) {
  F f;
  const auto items = list_all(*f.src, 1000);
  BOOST_REQUIRE(!items.empty());
  std::set<std::string> seen;
  for (size_t k = 0; k < items.size(); ++k) {
    const auto& i = items[k];
    CHECK_OK(validate_reference(i.reference));
    if (k > 0) {
      BOOST_CHECK_MESSAGE(
          reference_less(items[k - 1].reference, i.reference),
          "out of order: '" << items[k - 1].reference << "' then '" << i.reference << "'");
    }
    const bool slash = i.reference.back() == '/';
    BOOST_CHECK_MESSAGE(
        slash == (i.kind == item_kind::directory) || i.kind == item_kind::unreadable,
        i.reference << " is a " << to_string(i.kind));
    // A directory comes before its children.
    const auto cut = i.reference.find_last_of('/', i.reference.size() - 2);
    if (cut != std::string::npos) {
      BOOST_CHECK_MESSAGE(seen.count(i.reference.substr(0, cut + 1)) == 1,
                          "parent of " << i.reference << " not listed before it");
    }
    seen.insert(i.reference);
  }
  BOOST_CHECK_EQUAL(seen.size(), items.size());
  // Batches of any size give the same stream.
  for (size_t batch : {1, 7}) {
    BOOST_TEST_CONTEXT("batch " << batch) {
      const auto again = list_all(*f.src, batch);
      BOOST_CHECK(references(again) == references(items));
    }
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(stat_agrees_with_listing, F, source_fixtures) {
  F f;
  for (const auto& i : list_all(*f.src)) {
    BOOST_TEST_CONTEXT(i.reference) {
      auto s = f.src->stat(i.reference);
      BOOST_REQUIRE_MESSAGE(s, reason(s));
      BOOST_CHECK_EQUAL(s->reference, i.reference);
      BOOST_CHECK(s->kind == i.kind);
      BOOST_CHECK_EQUAL(s->size, i.size);
      BOOST_CHECK_EQUAL(s->mtime_ns, i.mtime_ns);
      BOOST_CHECK_EQUAL(s->mode, i.mode);
      BOOST_CHECK_EQUAL(s->link_target, i.link_target);
      BOOST_CHECK(s->hash == i.hash);
    }
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(open_reads_exactly_size_bytes, F, source_fixtures) {
  F f;
  size_t files = 0;
  for (const auto& i : list_all(*f.src)) {
    if (i.kind != item_kind::file) continue;
    ++files;
    BOOST_TEST_CONTEXT(i.reference) {
      auto r = f.src->open(i.reference, 0);
      BOOST_REQUIRE_MESSAGE(r, reason(r));
      BOOST_CHECK_EQUAL((*r)->info().size, i.size);
      const auto all = read_all(**r, 1000);
      BOOST_CHECK_EQUAL(all.size(), i.size);
      auto changed = (*r)->changed();
      BOOST_REQUIRE_MESSAGE(changed, reason(changed));
      BOOST_CHECK(!*changed);
      // From an offset: the same bytes, shifted.
      const uint64_t offset = i.size / 3;
      auto tail = f.src->open(i.reference, offset);
      BOOST_REQUIRE_MESSAGE(tail, reason(tail));
      BOOST_CHECK(read_all(**tail, 4096) == all.substr(offset));
    }
  }
  BOOST_CHECK_GT(files, 0u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(directories_cannot_be_opened, F, source_fixtures) {
  F f;
  for (const auto& i : list_all(*f.src)) {
    if (i.kind == item_kind::directory)
      CHECK_ERRC(f.src->open(i.reference, 0), connector_errc::invalid_path);
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(missing_reference_is_not_found, F, source_fixtures) {
  F f;
  for (const char* ref : {"zz-no-such-item", "no/such/item.bin", "no-such-dir/"}) {
    BOOST_TEST_CONTEXT(ref) {
      CHECK_ERRC(f.src->stat(ref), connector_errc::not_found);
      if (std::string{ref}.back() != '/')
        CHECK_ERRC(f.src->open(ref, 0), connector_errc::not_found);
    }
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(bad_reference_is_invalid_path, F, source_fixtures) {
  F f;
  for (const char* ref : bad_references) {
    BOOST_TEST_CONTEXT("'" << ref << "'") {
      CHECK_ERRC(f.src->stat(ref), connector_errc::invalid_path);
      CHECK_ERRC(f.src->open(ref, 0), connector_errc::invalid_path);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

struct local_volume_fixture : volume_fixture_base {
  std::shared_ptr<volume> vol;
  local_volume_fixture() {
    auto made = local_volume::make({root.string()});
    BOOST_REQUIRE_MESSAGE(made, reason(made));
    vol = std::move(*made);
  }
};

struct fault_volume_fixture : volume_fixture_base {
  std::shared_ptr<volume> vol;
  fault_volume_fixture() {
    auto inner = local_volume::make({root.string()});
    BOOST_REQUIRE_MESSAGE(inner, reason(inner));
    fault_volume_options o;
    o.times = 0;  // no faults: it must be transparent
    auto made = fault_volume::make(std::move(*inner), o);
    BOOST_REQUIRE_MESSAGE(made, reason(made));
    vol = std::move(*made);
  }
};

using volume_fixtures = std::tuple<local_volume_fixture, fault_volume_fixture>;

std::string content_of(volume& v, const std::string& ref) {
  auto r = v.open_reader(ref, 0);
  BOOST_REQUIRE_MESSAGE(r, "open_reader " << ref << ": " << reason(r));
  return read_all(**r);
}

std::optional<item_info> stat_of(volume& v, const std::string& ref) {
  auto s = v.stat(ref);
  BOOST_REQUIRE_MESSAGE(s, "stat " << ref << ": " << reason(s));
  return *s;
}

void check_listing_clean(volume& v) {
  const auto items = list_all(v);
  for (size_t k = 0; k < items.size(); ++k) {
    const auto& ref = items[k].reference;
    auto name = ref.substr(0, ref.size() - (ref.back() == '/' ? 1 : 0));
    auto slash = name.find_last_of('/');
    auto parent = slash == std::string::npos ? std::string{} : name.substr(0, slash + 1);
    name = name.substr(slash + 1);
    BOOST_CHECK_MESSAGE(!is_temporary_name(parent, name), "temporary file listed: " << ref);
    if (k > 0) BOOST_CHECK(reference_less(items[k - 1].reference, ref));
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(volumes)

BOOST_AUTO_TEST_CASE_TEMPLATE(check_describe_and_sync, F, volume_fixtures) {
  F f;
  CHECK_OK(f.vol->check());
  BOOST_CHECK(!f.vol->describe().empty());
  CHECK_OK(f.vol->sync());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(commit_makes_the_file_appear_with_content_mode_and_mtime, F,
                              volume_fixtures) {
  F f;
  auto& v = *f.vol;
  const auto info = item("d1/d2/f.txt", 0640, 1'600'000'000'123'456'789);
  auto w = open_writer(v, info);
  BOOST_CHECK_EQUAL(w->offset(), 0u);
  REQUIRE_OK(w->write("hello, ", 7));
  REQUIRE_OK(w->write("world", 5));
  BOOST_CHECK_EQUAL(w->offset(), 12u);
  REQUIRE_OK(w->sync());
  // Before commit: nothing under the final name, nothing listed.
  BOOST_CHECK(!stat_of(v, info.reference));
  for (const auto& i : list_all(v)) BOOST_CHECK(i.kind != item_kind::file);
  check_listing_clean(v);
  REQUIRE_OK(w->commit(info));
  const auto s = stat_of(v, info.reference);
  BOOST_REQUIRE(s);
  BOOST_CHECK(s->kind == item_kind::file);
  BOOST_CHECK_EQUAL(s->size, 12u);
  BOOST_CHECK_EQUAL(s->mode, 0640u);
  BOOST_CHECK_EQUAL(s->mtime_ns, info.mtime_ns);
  BOOST_CHECK_EQUAL(content_of(v, info.reference), "hello, world");
  const auto listed = references(list_all(v));
  BOOST_CHECK(listed == (std::vector<std::string>{"d1/", "d1/d2/", "d1/d2/f.txt"}));
  check_listing_clean(v);
  CHECK_OK(v.sync());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(commit_replaces_and_drops_setuid, F, volume_fixtures) {
  F f;
  auto& v = *f.vol;
  put(v, item("x", 0644), "first version");
  put(v, item("x", 06755, 1'000'000'000), "second");
  const auto s = stat_of(v, "x");
  BOOST_REQUIRE(s);
  BOOST_CHECK_EQUAL(s->mode, 0755u);
  BOOST_CHECK_EQUAL(s->mtime_ns, 1'000'000'000);
  BOOST_CHECK_EQUAL(content_of(v, "x"), "second");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(resume_continues_from_the_offset, F, volume_fixtures) {
  F f;
  auto& v = *f.vol;
  const auto info = item("big/file.bin");
  {
    auto w = open_writer(v, info);
    REQUIRE_OK(w->write(std::string(100, 'A').data(), 100));
    REQUIRE_OK(w->sync());
  }  // dropped without commit: the temporary file stays
  BOOST_CHECK(!stat_of(v, info.reference));
  {
    auto w = open_writer(v, info, 60);  // truncated to the verified offset
    BOOST_CHECK_EQUAL(w->offset(), 60u);
    REQUIRE_OK(w->write(std::string(40, 'B').data(), 40));
    REQUIRE_OK(w->commit(info));
  }
  BOOST_CHECK_EQUAL(content_of(v, info.reference), std::string(60, 'A') + std::string(40, 'B'));
  {
    auto w = open_writer(v, info);
    REQUIRE_OK(w->write("0123456789", 10));
  }
  {
    auto w = open_writer(v, info, 50);  // the temporary file is shorter: continue at its end
    BOOST_CHECK_EQUAL(w->offset(), 10u);
  }
  {
    auto w = open_writer(v, info, 0);  // 0 starts afresh
    BOOST_CHECK_EQUAL(w->offset(), 0u);
    REQUIRE_OK(w->write("fresh", 5));
    REQUIRE_OK(w->commit(info));
  }
  BOOST_CHECK_EQUAL(content_of(v, info.reference), "fresh");
  check_listing_clean(v);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(abort_leaves_nothing, F, volume_fixtures) {
  F f;
  auto& v = *f.vol;
  const auto info = item("gone.txt");
  auto w = open_writer(v, info);
  REQUIRE_OK(w->write("data", 4));
  w->abort();
  BOOST_CHECK(!stat_of(v, info.reference));
  BOOST_CHECK(list_all(v).empty());
  BOOST_CHECK(tree_of(f.root).empty());
  auto again = open_writer(v, info, 4);
  BOOST_CHECK_EQUAL(again->offset(), 0u);  // no temporary file was left to resume
  again->abort();
}

BOOST_AUTO_TEST_CASE_TEMPLATE(copy_from_a_file_and_from_a_pipe, F, volume_fixtures) {
  F f;
  auto& v = *f.vol;
  std::string content;
  for (int k = 0; content.size() < 300000; ++k) content += std::to_string(k) + ',';
  write_file(f.base.path() / "source.dat", content);
  {
    const auto info = item("from-file");
    const int fd = ::open((f.base.path() / "source.dat").c_str(), O_RDONLY | O_CLOEXEC);
    BOOST_REQUIRE(fd >= 0);
    auto w = open_writer(v, info);
    for (;;) {
      auto n = w->copy_from(fd, 65536);
      BOOST_REQUIRE_MESSAGE(n, reason(n));
      if (*n == 0) break;
    }
    ::close(fd);
    BOOST_CHECK_EQUAL(w->offset(), content.size());
    REQUIRE_OK(w->commit(info));
    BOOST_CHECK(content_of(v, info.reference) == content);
  }
  {
    // A pipe cannot be copied inside the kernel: the writer falls back to read and write.
    const auto info = item("from-pipe");
    int p[2];
    BOOST_REQUIRE_EQUAL(::pipe(p), 0);
    const std::string small = content.substr(0, 5000);
    BOOST_REQUIRE_EQUAL(::write(p[1], small.data(), small.size()), 5000);
    ::close(p[1]);
    auto w = open_writer(v, info);
    for (;;) {
      auto n = w->copy_from(p[0], 1000);
      BOOST_REQUIRE_MESSAGE(n, reason(n));
      BOOST_REQUIRE_LE(*n, 1000u);
      if (*n == 0) break;
    }
    ::close(p[0]);
    REQUIRE_OK(w->commit(info));
    BOOST_CHECK(content_of(v, info.reference) == small);
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(directories_symlinks_and_mtimes, F, volume_fixtures) {
  F f;
  auto& v = *f.vol;
  REQUIRE_OK(v.make_directory(item("p/q/", 0750)));
  auto q = stat_of(v, "p/q/");
  BOOST_REQUIRE(q);
  BOOST_CHECK(q->kind == item_kind::directory);
  BOOST_CHECK_EQUAL(q->mode, 0750u);
  BOOST_CHECK(stat_of(v, "p/"));
  REQUIRE_OK(v.make_directory(item("p/q/", 0700)));  // again: only the mode changes
  BOOST_CHECK_EQUAL(stat_of(v, "p/q/")->mode, 0700u);
  REQUIRE_OK(v.set_mtime("p/q/", 1'234'567'890'000'000'001));
  BOOST_CHECK_EQUAL(stat_of(v, "p/q/")->mtime_ns, 1'234'567'890'000'000'001);

  REQUIRE_OK(v.make_symlink(item("p/s", 0777, 1'500'000'000'000'000'000, "target/one")));
  auto s = stat_of(v, "p/s");
  BOOST_REQUIRE(s);
  BOOST_CHECK(s->kind == item_kind::symlink);
  BOOST_CHECK_EQUAL(s->link_target, "target/one");
  BOOST_CHECK_EQUAL(s->mtime_ns, 1'500'000'000'000'000'000);
  REQUIRE_OK(v.make_symlink(item("p/s", 0777, 1'500'000'000'000'000'000, "two")));  // replaced
  BOOST_CHECK_EQUAL(stat_of(v, "p/s")->link_target, "two");
  CHECK_ERRC(v.open_reader("p/s", 0), connector_errc::invalid_path);  // never followed

  // Kinds follow references.
  BOOST_CHECK(!stat_of(v, "p/q"));
  BOOST_CHECK(!stat_of(v, "p/s/"));
  CHECK_ERRC(v.open_writer(item("p/dir/"), 0), connector_errc::invalid_path);
  CHECK_ERRC(v.make_directory(item("p/not-a-dir")), connector_errc::invalid_path);
  CHECK_ERRC(v.set_mtime("p/none", 0), connector_errc::not_found);

  const auto listed = list_all(v);
  BOOST_CHECK(references(listed) == (std::vector<std::string>{"p/", "p/q/", "p/s"}));
  check_listing_clean(v);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(remove_is_idempotent_recursive_and_kind_aware, F, volume_fixtures) {
  F f;
  auto& v = *f.vol;
  REQUIRE_OK(v.make_directory(item("t/u/", 0755)));
  put(v, item("t/a"), "a");
  put(v, item("t/u/b"), "b");
  REQUIRE_OK(v.make_symlink(item("t/l", 0777, 0, "../../outside")));
  put(v, item("k"), "file k");
  REQUIRE_OK(v.make_directory(item("m/", 0755)));

  // The other kind under the same name is left alone.
  REQUIRE_OK(v.remove("k/"));
  BOOST_CHECK(stat_of(v, "k"));
  REQUIRE_OK(v.remove("m"));
  BOOST_CHECK(stat_of(v, "m/"));

  REQUIRE_OK(v.remove("t/"));
  BOOST_CHECK(!stat_of(v, "t/"));
  BOOST_CHECK(!stat_of(v, "t/u/b"));
  REQUIRE_OK(v.remove("t/"));     // again
  REQUIRE_OK(v.remove("t/u/b"));  // its directory is gone
  REQUIRE_OK(v.remove("never/was"));
  REQUIRE_OK(v.remove("k"));
  REQUIRE_OK(v.remove("m/"));
  BOOST_CHECK(list_all(v).empty());
  BOOST_CHECK_EQUAL(slurp(f.outside / "keep"), "precious");

  // A file's temporary file goes with it.
  {
    auto w = open_writer(v, item("partial"));
    REQUIRE_OK(w->write("xyz", 3));
  }
  REQUIRE_OK(v.remove("partial"));
  BOOST_CHECK_EQUAL(open_writer(v, item("partial"), 3)->offset(), 0u);
  REQUIRE_OK(v.remove("partial"));
  BOOST_CHECK(tree_of(f.root).empty());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(escapes_fail_with_invalid_path_and_touch_nothing, F,
                              volume_fixtures) {
  F f;
  auto& v = *f.vol;
  const auto outside_before = tree_of(f.outside);
  const auto base_before = tree_of(f.base.path());
  for (const char* ref : {"../x", "/etc/passwd", "a/../../x", "../outside/keep", "..", ""}) {
    BOOST_TEST_CONTEXT("'" << ref << "'") {
      const std::string r = ref;
      CHECK_ERRC(v.open_writer(item(r), 0), connector_errc::invalid_path);
      CHECK_ERRC(v.make_directory(item(r + "/")), connector_errc::invalid_path);
      CHECK_ERRC(v.make_symlink(item(r, 0777, 0, "t")), connector_errc::invalid_path);
      CHECK_ERRC(v.set_mtime(r, 0), connector_errc::invalid_path);
      CHECK_ERRC(v.remove(r), connector_errc::invalid_path);
      CHECK_ERRC(v.stat(r), connector_errc::invalid_path);
      CHECK_ERRC(v.open_reader(r, 0), connector_errc::invalid_path);
    }
  }
  BOOST_CHECK(tree_of(f.base.path()) == base_before);

  // Symlinks inside the root that lead outside, absolute and relative: recorded as symlinks,
  // never gone through.
  REQUIRE_OK(v.make_symlink(item("out", 0777, 0, f.outside.string())));
  REQUIRE_OK(v.make_directory(item("in/", 0755)));
  REQUIRE_OK(v.make_symlink(item("in/up", 0777, 0, "../../outside")));
  for (const char* via : {"out/", "in/up/"}) {
    BOOST_TEST_CONTEXT(via) {
      const std::string p = via;
      CHECK_ERRC(v.open_writer(item(p + "x"), 0), connector_errc::invalid_path);
      CHECK_ERRC(v.open_writer(item(p + "keep"), 0), connector_errc::invalid_path);
      CHECK_ERRC(v.open_writer(item(p + "new/deeper"), 0), connector_errc::invalid_path);
      CHECK_ERRC(v.make_directory(item(p + "sub/")), connector_errc::invalid_path);
      CHECK_ERRC(v.make_symlink(item(p + "l", 0777, 0, "t")), connector_errc::invalid_path);
      CHECK_ERRC(v.set_mtime(p + "keep", 0), connector_errc::invalid_path);
      CHECK_ERRC(v.remove(p + "keep"), connector_errc::invalid_path);
      CHECK_ERRC(v.stat(p + "keep"), connector_errc::invalid_path);
      CHECK_ERRC(v.open_reader(p + "keep", 0), connector_errc::invalid_path);
    }
  }
  // Removing the symlinks, with either kind of reference, removes the links only.
  REQUIRE_OK(v.remove("out/"));
  REQUIRE_OK(v.remove("in/"));
  REQUIRE_OK(v.remove("out"));
  BOOST_CHECK(tree_of(f.outside) == outside_before);
  BOOST_CHECK_EQUAL(slurp(f.outside / "keep"), "precious");
  BOOST_CHECK(tree_of(f.root).empty());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(temporary_names_are_not_references, F, volume_fixtures) {
  F f;
  auto& v = *f.vol;
  auto w = open_writer(v, item("dir/name"));
  REQUIRE_OK(w->write("partial", 7));
  const auto temp = temporary_name("dir/name");
  CHECK_ERRC(v.open_writer(item(temp), 0), connector_errc::invalid_path);
  BOOST_CHECK(!stat_of(v, temp));
  BOOST_CHECK(references(list_all(v)) == std::vector<std::string>{"dir/"});
  check_listing_clean(v);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_target_is_a_volume_confined_to_its_directory, F, volume_fixtures) {
  F f;
  auto& v = *f.vol;
  // The whole volume is its own "" target.
  auto whole = v.target("");
  BOOST_REQUIRE_MESSAGE(whole, reason(whole));
  BOOST_CHECK(whole->get() == f.vol.get());
  // A target is made when missing and takes references relative to itself.
  auto t = v.target("ds/photos");
  BOOST_REQUIRE_MESSAGE(t, reason(t));
  put(**t, item("a/x.txt"), "x");
  BOOST_CHECK_EQUAL(slurp(f.root / "ds/photos/a/x.txt"), "x");
  BOOST_CHECK(references(list_all(**t)) == (std::vector<std::string>{"a/", "a/x.txt"}));
  REQUIRE_OK((*t)->remove("a/"));
  BOOST_CHECK(!fs::exists(f.root / "ds/photos/a"));
  BOOST_CHECK(fs::is_directory(f.root / "ds/photos"));
  // Bad targets touch nothing.
  for (const char* bad : {"/abs", "..", "a/../b", "a//b", "a/", "./a"})
    CHECK_ERRC(v.target(bad), connector_errc::invalid_path);
  // A symlink where the target should be is refused, not followed.
  BOOST_REQUIRE_EQUAL(::symlink(f.outside.c_str(), (f.root / "link").c_str()), 0);
  BOOST_CHECK(!v.target("link"));
  BOOST_CHECK(!v.target("link/deeper"));
  BOOST_CHECK_EQUAL(slurp(f.outside / "keep"), "precious");
  BOOST_CHECK(!fs::exists(f.outside / "deeper"));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(missing_items_are_absent, F, volume_fixtures) {
  F f;
  auto& v = *f.vol;
  BOOST_CHECK(!stat_of(v, "nothing"));
  BOOST_CHECK(!stat_of(v, "nothing/deeper"));
  BOOST_CHECK(!stat_of(v, "nothing/"));
  CHECK_ERRC(v.open_reader("nothing", 0), connector_errc::not_found);
  CHECK_ERRC(v.open_reader("nothing/deeper", 0), connector_errc::not_found);
}

BOOST_AUTO_TEST_SUITE_END()
