// tests/connectors/local_source_test.cpp: what is particular to the local folder source: order
// on awkward names, symlinks, unreadable entries, filters, configuration errors.
#define BOOST_TEST_MODULE connectors_local_source
#include "connectors/local_source.hpp"

#include <algorithm>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <grp.h>
#include <linux/capability.h>
#include <string>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "connectors/error.hpp"
#include "connectors/volume.hpp"
#include "tests/connectors/connector_test_util.hpp"
#include "tests/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace syncline::connectors;
using namespace syncline::test;

namespace {

std::unique_ptr<local_source> make_source(const fs::path& root,
                                          std::vector<std::string> include = {},
                                          std::vector<std::string> exclude = {}) {
  auto s = local_source::make({root.string(), std::move(include), std::move(exclude)});
  BOOST_REQUIRE_MESSAGE(s, reason(s));
  return std::move(*s);
}

void set_mtime(const fs::path& p, int64_t ns) {
  struct timespec times[2];
  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_OMIT;
  times[1].tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  times[1].tv_nsec = static_cast<long>(ns % 1'000'000'000);
  BOOST_REQUIRE_EQUAL(::utimensat(AT_FDCWD, p.c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
}

}  // namespace

BOOST_AUTO_TEST_CASE(awkward_names_list_in_reference_byte_order) {
  temp_dir dir{"src-order"};
  const auto& r = dir.path();
  const std::vector<std::string> files = {"a.txt",
                                          "a/b",
                                          "a/b c",
                                          "a/c/d",
                                          "a/c.e",
                                          "a0",
                                          "a b",
                                          "A",
                                          "a-",
                                          ".hidden",
                                          "\xc3\xa9t\xc3\xa9.txt",
                                          "\xff",
                                          "\x80x",
                                          "z\nnewline",
                                          "a/\xc3\xa9/x",
                                          "ab/c",
                                          "a.b/c"};
  const std::vector<std::string> dirs = {"a/", "a/c/", "a/\xc3\xa9/", "b/", "ab/", "a.b/"};
  for (const auto& d : dirs) fs::create_directories(r / d);
  for (const auto& f : files) write_file(r / f, f);
  std::vector<std::string> expected = files;
  expected.insert(expected.end(), dirs.begin(), dirs.end());
  std::sort(expected.begin(), expected.end());  // plain byte order: the definition
  auto src = make_source(r);
  const auto items = list_all(*src);
  const auto refs = references(items);
  BOOST_CHECK_EQUAL_COLLECTIONS(refs.begin(), refs.end(), expected.begin(), expected.end());
  // The classic trap: `a.txt` < `a/` < `a/b` < `a0`.
  auto at = [&](const std::string& s) {
    return std::find(refs.begin(), refs.end(), s) - refs.begin();
  };
  BOOST_CHECK_LT(at("a.txt"), at("a/"));
  BOOST_CHECK_LT(at("a/c.e"), at("a/c/"));
  BOOST_CHECK_LT(at("a/\xc3\xa9/x"), at("a0"));
  for (const auto& i : items) {
    if (i.kind == item_kind::file) {
      auto rd = src->open(i.reference, 0);
      BOOST_REQUIRE_MESSAGE(rd, reason(rd));
      BOOST_CHECK(read_all(**rd) == i.reference);
    }
  }
}

BOOST_AUTO_TEST_CASE(items_carry_lstat_data) {
  temp_dir dir{"src-stat"};
  const auto& r = dir.path();
  fs::create_directories(r / "d");
  write_file(r / "d" / "f", std::string(12345, 'x'), 0640);
  set_mtime(r / "d" / "f", 1'234'567'890'987'654'321);
  BOOST_REQUIRE_EQUAL(::chmod((r / "d").c_str(), 0711), 0);
  set_mtime(r / "d", 1'000'000'000'000'000'001);
  auto src = make_source(r);
  const auto items = list_all(*src);
  BOOST_REQUIRE_EQUAL(items.size(), 2u);
  BOOST_CHECK_EQUAL(items[0].reference, "d/");
  BOOST_CHECK(items[0].kind == item_kind::directory);
  BOOST_CHECK_EQUAL(items[0].mode, 0711u);
  BOOST_CHECK_EQUAL(items[0].mtime_ns, 1'000'000'000'000'000'001);
  BOOST_CHECK_EQUAL(items[1].reference, "d/f");
  BOOST_CHECK_EQUAL(items[1].size, 12345u);
  BOOST_CHECK_EQUAL(items[1].mode, 0640u);
  BOOST_CHECK_EQUAL(items[1].mtime_ns, 1'234'567'890'987'654'321);
  BOOST_CHECK(!items[1].hash);
  // The kind is part of the reference.
  CHECK_ERRC(src->stat("d"), connector_errc::not_found);
  CHECK_ERRC(src->stat("d/f/"), connector_errc::not_found);
  CHECK_ERRC(src->open("d", 0), connector_errc::not_found);
}

BOOST_AUTO_TEST_CASE(symlinks_are_recorded_never_followed) {
  temp_dir dir{"src-links"};
  temp_dir elsewhere{"src-links-out"};
  const auto& r = dir.path();
  fs::create_directories(r / "real");
  write_file(r / "real" / "f", "inside");
  write_file(elsewhere.path() / "secret", "outside");
  BOOST_REQUIRE_EQUAL(::symlink("real", (r / "to_dir").c_str()), 0);
  BOOST_REQUIRE_EQUAL(::symlink(elsewhere.path().c_str(), (r / "to_out").c_str()), 0);
  BOOST_REQUIRE_EQUAL(::symlink("nowhere", (r / "dangling").c_str()), 0);
  BOOST_REQUIRE_EQUAL(::symlink("real/f", (r / "to_file").c_str()), 0);
  auto src = make_source(r);
  const auto items = list_all(*src);
  BOOST_CHECK(references(items) == (std::vector<std::string>{"dangling", "real/", "real/f",
                                                             "to_dir", "to_file", "to_out"}));
  for (const auto& i : items) {
    if (i.reference.rfind("to_", 0) == 0 || i.reference == "dangling") {
      BOOST_CHECK(i.kind == item_kind::symlink);
      BOOST_CHECK_EQUAL(i.size, 0u);
    }
  }
  BOOST_CHECK_EQUAL(items[0].link_target, "nowhere");
  BOOST_CHECK_EQUAL(items[5].link_target, elsewhere.path().string());
  auto st = src->stat("to_dir");
  BOOST_REQUIRE_MESSAGE(st, reason(st));
  BOOST_CHECK(st->kind == item_kind::symlink);
  BOOST_CHECK_EQUAL(st->link_target, "real");
  // Nothing is reached through a symlink.
  CHECK_ERRC(src->stat("to_dir/f"), connector_errc::invalid_path);
  CHECK_ERRC(src->open("to_dir/f", 0), connector_errc::invalid_path);
  CHECK_ERRC(src->stat("to_out/secret"), connector_errc::invalid_path);
  CHECK_ERRC(src->open("to_out/secret", 0), connector_errc::invalid_path);
  CHECK_ERRC(src->open("to_file", 0), connector_errc::invalid_path);
  CHECK_ERRC(src->stat("to_dir/"), connector_errc::not_found);
}

BOOST_AUTO_TEST_CASE(special_files_are_skipped_and_temporary_looking_names_are_files) {
  temp_dir dir{"src-skip"};
  const auto& r = dir.path();
  write_file(r / "a", "a");
  // A source is not a volume: a file named like a temporary file is a file like any other.
  write_file(r / temporary_name("a"), "partial");
  write_file(r / ".b.syncline-part", "b");
  fs::create_directories(r / "d");
  BOOST_REQUIRE_EQUAL(::mkfifo((r / "fifo").c_str(), 0644), 0);
  auto src = make_source(r);
  BOOST_CHECK(references(list_all(*src)) ==
              (std::vector<std::string>{temporary_name("a"), ".b.syncline-part", "a", "d/"}));
  BOOST_CHECK(static_cast<bool>(src->stat(temporary_name("a"))));
  BOOST_CHECK(static_cast<bool>(src->open(".b.syncline-part", 0)));
  CHECK_ERRC(src->stat("fifo"), connector_errc::not_found);
  CHECK_ERRC(src->open("fifo", 0), connector_errc::not_found);  // and it did not block
}

BOOST_AUTO_TEST_CASE(include_and_exclude_globs) {
  temp_dir dir{"src-filter"};
  const auto& r = dir.path();
  for (const char* d : {"img", "docs", "tmp", "cache", "deep/cache", "deep/x"}) {
    fs::create_directories(r / d);
  }
  for (const char* f : {"img/a.jpg", "img/b.png", "docs/x.jpg", "tmp/c.jpg", "x.bak", "top.jpg",
                        "cache/y.jpg", "deep/cache/z.jpg", "deep/x/w.jpg", "deep/x/w.jpg.bak"}) {
    write_file(r / f, f);
  }
  auto src = make_source(r, {"*.jpg"}, {"/tmp", "*.bak", "cache/"});
  BOOST_CHECK(references(list_all(*src)) ==
              (std::vector<std::string>{"deep/", "deep/x/", "deep/x/w.jpg", "docs/", "docs/x.jpg",
                                        "img/", "img/a.jpg", "top.jpg"}));
  // stat and open agree with the listing.
  CHECK_OK(src->stat("img/a.jpg"));
  CHECK_ERRC(src->stat("img/b.png"), connector_errc::not_found);
  CHECK_ERRC(src->stat("tmp/c.jpg"), connector_errc::not_found);
  CHECK_ERRC(src->stat("tmp/"), connector_errc::not_found);
  CHECK_ERRC(src->stat("deep/cache/z.jpg"), connector_errc::not_found);
  CHECK_ERRC(src->open("tmp/c.jpg", 0), connector_errc::not_found);
  CHECK_ERRC(src->open("x.bak", 0), connector_errc::not_found);
  CHECK_OK(src->open("docs/x.jpg", 0));
  // Only excludes.
  auto src2 = make_source(r, {}, {"deep/", "*.png"});
  const auto refs = references(list_all(*src2));
  BOOST_CHECK(std::find(refs.begin(), refs.end(), "img/b.png") == refs.end());
  BOOST_CHECK(std::find(refs.begin(), refs.end(), "x.bak") != refs.end());
  BOOST_CHECK(std::find_if(refs.begin(), refs.end(), [](const std::string& s) {
                return s.rfind("deep", 0) == 0;
              }) == refs.end());
}

BOOST_AUTO_TEST_CASE(configuration_errors) {
  temp_dir dir{"src-config"};
  auto bad = local_source::make({dir.path().string(), {"[unclosed"}, {}});
  CHECK_ERRC(bad, connector_errc::bad_config);
  if (!bad) BOOST_CHECK(render(bad.error()).find("[unclosed") != std::string::npos);
  CHECK_ERRC(local_source::make({"", {}, {}}), connector_errc::bad_config);

  // A missing root is a configuration problem, never an empty listing (which would read as
  // "everything was deleted") nor `not_found` items.
  auto missing = make_source(dir.path() / "missing");
  CHECK_ERRC(missing->check(), connector_errc::bad_config);
  CHECK_ERRC(missing->list(), connector_errc::bad_config);
  CHECK_ERRC(missing->stat("a"), connector_errc::bad_config);
  CHECK_ERRC(missing->open("a", 0), connector_errc::bad_config);
  write_file(dir.path() / "file", "x");
  auto not_dir = make_source(dir.path() / "file");
  CHECK_ERRC(not_dir->check(), connector_errc::bad_config);
  CHECK_ERRC(not_dir->list(), connector_errc::bad_config);
  BOOST_CHECK_EQUAL(make_source(dir.path())->describe(), "folder " + dir.path().string());
}

BOOST_AUTO_TEST_CASE(readers_share_the_descriptor_position_and_notice_changes) {
  temp_dir dir{"src-reader"};
  write_file(dir / "f", "0123456789");
  auto src = make_source(dir.path());
  auto r = src->open("f", 3);
  BOOST_REQUIRE_MESSAGE(r, reason(r));
  const int fd = (*r)->native_handle();
  BOOST_REQUIRE_GE(fd, 0);
  char buf[4];
  BOOST_REQUIRE_EQUAL(::read(fd, buf, 4), 4);  // as a copy_file_range would
  (*r)->skip(4);
  BOOST_CHECK_EQUAL(std::string(buf, 4), "3456");
  BOOST_CHECK_EQUAL(read_all(**r), "789");
  auto changed = (*r)->changed();
  BOOST_REQUIRE(changed);
  BOOST_CHECK(!*changed);
  write_file(dir / "f", "0123456789+");  // same inode, truncated and rewritten
  changed = (*r)->changed();
  BOOST_REQUIRE(changed);
  BOOST_CHECK(*changed);
  CHECK_ERRC(src->open("f/", 0), connector_errc::invalid_path);
}

// Unreadable entries. Root reads everything, so the listing runs in a child process that first
// gives up root's privileges: it becomes `nobody` (uid 65534), or, where that is impossible (a user
// namespace without that uid), drops the capabilities that let root ignore permissions. The child
// proves the drop worked before listing.

namespace {

std::string drop_privileges() {
  if (::geteuid() != 0) return {};
  if (::setgroups(0, nullptr) == 0 && ::setgid(65534) == 0 && ::setuid(65534) == 0) {
    ::prctl(PR_SET_DUMPABLE, 1);  // keep /proc/self readable for the sanitizers
    return {};
  }
  struct __user_cap_header_struct header;
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  struct __user_cap_data_struct data[2];
  if (::syscall(SYS_capget, &header, data) != 0) return "capget failed";
  const uint32_t dac = (1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH) | (1u << CAP_FOWNER);
  data[0].effective &= ~dac;
  if (::syscall(SYS_capset, &header, data) != 0) return "neither setuid nor capset worked";
  return {};
}

// Runs `body` in a child without privileges; its output, or a failure of the test.
std::string run_unprivileged(const std::function<std::string()>& body) {
  int p[2];
  BOOST_REQUIRE_EQUAL(::pipe(p), 0);
  const pid_t pid = ::fork();
  BOOST_REQUIRE_GE(pid, 0);
  if (pid == 0) {
    ::close(p[0]);
    const std::string why = drop_privileges();
    const std::string out = why.empty() ? body() : "DROP FAILED: " + why;
    for (size_t at = 0; at < out.size();) {
      const ssize_t n = ::write(p[1], out.data() + at, out.size() - at);
      if (n <= 0) break;
      at += static_cast<size_t>(n);
    }
    ::_exit(why.empty() ? 0 : 3);
  }
  ::close(p[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  int status = 0;
  BOOST_REQUIRE_EQUAL(::waitpid(pid, &status, 0), pid);
  BOOST_REQUIRE_MESSAGE(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: " << out);
  return out;
}

std::string describe(const caf::error& err) {
  return err ? to_string(static_cast<connector_errc>(err.code())) : "-";
}

}  // namespace

BOOST_AUTO_TEST_CASE(unreadable_entries_are_reported_in_place_and_the_listing_goes_on) {
  temp_dir dir{"src-unreadable"};
  const auto& r = dir.path();
  fs::create_directories(r / "locked");
  fs::create_directories(r / "noexec" / "sub");
  write_file(r / "a.txt", "a");
  write_file(r / "locked" / "secret", "s");
  write_file(r / "noexec" / "f1", "f");
  write_file(r / "private", "p", 0000);
  write_file(r / "z.txt", "z");
  BOOST_REQUIRE_EQUAL(::chmod(r.c_str(), 0755), 0);
  BOOST_REQUIRE_EQUAL(::chmod((r / "locked").c_str(), 0000), 0);
  BOOST_REQUIRE_EQUAL(::chmod((r / "noexec").c_str(), 0444), 0);  // names readable, not stat-able

  const std::string out = run_unprivileged([&]() -> std::string {
    const int probe = ::open((r / "locked").c_str(), O_RDONLY | O_DIRECTORY);
    if (probe >= 0 || errno != EACCES) return "privileges still effective";
    auto src = local_source::make({r.string(), {}, {}});
    if (!src) return "make: " + render(src.error());
    auto l = (*src)->list();
    if (!l) return "list: " + render(l.error());
    std::vector<item_info> items;
    for (;;) {
      auto more = (*l)->next(items, 2);
      if (!more) return "next: " + render(more.error());
      if (!*more) break;
    }
    std::string s;
    for (const auto& i : items) {
      s += i.reference + " " + to_string(i.kind) + " " + describe(i.error) + "\n";
    }
    s += "stat noexec/f1: " + describe(error_of((*src)->stat("noexec/f1"))) + "\n";
    s += "stat locked/secret: " + describe(error_of((*src)->stat("locked/secret"))) + "\n";
    s += "open private: " + describe(error_of((*src)->open("private", 0))) + "\n";
    s += "open a.txt: " + describe(error_of((*src)->open("a.txt", 0))) + "\n";
    return s;
  });

  BOOST_CHECK_EQUAL(out,
                    "a.txt file -\n"
                    "locked/ unreadable permission_denied\n"
                    "noexec/ directory -\n"
                    "noexec/f1 unreadable permission_denied\n"
                    "noexec/sub/ unreadable permission_denied\n"
                    "private file -\n"
                    "z.txt file -\n"
                    "stat noexec/f1: permission_denied\n"
                    "stat locked/secret: permission_denied\n"
                    "open private: permission_denied\n"
                    "open a.txt: -\n");
  BOOST_REQUIRE_EQUAL(::chmod((r / "locked").c_str(), 0755), 0);
  BOOST_REQUIRE_EQUAL(::chmod((r / "noexec").c_str(), 0755), 0);
}
