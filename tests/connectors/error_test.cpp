// tests/connectors/error_test.cpp: the error enum, errno conversion, references and temporary
// names.
#define BOOST_TEST_MODULE connectors_error
#include "connectors/error.hpp"

#include <cerrno>
#include <string>
#include <utility>

#include <boost/test/unit_test.hpp>

#include "connectors/item.hpp"
#include "connectors/volume.hpp"
#include "tests/connectors/connector_test_util.hpp"

using namespace syncline::connectors;

BOOST_AUTO_TEST_CASE(every_code_has_a_name) {
  for (int c = 1; c <= static_cast<int>(connector_errc::unsupported); ++c) {
    BOOST_CHECK_NE(std::string{to_string(static_cast<connector_errc>(c))}, "unknown");
  }
  BOOST_CHECK_EQUAL(std::string{to_string(connector_errc::changed_during_copy)},
                    "changed_during_copy");
  BOOST_CHECK_EQUAL(std::string{to_string(item_kind::unreadable)}, "unreadable");
}

BOOST_AUTO_TEST_CASE(make_error_carries_category_code_and_context) {
  const caf::error e = make_error(connector_errc::busy, "try later");
  BOOST_CHECK(e.category() == connector_category);
  BOOST_CHECK(is(e, connector_errc::busy));
  BOOST_CHECK(!is(e, connector_errc::io_error));
  BOOST_CHECK(!is(caf::error{}, connector_errc::busy));
  BOOST_CHECK_EQUAL(render(e), "busy: try later");
  BOOST_CHECK_EQUAL(render(make_error(connector_errc::cancelled)), "cancelled");
  BOOST_CHECK_EQUAL(render(caf::error{}), "no error");
}

BOOST_AUTO_TEST_CASE(errno_values_map_to_codes) {
  const std::pair<int, connector_errc> table[] = {
      {EIO, connector_errc::io_error},
      {EINTR, connector_errc::io_error},
      {EAGAIN, connector_errc::io_error},
      {ETIMEDOUT, connector_errc::io_error},
      {ENFILE, connector_errc::io_error},
      {EMFILE, connector_errc::io_error},
      {EBUSY, connector_errc::busy},
      {EACCES, connector_errc::permission_denied},
      {EPERM, connector_errc::permission_denied},
      {EROFS, connector_errc::permission_denied},
      {ENOENT, connector_errc::not_found},
      {ENOTDIR, connector_errc::not_found},
      {ENOSPC, connector_errc::no_space},
      {EDQUOT, connector_errc::no_space},
      {ELOOP, connector_errc::invalid_path},
      {EXDEV, connector_errc::invalid_path},
      {ENAMETOOLONG, connector_errc::invalid_path},
      {EINVAL, connector_errc::io_error},
      {ENOTEMPTY, connector_errc::io_error},
      {12345, connector_errc::io_error},
  };
  for (const auto& [err, code] : table) {
    BOOST_TEST_CONTEXT("errno " << err) {
      CHECK_ERRC(from_errno(err, "op"), code);
    }
  }
}

BOOST_AUTO_TEST_CASE(errno_messages_name_operation_path_and_reason) {
  BOOST_CHECK_EQUAL(render(from_errno(EACCES, "open /x/y")),
                    "permission_denied: open /x/y: Permission denied");
  BOOST_CHECK_EQUAL(render(from_errno(ENOSPC, "write /v/f")),
                    "no_space: write /v/f: No space left on device");
}

BOOST_AUTO_TEST_CASE(valid_references) {
  for (const char* ref : {"a", "a/", "a/b", "a/b/", "a b/c d", ".hidden", "..x", "x..", "a/.b/",
                          "\xc3\xa9", "\xff\xfe", "a\nb", "...", "a/.../b"}) {
    BOOST_TEST_CONTEXT("'" << ref << "'") {
      CHECK_OK(validate_reference(ref));
    }
  }
}

BOOST_AUTO_TEST_CASE(invalid_references) {
  for (const char* ref : {"", "/", "/a", "a//b", "a//", "//", ".", "..", "./", "../", "a/.",
                          "a/./b", "a/..", "a/../b", "../a", "./a", "a/./", "a/../"}) {
    BOOST_TEST_CONTEXT("'" << ref << "'") {
      CHECK_ERRC(validate_reference(ref), connector_errc::invalid_path);
    }
  }
  CHECK_ERRC(validate_reference(std::string("a\0b", 3)), connector_errc::invalid_path);
  // The message names the reference and the problem.
  BOOST_CHECK_EQUAL(render(validate_reference("a/../b")),
                    "invalid_path: reference 'a/../b': '..' segment");
}

BOOST_AUTO_TEST_CASE(temporary_names) {
  // `.<name>.<8 hex of the reference's XXH3-64>.syncline-part`, beside the final name.
  const auto t = temporary_name("a/b/c.txt");
  BOOST_CHECK_EQUAL(t.substr(0, 9), "a/b/.c.tx");
  BOOST_CHECK_EQUAL(t.size(), std::string{"a/b/.c.txt.12345678.syncline-part"}.size());
  BOOST_CHECK(is_temporary_name("a/b/", t.substr(4)));
  // Stable (a resume finds its file) and its own: another reference has another name.
  BOOST_CHECK_EQUAL(temporary_name("a/b/c.txt"), t);
  BOOST_CHECK_NE(temporary_name("a/x/c.txt").substr(4), t.substr(4));
  BOOST_CHECK(!is_temporary_name("a/x/", t.substr(4)));
  BOOST_CHECK_EQUAL(temporary_name("d/"), temporary_name("d"));
  // Names that merely look like ours are not.
  BOOST_CHECK(!is_temporary_name("", ".c.txt.syncline-part"));
  BOOST_CHECK(!is_temporary_name("", ".x.00000000.syncline-part") ||
              temporary_name("x") == ".x.00000000.syncline-part");
  BOOST_CHECK(!is_temporary_name("", "x.syncline-part"));
  BOOST_CHECK(!is_temporary_name("", ".syncline-part"));
  BOOST_CHECK(!is_temporary_name("", "..syncline-part"));
  BOOST_CHECK(!is_temporary_name("", "plain"));
  const auto x = temporary_name("x");
  BOOST_CHECK(!is_temporary_name("", x + ".bak"));
  // Every temporary name is recognised as one, and never exceeds NAME_MAX.
  const std::string long_name(250, 'n');
  for (std::string ref : {std::string{"a"}, std::string{"dir/file.bin"}, std::string{".hidden"},
                          std::string{"a/.syncline-part"}, long_name, "d/" + long_name}) {
    const std::string tn = temporary_name(ref);
    const auto slash = tn.find_last_of('/');
    const auto name = slash == std::string::npos ? tn : tn.substr(slash + 1);
    const auto parent = slash == std::string::npos ? std::string{} : tn.substr(0, slash + 1);
    BOOST_CHECK_MESSAGE(is_temporary_name(parent, name), ref);
    BOOST_CHECK_LE(name.size(), 255u);
  }
  BOOST_CHECK_EQUAL(temporary_name(long_name).size(), 1 + 16 + 14u);
}
