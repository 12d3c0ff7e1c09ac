#include "actors/messages.hpp"

#include "actors/error.hpp"
#include "connectors/error.hpp"
#include "storage/error.hpp"

namespace syncline::actors {

const char* to_string(transfer_outcome o) noexcept {
  switch (o) {
    case transfer_outcome::done: return "done";
    case transfer_outcome::failed: return "failed";
    case transfer_outcome::skipped: return "skipped";
    case transfer_outcome::chunked: return "chunked";
  }
  return "unknown";
}

api_answer answer_json(answer_kind kind, std::string json) {
  api_answer a;
  a.kind = kind;
  a.json = std::move(json);
  return a;
}

api_answer answer_error(caf::error err) {
  api_answer a;
  a.error = std::move(err);
  return a;
}

api_answer refuse(actors_errc code, std::string message) {
  return answer_error(make_error(code, std::move(message)));
}

const char* to_string(datasource_op op) noexcept {
  switch (op) {
    case datasource_op::list: return "list";
    case datasource_op::create: return "create";
    case datasource_op::read: return "read";
    case datasource_op::put: return "put";
    case datasource_op::change: return "change";
    case datasource_op::remove: return "delete";
    case datasource_op::spyder: return "sendToSpyder";
    case datasource_op::compute: return "sendToCompute";
    case datasource_op::children: return "getAllChildren";
    case datasource_op::frontsearch: return "frontsearch";
    case datasource_op::credentials: return "refreshServiceCredentials";
    case datasource_op::pause: return "pause";
    case datasource_op::resume: return "resume";
    case datasource_op::runs: return "runs";
    case datasource_op::share: return "share";
    case datasource_op::accept: return "accept";
  }
  return "unknown";
}

const char* to_string(api_op op) noexcept {
  switch (op) {
    case api_op::create: return "create";
    case api_op::read: return "read";
    case api_op::update: return "update";
    case api_op::upsert: return "upsert";
    case api_op::remove: return "delete";
    case api_op::search: return "search";
    case api_op::search_one: return "search_one";
    case api_op::search_mongo: return "search_mongo";
    case api_op::graph: return "graph";
    case api_op::graph_backwards: return "graph_backwards";
    case api_op::graph_forwards: return "graph_forwards";
    case api_op::comment: return "comment";
    case api_op::publish: return "publish";
    case api_op::version: return "version";
    case api_op::lock: return "lock";
    case api_op::unlock: return "unlock";
    case api_op::sign_in: return "signIn";
    case api_op::sign_out: return "signOut";
    case api_op::verify: return "verify";
    case api_op::create_token: return "createToken";
    case api_op::changes: return "changes";
    case api_op::sync_state: return "syncState";
  }
  return "unknown";
}

bool changes_state(api_op op) noexcept {
  switch (op) {
    case api_op::read:
    case api_op::search:
    case api_op::search_one:
    case api_op::search_mongo:
    case api_op::graph:
    case api_op::graph_backwards:
    case api_op::graph_forwards:
    case api_op::verify:
    case api_op::changes:
      return false;
    default:
      return true;
  }
}

bool changes_state(datasource_op op) noexcept {
  switch (op) {
    case datasource_op::list:
    case datasource_op::read:
    case datasource_op::children:
    case datasource_op::frontsearch:
    case datasource_op::runs:
      return false;
    default:
      return true;
  }
}

void register_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<actor_status>("actor_status");
  cfg.add_message_type<transfer_report>("transfer_report");
  cfg.add_message_type<retry_decision>("retry_decision");
  cfg.add_message_type<directory_entry>("directory_entry");
  cfg.add_message_type<storage::queue_ticket>("queue_ticket");
  auto renderer = [](uint8_t code, caf::atom_value category, const caf::message& ctx) {
    return render(caf::error{code, category, ctx});
  };
  cfg.add_error_category(storage::storage_category, renderer);
  cfg.add_error_category(connectors::connector_category, renderer);
  cfg.add_error_category(actors_category, renderer);
}

}  // namespace syncline::actors
