// actors/tracker_json.hpp: the JSON the tracker reads and writes besides elements themselves:
// id lists, credentials, search_mongo requests, errors, status trees and Prometheus text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "actors/messages.hpp"
#include "actors/text.hpp"
#include "storage/change_feed.hpp"
#include "storage/element_query.hpp"

namespace syncline::storage {
class transfer_queue;
}

namespace syncline::actors {

/// `{"error":code,"message":message}`; bytes of `message` that are not UTF-8 are replaced.
std::string error_json(std::string_view code, std::string_view message);

/// What a client should read of `err`: its context text when it has one, else its rendering.
std::string error_message(const caf::error& err);

/// The ids of a request body.
struct id_list {
  std::vector<std::string> ids;
  /// The body was an array (damas-core then answers an array even for one id).
  bool array = false;
};

/// Parses an id (a string, or a number taken as its decimal text) or an array of them. Fails
/// with `storage_errc::invalid_json` or `invalid_argument` naming the bad item.
[[nodiscard]] caf::expected<id_list> parse_id_list(std::string_view json);

/// The user named by the `lock` key of a stored element, if it has one.
std::optional<std::string> lock_owner(std::string_view element_json);

/// The value of a string member of a stored element, if it has one.
std::optional<std::string> string_member(std::string_view element_json, std::string_view key);

/// A search_mongo request: `{query, sort, limit, skip}` as JSON, or a form (or JSON) whose
/// `queryobj` holds that object as text (damas-core accepts both). A body starting with `{` is
/// JSON whatever `form` says.
struct mongo_request {
  std::string query_json = "{}";
  storage::search_options options;
};
[[nodiscard]] caf::expected<mongo_request> parse_mongo_request(std::string_view body, bool form);

/// signIn and createToken fields, from a form or a JSON object.
struct credentials {
  std::string username;  ///< `username`, or `email` when no username is given
  std::string password;
  std::string expires_in;  ///< as written; empty when absent
  bool expires_in_is_number = false;
};
/// A body starting with `{` is read as JSON and any other as a form, whatever `form` (the
/// Content-Type) says: damas-core's clients label forms as JSON, and curl JSON as forms.
[[nodiscard]] caf::expected<credentials> parse_credentials(std::string_view body, bool form);

/// A token lifetime in milliseconds: a number of seconds (`number`, from JSON), or the `ms`
/// package's text: `"90s"`, `"2 hours"`, `"1d"`, `"1.5h"`; a bare number in text is
/// milliseconds, as there. Nullopt when unreadable.
std::optional<int64_t> parse_duration_ms(std::string_view text, bool number);

/// The change feed's answer (docs/api.md, "Change feed"):
/// `{"results":[{"seq":1,"id":"/a","at":1700000000000},{"seq":2,"id":"/b","deleted":true,...}],
/// "last_seq":2}`, with `"reset":true` when the follower must read every element first.
std::string changes_json(const storage::change_page& page);

}  // namespace syncline::actors
