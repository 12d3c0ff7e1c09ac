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
  BOOST_CHECK_EQUAL(temporary_name("a/b/c.txt"), "a/b/.c.txt.syncline-part");
  BOOST_CHECK_EQUAL(temporary_name("x"), ".x.syncline-part");
  BOOST_CHECK_EQUAL(temporary_name("d/"), ".d.syncline-part");
  BOOST_CHECK(is_temporary_name(".c.txt.syncline-part"));
  BOOST_CHECK(is_temporary_name(".x.syncline-part"));
  BOOST_CHECK(!is_temporary_name("x.syncline-part"));
  BOOST_CHECK(!is_temporary_name(".syncline-part"));
  BOOST_CHECK(!is_temporary_name("..syncline-part"));
  BOOST_CHECK(!is_temporary_name(".x.syncline-part.bak"));
  BOOST_CHECK(!is_temporary_name("plain"));
  // Every temporary name is recognised as one.
  for (const char* ref : {"a", "dir/file.bin", ".hidden", "a/.syncline-part"}) {
    const std::string t = temporary_name(ref);
    BOOST_CHECK(is_temporary_name(t.substr(t.find_last_of('/') + 1)));
  }
}
