// tests/connectors/connector_test_util.hpp: small helpers shared by the connector suites.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <memory>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <caf/expected.hpp>

#include "connectors/error.hpp"
#include "connectors/source.hpp"
#include "connectors/volume.hpp"
#include "tests/temp_dir.hpp"

namespace syncline::test {

/// The error of a failed `expected` as text, or an empty string when it holds a value.
template <class T>
std::string reason(const caf::expected<T>& x) {
  return x ? std::string{} : connectors::render(x.error());
}
inline std::string reason(const caf::error& err) {
  return connectors::render(err);
}

template <class T>
caf::error error_of(const caf::expected<T>& x) {
  return x ? caf::error{} : x.error();
}
inline caf::error error_of(const caf::error& err) {
  return err;
}

}  // namespace syncline::test

/// Checks that `x` (a `caf::error` or a `caf::expected`) failed with connector code `code`.
#define CHECK_ERRC(x, code)                                                                        \
  do {                                                                                             \
    const caf::error check_errc_err_ = ::syncline::test::error_of(x);                              \
    BOOST_CHECK_MESSAGE(::syncline::connectors::is(check_errc_err_, code),                         \
                        #x << ": expected " << ::syncline::connectors::to_string(code) << ", got " \
                           << ::syncline::connectors::render(check_errc_err_));                    \
  } while (false)

/// Requires (checks) that `x` (a `caf::error` or a `caf::expected`) succeeded. `x` is evaluated
/// once: Boost.Test builds the message whether or not the check fails.
#define REQUIRE_OK(x)                                                                     \
  do {                                                                                    \
    const caf::error require_ok_err_ = ::syncline::test::error_of(x);                     \
    BOOST_REQUIRE_MESSAGE(!require_ok_err_,                                               \
                          #x << ": " << ::syncline::connectors::render(require_ok_err_)); \
  } while (false)
#define CHECK_OK(x)                                                                   \
  do {                                                                                \
    const caf::error check_ok_err_ = ::syncline::test::error_of(x);                   \
    BOOST_CHECK_MESSAGE(!check_ok_err_,                                               \
                        #x << ": " << ::syncline::connectors::render(check_ok_err_)); \
  } while (false)

namespace syncline::test {

/// Every item of a listing, taken in batches of `batch`.
inline std::vector<connectors::item_info> drain(connectors::listing& l, size_t batch = 1000) {
  std::vector<connectors::item_info> items;
  for (;;) {
    const size_t before = items.size();
    auto more = l.next(items, batch);
    BOOST_REQUIRE_MESSAGE(more, "listing failed: " << reason(more));
    BOOST_REQUIRE_LE(items.size() - before, batch);
    if (!*more) break;
  }
  return items;
}

template <class Lister>
std::vector<connectors::item_info> list_all(Lister& l, size_t batch = 1000) {
  auto listing = l.list();
  BOOST_REQUIRE_MESSAGE(listing, "list: " << reason(listing));
  return drain(**listing, batch);
}

inline std::vector<std::string> references(const std::vector<connectors::item_info>& items) {
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back(i.reference);
  return out;
}

/// The whole content of a reader, read in chunks of `chunk` bytes.
inline std::string read_all(connectors::item_reader& r, size_t chunk = 4096) {
  std::string out;
  std::string buf(chunk, '\0');
  for (;;) {
    auto n = r.read(buf.data(), buf.size());
    BOOST_REQUIRE_MESSAGE(n, "read: " << reason(n));
    if (*n == 0) break;
    out.append(buf.data(), *n);
  }
  return out;
}

/// Writes `content` to `path` (creating or truncating it) with `mode`.
inline void write_file(const std::filesystem::path& path, const std::string& content,
                       mode_t mode = 0644) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  BOOST_REQUIRE_MESSAGE(fd >= 0, "create " << path);
  BOOST_REQUIRE_EQUAL(::write(fd, content.data(), content.size()),
                      static_cast<ssize_t>(content.size()));
  BOOST_REQUIRE_EQUAL(::fchmod(fd, mode), 0);
  ::close(fd);
}

inline std::string slurp(const std::filesystem::path& path) {
  std::string out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  BOOST_REQUIRE_MESSAGE(fd >= 0, "open " << path);
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

/// Every path below `dir` (relative, sorted), to show that nothing appeared or vanished.
inline std::vector<std::string> tree_of(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    out.push_back(std::filesystem::relative(it->path(), dir).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// An item description for writers and `make_*` calls.
inline connectors::item_info item(std::string reference, uint32_t mode = 0644,
                                  int64_t mtime_ns = 1'600'000'000'123'456'789,
                                  std::string link_target = {}) {
  connectors::item_info info;
  info.reference = std::move(reference);
  info.kind = !info.reference.empty() && info.reference.back() == '/'
                  ? connectors::item_kind::directory
              : link_target.empty() ? connectors::item_kind::file
                                    : connectors::item_kind::symlink;
  info.mode = mode;
  info.mtime_ns = mtime_ns;
  info.link_target = std::move(link_target);
  return info;
}

/// A volume's directories: its root is `base/root`; `base/outside` holds a file that no call may
/// touch.
struct volume_fixture_base {
  temp_dir base{"conformance-vol"};
  std::filesystem::path root = base.path() / "root";
  std::filesystem::path outside = base.path() / "outside";

  volume_fixture_base() {
    std::filesystem::create_directories(root);
    std::filesystem::create_directories(outside);
    write_file(outside / "keep", "precious");
  }
};

inline std::unique_ptr<connectors::item_writer> open_writer(connectors::volume& v,
                                                            const connectors::item_info& info,
                                                            uint64_t resume = 0) {
  auto w = v.open_writer(info, resume);
  BOOST_REQUIRE_MESSAGE(w, "open_writer " << info.reference << ": " << reason(w));
  return std::move(*w);
}

/// Writes `content` as `info` through a writer and commits it.
inline void put(connectors::volume& v, const connectors::item_info& info,
                const std::string& content) {
  auto w = open_writer(v, info);
  REQUIRE_OK(w->write(content.data(), content.size()));
  REQUIRE_OK(w->commit(info));
}

}  // namespace syncline::test
