// actors/datasource_api_ops.hpp: what the datasource API's two files share (the actor in
// datasource_api_actor.cpp, the storage operations in datasource_api_ops.cpp). Internal to
// actors/.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <rapidjson/document.h>

#include "actors/datasource_api_actor.hpp"
#include "actors/messages.hpp"
#include "actors/records.hpp"
#include "storage/datasource_store.hpp"
#include "storage/datastore.hpp"
#include "storage/run_log.hpp"
#include "storage/user_store.hpp"

namespace syncline::storage {
class credential_store;
}  // namespace syncline::storage

namespace syncline::actors {
class io_pool;
class node_context;
}  // namespace syncline::actors

namespace syncline::actors::detail {

using op = datasource_op;

// Who owns a datasource and whom it is shared with: kept by storage::datasource_store.
using access_record = storage::datasource_access;

// A command and what the actor learns about it on the way.
struct call {
  std::shared_ptr<datasource_command> req;
  op what = op::read;
  std::string container, account, workspace;
  std::string id;        // the datasource; empty for list and POST create
  std::string resource;  // sendToCompute
  // read: the status the datasource's actor reports now (empty: not running, use the record's)
  std::string live_status;
  storage::user_class cls = storage::user_class::guest;
};

// What the view of a datasource holds besides its record.
struct view_extras {
  std::optional<storage::run_record> last_run;
  bool credentials = false;
  // Per volume: the datastore's counts (read only; a scan of the rows).
  std::vector<std::pair<std::string, storage::datastore_counts>> counts;
  // The status the running actor reports, which may be ahead of the saved record's.
  std::string live_status;
};

/// What the operations work on; shared with the pool jobs in flight.
struct services {
  node_context* ctx = nullptr;
  io_pool* pool = nullptr;
  storage::user_store* users = nullptr;
  storage::credential_store* credentials = nullptr;
  datasource_api_init settings;
};

/// A datasource as load_for found it.
struct loaded {
  datasource_record rec;
  std::optional<access_record> access;
};

/// The body as an object ({} when empty); on failure the answer to give.
std::optional<api_answer> parse_body(const datasource_command& req, rapidjson::Document& d);

/// A JSON string value as a std::string.
std::string str(const rapidjson::Value& v);

/// A parameter from the JSON body (nullptr when absent or null).
const rapidjson::Value* body_param(const rapidjson::Document& d, const char* key);

/// Applies the configuration keys of `obj` to `c`; returns what is wrong, or "".
std::string apply_config(const rapidjson::Value& obj, datasource_config& c);

/// The datasource as `user` sees it: an invited user who has not accepted sees `invited`.
std::string view_json(const datasource_record& rec, const std::optional<access_record>& access,
                      const std::string& user, storage::user_class cls, const view_extras& x);

/// Loads the datasource named by the call and checks that it lives in the call's workspace
/// and that the caller may do what the call does. On failure the answer to give.
std::variant<loaded, api_answer> load_for(const services& s, const call& c);

/// Runs an operation for which `storage_only` holds; never throws.
api_answer run_storage_op(services& s, const call& c);

/// Whether the operation only reads or writes storage (and runs on the I/O pool).
bool storage_only(op o);

}  // namespace syncline::actors::detail
